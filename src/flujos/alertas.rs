//! The desk alerts the kitchen; the rules set the final priority; the
//! kitchen marks the alert read and the desk learns who read it and when.

use super::{Contexto, FlujoError, ID_POR_ASIGNAR, ahora, borrador, en_alcance};

use crate::modelo::payload::{
    PayloadAlertaCocina, PayloadAlertaEscalada, PayloadAlertaLeida, en_mapa,
};
use crate::modelo::{
    AlertaCocina, AlertaId, Destinos, Entidad, Evento, NuevaAlertaCocina, NuevoEvento, PedidoId,
    Prioridad, TipoEntidad, TipoEvento, Usuario,
};
use crate::realtime::cocina::AlertaAbierta;
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
    let ahora = ahora();
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
    let mut evento = borrador(
        TipoEvento::AlertaCocina,
        None,
        sucursal,
        autor,
        (TipoEntidad::Alerta, ID_POR_ASIGNAR),
        None,
        &PayloadAlertaCocina {
            alerta_id: None,
            pedido_id: nueva.pedido_id,
            mensaje: nueva.mensaje.clone(),
            prioridad_pedida: nueva.prioridad,
            usuario_envia: autor.id,
            enviada_por: autor.nombre.clone(),
            fecha_envio: Some(ahora),
        },
    );
    let entrada = EntradaAlerta {
        mensaje: nueva.mensaje.clone(),
        prioridad_pedida: nueva.prioridad,
        pedido_id: nueva.pedido_id.map(|p| p.0),
        sucursal_id: sucursal,
        minutos_pedido,
    };
    let prioridad = ctx.reglas.decidir_alerta(entrada, &mut evento).await;
    let fila = NuevaAlerta {
        pedido_id: nueva.pedido_id,
        usuario_envia: autor.id,
        sucursal_id: sucursal,
        mensaje: nueva.mensaje,
        prioridad,
        fecha_envio: ahora,
    };
    let (alerta, _) = ctx.store.crear_alerta(&fila, evento, idem).await?;
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
    if actual.leida {
        return Err(ya_leida(id));
    }
    let ahora = ahora();
    let evento = ctx
        .evento(
            TipoEvento::AlertaLeida,
            None,
            actual.sucursal_id,
            autor,
            (TipoEntidad::Alerta, actual.id.0),
            Some(actual.prioridad),
            &PayloadAlertaLeida {
                alerta_id: actual.id,
                pedido_id: actual.pedido_id,
                mensaje: actual.mensaje.clone(),
                leida_por: autor.id,
                leida_por_nombre: autor.nombre.clone(),
                fecha_lectura: ahora,
            },
        )
        .await;
    let leida = ctx
        .store
        .leer_alerta(id, autor.id, ahora, evento, idem)
        .await?;
    leida.map(|(alerta, _)| alerta).ok_or_else(|| ya_leida(id))
}

fn ya_leida(id: AlertaId) -> FlujoError {
    FlujoError::Conflicto(format!("la alerta {id} ya estaba leída"))
}

/// Raises an unread alert the escalation rule chose to raise, from the
/// priority the kitchen holds to `hasta`: `None` when it was read or
/// changed meanwhile (the conditional write finds nothing; no event).
pub async fn escalar_alerta(
    ctx: &Contexto,
    alerta: &AlertaAbierta,
    minutos_sin_leer: i64,
    hasta: Prioridad,
) -> Result<Option<Evento>, FlujoError> {
    let payload = PayloadAlertaEscalada {
        alerta_id: AlertaId(alerta.id),
        pedido_id: alerta.pedido_id.map(PedidoId),
        mensaje: alerta.mensaje.clone(),
        desde: alerta.prioridad,
        minutos_sin_leer,
    };
    let mut evento = NuevoEvento {
        tipo: TipoEvento::AlertaEscalada,
        subtipo: None,
        payload: en_mapa(&payload),
        usuario_id: None,
        sucursal_id: Some(alerta.sucursal_id),
        entidad: Some(Entidad {
            tipo: TipoEntidad::Alerta,
            id: alerta.id,
        }),
        prioridad: Some(hasta),
        destinos: Destinos::NINGUNO,
    };
    ctx.reglas.decidir_destinos(&mut evento).await;
    let escalada = ctx
        .store
        .escalar_alerta(AlertaId(alerta.id), alerta.prioridad, hasta, &evento)
        .await?;
    Ok(escalada)
}
