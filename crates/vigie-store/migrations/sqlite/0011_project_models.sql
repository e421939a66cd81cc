-- A project's own models (the fast sentiment model retrained on its
-- corrections, `vigie train sentiment`), kept in the database so that every
-- process on it, on any machine, uses them and `vigie migrate` copies them.
-- `kind` names the model (`sentiment-fast`); `bytes` is its file format.
CREATE TABLE project_models (
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    bytes       BLOB NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (project_id, kind)
);
