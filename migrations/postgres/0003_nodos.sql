-- The nodes serving this database (design §10): each running node refreshes
-- its row every heartbeat and deletes it when it stops; a row not refreshed
-- for a while is a node that died. Events themselves travel by NOTIFY and are
-- read from eventos_realtime: nothing else is shared through here.
CREATE TABLE nodos (
    id        TEXT        PRIMARY KEY,
    direccion TEXT        NOT NULL,
    iniciado  TIMESTAMPTZ NOT NULL,
    visto     TIMESTAMPTZ NOT NULL,
    sesiones  BIGINT      NOT NULL DEFAULT 0,
    -- Its desk and kitchen screens online by sucursal: {"1": {"atencion": 1, "cocina": 0}}
    presencia JSONB       NOT NULL DEFAULT '{}'
);
