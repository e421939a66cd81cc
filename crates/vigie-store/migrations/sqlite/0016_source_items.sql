-- A feed item is the same item when its GUID stays and its link changes
-- (a slug edited, tracking parameters added): the ingest looks up the ids a
-- source has stored (`Store::source_items`).
CREATE INDEX mentions_source_item ON mentions (source_id, source_item_id)
    WHERE source_id IS NOT NULL AND source_item_id IS NOT NULL;
