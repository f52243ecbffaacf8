//! `/api/pedidos`, `/api/alertas`, `/api/refills`, `/api/vouchers`: the seed's
//! workflows. Lists answer `{"ultimo_id":N,"items":[…]}`; writes take an
//! `Idempotency-Key`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};

use super::idempotencia::ClaveIdempotencia;
use super::{Lista, sucursal_de_consulta};
use crate::auth::{Autenticado, Permiso};
use crate::error::ApiError;
use crate::flujos::{self, Contexto};
use crate::modelo::{
    AlertaId, EstadoPedido, EstadoRefill, EstadoVoucher, EventoId, NuevaAlertaCocina, NuevoPedido,
    NuevoRefill, NuevoVoucher, OrigenPedido, Pedido, PedidoId, RefillId, VoucherId,
};
use crate::store::{FiltroPedidos, Store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(listar_pedidos)
        .service(crear_pedido)
        .service(aprobar_pedido)
        .service(estado_pedido)
        .service(listar_alertas)
        .service(crear_alerta)
        .service(leer_alerta)
        .service(listar_refills)
        .service(crear_refill)
        .service(estado_refill)
        .service(listar_vouchers)
        .service(crear_voucher)
        .service(aprobar_voucher)
        .service(rechazar_voucher);
}

/// `limit` of the lists: 100 unless asked, at most 500.
fn limite(pedido: Option<i64>) -> i64 {
    pedido.unwrap_or(100).clamp(1, 500)
}

// ── Pedidos ─────────────────────────────────────────────────────────────────

#[derive(Deserialize)]
struct ConsultaPedidos {
    sucursal_id: Option<i64>,
    estado: Option<EstadoPedido>,
    origen: Option<OrigenPedido>,
    limit: Option<i64>,
}

/// The orders list, with the pending count of the same scope (the badge).
#[derive(Serialize)]
struct ListaPedidos {
    ultimo_id: EventoId,
    pendientes: i64,
    items: Vec<Pedido>,
}

#[get("/pedidos")]
async fn listar_pedidos(
    store: web::Data<Store>,
    quien: Autenticado,
    consulta: web::Query<ConsultaPedidos>,
) -> Result<HttpResponse, ApiError> {
    quien.exigir(Permiso::VerPedidos)?;
    let sucursal_id = sucursal_de_consulta(&quien, consulta.sucursal_id)?;
    let ultimo_id = store.ultimo_evento_id().await?;
    let items = store
        .pedidos(&FiltroPedidos {
            sucursal_id,
            estado: consulta.estado,
            origen: consulta.origen,
            limit: limite(consulta.limit),
        })
        .await?;
    let pendientes = store.pedidos_pendientes(sucursal_id).await?;
    Ok(HttpResponse::Ok().json(ListaPedidos {
        ultimo_id,
        pendientes,
        items,
    }))
}

#[post("/pedidos")]
async fn crear_pedido(
    ctx: web::Data<Contexto>,
    quien: Autenticado,
    clave: ClaveIdempotencia,
    body: web::Json<NuevoPedido>,
) -> Result<HttpResponse, ApiError> {
    let autor = quien.exigir(Permiso::CrearPedidos)?;
    let ctx = ctx.get_ref();
    clave
        .una_vez(
            &ctx.store,
            autor.id,
            StatusCode::CREATED,
            |idem| async move {
                flujos::crear_pedido(ctx, autor, body.into_inner(), idem.as_ref()).await
            },
        )
        .await
}

#[post("/pedidos/{id}/aprobar")]
async fn aprobar_pedido(
    ctx: web::Data<Contexto>,
    quien: Autenticado,
    clave: ClaveIdempotencia,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let autor = quien.exigir(Permiso::AprobarPedidos)?;
    let id = PedidoId(id.into_inner());
    let ctx = ctx.get_ref();
    clave
        .una_vez(&ctx.store, autor.id, StatusCode::OK, |idem| async move {
            flujos::aprobar_pedido(ctx, autor, id, idem.as_ref()).await
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NuevoEstadoPedido {
    estado: EstadoPedido,
}

#[post("/pedidos/{id}/estado")]
async fn estado_pedido(
    ctx: web::Data<Contexto>,
    quien: Autenticado,
    clave: ClaveIdempotencia,
    id: web::Path<i64>,
    body: web::Json<NuevoEstadoPedido>,
) -> Result<HttpResponse, ApiError> {
    let autor = quien.exigir(Permiso::AvanzarPedidos)?;
    let id = PedidoId(id.into_inner());
    let ctx = ctx.get_ref();
    clave
        .una_vez(&ctx.store, autor.id, StatusCode::OK, |idem| async move {
            flujos::cambiar_estado_pedido(ctx, autor, id, body.estado, idem.as_ref()).await
        })
        .await
}

// ── Alertas de cocina ───────────────────────────────────────────────────────

#[derive(Deserialize)]
struct ConsultaAlertas {
    sucursal_id: Option<i64>,
    leida: Option<bool>,
    limit: Option<i64>,
}

#[get("/alertas")]
async fn listar_alertas(
    store: web::Data<Store>,
    quien: Autenticado,
    consulta: web::Query<ConsultaAlertas>,
) -> Result<HttpResponse, ApiError> {
    quien.exigir(Permiso::VerCocina)?;
    let sucursal_id = sucursal_de_consulta(&quien, consulta.sucursal_id)?;
    let ultimo_id = store.ultimo_evento_id().await?;
    let items = store
        .alertas(sucursal_id, consulta.leida, limite(consulta.limit))
        .await?;
    Ok(HttpResponse::Ok().json(Lista { ultimo_id, items }))
}

#[post("/alertas")]
async fn crear_alerta(
    ctx: web::Data<Contexto>,
    quien: Autenticado,
    clave: ClaveIdempotencia,
    body: web::Json<NuevaAlertaCocina>,
) -> Result<HttpResponse, ApiError> {
    let autor = quien.exigir(Permiso::PedirACocina)?;
    let ctx = ctx.get_ref();
    clave
        .una_vez(
            &ctx.store,
            autor.id,
            StatusCode::CREATED,
            |idem| async move {
                flujos::alertar_cocina(ctx, autor, body.into_inner(), idem.as_ref()).await
            },
        )
        .await
}

#[post("/alertas/{id}/leida")]
async fn leer_alerta(
    ctx: web::Data<Contexto>,
    quien: Autenticado,
    clave: ClaveIdempotencia,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let autor = quien.exigir(Permiso::AtenderCocina)?;
    let id = AlertaId(id.into_inner());
    let ctx = ctx.get_ref();
    clave
        .una_vez(&ctx.store, autor.id, StatusCode::OK, |idem| async move {
            flujos::marcar_leida(ctx, autor, id, idem.as_ref()).await
        })
        .await
}

// ── Refills ─────────────────────────────────────────────────────────────────

#[derive(Deserialize)]
struct ConsultaRefills {
    sucursal_id: Option<i64>,
    estado: Option<EstadoRefill>,
    limit: Option<i64>,
}

#[get("/refills")]
async fn listar_refills(
    store: web::Data<Store>,
    quien: Autenticado,
    consulta: web::Query<ConsultaRefills>,
) -> Result<HttpResponse, ApiError> {
    quien.exigir(Permiso::VerCocina)?;
    let sucursal_id = sucursal_de_consulta(&quien, consulta.sucursal_id)?;
    let ultimo_id = store.ultimo_evento_id().await?;
    let items = store
        .refills(sucursal_id, consulta.estado, limite(consulta.limit))
        .await?;
    Ok(HttpResponse::Ok().json(Lista { ultimo_id, items }))
}

#[post("/refills")]
async fn crear_refill(
    ctx: web::Data<Contexto>,
    quien: Autenticado,
    clave: ClaveIdempotencia,
    body: web::Json<NuevoRefill>,
) -> Result<HttpResponse, ApiError> {
    let autor = quien.exigir(Permiso::PedirACocina)?;
    let ctx = ctx.get_ref();
    clave
        .una_vez(
            &ctx.store,
            autor.id,
            StatusCode::CREATED,
            |idem| async move {
                flujos::pedir_refill(ctx, autor, body.into_inner(), idem.as_ref()).await
            },
        )
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NuevoEstadoRefill {
    estado: EstadoRefill,
}

#[post("/refills/{id}/estado")]
async fn estado_refill(
    ctx: web::Data<Contexto>,
    quien: Autenticado,
    clave: ClaveIdempotencia,
    id: web::Path<i64>,
    body: web::Json<NuevoEstadoRefill>,
) -> Result<HttpResponse, ApiError> {
    let autor = quien.exigir(Permiso::AtenderCocina)?;
    let id = RefillId(id.into_inner());
    let ctx = ctx.get_ref();
    clave
        .una_vez(&ctx.store, autor.id, StatusCode::OK, |idem| async move {
            flujos::cambiar_estado_refill(ctx, autor, id, body.estado, idem.as_ref()).await
        })
        .await
}

// ── Vouchers ────────────────────────────────────────────────────────────────

#[derive(Deserialize)]
struct ConsultaVouchers {
    sucursal_id: Option<i64>,
    estado: Option<EstadoVoucher>,
    limit: Option<i64>,
}

#[get("/vouchers")]
async fn listar_vouchers(
    store: web::Data<Store>,
    quien: Autenticado,
    consulta: web::Query<ConsultaVouchers>,
) -> Result<HttpResponse, ApiError> {
    quien.exigir(Permiso::RevisarVouchers)?;
    let sucursal_id = sucursal_de_consulta(&quien, consulta.sucursal_id)?;
    let ultimo_id = store.ultimo_evento_id().await?;
    let items = store
        .vouchers(sucursal_id, consulta.estado, limite(consulta.limit))
        .await?;
    Ok(HttpResponse::Ok().json(Lista { ultimo_id, items }))
}

#[post("/vouchers")]
async fn crear_voucher(
    ctx: web::Data<Contexto>,
    quien: Autenticado,
    clave: ClaveIdempotencia,
    body: web::Json<NuevoVoucher>,
) -> Result<HttpResponse, ApiError> {
    let autor = quien.exigir(Permiso::RegistrarVouchers)?;
    let ctx = ctx.get_ref();
    clave
        .una_vez(
            &ctx.store,
            autor.id,
            StatusCode::CREATED,
            |idem| async move {
                flujos::registrar_voucher(ctx, autor, body.into_inner(), idem.as_ref()).await
            },
        )
        .await
}

#[post("/vouchers/{id}/aprobar")]
async fn aprobar_voucher(
    ctx: web::Data<Contexto>,
    quien: Autenticado,
    clave: ClaveIdempotencia,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let autor = quien.exigir(Permiso::RevisarVouchers)?;
    let id = VoucherId(id.into_inner());
    let ctx = ctx.get_ref();
    clave
        .una_vez(&ctx.store, autor.id, StatusCode::OK, |idem| async move {
            flujos::aprobar_voucher(ctx, autor, id, idem.as_ref()).await
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rechazo {
    #[serde(default)]
    motivo: String,
}

#[post("/vouchers/{id}/rechazar")]
async fn rechazar_voucher(
    ctx: web::Data<Contexto>,
    quien: Autenticado,
    clave: ClaveIdempotencia,
    id: web::Path<i64>,
    body: web::Json<Rechazo>,
) -> Result<HttpResponse, ApiError> {
    let autor = quien.exigir(Permiso::RevisarVouchers)?;
    let id = VoucherId(id.into_inner());
    let ctx = ctx.get_ref();
    clave
        .una_vez(&ctx.store, autor.id, StatusCode::OK, |idem| async move {
            flujos::rechazar_voucher(ctx, autor, id, &body.motivo, idem.as_ref()).await
        })
        .await
}
