//! `/api/sucursales` and `/api/usuarios`: what a superadmin administers.

use actix_web::{HttpResponse, get, patch, post, web};

use super::Lista;
use crate::auth::{Autenticado, Permiso};
use crate::cuentas::{self, CuentaError};
use crate::error::ApiError;
use crate::modelo::{CambioUsuario, NuevaSucursal, NuevoUsuario, UsuarioId};
use crate::realtime::Realtime;
use crate::store::Store;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(listar_sucursales)
        .service(crear_sucursal)
        .service(listar_usuarios)
        .service(crear_usuario)
        .service(cambiar_usuario);
}

impl From<CuentaError> for ApiError {
    fn from(e: CuentaError) -> Self {
        match e {
            CuentaError::Invalido(e) => e.into(),
            CuentaError::UsuarioDuplicado(_) | CuentaError::SucursalDuplicada(_) => {
                ApiError::Conflicto(e.to_string())
            }
            CuentaError::AutoBloqueo => ApiError::Conflicto(e.to_string()),
            CuentaError::SucursalInexistente(_) | CuentaError::UsuarioInexistente(_) => {
                ApiError::NoEncontrado(e.to_string())
            }
            CuentaError::Hash(detalle) => ApiError::Interno(detalle),
            CuentaError::Store(e) => e.into(),
        }
    }
}

#[get("/sucursales")]
async fn listar_sucursales(
    store: web::Data<Store>,
    quien: Autenticado,
) -> Result<HttpResponse, ApiError> {
    quien.exigir(Permiso::VerSucursales)?;
    let ultimo_id = store.ultimo_evento_id().await?;
    let items = store.sucursales(quien.alcance().sucursal()).await?;
    Ok(HttpResponse::Ok().json(Lista { ultimo_id, items }))
}

#[post("/sucursales")]
async fn crear_sucursal(
    store: web::Data<Store>,
    quien: Autenticado,
    body: web::Json<NuevaSucursal>,
) -> Result<HttpResponse, ApiError> {
    quien.exigir(Permiso::AdministrarSucursales)?;
    let sucursal = cuentas::crear_sucursal(&store, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(sucursal))
}

#[get("/usuarios")]
async fn listar_usuarios(
    store: web::Data<Store>,
    quien: Autenticado,
) -> Result<HttpResponse, ApiError> {
    quien.exigir(Permiso::AdministrarUsuarios)?;
    let ultimo_id = store.ultimo_evento_id().await?;
    let items = store.usuarios().await?;
    Ok(HttpResponse::Ok().json(Lista { ultimo_id, items }))
}

#[post("/usuarios")]
async fn crear_usuario(
    store: web::Data<Store>,
    quien: Autenticado,
    body: web::Json<NuevoUsuario>,
) -> Result<HttpResponse, ApiError> {
    quien.exigir(Permiso::AdministrarUsuarios)?;
    let usuario = cuentas::crear_usuario(&store, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(usuario))
}

#[patch("/usuarios/{id}")]
async fn cambiar_usuario(
    store: web::Data<Store>,
    realtime: web::Data<Realtime>,
    quien: Autenticado,
    id: web::Path<i64>,
    body: web::Json<CambioUsuario>,
) -> Result<HttpResponse, ApiError> {
    let autor = quien.exigir(Permiso::AdministrarUsuarios)?;
    let id = UsuarioId(id.into_inner());
    let usuario = cuentas::cambiar_usuario(&store, &realtime, autor, id, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(usuario))
}
