//! [`Estadisticas`]: the node's counters as `GET /api/estadisticas` and the
//! monitor show them, gathered from the actors that keep them — the open
//! sessions from the Dispatcher, the events, presence and kitchens from the
//! Monitor.

use serde::Serialize;
use time::OffsetDateTime;

use super::dispatcher::SesionesAbiertas;
use super::monitor::{Contadores, ResumenCocina};
use super::protocolo::Presencia;
use crate::modelo::{EventoId, Rol, SucursalId};

#[derive(Debug, Clone, Serialize)]
pub struct Estadisticas {
    #[serde(with = "time::serde::rfc3339")]
    pub inicio: OffsetDateTime,
    pub eventos_desde_inicio: u64,
    pub ultimo_id: EventoId,
    pub sesiones_total: usize,
    /// Open sessions by sucursal (`null`: no sucursal) and role.
    pub sesiones: Vec<SesionesDe>,
    /// Each sucursal's online screens, as its `Sucursal` actor counts them.
    pub presencia: Vec<PresenciaDe>,
    /// Each kitchen's open work, as its `Cocina` actor holds it.
    pub cocinas: Vec<ResumenCocina>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SesionesDe {
    pub sucursal_id: Option<SucursalId>,
    pub rol: Rol,
    pub sesiones: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PresenciaDe {
    pub sucursal_id: SucursalId,
    pub en_linea: Presencia,
}

impl Estadisticas {
    pub fn de(sesiones: SesionesAbiertas, contadores: Contadores) -> Self {
        Self {
            inicio: contadores.inicio,
            eventos_desde_inicio: contadores.eventos_desde_inicio,
            ultimo_id: contadores.ultimo_id,
            sesiones_total: sesiones.total,
            sesiones: sesiones.por_sucursal_y_rol,
            presencia: contadores.presencia,
            cocinas: contadores.cocinas,
        }
    }
}
