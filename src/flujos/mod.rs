//! The seed's workflows (orders, kitchen alerts, refills, vouchers) as domain
//! calls: each checks scope, lets the rules decide — before any transaction
//! opens, on the rules' own threads — and writes its row and its event in one
//! transaction; the event reaches the screens after commit.

mod alertas;
mod pedidos;
mod refills;
mod vouchers;

pub use alertas::{alertar_cocina, escalar_alerta, marcar_leida};
pub use pedidos::{aprobar_pedido, cambiar_estado_pedido, crear_pedido};
pub use refills::{cambiar_estado_refill, pedir_refill};
pub use vouchers::{aprobar_voucher, rechazar_voucher, registrar_voucher};

use std::sync::Arc;

use serde::Serialize;

use crate::auth::Alcance;
use crate::modelo::payload::en_mapa;
use crate::modelo::{
    Destinos, Entidad, Invalido, NuevoEvento, Prioridad, SucursalId, TipoEntidad, TipoEvento,
    Usuario,
};
use crate::reglas::RuleEngine;
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

    /// An event of a workflow, its audiences decided by the rules. Built
    /// before the write: an event about a row the write creates gets the
    /// row's id from the store ([`NuevoEvento::con_id_de_fila`]).
    #[allow(clippy::too_many_arguments)]
    async fn evento(
        &self,
        tipo: TipoEvento,
        subtipo: Option<&str>,
        sucursal: SucursalId,
        autor: &Usuario,
        entidad: (TipoEntidad, i64),
        prioridad: Option<Prioridad>,
        payload: &impl Serialize,
    ) -> NuevoEvento {
        let mut nuevo = borrador(tipo, subtipo, sucursal, autor, entidad, prioridad, payload);
        self.reglas.decidir_destinos(&mut nuevo).await;
        nuevo
    }
}

/// An event of a workflow before the rules decide its audiences.
fn borrador(
    tipo: TipoEvento,
    subtipo: Option<&str>,
    sucursal: SucursalId,
    autor: &Usuario,
    entidad: (TipoEntidad, i64),
    prioridad: Option<Prioridad>,
    payload: &impl Serialize,
) -> NuevoEvento {
    NuevoEvento {
        tipo,
        subtipo: subtipo.map(Into::into),
        payload: en_mapa(payload),
        usuario_id: Some(autor.id),
        sucursal_id: Some(sucursal),
        entidad: Some(Entidad {
            tipo: entidad.0,
            id: entidad.1,
        }),
        prioridad,
        destinos: Destinos::NINGUNO,
    }
}

/// The entity id of an event about a row not yet written; the store puts
/// the row's id in its place.
const ID_POR_ASIGNAR: i64 = 0;

/// 403 unless `sucursal` is in the caller's scope.
fn en_alcance(autor: &Usuario, sucursal: SucursalId) -> Result<(), FlujoError> {
    if Alcance::de(autor).incluye(sucursal) {
        Ok(())
    } else {
        Err(FlujoError::Prohibido)
    }
}

/// Now, to the microsecond: what Postgres keeps of a time, so that an event
/// built before its write carries exactly the time the row will hold.
fn ahora() -> time::OffsetDateTime {
    let t = time::OffsetDateTime::now_utc();
    t.replace_microsecond(t.microsecond())
        .expect("a microsecond of a valid time is valid")
}
