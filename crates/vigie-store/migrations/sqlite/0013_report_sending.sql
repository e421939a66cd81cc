-- A scheduled report being sent: which period, and until when the process
-- that claimed it holds it. `last_period_end` now moves only once the
-- period was sent (or refused for good), so a process that dies between its
-- claim and its send leaves the period due again once `sending_until` has
-- passed, instead of losing that report.
ALTER TABLE report_schedules ADD COLUMN sending_period_end INTEGER;
ALTER TABLE report_schedules ADD COLUMN sending_until INTEGER;
