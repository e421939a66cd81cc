-- Speed of the web app over millions of mentions (docs/BENCHMARKS.md); the
-- same as SQLite's 0006_overview.sql.

CREATE INDEX inbox_project_status_due ON inbox (project_id, status, due_at);
DROP INDEX inbox_entered;
CREATE INDEX inbox_entered ON inbox (project_id, entered_at, status, due_at, first_response_at, department_id);

-- The overview's figures of one hour of a project (vigie_store::rollup); see
-- the SQLite migration for the protocol.
-- No foreign key: a cache, and the triggers of mentions deleted with their
-- project would otherwise write rows for a project being deleted.
CREATE TABLE overview_hours (
    project_id  BIGINT NOT NULL,
    hour        BIGINT NOT NULL,     -- floor(published_at / 3600)
    version     BIGINT NOT NULL,
    data        TEXT,                -- JSON rollup; NULL = to compute
    PRIMARY KEY (project_id, hour)
);

-- Statement-level triggers: one upsert per distinct hour a statement
-- touched, taken in (project, hour) order, so two concurrent batches of an
-- import wait for each other on shared hours but never deadlock on them, and a
-- batch of 5,000 mentions writes a few rows here, not 5,000.
CREATE FUNCTION vigie_overview_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO overview_hours (project_id, hour, version, data)
    SELECT project_id, hour, 1, NULL FROM (
        SELECT DISTINCT project_id, floor(published_at / 3600.0)::BIGINT AS hour FROM new_rows
        WHERE published_at < extract(epoch FROM now())::BIGINT - 7200
    ) touched ORDER BY project_id, hour
    ON CONFLICT (project_id, hour) DO UPDATE SET version = overview_hours.version + 1, data = NULL;
    RETURN NULL;
END $$;

CREATE FUNCTION vigie_overview_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO overview_hours (project_id, hour, version, data)
    SELECT project_id, hour, 1, NULL FROM (
        SELECT DISTINCT project_id, floor(published_at / 3600.0)::BIGINT AS hour FROM old_rows
        WHERE published_at < extract(epoch FROM now())::BIGINT - 7200
    ) touched ORDER BY project_id, hour
    ON CONFLICT (project_id, hour) DO UPDATE SET version = overview_hours.version + 1, data = NULL;
    RETURN NULL;
END $$;

-- Updates: only rows whose counted columns changed, in their old hour and,
-- if it moved, their new one.
CREATE FUNCTION vigie_overview_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO overview_hours (project_id, hour, version, data)
    SELECT project_id, hour, 1, NULL FROM (
        SELECT DISTINCT project_id, floor(published_at / 3600.0)::BIGINT AS hour FROM (
            SELECT o.project_id, o.published_at FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE (o.published_at, o.sentiment, o.corrected, o.analysis, o.matches, o.site, o.author,
                   o.reach_score, o.source_kind)
                IS DISTINCT FROM (n.published_at, n.sentiment, n.corrected, n.analysis, n.matches, n.site,
                   n.author, n.reach_score, n.source_kind)
            UNION ALL
            SELECT n.project_id, n.published_at FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE n.published_at <> o.published_at
        ) changed
        WHERE published_at < extract(epoch FROM now())::BIGINT - 7200
    ) touched ORDER BY project_id, hour
    ON CONFLICT (project_id, hour) DO UPDATE SET version = overview_hours.version + 1, data = NULL;
    RETURN NULL;
END $$;

CREATE TRIGGER mentions_overview_insert AFTER INSERT ON mentions
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION vigie_overview_inserted();
CREATE TRIGGER mentions_overview_delete AFTER DELETE ON mentions
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION vigie_overview_deleted();
CREATE TRIGGER mentions_overview_update AFTER UPDATE ON mentions
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION vigie_overview_updated();
