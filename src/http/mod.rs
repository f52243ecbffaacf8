//! The HTTP surface: routes, body limits, and the handlers, one file per area.
//! Handlers are thin: parse, authorize, call the domain, answer.

mod administracion;
mod cuentas;
mod eventos;
mod flujos;
mod idempotencia;
mod reglas;
mod salud;
mod ws;

pub use ws::OrigenesPermitidos;

use std::path::Path;

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::auth::{Alcance, Autenticado};
use crate::error::{ApiError, json_error, path_error, query_error};
use crate::modelo::{EventoId, SucursalId};

/// Largest JSON body accepted by the API.
pub const LIMITE_CUERPO: usize = 64 * 1024;

/// Headers on every answer, pages and API alike: scripts only from our own
/// files (no inline script), sockets to ourselves, never inside a frame.
pub fn cabeceras_de_seguridad() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; \
             connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; form-action 'self'; \
             frame-ancestors 'none'",
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
}

/// `GET /ws`.
pub fn socket(cfg: &mut web::ServiceConfig) {
    ws::configure(cfg);
}

/// Every other route: the API, the probes, and the pages of `static_dir`.
pub fn configure(cfg: &mut web::ServiceConfig, static_dir: &Path) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(LIMITE_CUERPO)
            .error_handler(json_error),
    )
    .app_data(web::PayloadConfig::default().limit(LIMITE_CUERPO))
    .app_data(web::PathConfig::default().error_handler(path_error))
    .app_data(web::QueryConfig::default().error_handler(query_error))
    .configure(salud::configure)
    .service(
        web::scope("/api")
            .configure(cuentas::configure)
            .configure(administracion::configure)
            .configure(eventos::configure)
            .configure(reglas::configure)
            .configure(flujos::configure)
            .default_service(web::to(ruta_desconocida)),
    );
    if static_dir.is_dir() {
        cfg.service(actix_files::Files::new("/", static_dir).index_file("index.html"));
    }
}

async fn ruta_desconocida() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NoEncontrado("esa ruta no existe".into()))
}

/// The sucursal filter of a list: what was asked, within the caller's scope
/// (403 outside it); a single-sucursal caller always gets its own.
pub fn sucursal_de_consulta(
    quien: &Autenticado,
    pedida: Option<i64>,
) -> Result<Option<SucursalId>, ApiError> {
    match (quien.alcance(), pedida.map(SucursalId)) {
        (Alcance::Cadena, pedida) => Ok(pedida),
        (Alcance::Sucursal(mia), Some(s)) if s != mia => Err(ApiError::Prohibido),
        (Alcance::Sucursal(mia), _) => Ok(Some(mia)),
    }
}

/// A list as the API answers it: `ultimo_id` is the newest event id at the
/// time of reading, so a page can load the list and then resume its socket
/// from there without missing anything.
#[derive(Debug, Serialize)]
pub struct Lista<T> {
    pub ultimo_id: EventoId,
    pub items: Vec<T>,
}
