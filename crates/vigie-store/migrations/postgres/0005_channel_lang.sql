-- See migrations/sqlite/0009_channel_lang.sql: existing channels keep the
-- English they have been receiving, new ones are French unless told otherwise.
ALTER TABLE notification_channels ADD COLUMN lang TEXT NOT NULL DEFAULT 'fr' CHECK (lang IN ('fr', 'en'));
UPDATE notification_channels SET lang = 'en';
