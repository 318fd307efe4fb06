-- The hosted pages' own hand-off (return_to and ui-code exchange) is retired: applications
-- sign users in through the OpenID Connect provider, whose codes are in oauth_codes.
DROP TABLE ui_codes;
