-- Several workers on one database: a source or a delivery is leased by one
-- worker (its name) until a time; another worker takes it only once the
-- lease has expired (the worker died) or was given back.
-- (0006 is taken on another branch: the numbers stay unique when they meet.)

ALTER TABLE sources ADD COLUMN lease_until INTEGER;
ALTER TABLE sources ADD COLUMN leased_by TEXT;

ALTER TABLE deliveries ADD COLUMN lease_until INTEGER;
ALTER TABLE deliveries ADD COLUMN leased_by TEXT;
