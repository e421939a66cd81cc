-- Mentions of the platforms whose item ids are the same everywhere
-- (vigie_model::GLOBAL_ID_KINDS) are known by that id, not by their URL
-- (vigie_model::Mention::dedup_key_for): the comments of one post share the
-- post's URL but are different mentions. Stored mentions are rekeyed the same
-- way, so that reading them again finds them; one whose new key another
-- mention holds already (or would, the oldest wins) keeps its old key.
UPDATE mentions m
SET dedup_key = r.new_key
FROM (
    SELECT DISTINCT ON (c.project_id, c.new_key) c.id, c.new_key
    FROM (
        SELECT id, project_id, 'id:' || source_kind || ':' || source_item_id AS new_key, dedup_key
        FROM mentions
        WHERE source_item_id IS NOT NULL
          AND source_kind IN ('twitter', 'facebook', 'instagram', 'linkedin', 'tiktok', 'bluesky', 'reddit', 'youtube', 'hackernews')
    ) c
    WHERE c.dedup_key <> c.new_key
      AND NOT EXISTS (SELECT 1 FROM mentions o WHERE o.project_id = c.project_id AND o.dedup_key = c.new_key)
    ORDER BY c.project_id, c.new_key, c.id
) r
WHERE m.id = r.id;
