//! `GET /ws`: authenticate, check the Origin of cookie logins, and answer
//! the handshake with what becomes of the socket (an [`Enganche`] in the
//! response's extensions, taken by [`super::traspaso`] once the `101` is
//! written). Auth failures upgrade and then close with 4001, and a user
//! already at its limit of sockets gets 4029 the same way, so that a browser
//! client can tell them from a network error (a refused handshake reaches a
//! page as a bare 1006).

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, web};

use super::OrigenesPermitidos;
use crate::auth::{Autenticado, Via};
use crate::error::ApiError;
use crate::realtime::Realtime;
use crate::realtime::conexion::Enganche;
use crate::realtime::protocolo::cierre;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(ws);
}

#[get("/ws")]
async fn ws(
    req: HttpRequest,
    realtime: web::Data<Realtime>,
    origenes: web::Data<OrigenesPermitidos>,
) -> Result<HttpResponse, ApiError> {
    let autenticado = Autenticado::extract(&req).await;
    if let Ok(quien) = &autenticado
        && quien.via == Via::Cookie
        && !origenes.permite(req.headers())
    {
        tracing::warn!(origin = ?req.headers().get(header::ORIGIN), "socket con cookie desde un origen no permitido");
        return Err(ApiError::Prohibido);
    }
    let mut respuesta: HttpResponse = actix_http::ws::handshake(req.head())
        .map_err(|e| ApiError::Invalida(format!("no es una petición WebSocket: {e}")))?
        .finish()
        .map_into_boxed_body()
        .into();
    let enganche = match autenticado {
        Ok(quien) => realtime.abrir(quien).await,
        Err(ApiError::NoAutenticado) => Enganche::cerrado(cierre::NO_AUTENTICADO, "no autenticado"),
        Err(_) => Enganche::cerrado(cierre::REINTENTA_LUEGO, "no disponible"),
    };
    respuesta.extensions_mut().insert(enganche);
    Ok(respuesta)
}
