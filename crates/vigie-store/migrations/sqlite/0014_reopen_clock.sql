-- An answered item reopened is due again by its target from its reopening
-- (`clock_at`), while the reports keep judging its first answer against the
-- due time it had then (`first_due_at`). Both NULL on earlier rows: the clock
-- started at `entered_at` and the first answer's due time is `due_at`.
ALTER TABLE inbox ADD COLUMN clock_at INTEGER;
ALTER TABLE inbox ADD COLUMN first_due_at INTEGER;
