//! Payment vouchers: registered by the WhatsApp bot or the desk, flagged when
//! their operation number was seen before in the sucursal, then approved or
//! rejected with a reason.
//!
//! Approving the voucher of a PENDIENTE order also approves the order (it
//! goes to EN_PREPARACION in the same transaction, with its own
//! `pedido_aprobado` event): the payment was what it was waiting for.

use serde_json::json;

use super::{Contexto, FlujoError, en_alcance};
use crate::modelo::{
    EstadoVoucher, Invalido, NuevoEvento, NuevoVoucher, Pedido, Rol, Usuario, Voucher, VoucherId,
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
    let (voucher, _) = ctx
        .store
        .crear_voucher(
            sucursal,
            &nuevo,
            |v| {
                ctx.evento(
                    "voucher_nuevo",
                    Some(subtipo),
                    sucursal,
                    autor,
                    ("VOUCHER", v.id.0),
                    None,
                    json!({"voucher_id": v.id, "pedido_id": v.pedido_id, "monto": v.monto,
                           "numero_operacion": v.numero_operacion, "imagen_url": v.imagen_url,
                           "telefono": v.telefono, "posible_duplicado": v.posible_duplicado}),
                )
            },
            idem,
        )
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
    let revision = Revision {
        estado,
        motivo,
        revisor: autor.id,
        aprobar_pedido: estado == EstadoVoucher::Aprobado,
    };
    let tipo = match estado {
        EstadoVoucher::Aprobado => "voucher_aprobado",
        _ => "voucher_rechazado",
    };
    let revisado = ctx
        .store
        .revisar_voucher(
            id,
            &revision,
            |v, pedido: Option<&Pedido>| {
                let mut eventos: Vec<NuevoEvento> = vec![ctx.evento(
                    tipo,
                    None,
                    v.sucursal_id,
                    autor,
                    ("VOUCHER", v.id.0),
                    None,
                    json!({"voucher_id": v.id, "pedido_id": v.pedido_id, "monto": v.monto,
                           "numero_operacion": v.numero_operacion, "motivo": v.motivo,
                           "revisado_por": autor.id, "revisado_por_nombre": autor.nombre}),
                )];
                if let Some(p) = pedido {
                    eventos.push(ctx.evento(
                        "pedido_aprobado",
                        None,
                        p.sucursal_id,
                        autor,
                        ("PEDIDO", p.id.0),
                        None,
                        json!({"pedido_id": p.id, "desde": "PENDIENTE", "estado": p.estado,
                               "cliente": p.cliente, "total": p.total, "por_voucher": v.id}),
                    ));
                }
                eventos
            },
            idem,
        )
        .await?;
    revisado.map(|(v, _)| v).ok_or_else(|| {
        FlujoError::Conflicto(format!("el voucher {id} fue revisado mientras tanto"))
    })
}
