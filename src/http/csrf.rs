//! Cross-site request forgery: what a browser sends on its own (the session
//! cookie) only counts when the page that sent it is one of comanda's own.
//!
//! `SameSite=Strict` keeps the cookie off requests from other *sites*, but a
//! site is a registrable domain, not an origin: a page on another port of
//! the same host, or on a sibling subdomain, is same-site and its forms and
//! `fetch(…, {mode: "no-cors", credentials: "include"})` carry the cookie.
//! Browsers send `Origin` on every `POST`, `PUT`, `PATCH` and `DELETE`, so
//! the check is exact: a state-changing request authenticated by the cookie
//! must name an allowed origin, whatever its body or lack of one.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderMap};
use actix_web::middleware::Next;
use actix_web::web;

use crate::auth::COOKIE_SESION;
use crate::error::ApiError;

/// Origins whose pages may use the session cookie: open a socket with it,
/// and send the requests that change something.
#[derive(Debug, Clone)]
pub struct OrigenesPermitidos(pub Vec<String>);

impl OrigenesPermitidos {
    /// Whether the request names one of these origins (a missing `Origin`
    /// names none).
    pub fn permite(&self, cabeceras: &HeaderMap) -> bool {
        origen(cabeceras).is_some_and(|o| self.0.iter().any(|permitido| permitido == o))
    }
}

fn origen(cabeceras: &HeaderMap) -> Option<&str> {
    cabeceras.get(header::ORIGIN).and_then(|o| o.to_str().ok())
}

/// Methods that change nothing, by HTTP's own contract (and comanda's).
fn cambia_algo(metodo: &Method) -> bool {
    !matches!(
        *metodo,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// A state-changing request is refused with 403 `origen_no_permitido`
/// before anything else is done when
///
/// - it carries the session cookie (and no `Authorization`) without an
///   allowed `Origin` — a missing one included: every browser sends it on
///   these methods, so its absence means a client we can't tell from a
///   forgery; or
/// - it carries no credential and a foreign `Origin`: a login from another
///   page would put the visitor's browser in the attacker's account (login
///   CSRF). A client that sends no `Origin` at all (a script, the bot) logs
///   in as before.
///
/// A request with `Authorization: Bearer` is not a cookie request: a page
/// can't add that header across origins without a CORS preflight, which
/// comanda never grants. It goes through untouched.
pub async fn exigir_origen(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if cambia_algo(req.method()) && !req.headers().contains_key(header::AUTHORIZATION) {
        let permitido = req
            .app_data::<web::Data<OrigenesPermitidos>>()
            .is_some_and(|o| o.permite(req.headers()));
        let con_cookie = req.cookie(COOKIE_SESION).is_some();
        let presente = origen(req.headers()).is_some();
        if !permitido && (con_cookie || presente) {
            tracing::warn!(
                origin = ?origen(req.headers()),
                metodo = %req.method(),
                ruta = req.path(),
                con_cookie,
                "petición desde un origen no permitido: 403"
            );
            return Ok(req
                .error_response(ApiError::OrigenNoPermitido)
                .map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}
