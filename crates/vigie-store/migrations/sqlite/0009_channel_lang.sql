-- The language a notification channel is written in (fr or en). Channels
-- that existed before have been receiving English: they keep it. A new
-- channel is French unless told otherwise.
ALTER TABLE notification_channels ADD COLUMN lang TEXT NOT NULL DEFAULT 'fr' CHECK (lang IN ('fr', 'en'));
UPDATE notification_channels SET lang = 'en';
