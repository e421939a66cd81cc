-- Vigie schema, SQLite flavour. Times are UTC seconds since the epoch.
-- Migrations are append-only: never edit a released file, add the next one.

CREATE TABLE projects (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE watches (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    query       TEXT NOT NULL,
    competitor  INTEGER NOT NULL DEFAULT 0,
    langs       TEXT NOT NULL DEFAULT '',      -- comma-separated ISO codes, '' = all
    created_at  INTEGER NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE sources (
    id                    INTEGER PRIMARY KEY,
    project_id            INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    source_type           TEXT NOT NULL,
    url                   TEXT NOT NULL,
    interval_secs         INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    next_due_at           INTEGER NOT NULL,
    last_attempt_at       INTEGER,
    last_success_at       INTEGER,
    last_error            TEXT,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    last_item_count       INTEGER NOT NULL DEFAULT 0,
    total_stored          INTEGER NOT NULL DEFAULT 0,
    etag                  TEXT,
    last_modified         TEXT,
    UNIQUE (project_id, source_type, url)
);
CREATE INDEX sources_due ON sources (next_due_at);

CREATE TABLE mentions (
    id               INTEGER PRIMARY KEY,
    project_id       INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    dedup_key        TEXT NOT NULL,
    source_kind      TEXT NOT NULL,
    source_id        INTEGER REFERENCES sources(id) ON DELETE SET NULL,
    source_item_id   TEXT,
    url              TEXT,
    title            TEXT,
    text             TEXT NOT NULL,
    author           TEXT,
    site             TEXT,
    published_at     INTEGER NOT NULL,
    collected_at     INTEGER NOT NULL,
    lang             TEXT,
    lang_confidence  REAL NOT NULL DEFAULT 0,
    reach            INTEGER,
    content_hash     TEXT NOT NULL,
    matches          TEXT,                     -- JSON {"<watch id>": ["term", ...]}, NULL when none
    UNIQUE (project_id, dedup_key)
);
CREATE INDEX mentions_project_published ON mentions (project_id, published_at);

-- Which watches each mention matched. The terms that matched live in
-- mentions.matches (a JSON object: watch id -> terms), read with the mention;
-- this slim table answers "mentions of this watch" and counts. New mentions
-- have the highest ids, so inserts land at the end of each watch's range.
CREATE TABLE mention_watches (
    watch_id    INTEGER NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
    mention_id  INTEGER NOT NULL REFERENCES mentions(id) ON DELETE CASCADE,
    PRIMARY KEY (watch_id, mention_id)
) WITHOUT ROWID;

-- Full-text pre-filter. Contentless: it holds the normalized token strings
-- made by vigie_query::index_text (rowid = mentions.id); the Rust matcher
-- confirms every candidate against the stored mention.
CREATE VIRTUAL TABLE mentions_fts USING fts5 (
    title, text,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
-- Merge index segments in larger steps: faster bulk imports, at a small cost
-- in query time until the next merge.
INSERT INTO mentions_fts (mentions_fts, rank) VALUES ('automerge', 16);
INSERT INTO mentions_fts (mentions_fts, rank) VALUES ('crisismerge', 64);
