-- Speed of the web app over millions of mentions (docs/BENCHMARKS.md).

-- The feed walks a project's mentions newest first and stops at a page.
CREATE INDEX mentions_project_id ON mentions (project_id, id);

-- Inbox counts of overdue items per status, and the response figures of a
-- period read from the index alone.
CREATE INDEX inbox_project_status_due ON inbox (project_id, status, due_at);
DROP INDEX inbox_entered;
CREATE INDEX inbox_entered ON inbox (project_id, entered_at, status, due_at, first_response_at, department_id);

-- The overview's figures of one hour of a project (vigie_store::rollup): a
-- cache, rebuilt from the mentions when `data` is NULL or the row is missing.
-- Every change to a mention of an hour more than two hours old bumps
-- `version` and clears `data` (the triggers below); a rollup computed from
-- rows read before such a change is saved only if `version` is still the one
-- read first, so a cached hour never misses a change. Hours newer than that
-- are never cached: they are computed on each request, and live ingestion
-- writes nothing here.
-- No foreign key: a cache, and the triggers of mentions deleted with their
-- project would otherwise write rows for a project being deleted.
CREATE TABLE overview_hours (
    project_id  INTEGER NOT NULL,
    hour        INTEGER NOT NULL,     -- floor(published_at / 3600)
    version     INTEGER NOT NULL,
    data        TEXT,                 -- JSON rollup; NULL = to compute
    PRIMARY KEY (project_id, hour)
) WITHOUT ROWID;

CREATE TRIGGER mentions_overview_insert AFTER INSERT ON mentions
WHEN NEW.published_at < CAST(strftime('%s', 'now') AS INTEGER) - 7200
BEGIN
    INSERT INTO overview_hours (project_id, hour, version, data)
    VALUES (NEW.project_id, (NEW.published_at / 3600) - (NEW.published_at % 3600 < 0), 1, NULL)
    ON CONFLICT (project_id, hour) DO UPDATE SET version = version + 1, data = NULL;
END;

CREATE TRIGGER mentions_overview_delete AFTER DELETE ON mentions
WHEN OLD.published_at < CAST(strftime('%s', 'now') AS INTEGER) - 7200
BEGIN
    INSERT INTO overview_hours (project_id, hour, version, data)
    VALUES (OLD.project_id, (OLD.published_at / 3600) - (OLD.published_at % 3600 < 0), 1, NULL)
    ON CONFLICT (project_id, hour) DO UPDATE SET version = version + 1, data = NULL;
END;

CREATE TRIGGER mentions_overview_update_old
AFTER UPDATE OF published_at, sentiment, corrected, analysis, matches, site, author, reach_score, source_kind
ON mentions
WHEN OLD.published_at < CAST(strftime('%s', 'now') AS INTEGER) - 7200
BEGIN
    INSERT INTO overview_hours (project_id, hour, version, data)
    VALUES (OLD.project_id, (OLD.published_at / 3600) - (OLD.published_at % 3600 < 0), 1, NULL)
    ON CONFLICT (project_id, hour) DO UPDATE SET version = version + 1, data = NULL;
END;

CREATE TRIGGER mentions_overview_update_new
AFTER UPDATE OF published_at ON mentions
WHEN NEW.published_at < CAST(strftime('%s', 'now') AS INTEGER) - 7200
BEGIN
    INSERT INTO overview_hours (project_id, hour, version, data)
    VALUES (NEW.project_id, (NEW.published_at / 3600) - (NEW.published_at % 3600 < 0), 1, NULL)
    ON CONFLICT (project_id, hour) DO UPDATE SET version = version + 1, data = NULL;
END;
