//! `/healthz` (the process answers), `/readyz` (the store is reachable,
//! migrated and takes writes) and `/metrics` (Prometheus).

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::metricas;
use crate::store::{Preparacion, Store, StoreError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}

#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"estado": "ok"}))
}

/// How long `/readyz` waits for the store. With the database down, a query
/// waits for a connection up to the pool's limit (5 s); a load balancer's
/// probe gives up sooner, and must hear "not ready" rather than nothing.
const PLAZO: Duration = Duration::from_secs(2);

#[get("/readyz")]
async fn readyz(store: web::Data<Store>) -> HttpResponse {
    let sin_base =
        || HttpResponse::ServiceUnavailable().json(json!({"estado": "sin_base_de_datos"}));
    if store.sin_base() {
        return sin_base();
    }
    let Ok(preparacion) = tokio::time::timeout(PLAZO, store.con_base(store.preparacion())).await
    else {
        tracing::warn!(plazo = ?PLAZO, "readyz: la base de datos no respondió a tiempo");
        store.sospechar_ya();
        return sin_base();
    };
    match preparacion {
        Ok(Preparacion::Lista) => escrituras(&store).await,
        Ok(Preparacion::MigracionesPendientes) => {
            HttpResponse::ServiceUnavailable().json(json!({"estado": "migraciones_pendientes"}))
        }
        Err(StoreError::SinBase) => sin_base(),
        Err(e) => {
            tracing::warn!(error = %e, "readyz: base de datos no disponible");
            sin_base()
        }
    }
}

/// Ready only if a write could commit now: a node whose writes all wait
/// behind a held turn or lock answers reads but no write, and a load
/// balancer must send its traffic elsewhere.
async fn escrituras(store: &Store) -> HttpResponse {
    let bloqueadas =
        || HttpResponse::ServiceUnavailable().json(json!({"estado": "escrituras_bloqueadas"}));
    match tokio::time::timeout(PLAZO, store.escritura_posible()).await {
        Ok(Ok(true)) => HttpResponse::Ok().json(json!({"estado": "listo"})),
        Ok(Ok(false)) => HttpResponse::ServiceUnavailable().json(json!({"estado": "solo_lectura"})),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readyz: no se puede escribir");
            store.sospechar(&e);
            bloqueadas()
        }
        Err(_) => {
            tracing::warn!(plazo = ?PLAZO, "readyz: una escritura no podría hacerse a tiempo");
            bloqueadas()
        }
    }
}

/// The Prometheus text exposition of [`metricas`].
///
/// Open to anyone, like the probes: a Prometheus scraper does not log in,
/// and the series hold no personal data — counts and latencies labelled by
/// sucursal id, role, event tipo, rule, route pattern, method and status,
/// never a user, a token, an address or a message. What they do reveal is
/// how busy each sucursal is; a node reachable from outside the chain's
/// network should keep `/metrics` to the scraper at its proxy (README,
/// "Metrics").
#[get("/metrics")]
async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metricas::render())
}
