-- The e-mails telling managers an inbox item was escalated: written in the
-- escalation's own transaction, sent and retried like alert notifications
-- (claimed under a lease by one process), so an SMTP server down for a while
-- or a process killed after escalating loses none.
CREATE TABLE escalation_mails (
    id                   INTEGER PRIMARY KEY,
    project_id           INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    mention_id           INTEGER NOT NULL REFERENCES mentions(id) ON DELETE CASCADE,
    user_id              INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    to_project_managers  INTEGER NOT NULL,
    department           TEXT,
    due_at               INTEGER NOT NULL,
    status               TEXT NOT NULL,            -- pending | sent | failed
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      INTEGER NOT NULL,
    last_error           TEXT,
    created_at           INTEGER NOT NULL,
    sent_at              INTEGER,
    lease_until          INTEGER,
    leased_by            TEXT
);
CREATE INDEX escalation_mails_due ON escalation_mails (next_attempt_at) WHERE status = 'pending';
CREATE INDEX escalation_mails_mention ON escalation_mails (mention_id);
