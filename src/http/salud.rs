//! `/healthz` (the process answers) and `/readyz` (the store is reachable and migrated).

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::store::{Preparacion, Store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz);
}

#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"estado": "ok"}))
}

#[get("/readyz")]
async fn readyz(store: web::Data<Store>) -> HttpResponse {
    match store.preparacion().await {
        Ok(Preparacion::Lista) => HttpResponse::Ok().json(json!({"estado": "listo"})),
        Ok(Preparacion::MigracionesPendientes) => {
            HttpResponse::ServiceUnavailable().json(json!({"estado": "migraciones_pendientes"}))
        }
        Err(e) => {
            tracing::warn!(error = %e, "readyz: base de datos no disponible");
            HttpResponse::ServiceUnavailable().json(json!({"estado": "sin_base_de_datos"}))
        }
    }
}
