-- A rotated webhook or hook secret keeps signing beside the new one for a while (Standard Webhooks
-- sends one signature per secret), so receivers can switch without dropping events.
ALTER TABLE webhooks ADD COLUMN previous_secret_sealed TEXT;
ALTER TABLE webhooks ADD COLUMN previous_secret_until BIGINT;
ALTER TABLE hooks ADD COLUMN previous_secret_sealed TEXT;
ALTER TABLE hooks ADD COLUMN previous_secret_until BIGINT;
