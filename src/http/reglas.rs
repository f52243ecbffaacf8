//! `/api/reglas`: read, validate, try, save, list versions and restore the
//! rules (admin, superadmin).

use actix_web::{HttpResponse, get, post, put, web};
use serde::Deserialize;
use serde_json::json;

use super::Lista;
use crate::auth::{Autenticado, Permiso};
use crate::error::ApiError;
use crate::modelo::NombreRegla;
use crate::reglas::{GestionError, Reglas};
use crate::store::Store;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // `probar` first: `/reglas/probar` must not be taken for a rule name.
    cfg.service(probar)
        .service(listar)
        .service(leer)
        .service(guardar)
        .service(validar)
        .service(versiones)
        .service(restaurar);
}

impl From<GestionError> for ApiError {
    fn from(e: GestionError) -> Self {
        match e {
            GestionError::NoCompila(e) => ApiError::ReglaInvalida(e),
            GestionError::VersionInexistente(_) => ApiError::NoEncontrado(e.to_string()),
            GestionError::Archivo { .. } => ApiError::Interno(e.to_string()),
            GestionError::Store(e) => e.into(),
        }
    }
}

fn nombre(texto: &str) -> Result<NombreRegla, ApiError> {
    texto
        .parse()
        .map_err(|_| ApiError::NoEncontrado(format!("no hay una regla llamada {texto:?}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fuente {
    fuente: String,
}

#[get("/reglas")]
async fn listar(reglas: web::Data<Reglas>, quien: Autenticado) -> Result<HttpResponse, ApiError> {
    quien.exigir(Permiso::EditarReglas)?;
    let mut items = Vec::new();
    for n in NombreRegla::TODOS {
        items.push(json!({
            "nombre": n,
            "archivo": n.archivo(),
            "activa": reglas.motor().activa(*n).is_some(),
            "contadores": reglas.motor().contadores(*n),
        }));
    }
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

#[get("/reglas/{nombre}")]
async fn leer(
    reglas: web::Data<Reglas>,
    store: web::Data<Store>,
    quien: Autenticado,
    ruta: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    quien.exigir(Permiso::EditarReglas)?;
    let n = nombre(&ruta)?;
    let version = store.version_activa(n).await?;
    Ok(HttpResponse::Ok().json(json!({
        "nombre": n,
        "fuente": reglas.fuente(n).await,
        "version": version.map(|v| v.id),
        "contadores": reglas.motor().contadores(n),
    })))
}

#[put("/reglas/{nombre}")]
async fn guardar(
    reglas: web::Data<Reglas>,
    quien: Autenticado,
    ruta: web::Path<String>,
    body: web::Json<Fuente>,
) -> Result<HttpResponse, ApiError> {
    let autor = quien.exigir(Permiso::EditarReglas)?;
    let version = reglas.guardar(nombre(&ruta)?, &body.fuente, autor).await?;
    Ok(HttpResponse::Ok().json(version))
}

#[post("/reglas/{nombre}/validar")]
async fn validar(
    reglas: web::Data<Reglas>,
    quien: Autenticado,
    ruta: web::Path<String>,
    body: web::Json<Fuente>,
) -> Result<HttpResponse, ApiError> {
    quien.exigir(Permiso::EditarReglas)?;
    reglas
        .validar(nombre(&ruta)?, body.into_inner().fuente)
        .await
        .map_err(ApiError::ReglaInvalida)?;
    Ok(HttpResponse::Ok().json(json!({ "valida": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Prueba {
    nombre: String,
    /// A script to try instead of the one in force.
    fuente: Option<String>,
    /// The alert or event, as the script sees it.
    muestra: serde_json::Value,
    /// For `escalado`.
    #[serde(default)]
    minutos_sin_leer: i64,
}

/// Runs a rule on a sample; publishes nothing.
#[post("/reglas/probar")]
async fn probar(
    reglas: web::Data<Reglas>,
    quien: Autenticado,
    body: web::Json<Prueba>,
) -> Result<HttpResponse, ApiError> {
    quien.exigir(Permiso::EditarReglas)?;
    let Prueba {
        nombre: n,
        fuente,
        muestra,
        minutos_sin_leer,
    } = body.into_inner();
    let prueba = reglas
        .motor()
        .decidir_prueba(nombre(&n)?, fuente, muestra, minutos_sin_leer)
        .await
        .map_err(ApiError::ReglaInvalida)?;
    Ok(HttpResponse::Ok().json(prueba))
}

#[get("/reglas/{nombre}/versiones")]
async fn versiones(
    reglas: web::Data<Reglas>,
    store: web::Data<Store>,
    quien: Autenticado,
    ruta: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    quien.exigir(Permiso::EditarReglas)?;
    let n = nombre(&ruta)?;
    let ultimo_id = store.ultimo_evento_id().await?;
    let items = reglas.versiones(n).await?;
    Ok(HttpResponse::Ok().json(Lista { ultimo_id, items }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Restaurar {
    version: i64,
}

#[post("/reglas/{nombre}/restaurar")]
async fn restaurar(
    reglas: web::Data<Reglas>,
    quien: Autenticado,
    ruta: web::Path<String>,
    body: web::Json<Restaurar>,
) -> Result<HttpResponse, ApiError> {
    let autor = quien.exigir(Permiso::EditarReglas)?;
    let version = reglas
        .restaurar(nombre(&ruta)?, body.version, autor)
        .await?;
    Ok(HttpResponse::Ok().json(version))
}
