-- Reports (issue 8): the reach figures read on an index, and the schedules
-- of e-mailed reports. Independent of 0007 (another branch): it only adds.

-- Sum and median of the reach scores of a period, and the ids of its
-- highest-reach mentions of a polarity, without reading the rows.
CREATE INDEX mentions_project_published_reach ON mentions (project_id, published_at, reach_score, sentiment, corrected);
-- It holds everything the (project_id, published_at, sentiment, corrected)
-- index did, in the same order: that one goes (one index less to write).
DROP INDEX mentions_project_published_sentiment;
-- Alerts of a period.
CREATE INDEX alerts_project_opened ON alerts (project_id, opened_at);

-- One e-mailed report: weekly (Monday to Monday, UTC) or monthly (1st to
-- 1st), through an e-mail channel of the project. `last_period_end` is the
-- end of the last period sent; it only moves forward, through a conditional
-- UPDATE, so two processes never send the same period.
CREATE TABLE report_schedules (
    id               INTEGER PRIMARY KEY,
    project_id       INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    frequency        TEXT NOT NULL CHECK (frequency IN ('weekly', 'monthly')),
    channel_id       INTEGER NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
    -- Comma-separated addresses; empty: the channel's.
    recipients       TEXT NOT NULL DEFAULT '',
    lang             TEXT NOT NULL DEFAULT 'fr' CHECK (lang IN ('fr', 'en')),
    last_period_end  INTEGER,
    last_sent_at     INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL
);
CREATE INDEX report_schedules_project ON report_schedules (project_id, id);
