-- Answers of writes sent with an `Idempotency-Key`, recorded in the same
-- transaction as the write: a retried request gets the same answer and is
-- not done twice.
CREATE TABLE idempotencia (
    usuario_id BIGINT      NOT NULL REFERENCES usuarios (id) ON DELETE CASCADE,
    clave      TEXT        NOT NULL,
    ruta       TEXT        NOT NULL,
    estado     INTEGER     NOT NULL,
    respuesta  TEXT        NOT NULL,
    creada     TEXT        NOT NULL,
    PRIMARY KEY (usuario_id, clave)
);
CREATE INDEX idempotencia_creada ON idempotencia (creada);
