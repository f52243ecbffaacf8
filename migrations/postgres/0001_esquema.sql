-- comanda: every table of the design (§3), Postgres flavour.
-- Money is kept in céntimos (BIGINT): exact, and identical on both stores.

CREATE TABLE sucursales (
    id      BIGSERIAL PRIMARY KEY,
    nombre  TEXT    NOT NULL UNIQUE,
    activa  BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE usuarios (
    id            BIGSERIAL PRIMARY KEY,
    usuario       TEXT        NOT NULL UNIQUE,
    nombre        TEXT        NOT NULL,
    password_hash TEXT        NOT NULL,
    rol           TEXT        NOT NULL CHECK (rol IN ('atencion', 'cocina', 'admin', 'superadmin', 'servicio')),
    sucursal_id   BIGINT      NULL REFERENCES sucursales (id),
    activo        BOOLEAN     NOT NULL DEFAULT TRUE,
    creado        TIMESTAMPTZ NOT NULL
);

-- The token itself is never stored: only its SHA-256.
CREATE TABLE sesiones (
    token_hash TEXT        PRIMARY KEY,
    usuario_id BIGINT      NOT NULL REFERENCES usuarios (id) ON DELETE CASCADE,
    creada     TIMESTAMPTZ NOT NULL,
    expira     TIMESTAMPTZ NOT NULL
);
CREATE INDEX sesiones_usuario ON sesiones (usuario_id);
CREATE INDEX sesiones_expira ON sesiones (expira);

CREATE TABLE pedidos (
    id          BIGSERIAL PRIMARY KEY,
    sucursal_id BIGINT      NOT NULL REFERENCES sucursales (id),
    origen      TEXT        NOT NULL CHECK (origen IN ('tienda', 'whatsapp')),
    cliente     TEXT        NOT NULL,
    detalle     TEXT        NOT NULL,
    total       BIGINT      NOT NULL CHECK (total >= 0),
    estado      TEXT        NOT NULL CHECK (estado IN ('PENDIENTE', 'EN_PREPARACION', 'LISTO', 'ENTREGADO', 'CANCELADO')),
    creado      TIMESTAMPTZ NOT NULL,
    actualizado TIMESTAMPTZ NOT NULL
);
CREATE INDEX pedidos_sucursal_estado ON pedidos (sucursal_id, estado);

CREATE TABLE vouchers (
    id               BIGSERIAL PRIMARY KEY,
    sucursal_id      BIGINT      NOT NULL REFERENCES sucursales (id),
    pedido_id        BIGINT      NULL REFERENCES pedidos (id),
    monto            BIGINT      NOT NULL CHECK (monto >= 0),
    numero_operacion TEXT        NOT NULL,
    imagen_url       TEXT        NULL,
    telefono         TEXT        NULL,
    estado           TEXT        NOT NULL CHECK (estado IN ('pendiente', 'aprobado', 'rechazado')),
    motivo           TEXT        NULL,
    revisado_por     BIGINT      NULL REFERENCES usuarios (id),
    creado           TIMESTAMPTZ NOT NULL,
    revisado         TIMESTAMPTZ NULL
);
CREATE INDEX vouchers_sucursal_estado ON vouchers (sucursal_id, estado);
CREATE INDEX vouchers_numero_operacion ON vouchers (sucursal_id, numero_operacion);

CREATE TABLE alertas_cocina (
    id            BIGSERIAL PRIMARY KEY,
    pedido_id     BIGINT       NULL REFERENCES pedidos (id),
    usuario_envia BIGINT       NOT NULL REFERENCES usuarios (id),
    sucursal_id   BIGINT       NOT NULL REFERENCES sucursales (id),
    mensaje       VARCHAR(500) NOT NULL,
    prioridad     TEXT         NOT NULL CHECK (prioridad IN ('normal', 'alta', 'urgente')),
    leida         BOOLEAN      NOT NULL DEFAULT FALSE,
    fecha_envio   TIMESTAMPTZ  NOT NULL,
    fecha_lectura TIMESTAMPTZ  NULL,
    leida_por     BIGINT       NULL REFERENCES usuarios (id)
);
CREATE INDEX alertas_cocina_sucursal_leida ON alertas_cocina (sucursal_id, leida);

CREATE TABLE solicitudes_refill (
    id           BIGSERIAL PRIMARY KEY,
    sucursal_id  BIGINT      NOT NULL REFERENCES sucursales (id),
    usuario_id   BIGINT      NOT NULL REFERENCES usuarios (id),
    producto     TEXT        NOT NULL,
    cantidad     INTEGER     NOT NULL CHECK (cantidad > 0),
    nota         TEXT        NULL,
    estado       TEXT        NOT NULL CHECK (estado IN ('pendiente', 'en_proceso', 'completado')),
    creado       TIMESTAMPTZ NOT NULL,
    actualizado  TIMESTAMPTZ NOT NULL,
    atendido_por BIGINT      NULL REFERENCES usuarios (id)
);
CREATE INDEX solicitudes_refill_sucursal_estado ON solicitudes_refill (sucursal_id, estado);

-- The audit log and the replay source: `id` is the event's position.
-- `prioridad` and `destinos` keep what the rules decided, so a replay delivers
-- exactly what was decided then.
CREATE TABLE eventos_realtime (
    id           BIGSERIAL PRIMARY KEY,
    tipo         TEXT        NOT NULL,
    subtipo      TEXT        NULL,
    payload      JSONB       NOT NULL,
    usuario_id   BIGINT      NULL REFERENCES usuarios (id),
    sucursal_id  BIGINT      NULL REFERENCES sucursales (id),
    entidad_tipo TEXT        NULL,
    entidad_id   BIGINT      NULL,
    prioridad    TEXT        NULL CHECK (prioridad IN ('normal', 'alta', 'urgente')),
    destinos     JSONB       NOT NULL,
    fecha        TIMESTAMPTZ NOT NULL
);
CREATE INDEX eventos_realtime_sucursal ON eventos_realtime (sucursal_id, id);
CREATE INDEX eventos_realtime_tipo ON eventos_realtime (tipo, id);
CREATE INDEX eventos_realtime_fecha ON eventos_realtime (fecha);

CREATE TABLE reglas_versiones (
    id       BIGSERIAL PRIMARY KEY,
    nombre   TEXT        NOT NULL,
    fuente   TEXT        NOT NULL,
    autor_id BIGINT      NULL REFERENCES usuarios (id),
    creada   TIMESTAMPTZ NOT NULL,
    activa   BOOLEAN     NOT NULL DEFAULT FALSE
);
CREATE INDEX reglas_versiones_nombre ON reglas_versiones (nombre, id);
-- At most one active version per rule.
CREATE UNIQUE INDEX reglas_versiones_activa ON reglas_versiones (nombre) WHERE activa;
