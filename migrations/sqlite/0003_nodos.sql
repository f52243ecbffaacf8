-- The node serving this file (design §10: SQLite serves one node); same shape
-- as on Postgres so that /api/estadisticas reads it the same way.
CREATE TABLE nodos (
    id        TEXT    PRIMARY KEY,
    direccion TEXT    NOT NULL,
    iniciado  TEXT    NOT NULL,
    visto     TEXT    NOT NULL,
    sesiones  BIGINT  NOT NULL DEFAULT 0,
    -- Its desk and kitchen screens online by sucursal: {"1": {"atencion": 1, "cocina": 0}}
    presencia TEXT    NOT NULL DEFAULT '{}'
);
