//! The desk asks the kitchen for a refill; the kitchen works it.

use super::{Contexto, FlujoError, ID_POR_ASIGNAR, en_alcance};
use crate::modelo::payload::{PayloadRefillEstado, PayloadRefillSolicitado};
use crate::modelo::{
    EstadoRefill, NuevoRefill, RefillId, SolicitudRefill, TipoEntidad, TipoEvento, Usuario,
};
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
            TipoEvento::RefillSolicitado,
            None,
            sucursal,
            autor,
            (TipoEntidad::Refill, ID_POR_ASIGNAR),
            None,
            &PayloadRefillSolicitado {
                refill_id: None,
                producto: nuevo.producto.clone(),
                cantidad: nuevo.cantidad.into(),
                nota: nuevo.nota.clone(),
                estado: EstadoRefill::Pendiente,
                pedido_por: autor.nombre.clone(),
            },
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
            TipoEvento::RefillEstado,
            None,
            actual.sucursal_id,
            autor,
            (TipoEntidad::Refill, actual.id.0),
            None,
            &PayloadRefillEstado {
                refill_id: actual.id,
                producto: actual.producto.clone(),
                cantidad: actual.cantidad,
                desde: actual.estado,
                estado,
                atendido_por: autor.id,
                atendido_por_nombre: autor.nombre.clone(),
            },
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
