-- Mentions of the platforms whose item ids are the same everywhere
-- (vigie_model::GLOBAL_ID_KINDS) are known by that id, not by their URL
-- (vigie_model::Mention::dedup_key_for): the comments of one post share the
-- post's URL but are different mentions. Stored mentions are rekeyed the same
-- way, so that reading them again finds them; one whose new key another
-- mention holds already keeps its old key (OR IGNORE).
UPDATE OR IGNORE mentions
SET dedup_key = 'id:' || source_kind || ':' || source_item_id
WHERE source_item_id IS NOT NULL
  AND source_kind IN ('twitter', 'facebook', 'instagram', 'linkedin', 'tiktok', 'bluesky', 'reddit', 'youtube', 'hackernews')
  AND dedup_key <> 'id:' || source_kind || ':' || source_item_id;
