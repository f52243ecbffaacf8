//! `GET /ws`: authenticate, check the Origin of cookie logins, upgrade, and
//! hand the socket to a `Session` actor. Auth failures upgrade and then close
//! with 4001, and a user already at its limit of sockets gets 4029 the same
//! way, so that a browser client can tell them from a network error (a
//! refused handshake reaches a page as a bare 1006).

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, web};

use crate::auth::{Autenticado, Via};
use crate::error::ApiError;
use crate::realtime::protocolo::cierre;
use crate::realtime::{Realtime, Rechazada};

/// Origins whose pages may open a socket with the session cookie.
#[derive(Debug, Clone)]
pub struct OrigenesPermitidos(pub Vec<String>);

impl OrigenesPermitidos {
    fn permite(&self, req: &HttpRequest) -> bool {
        req.headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .is_some_and(|o| self.0.iter().any(|permitido| permitido == o))
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(ws);
}

#[get("/ws")]
async fn ws(
    req: HttpRequest,
    body: web::Payload,
    realtime: web::Data<Realtime>,
    origenes: web::Data<OrigenesPermitidos>,
) -> Result<HttpResponse, ApiError> {
    let autenticado = Autenticado::extract(&req).await;
    if let Ok(quien) = &autenticado
        && quien.via == Via::Cookie
        && !origenes.permite(&req)
    {
        tracing::warn!(origin = ?req.headers().get(header::ORIGIN), "socket con cookie desde un origen no permitido");
        return Err(ApiError::Prohibido);
    }
    let (respuesta, ws, mensajes) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::Invalida(format!("no es una petición WebSocket: {e}")))?;
    let (ws, mensajes, codigo, motivo) = match autenticado {
        Ok(quien) => match realtime.abrir(quien, ws, mensajes).await {
            Ok(_) => return Ok(respuesta),
            Err(Rechazada {
                motivo: Some(demasiadas),
                ws,
                mensajes,
            }) => (
                ws,
                mensajes,
                cierre::DEMASIADAS_SESIONES,
                demasiadas.to_string(),
            ),
            Err(Rechazada {
                motivo: None,
                ws,
                mensajes,
            }) => (ws, mensajes, cierre::APAGANDO, "apagando".to_owned()),
        },
        Err(ApiError::NoAutenticado) => (
            ws,
            mensajes,
            cierre::NO_AUTENTICADO,
            "no autenticado".to_owned(),
        ),
        Err(_) => (
            ws,
            mensajes,
            cierre::REINTENTA_LUEGO,
            "no disponible".to_owned(),
        ),
    };
    actix_web::rt::spawn(async move {
        let _ = ws
            .close(Some(actix_ws::CloseReason {
                code: actix_ws::CloseCode::Other(codigo),
                description: Some(motivo),
            }))
            .await;
        drop(mensajes);
    });
    Ok(respuesta)
}
