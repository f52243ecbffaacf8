//! The desk asks the kitchen for a refill; the kitchen works it.

use serde_json::json;

use super::{Contexto, FlujoError, ID_POR_ASIGNAR, en_alcance};
use crate::modelo::{EstadoRefill, NuevoRefill, RefillId, SolicitudRefill, Usuario};
use crate::store::Idempotencia;

pub async fn pedir_refill(
    ctx: &Contexto,
    autor: &Usuario,
    nuevo: NuevoRefill,
    idem: Option<&Idempotencia>,
) -> Result<SolicitudRefill, FlujoError> {
    let nuevo = nuevo.validar()?;
    let sucursal = ctx.sucursal_para(autor, nuevo.sucursal_id).await?;
    let evento = ctx
        .evento(
            "refill_solicitado",
            None,
            sucursal,
            autor,
            ("REFILL", ID_POR_ASIGNAR),
            None,
            json!({"producto": nuevo.producto, "cantidad": nuevo.cantidad, "nota": nuevo.nota,
                   "estado": EstadoRefill::Pendiente, "pedido_por": autor.nombre}),
        )
        .await;
    let (refill, _) = ctx
        .store
        .crear_refill(sucursal, autor.id, &nuevo, evento, idem)
        .await?;
    Ok(refill)
}

/// pendiente → en_proceso → completado (or straight to completado).
pub async fn cambiar_estado_refill(
    ctx: &Contexto,
    autor: &Usuario,
    id: RefillId,
    estado: EstadoRefill,
    idem: Option<&Idempotencia>,
) -> Result<SolicitudRefill, FlujoError> {
    let actual = ctx
        .store
        .refill(id)
        .await?
        .ok_or_else(|| FlujoError::NoEncontrado(format!("el refill {id} no existe")))?;
    en_alcance(autor, actual.sucursal_id)?;
    let permitido = matches!(
        (actual.estado, estado),
        (
            EstadoRefill::Pendiente,
            EstadoRefill::EnProceso | EstadoRefill::Completado
        ) | (EstadoRefill::EnProceso, EstadoRefill::Completado)
    );
    if !permitido {
        return Err(FlujoError::Conflicto(format!(
            "un refill {} no puede pasar a {estado}",
            actual.estado
        )));
    }
    let evento = ctx
        .evento(
            "refill_estado",
            None,
            actual.sucursal_id,
            autor,
            ("REFILL", actual.id.0),
            None,
            json!({"refill_id": actual.id, "producto": actual.producto, "cantidad": actual.cantidad,
                   "desde": actual.estado, "estado": estado,
                   "atendido_por": autor.id, "atendido_por_nombre": autor.nombre}),
        )
        .await;
    let movido = ctx
        .store
        .cambiar_estado_refill(id, actual.estado, estado, autor.id, evento, idem)
        .await?;
    movido
        .map(|(r, _)| r)
        .ok_or_else(|| FlujoError::Conflicto(format!("el refill {id} cambió mientras tanto")))
}
