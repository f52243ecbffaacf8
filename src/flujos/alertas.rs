//! The desk alerts the kitchen; the rules set the final priority; the
//! kitchen marks the alert read and the desk learns who read it and when.

use serde_json::json;
use time::OffsetDateTime;

use super::{Contexto, FlujoError, en_alcance, rfc3339};
use crate::modelo::{AlertaCocina, AlertaId, NuevaAlertaCocina, Usuario};
use crate::reglas::EntradaAlerta;
use crate::store::{Idempotencia, NuevaAlerta};

pub async fn alertar_cocina(
    ctx: &Contexto,
    autor: &Usuario,
    nueva: NuevaAlertaCocina,
    idem: Option<&Idempotencia>,
) -> Result<AlertaCocina, FlujoError> {
    let nueva = nueva.validar()?;
    let sucursal = ctx.sucursal_para(autor, nueva.sucursal_id).await?;
    let ahora = OffsetDateTime::now_utc();
    let minutos_pedido = match nueva.pedido_id {
        Some(id) => {
            let pedido = ctx
                .store
                .pedido(id)
                .await?
                .filter(|p| p.sucursal_id == sucursal)
                .ok_or_else(|| {
                    FlujoError::NoEncontrado(format!(
                        "el pedido {id} no existe en la sucursal {sucursal}"
                    ))
                })?;
            Some((ahora - pedido.creado).whole_minutes())
        }
        None => None,
    };
    let prioridad = ctx.reglas.prioridad(&EntradaAlerta {
        mensaje: nueva.mensaje.clone(),
        prioridad_pedida: nueva.prioridad,
        pedido_id: nueva.pedido_id.map(|p| p.0),
        sucursal_id: sucursal,
        minutos_pedido,
    });
    let fila = NuevaAlerta {
        pedido_id: nueva.pedido_id,
        usuario_envia: autor.id,
        sucursal_id: sucursal,
        mensaje: nueva.mensaje,
        prioridad,
        fecha_envio: ahora,
    };
    let (alerta, _) = ctx
        .store
        .crear_alerta(
            &fila,
            |a| {
                ctx.evento(
                    "alerta_cocina",
                    None,
                    sucursal,
                    autor,
                    ("ALERTA", a.id.0),
                    Some(a.prioridad),
                    json!({"alerta_id": a.id, "pedido_id": a.pedido_id, "mensaje": a.mensaje,
                           "prioridad_pedida": nueva.prioridad, "usuario_envia": a.usuario_envia,
                           "enviada_por": autor.nombre, "fecha_envio": rfc3339(a.fecha_envio)}),
                )
            },
            idem,
        )
        .await?;
    Ok(alerta)
}

/// The kitchen (or a manager) marks an alert read.
pub async fn marcar_leida(
    ctx: &Contexto,
    autor: &Usuario,
    id: AlertaId,
    idem: Option<&Idempotencia>,
) -> Result<AlertaCocina, FlujoError> {
    let actual = ctx
        .store
        .alerta(id)
        .await?
        .ok_or_else(|| FlujoError::NoEncontrado(format!("la alerta {id} no existe")))?;
    en_alcance(autor, actual.sucursal_id)?;
    let leida = ctx
        .store
        .leer_alerta(
            id,
            autor.id,
            |a| {
                ctx.evento(
                    "alerta_leida",
                    None,
                    a.sucursal_id,
                    autor,
                    ("ALERTA", a.id.0),
                    Some(a.prioridad),
                    json!({"alerta_id": a.id, "pedido_id": a.pedido_id, "mensaje": a.mensaje,
                           "leida_por": autor.id, "leida_por_nombre": autor.nombre,
                           "fecha_lectura": a.fecha_lectura.map(rfc3339)}),
                )
            },
            idem,
        )
        .await?;
    match leida {
        Some((alerta, _)) => Ok(alerta),
        None => Err(FlujoError::Conflicto(format!(
            "la alerta {id} ya estaba leída"
        ))),
    }
}
