//! `/api/login`, `/api/logout`, `/api/me`.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::auth::{self, Autenticado, COOKIE_SESION};
use crate::config::Settings;
use crate::error::ApiError;
use crate::modelo::UsuarioPublico;
use crate::realtime::Realtime;
use crate::realtime::dispatcher::CualesSesiones;
use crate::realtime::protocolo::cierre;
use crate::store::Store;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(login).service(logout).service(me);
}

#[derive(Deserialize)]
struct Login {
    usuario: String,
    password: String,
}

#[derive(Serialize)]
struct SesionRespuesta {
    token: String,
    usuario: UsuarioPublico,
    #[serde(with = "time::serde::rfc3339")]
    expira: OffsetDateTime,
}

fn cookie_sesion(valor: String, max_age: CookieDuration, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE_SESION, valor)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(max_age)
        .finish()
}

#[post("/login")]
async fn login(
    store: web::Data<Store>,
    settings: web::Data<Settings>,
    body: web::Json<Login>,
) -> Result<HttpResponse, ApiError> {
    let Login { usuario, password } = body.into_inner();
    let sesion = auth::iniciar_sesion(&store, &usuario, password, settings.session_ttl).await?;
    let max_age = CookieDuration::try_from(settings.session_ttl).unwrap_or(CookieDuration::MAX);
    Ok(HttpResponse::Ok()
        .cookie(cookie_sesion(
            sesion.token.as_str().to_owned(),
            max_age,
            settings.cookie_secure,
        ))
        .json(SesionRespuesta {
            token: sesion.token.as_str().to_owned(),
            usuario: UsuarioPublico::from(&sesion.usuario),
            expira: sesion.expira,
        }))
}

#[post("/logout")]
async fn logout(
    store: web::Data<Store>,
    realtime: web::Data<Realtime>,
    settings: web::Data<Settings>,
    quien: Autenticado,
) -> Result<HttpResponse, ApiError> {
    auth::cerrar_sesion(&store, &quien.token).await?;
    realtime
        .cerrar_sesiones(
            CualesSesiones::DeToken(quien.token.hash()),
            cierre::NO_AUTENTICADO,
            "sesión cerrada",
        )
        .await;
    Ok(HttpResponse::NoContent()
        .cookie(cookie_sesion(
            String::new(),
            CookieDuration::ZERO,
            settings.cookie_secure,
        ))
        .finish())
}

#[get("/me")]
async fn me(quien: Autenticado) -> HttpResponse {
    HttpResponse::Ok().json(UsuarioPublico::from(&quien.usuario))
}
