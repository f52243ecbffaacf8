//! Payment vouchers: registered by the WhatsApp bot or the desk, flagged when
//! their operation number was seen before in the sucursal, then approved or
//! rejected with a reason.
//!
//! Approving the voucher of a PENDIENTE order also approves the order (it
//! goes to EN_PREPARACION in the same transaction, with its own
//! `pedido_aprobado` event): the payment was what it was waiting for.

use super::{Contexto, FlujoError, ID_POR_ASIGNAR, en_alcance};
use crate::modelo::payload::{PayloadPedidoMovido, PayloadVoucherNuevo, PayloadVoucherRevisado};
use crate::modelo::{
    EstadoPedido, EstadoVoucher, Invalido, NuevoVoucher, Rol, TipoEntidad, TipoEvento, Usuario,
    Voucher, VoucherId,
};
use crate::store::{Idempotencia, Revision};

pub async fn registrar_voucher(
    ctx: &Contexto,
    autor: &Usuario,
    nuevo: NuevoVoucher,
    idem: Option<&Idempotencia>,
) -> Result<Voucher, FlujoError> {
    let nuevo = nuevo.validar()?;
    let sucursal = ctx.sucursal_para(autor, nuevo.sucursal_id).await?;
    if let Some(id) = nuevo.pedido_id
        && ctx
            .store
            .pedido(id)
            .await?
            .is_none_or(|p| p.sucursal_id != sucursal)
    {
        return Err(FlujoError::NoEncontrado(format!(
            "el pedido {id} no existe en la sucursal {sucursal}"
        )));
    }
    let subtipo = match autor.rol {
        Rol::Servicio => "whatsapp",
        _ => "tienda",
    };
    // `voucher_id` and `posible_duplicado` come with the row.
    let evento = ctx
        .evento(
            TipoEvento::VoucherNuevo,
            Some(subtipo),
            sucursal,
            autor,
            (TipoEntidad::Voucher, ID_POR_ASIGNAR),
            None,
            &PayloadVoucherNuevo {
                pedido_id: nuevo.pedido_id,
                monto: nuevo.monto,
                numero_operacion: nuevo.numero_operacion.clone(),
                imagen_url: nuevo.imagen_url.clone(),
                telefono: nuevo.telefono.clone(),
            },
        )
        .await;
    let (voucher, _) = ctx
        .store
        .crear_voucher(sucursal, &nuevo, evento, idem)
        .await?;
    if voucher.posible_duplicado {
        tracing::warn!(voucher = %voucher.id, sucursal = %sucursal, "número de operación repetido: posible voucher duplicado");
    }
    Ok(voucher)
}

pub async fn aprobar_voucher(
    ctx: &Contexto,
    autor: &Usuario,
    id: VoucherId,
    idem: Option<&Idempotencia>,
) -> Result<Voucher, FlujoError> {
    revisar(ctx, autor, id, EstadoVoucher::Aprobado, None, idem).await
}

pub async fn rechazar_voucher(
    ctx: &Contexto,
    autor: &Usuario,
    id: VoucherId,
    motivo: &str,
    idem: Option<&Idempotencia>,
) -> Result<Voucher, FlujoError> {
    let motivo = motivo.trim();
    if motivo.is_empty() || motivo.chars().count() > 500 || motivo.contains('\0') {
        return Err(Invalido::new(
            "rechazar un voucher necesita un motivo (de 1 a 500 caracteres, sin el carácter nulo)",
        )
        .into());
    }
    revisar(
        ctx,
        autor,
        id,
        EstadoVoucher::Rechazado,
        Some(motivo.to_owned()),
        idem,
    )
    .await
}

async fn revisar(
    ctx: &Contexto,
    autor: &Usuario,
    id: VoucherId,
    estado: EstadoVoucher,
    motivo: Option<String>,
    idem: Option<&Idempotencia>,
) -> Result<Voucher, FlujoError> {
    let actual = ctx
        .store
        .voucher(id)
        .await?
        .ok_or_else(|| FlujoError::NoEncontrado(format!("el voucher {id} no existe")))?;
    en_alcance(autor, actual.sucursal_id)?;
    if actual.estado != EstadoVoucher::Pendiente {
        return Err(FlujoError::Conflicto(format!(
            "el voucher {id} ya está {}",
            actual.estado
        )));
    }
    let tipo = match estado {
        EstadoVoucher::Aprobado => TipoEvento::VoucherAprobado,
        _ => TipoEvento::VoucherRechazado,
    };
    let evento = ctx
        .evento(
            tipo,
            None,
            actual.sucursal_id,
            autor,
            (TipoEntidad::Voucher, actual.id.0),
            None,
            &PayloadVoucherRevisado {
                voucher_id: actual.id,
                pedido_id: actual.pedido_id,
                monto: actual.monto,
                numero_operacion: actual.numero_operacion.clone(),
                motivo: motivo.clone(),
                revisado_por: autor.id,
                revisado_por_nombre: autor.nombre.clone(),
            },
        )
        .await;
    // Approving the payment approves its order, if it is still waiting: the
    // store moves it only if it is PENDIENTE when the voucher is written.
    let pedido = match (estado, actual.pedido_id) {
        (EstadoVoucher::Aprobado, Some(p)) => ctx
            .store
            .pedido(p)
            .await?
            .filter(|p| p.estado == EstadoPedido::Pendiente),
        _ => None,
    };
    let evento_pedido = match pedido {
        Some(p) => Some(
            ctx.evento(
                TipoEvento::PedidoAprobado,
                None,
                p.sucursal_id,
                autor,
                (TipoEntidad::Pedido, p.id.0),
                None,
                &PayloadPedidoMovido {
                    pedido_id: p.id,
                    desde: EstadoPedido::Pendiente,
                    estado: EstadoPedido::EnPreparacion,
                    cliente: p.cliente,
                    total: p.total,
                    por_voucher: Some(actual.id),
                },
            )
            .await,
        ),
        None => None,
    };
    let revision = Revision {
        estado,
        motivo,
        revisor: autor.id,
    };
    let revisado = ctx
        .store
        .revisar_voucher(id, &revision, evento, evento_pedido, idem)
        .await?;
    revisado.map(|(v, _)| v).ok_or_else(|| {
        FlujoError::Conflicto(format!("el voucher {id} fue revisado mientras tanto"))
    })
}
