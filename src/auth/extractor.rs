//! [`Autenticado`]: the caller of a request, from the session cookie or an
//! `Authorization: Bearer` header — looked up by [`autenticar`] once per
//! request, whoever asks first (the `servicio` rate limit before the
//! handler, or the handler's extractor), and kept in the request for
//! whoever asks next.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use time::OffsetDateTime;

use super::{Alcance, Permiso, Token, usuario_de_token};
use crate::error::ApiError;
use crate::modelo::{EventoId, Usuario};
use crate::store::Store;

/// Name of the HttpOnly session cookie set by `POST /api/login`.
pub const COOKIE_SESION: &str = "comanda_sesion";

/// How the caller presented its token. A cookie is sent by the browser on its
/// own, so a cookie-authenticated socket must also come from an allowed Origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Cookie,
    Bearer,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Autenticado {
    pub usuario: Usuario,
    pub token: Token,
    pub via: Via,
    /// When the login ends: a socket opened with it closes then (4001).
    pub expira: OffsetDateTime,
    /// The newest event this node had dispatched when the login was found
    /// valid: a revocation after it may have been dispatched before a socket
    /// opened with this login registered, and the Dispatcher checks.
    pub comprobado_hasta: EventoId,
}

impl Autenticado {
    pub fn alcance(&self) -> Alcance {
        Alcance::de(&self.usuario)
    }

    /// 403 unless the caller's role has `permiso`.
    pub fn exigir(&self, permiso: Permiso) -> Result<&Usuario, ApiError> {
        if permiso.permitido(self.usuario.rol) {
            Ok(&self.usuario)
        } else {
            Err(ApiError::Prohibido)
        }
    }
}

/// The token a request carries: the `Authorization` header wins over the cookie.
/// A header that is present but malformed is an error, not "no header".
fn credencial(req: &HttpRequest) -> Result<(Token, Via), ApiError> {
    if let Some(valor) = req.headers().get(header::AUTHORIZATION) {
        return valor
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|t| Token::parse(t.trim()))
            .map(|t| (t, Via::Bearer))
            .ok_or(ApiError::NoAutenticado);
    }
    req.cookie(COOKIE_SESION)
        .and_then(|c| Token::parse(c.value()))
        .map(|t| (t, Via::Cookie))
        .ok_or(ApiError::NoAutenticado)
}

/// What the look-up found for a request, kept in its extensions.
#[derive(Clone)]
enum Consulta {
    Encontrado(Autenticado),
    /// No credential, a malformed one, or one that names no live login.
    SinSesion,
}

/// The caller of `req`: looked up in the store the first time the request
/// asks, and answered from the request after that. The extractor works the
/// same with or without a middleware asking before it, and a request costs
/// one look-up however many ask. A store that could not answer is not
/// kept: the next to ask tries again.
pub async fn autenticar(req: &HttpRequest) -> Result<Autenticado, ApiError> {
    if let Some(consulta) = req.extensions().get::<Consulta>() {
        return match consulta {
            Consulta::Encontrado(quien) => Ok(quien.clone()),
            Consulta::SinSesion => Err(ApiError::NoAutenticado),
        };
    }
    let resultado = buscar(req).await;
    let consulta = match &resultado {
        Ok(quien) => Consulta::Encontrado(quien.clone()),
        Err(ApiError::NoAutenticado) => Consulta::SinSesion,
        Err(_) => return resultado,
    };
    req.extensions_mut().insert(consulta);
    resultado
}

/// The look-up itself: the credential, then its login in the store.
async fn buscar(req: &HttpRequest) -> Result<Autenticado, ApiError> {
    let (token, via) = credencial(req)?;
    let store = req
        .app_data::<web::Data<Store>>()
        .cloned()
        .ok_or_else(|| ApiError::interno("Store no registrado"))?;
    // With the database known to be unreachable, 503 at once rather
    // than after the pool's wait for a connection.
    if store.sin_base() {
        return Err(ApiError::NoDisponible);
    }
    // Read before the look-up: every revocation up to it was
    // committed before the look-up began, so the look-up saw it.
    let comprobado_hasta = store.ultimo_entregado();
    let sesion = store
        .con_base(usuario_de_token(&store, &token))
        .await?
        .ok_or(ApiError::NoAutenticado)?;
    Ok(Autenticado {
        usuario: sesion.usuario,
        token,
        via,
        expira: sesion.expira,
        comprobado_hasta,
    })
}

impl FromRequest for Autenticado {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { autenticar(&req).await })
    }
}
