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

CREATE FUNCTION vigie_overview_touch(p BIGINT, t BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF t < extract(epoch FROM now())::BIGINT - 7200 THEN
        INSERT INTO overview_hours (project_id, hour, version, data)
        VALUES (p, floor(t / 3600.0)::BIGINT, 1, NULL)
        ON CONFLICT (project_id, hour) DO UPDATE SET version = overview_hours.version + 1, data = NULL;
    END IF;
END $$;

CREATE FUNCTION vigie_mentions_overview() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM vigie_overview_touch(OLD.project_id, OLD.published_at);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.published_at <> OLD.published_at) THEN
        PERFORM vigie_overview_touch(NEW.project_id, NEW.published_at);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER mentions_overview
AFTER INSERT OR DELETE OR UPDATE OF published_at, sentiment, corrected, analysis, matches, site, author, reach_score, source_kind
ON mentions FOR EACH ROW EXECUTE FUNCTION vigie_mentions_overview();
