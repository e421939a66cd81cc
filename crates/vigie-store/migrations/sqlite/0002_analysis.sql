-- Analysis of every mention: sentiment, themes, stories, reach; corrections;
-- the per-project theme taxonomy.

-- The whole analysis as JSON (vigie_model::Analysis without the correction):
-- the sentiment verdict with its explanation, themes with scores, reach.
ALTER TABLE mentions ADD COLUMN analysis TEXT;
-- Scalar copies of what is filtered, counted and sorted on.
ALTER TABLE mentions ADD COLUMN sentiment TEXT;            -- negative | neutral | positive; NULL = unknown
ALTER TABLE mentions ADD COLUMN sentiment_score REAL;
-- 0: verdict of the fast model (the encoder may refine it); 1: refined by the
-- encoder; NULL: no verdict to refine (unsupported language, nothing to judge).
ALTER TABLE mentions ADD COLUMN sentiment_tier INTEGER;
ALTER TABLE mentions ADD COLUMN corrected TEXT;            -- a person's correction of the sentiment
ALTER TABLE mentions ADD COLUMN corrected_at INTEGER;
ALTER TABLE mentions ADD COLUMN story_id INTEGER;          -- first mention of the story; NULL = starts its own
ALTER TABLE mentions ADD COLUMN reach_score REAL;

-- The encoder's queue: mentions with a fast verdict only, newest first.
CREATE INDEX mentions_to_refine ON mentions (project_id, id) WHERE sentiment_tier = 0;
CREATE INDEX mentions_story ON mentions (story_id) WHERE story_id IS NOT NULL;
CREATE INDEX mentions_corrected ON mentions (project_id, id) WHERE corrected IS NOT NULL;

-- Themes a project routes and reports on. Seeded once with the default
-- taxonomy (projects.themes_seeded), then the project's to edit.
CREATE TABLE themes (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    name        TEXT NOT NULL,
    department  TEXT NOT NULL,
    query       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (project_id, key)
);
ALTER TABLE projects ADD COLUMN themes_seeded INTEGER NOT NULL DEFAULT 0;
