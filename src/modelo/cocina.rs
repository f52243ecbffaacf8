//! What the kitchen works on: alerts from the desk and refill requests.

use serde::Serialize;
use time::OffsetDateTime;

use super::texto::texto_enum;
use super::{AlertaId, PedidoId, Prioridad, RefillId, SucursalId, UsuarioId};

/// A row of `alertas_cocina`, as in the seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AlertaCocina {
    pub id: AlertaId,
    pub pedido_id: Option<PedidoId>,
    pub usuario_envia: UsuarioId,
    pub sucursal_id: SucursalId,
    pub mensaje: String,
    pub prioridad: Prioridad,
    pub leida: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub fecha_envio: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub fecha_lectura: Option<OffsetDateTime>,
    pub leida_por: Option<UsuarioId>,
}

texto_enum! {
    #[derive(Default)]
    pub enum EstadoRefill {
        /// Where a refill starts (and what a flat request that doesn't say is).
        #[default]
        Pendiente = "pendiente",
        EnProceso = "en_proceso",
        Completado = "completado",
    }
}

/// A row of `solicitudes_refill`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SolicitudRefill {
    pub id: RefillId,
    pub sucursal_id: SucursalId,
    pub usuario_id: UsuarioId,
    pub producto: String,
    pub cantidad: i32,
    pub nota: Option<String>,
    pub estado: EstadoRefill,
    #[serde(with = "time::serde::rfc3339")]
    pub creado: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub actualizado: OffsetDateTime,
    pub atendido_por: Option<UsuarioId>,
}
