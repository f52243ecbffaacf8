//! `ApiError`: every way an HTTP call can fail, and the `{"error":{…}}` shape
//! it answers with. A client never sees a panic, a stack trace or a SQL message.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use crate::auth::AuthError;
use crate::modelo::Invalido;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Invalida(String),
    #[error("no autenticado")]
    NoAutenticado,
    #[error("usuario o contraseña incorrectos")]
    CredencialesInvalidas,
    #[error("no tienes permiso para esto")]
    Prohibido,
    /// A cookie-authenticated write (or a login) from a page that is not
    /// one of comanda's own origins: see `http::csrf`.
    #[error(
        "esta petición no viene de una página de comanda (su cabecera Origin falta o no está \
         permitida): usa la página de comanda, o un token Bearer desde un programa"
    )]
    OrigenNoPermitido,
    /// Too many failed logins: answered with `Retry-After`, in seconds.
    #[error("demasiados intentos fallidos: espera {} s antes de volver a intentarlo", segundos(.0))]
    DemasiadosIntentos(std::time::Duration),
    /// Too many successful logins of one account lately: answered with
    /// `Retry-After`, in seconds.
    #[error("demasiados inicios de sesión seguidos con esta cuenta: espera {} s antes de volver a entrar", segundos(.0))]
    DemasiadosInicios(std::time::Duration),
    #[error("{0}")]
    NoEncontrado(String),
    #[error("{0}")]
    Conflicto(String),
    #[error("{0}")]
    DemasiadoGrande(String),
    /// The body did not arrive whole within `--cuerpo-plazo`.
    #[error("el cuerpo de la petición no llegó entero en {}", humantime::format_duration(*.0))]
    CuerpoLento(std::time::Duration),
    #[error("{0}")]
    TipoNoSoportado(String),
    /// A flat publication of an event that only a workflow emits
    /// (`eventos::RESERVADOS`): the message names what to call instead.
    #[error("{0}")]
    EventoReservado(String),
    /// A rule that does not compile: where, and why.
    #[error("la regla no compila: {}", .0.mensaje)]
    ReglaInvalida(crate::reglas::ErrorCompilacion),
    /// Over a rate limit; answered with `Retry-After`.
    #[error("demasiadas peticiones seguidas: reintenta en {} s", segundos(.0))]
    DemasiadasPeticiones(std::time::Duration),
    #[error("el servicio no está disponible ahora; reintenta en unos segundos")]
    NoDisponible,
    /// Logged in full; the client only learns that something failed.
    #[error("error interno")]
    Interno(String),
}

#[derive(Serialize)]
struct Cuerpo<'a> {
    error: Detalle<'a>,
}

#[derive(Serialize)]
struct Detalle<'a> {
    codigo: &'a str,
    mensaje: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    linea: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    columna: Option<usize>,
}

impl ApiError {
    pub fn interno(detalle: impl Into<String>) -> Self {
        ApiError::Interno(detalle.into())
    }

    pub fn codigo(&self) -> &'static str {
        match self {
            ApiError::Invalida(_) => "peticion_invalida",
            ApiError::NoAutenticado => "no_autenticado",
            ApiError::CredencialesInvalidas => "credenciales_invalidas",
            ApiError::Prohibido => "prohibido",
            ApiError::OrigenNoPermitido => "origen_no_permitido",
            ApiError::DemasiadosIntentos(_) => "demasiados_intentos",
            ApiError::DemasiadosInicios(_) => "demasiados_inicios",
            ApiError::NoEncontrado(_) => "no_encontrado",
            ApiError::Conflicto(_) => "conflicto",
            ApiError::DemasiadoGrande(_) => "demasiado_grande",
            ApiError::CuerpoLento(_) => "cuerpo_lento",
            ApiError::TipoNoSoportado(_) => "tipo_no_soportado",
            ApiError::EventoReservado(_) => "evento_reservado",
            ApiError::ReglaInvalida(_) => "regla_invalida",
            ApiError::DemasiadasPeticiones(_) => "demasiadas_peticiones",
            ApiError::NoDisponible => "no_disponible",
            ApiError::Interno(_) => "interno",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Invalida(_) => StatusCode::BAD_REQUEST,
            ApiError::NoAutenticado | ApiError::CredencialesInvalidas => StatusCode::UNAUTHORIZED,
            ApiError::Prohibido | ApiError::OrigenNoPermitido => StatusCode::FORBIDDEN,
            ApiError::DemasiadosIntentos(_) | ApiError::DemasiadosInicios(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::NoEncontrado(_) => StatusCode::NOT_FOUND,
            ApiError::Conflicto(_) => StatusCode::CONFLICT,
            ApiError::DemasiadoGrande(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::CuerpoLento(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::TipoNoSoportado(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::ReglaInvalida(_) | ApiError::EventoReservado(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::DemasiadasPeticiones(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NoDisponible => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Interno(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Interno(detalle) = self {
            tracing::error!(%detalle, "error interno");
        }
        let (linea, columna) = match self {
            ApiError::ReglaInvalida(e) => (e.linea, e.columna),
            _ => (None, None),
        };
        let mut respuesta = HttpResponse::build(self.status_code());
        if let ApiError::DemasiadosIntentos(espera)
        | ApiError::DemasiadosInicios(espera)
        | ApiError::DemasiadasPeticiones(espera) = self
        {
            respuesta.insert_header((header::RETRY_AFTER, segundos(espera)));
        }
        respuesta.json(Cuerpo {
            error: Detalle {
                codigo: self.codigo(),
                mensaje: self.to_string(),
                linea,
                columna,
            },
        })
    }
}

/// Whole seconds to wait, rounded up and at least one: what `Retry-After`
/// can say, so that a client that waits that long finds the door open.
fn segundos(espera: &std::time::Duration) -> u64 {
    (espera.as_nanos().div_ceil(1_000_000_000) as u64).max(1)
}

impl From<Invalido> for ApiError {
    fn from(e: Invalido) -> Self {
        ApiError::Invalida(e.0)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoDisponible(e) => {
                tracing::warn!(error = %e, "base de datos no disponible");
                ApiError::NoDisponible
            }
            // The lookout already said so, once.
            StoreError::SinBase => ApiError::NoDisponible,
            StoreError::Duplicado(_) => ApiError::Conflicto("ya existe".into()),
            StoreError::ReferenciaInexistente(_) => {
                ApiError::NoEncontrado("una referencia de la petición no existe".into())
            }
            otro => ApiError::Interno(otro.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::CredencialesInvalidas => ApiError::CredencialesInvalidas,
            AuthError::DemasiadosIntentos(b) => ApiError::DemasiadosIntentos(b.reintentar_en),
            AuthError::DemasiadosInicios(f) => ApiError::DemasiadosInicios(f.reintentar_en),
            AuthError::Store(e) => e.into(),
        }
    }
}

/// JSON bodies that can't be read: too big, not JSON, or not the expected shape.
pub fn json_error(e: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let api = match &e {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ApiError::DemasiadoGrande(format!("el cuerpo supera el límite de {limit} bytes"))
        }
        JsonPayloadError::ContentType => {
            ApiError::TipoNoSoportado("el cuerpo debe ser application/json".into())
        }
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::Invalida(format!("cuerpo con campos no válidos: {e}"))
        }
        JsonPayloadError::Deserialize(e) => ApiError::Invalida(format!("JSON mal formado: {e}")),
        otro => ApiError::Invalida(format!("no se pudo leer el cuerpo: {otro}")),
    };
    api.into()
}

pub fn path_error(e: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::Invalida(format!("ruta no válida: {e}")).into()
}

pub fn query_error(e: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::Invalida(format!("parámetros no válidos: {e}")).into()
}
