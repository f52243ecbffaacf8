//! Orders: registered by the desk (`tienda`) or the WhatsApp bot, approved,
//! moved along their states. Every event carries the sucursal's pending count
//! (the desk's badge).

use super::{Contexto, FlujoError, ID_POR_ASIGNAR, en_alcance};
use crate::modelo::payload::{PayloadPedidoMovido, PayloadPedidoNuevo};
use crate::modelo::{
    EstadoPedido, NuevoPedido, OrigenPedido, Pedido, PedidoId, Rol, TipoEntidad, TipoEvento,
    Usuario,
};
use crate::store::Idempotencia;

pub async fn crear_pedido(
    ctx: &Contexto,
    autor: &Usuario,
    nuevo: NuevoPedido,
    idem: Option<&Idempotencia>,
) -> Result<Pedido, FlujoError> {
    let nuevo = nuevo.validar()?;
    let sucursal = ctx.sucursal_para(autor, nuevo.sucursal_id).await?;
    let origen = match autor.rol {
        Rol::Servicio => OrigenPedido::Whatsapp,
        _ => OrigenPedido::Tienda,
    };
    let evento = ctx
        .evento(
            TipoEvento::PedidoNuevo,
            Some(origen.as_str()),
            sucursal,
            autor,
            (TipoEntidad::Pedido, ID_POR_ASIGNAR),
            None,
            &PayloadPedidoNuevo {
                origen,
                cliente: nuevo.cliente.clone(),
                detalle: nuevo.detalle.clone(),
                total: nuevo.total,
                estado: EstadoPedido::Pendiente,
            },
        )
        .await;
    let (pedido, _) = ctx
        .store
        .crear_pedido(sucursal, origen, &nuevo, evento, idem)
        .await?;
    Ok(pedido)
}

async fn pedido_en_alcance(
    ctx: &Contexto,
    autor: &Usuario,
    id: PedidoId,
) -> Result<Pedido, FlujoError> {
    let pedido = ctx
        .store
        .pedido(id)
        .await?
        .ok_or_else(|| FlujoError::NoEncontrado(format!("el pedido {id} no existe")))?;
    en_alcance(autor, pedido.sucursal_id)?;
    Ok(pedido)
}

/// PENDIENTE → EN_PREPARACION, and only that.
pub async fn aprobar_pedido(
    ctx: &Contexto,
    autor: &Usuario,
    id: PedidoId,
    idem: Option<&Idempotencia>,
) -> Result<Pedido, FlujoError> {
    let actual = pedido_en_alcance(ctx, autor, id).await?;
    if actual.estado != EstadoPedido::Pendiente {
        return Err(FlujoError::Conflicto(format!(
            "solo se aprueba un pedido PENDIENTE; el {id} está {}",
            actual.estado
        )));
    }
    mover(
        ctx,
        autor,
        actual,
        EstadoPedido::EnPreparacion,
        TipoEvento::PedidoAprobado,
        idem,
    )
    .await
}

/// Along the allowed transitions only: EN_PREPARACION → LISTO → ENTREGADO,
/// or cancel an order not yet delivered.
pub async fn cambiar_estado_pedido(
    ctx: &Contexto,
    autor: &Usuario,
    id: PedidoId,
    estado: EstadoPedido,
    idem: Option<&Idempotencia>,
) -> Result<Pedido, FlujoError> {
    let actual = pedido_en_alcance(ctx, autor, id).await?;
    if !actual.estado.puede_pasar_a(estado) {
        return Err(FlujoError::Conflicto(format!(
            "un pedido {} no puede pasar a {estado}",
            actual.estado
        )));
    }
    mover(ctx, autor, actual, estado, TipoEvento::PedidoEstado, idem).await
}

async fn mover(
    ctx: &Contexto,
    autor: &Usuario,
    actual: Pedido,
    hasta: EstadoPedido,
    tipo: TipoEvento,
    idem: Option<&Idempotencia>,
) -> Result<Pedido, FlujoError> {
    let desde = actual.estado;
    let evento = ctx
        .evento(
            tipo,
            None,
            actual.sucursal_id,
            autor,
            (TipoEntidad::Pedido, actual.id.0),
            None,
            &PayloadPedidoMovido {
                pedido_id: actual.id,
                desde,
                estado: hasta,
                cliente: actual.cliente.clone(),
                total: actual.total,
                por_voucher: None,
            },
        )
        .await;
    let movido = ctx
        .store
        .cambiar_estado_pedido(actual.id, desde, hasta, evento, idem)
        .await?;
    match movido {
        Some((pedido, _)) => Ok(pedido),
        None => Err(FlujoError::Conflicto(format!(
            "el pedido {} cambió mientras tanto; vuelve a cargarlo",
            actual.id
        ))),
    }
}
