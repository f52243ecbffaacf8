//! The desk asks the kitchen for a refill; the kitchen works it.

use serde_json::json;

use super::{Contexto, FlujoError, en_alcance};
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
    let (refill, _) = ctx
        .store
        .crear_refill(
            sucursal,
            autor.id,
            &nuevo,
            |r| {
                ctx.evento(
                    "refill_solicitado",
                    None,
                    sucursal,
                    autor,
                    ("REFILL", r.id.0),
                    None,
                    json!({"refill_id": r.id, "producto": r.producto, "cantidad": r.cantidad,
                           "nota": r.nota, "estado": r.estado, "pedido_por": autor.nombre}),
                )
            },
            idem,
        )
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
    let movido = ctx
        .store
        .cambiar_estado_refill(
            id,
            actual.estado,
            estado,
            autor.id,
            |r| {
                ctx.evento(
                    "refill_estado",
                    None,
                    r.sucursal_id,
                    autor,
                    ("REFILL", r.id.0),
                    None,
                    json!({"refill_id": r.id, "producto": r.producto, "cantidad": r.cantidad,
                           "desde": actual.estado, "estado": r.estado,
                           "atendido_por": autor.id, "atendido_por_nombre": autor.nombre}),
                )
            },
            idem,
        )
        .await?;
    movido
        .map(|(r, _)| r)
        .ok_or_else(|| FlujoError::Conflicto(format!("el refill {id} cambió mientras tanto")))
}
