-- Collectors for the real web: per-type source parameters, paging cursors,
-- coverage figures, search-result rankings, and push tokens.

-- The source type's parameters (query, selectors, term…) as JSON; '{}' for feeds.
ALTER TABLE sources ADD COLUMN config TEXT NOT NULL DEFAULT '{}';
-- Paging state of API sources (vigie_collect::social::Cursor as JSON), saved
-- after the items it covers are stored.
ALTER TABLE sources ADD COLUMN cursor TEXT;
-- The last failure was the platform's quota or rate limit.
ALTER TABLE sources ADD COLUMN quota_limited INTEGER NOT NULL DEFAULT 0;
-- What the last run noticed without failing; NULL after a clean run.
ALTER TABLE sources ADD COLUMN last_warning TEXT;

-- Coverage per source: mentions stored per day and publication lag.
CREATE INDEX mentions_source_collected ON mentions (source_id, collected_at) WHERE source_id IS NOT NULL;

-- One row per run of a search-result watch: the ranked URLs it saw and what
-- changed in the top results since the run before.
CREATE TABLE search_runs (
    id         INTEGER PRIMARY KEY,
    source_id  INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    ran_at     INTEGER NOT NULL,
    results    TEXT NOT NULL,   -- JSON [{"rank", "url", "title"}]
    changes    TEXT NOT NULL    -- JSON [vigie_collect::search::RankChange]
);
CREATE INDEX search_runs_source ON search_runs (source_id, id);

-- Tokens for the push API (POST /api/v1/ingest). Only a SHA-256 of the token
-- is kept; the token itself is shown once, when it is created.
CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    UNIQUE (project_id, name)
);
