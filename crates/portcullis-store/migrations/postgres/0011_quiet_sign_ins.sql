-- A sign-in stamps users.last_login_at; that changes nothing a session check decides on, so
-- it is no longer announced on the change feed (every sign-in made every node drop the
-- user's cached sessions, and cost a notification). Any other column still is.
DROP TRIGGER users_announce ON users;
CREATE TRIGGER users_announce
    AFTER UPDATE OF id, org_id, email, email_verified, phone, phone_verified, username,
        username_key, first_name, last_name, password_hash, anonymous, active, mfa_enabled,
        attributes, created_at, updated_at
    OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION portcullis_announce();
