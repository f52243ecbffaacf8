//! `idempotencia`: the recorded answers of writes sent with an `Idempotency-Key`.

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
