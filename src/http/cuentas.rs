//! `/api/login`, `/api/logout`, `/api/me`.

use std::net::IpAddr;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::auth::{self, Apertura, Autenticado, COOKIE_SESION, Inicios, Intentos, MotivoCierre};
use crate::config::Settings;
use crate::error::ApiError;
use crate::modelo::UsuarioPublico;
use crate::realtime::CualesSesiones;
use crate::realtime::Realtime;
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

/// The address a login is counted against: the peer of the connection; when
/// that peer is a trusted proxy, the address `X-Forwarded-For` names just
/// before the trusted proxies, read from the right — what they appended, not
/// what the client wrote (a client may put anything at the left).
fn direccion_del_cliente(req: &HttpRequest, proxies: &[IpAddr]) -> Option<IpAddr> {
    let mut cliente = req.peer_addr()?.ip();
    if !proxies.contains(&cliente) {
        return Some(cliente);
    }
    let reenviadas: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for texto in reenviadas.into_iter().rev() {
        let Ok(direccion) = texto.trim().parse::<IpAddr>() else {
            break;
        };
        cliente = direccion;
        if !proxies.contains(&direccion) {
            break;
        }
    }
    Some(cliente)
}

#[post("/login")]
async fn login(
    req: HttpRequest,
    store: web::Data<Store>,
    realtime: web::Data<Realtime>,
    intentos: web::Data<Intentos>,
    inicios: web::Data<Inicios>,
    settings: web::Data<Settings>,
    body: web::Json<Login>,
) -> Result<HttpResponse, ApiError> {
    let Login { usuario, password } = body.into_inner();
    let direccion = direccion_del_cliente(&req, &settings.login.proxies_de_confianza)
        .ok_or_else(|| ApiError::interno("la conexión no tiene dirección"))?;
    let apertura = Apertura {
        ttl: settings.session_ttl,
        por_cuenta: settings.login.sesiones_por_cuenta,
    };
    let sesion = auth::iniciar_sesion(
        &store, &intentos, &inicios, &usuario, password, direccion, apertura,
    )
    .await?;
    // Their `sesion_cerrada` events close them on every node; here at once.
    for terminada in &sesion.terminadas {
        realtime
            .cerrar_sesiones(
                CualesSesiones::DeToken(terminada.clone()),
                cierre::NO_AUTENTICADO,
                MotivoCierre::LimiteDeSesiones.para_el_socket(),
            )
            .await;
    }
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
    auth::cerrar_sesion(&store, &quien.usuario, &quien.token).await?;
    // Its `sesion_cerrada` event closes its sockets on every node; here at once.
    realtime
        .cerrar_sesiones(
            CualesSesiones::DeToken(quien.token.hash()),
            cierre::NO_AUTENTICADO,
            MotivoCierre::Logout.para_el_socket(),
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
