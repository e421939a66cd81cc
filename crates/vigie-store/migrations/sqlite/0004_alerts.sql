-- Early warning: per-watch time series, detector state, alerts, notification
-- channels and the durable outbox of deliveries.

-- Mentions per watch and bucket (publication time, fixed-length buckets),
-- kept up to date as mentions are stored. series: 'all', 'negative'.
CREATE TABLE watch_buckets (
    watch_id      INTEGER NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
    series        TEXT NOT NULL,
    bucket_start  INTEGER NOT NULL,
    count         INTEGER NOT NULL,
    PRIMARY KEY (watch_id, series, bucket_start)
) WITHOUT ROWID;

-- The streaming detector of each watch series (JSON), and the last bucket it saw.
CREATE TABLE detector_states (
    watch_id     INTEGER NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
    series       TEXT NOT NULL,
    last_bucket  INTEGER NOT NULL,
    state        TEXT NOT NULL,
    PRIMARY KEY (watch_id, series)
) WITHOUT ROWID;

-- A project's alert settings (JSON: trigger terms, thresholds, cooldowns).
CREATE TABLE alert_settings (
    project_id  INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    settings    TEXT NOT NULL
);

CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY,
    project_id       INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    watch_id         INTEGER REFERENCES watches(id) ON DELETE SET NULL,
    rule             TEXT NOT NULL,
    severity         TEXT NOT NULL,
    status           TEXT NOT NULL,            -- open | acknowledged | resolved
    dedup_key        TEXT NOT NULL,
    title            TEXT NOT NULL,
    evidence         TEXT NOT NULL,            -- JSON vigie_model::AlertEvidence
    mention_ids      TEXT NOT NULL,            -- JSON [id, ...]
    events           INTEGER NOT NULL,
    opened_at        INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    acknowledged_at  INTEGER,
    resolved_at      INTEGER
);
CREATE INDEX alerts_project ON alerts (project_id, id);
CREATE INDEX alerts_key ON alerts (project_id, dedup_key, updated_at);

-- Where a project's alerts are sent.
CREATE TABLE notification_channels (
    id            INTEGER PRIMARY KEY,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,               -- webhook | email
    target        TEXT NOT NULL,               -- the URL, or comma-separated addresses
    secret        TEXT,                        -- webhook HMAC secret
    min_severity  TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (project_id, kind, target)
);

-- The outbox: one row per (alert event, channel). A row is written in the
-- transaction that opens or grows the alert, so no event is lost; it is
-- marked sent once the channel accepted it, so no event is sent twice by
-- Vigie (receivers get the event id to drop a resend after a crash mid-send).
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    alert_id         INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    event            INTEGER NOT NULL,
    channel_id       INTEGER NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
    status           TEXT NOT NULL,            -- pending | sent | failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    UNIQUE (alert_id, event, channel_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
