-- Several workers on one database: a source or a delivery is leased by one
-- worker (its name) until a time; another worker takes it only once the
-- lease has expired (the worker died) or was given back. Workers take due
-- rows with FOR UPDATE SKIP LOCKED, so two of them never wait on, nor take,
-- the same rows.
-- (0002 is taken on another branch: the numbers stay unique when they meet.)

ALTER TABLE sources ADD COLUMN lease_until BIGINT;
ALTER TABLE sources ADD COLUMN leased_by TEXT;
CREATE INDEX sources_leased_by ON sources (leased_by) WHERE leased_by IS NOT NULL;

ALTER TABLE deliveries ADD COLUMN lease_until BIGINT;
ALTER TABLE deliveries ADD COLUMN leased_by TEXT;
