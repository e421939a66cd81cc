-- Each notification of an alert is a delivery of its own (`deliveries.event`
-- is this number). It was the alert's event count, so a notification for
-- growth that added no event (a surge getting an order of magnitude bigger,
-- a copy raising the severity) collided with an earlier one and was lost.
-- Earlier alerts start from their event count, above every number used.
ALTER TABLE alerts ADD COLUMN notices BIGINT NOT NULL DEFAULT 0;
UPDATE alerts SET notices = events;
-- Who acknowledged and who resolved it (a user's name, or "command line").
ALTER TABLE alerts ADD COLUMN acknowledged_by TEXT;
ALTER TABLE alerts ADD COLUMN resolved_by TEXT;
