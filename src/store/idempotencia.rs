//! `idempotencia`: the recorded answers of writes sent with an `Idempotency-Key`,
//! recorded by the event log in the write's own transaction.

use time::OffsetDateTime;

use super::{Store, StoreError};
use crate::modelo::UsuarioId;

/// The caller's key for a write, and the status its answer has: the store
/// records the answer (the row, as JSON) in the write's own transaction.
#[derive(Debug, Clone)]
pub struct Idempotencia {
    pub usuario_id: UsuarioId,
    pub clave: String,
    pub ruta: String,
    pub estado: i32,
}

impl Idempotencia {
    /// What to record for `fila`, the answer's body.
    pub(super) fn con<T: serde::Serialize>(&self, fila: &T) -> (&Self, String) {
        (self, serde_json::to_string(fila).expect("rows serialize"))
    }
}

/// Records `respuesta` under `idem`'s key. The event log calls it in the
/// write's own transaction, so that the answer exists exactly when the
/// write committed.
pub(super) async fn registrar<'c, DB>(
    conexion: impl sqlx::Executor<'c, Database = DB>,
    idem: &Idempotencia,
    respuesta: &str,
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> i32: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> OffsetDateTime: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO idempotencia (usuario_id, clave, ruta, estado, respuesta, creada)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(idem.usuario_id)
    .bind(idem.clave.as_str())
    .bind(idem.ruta.as_str())
    .bind(idem.estado)
    .bind(respuesta)
    .bind(OffsetDateTime::now_utc())
    .execute(conexion)
    .await
    .map(drop)
}

/// A recorded answer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Respuesta {
    pub ruta: String,
    pub estado: i32,
    pub respuesta: String,
}

impl Store {
    pub async fn respuesta_idempotente(
        &self,
        usuario_id: UsuarioId,
        clave: &str,
    ) -> Result<Option<Respuesta>, StoreError> {
        let fila = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT ruta, estado, respuesta FROM idempotencia WHERE usuario_id = $1 AND clave = $2",
            )
            .bind(usuario_id)
            .bind(clave)
            .fetch_optional(p)
            .await
        })?;
        Ok(fila)
    }
}
