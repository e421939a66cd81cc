-- The web app: people and access, the response workflow, the audit log.

CREATE TABLE users (
    id                    INTEGER PRIMARY KEY,
    username              TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name          TEXT NOT NULL,
    email                 TEXT,
    password_hash         TEXT NOT NULL,            -- argon2 PHC string
    is_admin              INTEGER NOT NULL DEFAULT 0,
    lang                  TEXT NOT NULL DEFAULT 'fr',
    must_change_password  INTEGER NOT NULL DEFAULT 0,
    disabled              INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL
);

CREATE TABLE memberships (
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role        TEXT NOT NULL,                       -- viewer | agent | manager | admin
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

-- Login sessions: the SHA-256 of the cookie, never the cookie itself.
CREATE TABLE sessions (
    token_hash    TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Failed logins per username and per client address, for throttling.
CREATE TABLE login_failures (
    key  TEXT NOT NULL,
    at   INTEGER NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER REFERENCES projects(id) ON DELETE CASCADE,
    user_id     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    at          INTEGER NOT NULL,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_log_project ON audit_log (project_id, id);

-- Push/API tokens act with a role in their project.
ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'agent';

CREATE TABLE departments (
    id                    INTEGER PRIMARY KEY,
    project_id            INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    response_target_secs  INTEGER NOT NULL,
    manager_id            INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at            INTEGER NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE routing_rules (
    id             INTEGER PRIMARY KEY,
    project_id     INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    theme          TEXT,
    sentiment      TEXT,
    watch_id       INTEGER REFERENCES watches(id) ON DELETE CASCADE,
    source_kind    TEXT,
    department_id  INTEGER NOT NULL REFERENCES departments(id) ON DELETE CASCADE,
    created_at     INTEGER NOT NULL
);
CREATE INDEX routing_rules_project ON routing_rules (project_id, position);

-- One row per mention somebody routed, triaged or touched; none = new.
CREATE TABLE inbox (
    mention_id         INTEGER PRIMARY KEY REFERENCES mentions(id) ON DELETE CASCADE,
    project_id         INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    status             TEXT NOT NULL,
    department_id      INTEGER REFERENCES departments(id) ON DELETE SET NULL,
    assignee_id        INTEGER REFERENCES users(id) ON DELETE SET NULL,
    entered_at         INTEGER NOT NULL,
    due_at             INTEGER,
    first_response_at  INTEGER,
    closed_at          INTEGER,
    reply              TEXT,
    reason             TEXT,
    escalated_at       INTEGER,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX inbox_project_status ON inbox (project_id, status, mention_id);
CREATE INDEX inbox_due ON inbox (due_at) WHERE status IN ('to_handle', 'assigned') AND escalated_at IS NULL;
CREATE INDEX inbox_entered ON inbox (project_id, entered_at);

CREATE TABLE workflow_events (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    mention_id  INTEGER NOT NULL REFERENCES mentions(id) ON DELETE CASCADE,
    user_id     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    at          INTEGER NOT NULL,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX workflow_events_mention ON workflow_events (mention_id, id);

-- The overview's per-period counts read this index alone (no table rows); it
-- starts with the old (project_id, published_at) index, which goes.
CREATE INDEX mentions_project_published_sentiment
    ON mentions (project_id, published_at, sentiment, corrected);
DROP INDEX mentions_project_published;
