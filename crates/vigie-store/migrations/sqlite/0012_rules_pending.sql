-- Stored mentions whose inbox routing and alert rules have not run yet:
-- written in the transaction that stores them and removed once both ran, so
-- that a process killed in between (or a database that failed meanwhile)
-- leaves them for the next cycle instead of never routing or alerting on
-- them. Rows live seconds; the table stays small.
CREATE TABLE rules_pending (
    mention_id  INTEGER PRIMARY KEY REFERENCES mentions(id) ON DELETE CASCADE,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    stored_at   INTEGER NOT NULL
);
CREATE INDEX rules_pending_stored ON rules_pending (stored_at);
