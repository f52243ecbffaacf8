//! `eventos_realtime`: the audit log and the source of every replay.

use super::{Store, StoreError};
use crate::modelo::EventoId;

impl Store {
    /// The newest event id, 0 when there is none.
    pub async fn ultimo_evento_id(&self) -> Result<EventoId, StoreError> {
        let id: Option<i64> = on_pool!(self, p => {
            sqlx::query_scalar("SELECT MAX(id) FROM eventos_realtime").fetch_one(p).await
        })?;
        Ok(EventoId(id.unwrap_or(0)))
    }
}
