//! The seed's workflows (orders, kitchen alerts, refills, vouchers) as domain
//! calls: each checks scope, lets the rules decide, and writes its row and its
//! event in one transaction; the event reaches the screens after commit.

mod alertas;
mod pedidos;
mod refills;
mod vouchers;

pub use alertas::{alertar_cocina, marcar_leida};
pub use pedidos::{aprobar_pedido, cambiar_estado_pedido, crear_pedido};
pub use refills::{cambiar_estado_refill, pedir_refill};
pub use vouchers::{aprobar_voucher, rechazar_voucher, registrar_voucher};

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::auth::Alcance;
use crate::modelo::{Entidad, Invalido, NuevoEvento, Prioridad, SucursalId, Usuario};
use crate::reglas::{EntradaEvento, RuleEngine};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum FlujoError {
    #[error(transparent)]
    Invalido(#[from] Invalido),
    #[error("fuera de tu alcance")]
    Prohibido,
    #[error("{0}")]
    NoEncontrado(String),
    #[error("{0}")]
    Conflicto(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What every workflow needs: the store and the rules.
#[derive(Clone)]
pub struct Contexto {
    pub store: Store,
    pub reglas: Arc<RuleEngine>,
}

impl Contexto {
    /// The sucursal a new row goes to: the one asked for, or the caller's;
    /// in the caller's scope, and existing.
    async fn sucursal_para(
        &self,
        autor: &Usuario,
        pedida: Option<SucursalId>,
    ) -> Result<SucursalId, FlujoError> {
        let sucursal = pedida
            .or(autor.sucursal_id)
            .ok_or_else(|| Invalido::new("falta sucursal_id"))?;
        en_alcance(autor, sucursal)?;
        if self.store.sucursal(sucursal).await?.is_none() {
            return Err(FlujoError::NoEncontrado(format!(
                "la sucursal {sucursal} no existe"
            )));
        }
        Ok(sucursal)
    }

    /// An event of a workflow, its audiences decided by the rules.
    #[allow(clippy::too_many_arguments)]
    fn evento(
        &self,
        tipo: &str,
        subtipo: Option<&str>,
        sucursal: SucursalId,
        autor: &Usuario,
        entidad: (&str, i64),
        prioridad: Option<Prioridad>,
        payload: Value,
    ) -> NuevoEvento {
        let payload: Map<String, Value> = match payload {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let destinos = self.reglas.destinos(&EntradaEvento {
            tipo,
            subtipo,
            sucursal_id: Some(sucursal),
            prioridad,
            payload: &payload,
        });
        NuevoEvento {
            tipo: tipo.into(),
            subtipo: subtipo.map(Into::into),
            payload,
            usuario_id: Some(autor.id),
            sucursal_id: Some(sucursal),
            entidad: Some(Entidad {
                tipo: entidad.0.into(),
                id: entidad.1,
            }),
            prioridad,
            destinos,
        }
    }
}

/// 403 unless `sucursal` is in the caller's scope.
fn en_alcance(autor: &Usuario, sucursal: SucursalId) -> Result<(), FlujoError> {
    if Alcance::de(autor).incluye(sucursal) {
        Ok(())
    } else {
        Err(FlujoError::Prohibido)
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
