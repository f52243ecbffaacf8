//! What a kitchen loads at start: its unread alerts and its open refills.

use super::{Store, StoreError};
use crate::modelo::{AlertaCocina, EventoId, SolicitudRefill, SucursalId};

/// A kitchen's open work, and the newest event id it already reflects.
#[derive(Debug, Clone, Default)]
pub struct TrabajoAbierto {
    pub hasta: EventoId,
    pub alertas: Vec<AlertaCocina>,
    pub refills: Vec<SolicitudRefill>,
}

impl Store {
    /// Read after `hasta`: every event up to `hasta` is reflected in the rows,
    /// later ones may be too (applying them again is harmless).
    pub async fn trabajo_abierto(
        &self,
        sucursal: SucursalId,
    ) -> Result<TrabajoAbierto, StoreError> {
        let hasta = self.ultimo_evento_id().await?;
        let (alertas, refills) = on_pool!(self, p => {
            let alertas = sqlx::query_as(
                "SELECT id, pedido_id, usuario_envia, sucursal_id, mensaje, prioridad, leida,
                        fecha_envio, fecha_lectura, leida_por
                 FROM alertas_cocina WHERE sucursal_id = $1 AND NOT leida ORDER BY id",
            )
            .bind(sucursal)
            .fetch_all(p)
            .await?;
            let refills = sqlx::query_as(
                "SELECT id, sucursal_id, usuario_id, producto, cantidad, nota, estado, creado,
                        actualizado, atendido_por
                 FROM solicitudes_refill WHERE sucursal_id = $1 AND estado <> 'completado'
                 ORDER BY id",
            )
            .bind(sucursal)
            .fetch_all(p)
            .await?;
            Ok::<_, sqlx::Error>((alertas, refills))
        })?;
        Ok(TrabajoAbierto {
            hasta,
            alertas,
            refills,
        })
    }
}
