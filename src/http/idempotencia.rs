//! `Idempotency-Key`: a retried write (a double tap, a retry after a dropped
//! connection) is done once and answered the same. The answer is recorded in
//! the write's own transaction, so a retry racing the original finds it.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::error::ApiError;
use crate::flujos::FlujoError;
use crate::modelo::UsuarioId;
use crate::store::{Idempotencia, Store, StoreError};

const CABECERA: &str = "Idempotency-Key";

/// The request's `Idempotency-Key`, if any (1 to 200 visible ASCII
/// characters), and the route it was sent to: a key belongs to one route.
pub struct ClaveIdempotencia {
    clave: Option<String>,
    ruta: String,
}

impl FromRequest for ClaveIdempotencia {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let clave = match req.headers().get(CABECERA) {
            None => Ok(None),
            Some(v) => match v.to_str() {
                Ok(s)
                    if (1..=200).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) =>
                {
                    Ok(Some(s.to_owned()))
                }
                _ => Err(ApiError::Invalida(format!(
                    "{CABECERA} debe tener de 1 a 200 caracteres ASCII visibles"
                ))),
            },
        };
        ready(clave.map(|clave| ClaveIdempotencia {
            clave,
            ruta: format!("{} {}", req.method(), req.path()),
        }))
    }
}

impl ClaveIdempotencia {
    /// Runs `accion` once per key: a key already answered gets the recorded
    /// answer, byte for byte, without running anything.
    pub async fn una_vez<T, F, Fut>(
        self,
        store: &Store,
        usuario: UsuarioId,
        estado: StatusCode,
        accion: F,
    ) -> Result<HttpResponse, ApiError>
    where
        T: Serialize,
        F: FnOnce(Option<Idempotencia>) -> Fut,
        Fut: Future<Output = Result<T, FlujoError>>,
    {
        let ClaveIdempotencia { clave, ruta } = self;
        let Some(clave) = clave else {
            let hecho = accion(None).await?;
            return Ok(HttpResponse::build(estado).json(hecho));
        };
        // Known unreachable: 503 now. The client retries with the same key,
        // and that retry finds the recorded answer if there is one.
        if store.sin_base() {
            return Err(ApiError::NoDisponible);
        }
        if let Some(respuesta) = repetida(store, usuario, &clave, &ruta).await? {
            return Ok(respuesta);
        }
        let idem = Idempotencia {
            usuario_id: usuario,
            clave: clave.clone(),
            ruta: ruta.clone(),
            estado: estado.as_u16().into(),
        };
        match accion(Some(idem)).await {
            Ok(hecho) => Ok(HttpResponse::build(estado).json(hecho)),
            // A concurrent request with the same key may have committed first and
            // made this one fail — on the key itself, or because the row already
            // moved (a double-tapped approval finds the order approved): answer
            // as it did. Without a recorded answer the failure is this request's own.
            //
            // Not so when the database could not be reached: a concurrent
            // request does not cause that, and the lookup would only wait
            // for a connection again before the same 503.
            Err(FlujoError::Store(e @ (StoreError::NoDisponible(_) | StoreError::SinBase))) => {
                store.sospechar(&e);
                Err(e.into())
            }
            Err(e) => match repetida(store, usuario, &clave, &ruta).await? {
                Some(respuesta) => Ok(respuesta),
                None => Err(e.into()),
            },
        }
    }
}

async fn repetida(
    store: &Store,
    usuario: UsuarioId,
    clave: &str,
    ruta: &str,
) -> Result<Option<HttpResponse>, ApiError> {
    let Some(r) = store
        .con_base(store.respuesta_idempotente(usuario, clave))
        .await?
    else {
        return Ok(None);
    };
    if r.ruta != ruta {
        return Err(ApiError::Conflicto(format!(
            "esta {CABECERA} ya se usó para {}",
            r.ruta
        )));
    }
    let estado = u16::try_from(r.estado)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    Ok(Some(
        HttpResponse::build(estado)
            .content_type("application/json")
            .insert_header(("Idempotency-Replayed", "true"))
            .body(r.respuesta),
    ))
}

impl From<FlujoError> for ApiError {
    fn from(e: FlujoError) -> Self {
        match e {
            FlujoError::Invalido(e) => e.into(),
            FlujoError::Prohibido => ApiError::Prohibido,
            FlujoError::NoEncontrado(m) => ApiError::NoEncontrado(m),
            FlujoError::Conflicto(m) => ApiError::Conflicto(m),
            FlujoError::Store(e) => e.into(),
        }
    }
}
