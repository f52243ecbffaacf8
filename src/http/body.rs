//! Request bodies: at most [`LIMITE_CUERPO`] bytes, arriving within
//! `--cuerpo-plazo`, on every route — read whole before authentication,
//! routing or any handler, so that neither a large body nor a slow one can
//! hold a connection (and its file descriptor) longer than the deadline.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes, BytesMut};
use futures_util::StreamExt;

use crate::config::Settings;
use crate::error::ApiError;

/// Largest request body comanda accepts, on any route.
pub const LIMITE_CUERPO: usize = 64 * 1024;

fn demasiado_grande() -> ApiError {
    ApiError::DemasiadoGrande(format!(
        "el cuerpo supera el límite de {LIMITE_CUERPO} bytes"
    ))
}

/// Reads the body of every request that has one before anything else
/// looks at the request, and hands it on whole:
///
/// - over [`LIMITE_CUERPO`]: 413, at once by its `Content-Length`, or, for a
///   chunked body, as soon as the limit is passed — so that a route that
///   ignores its body refuses an oversized one just the same, and no
///   extractor ever answers a size error outside the `{"error":…}` shape;
/// - not whole within `--cuerpo-plazo` of the head's end: 408
///   `cuerpo_lento`.
///
/// Both answers close the connection: what is left of the body is never
/// read. actix-http bounds the time to the first request's head
/// (`--cabeceras-plazo`) but not the body's, which is read as a handler
/// pulls it — and a route that never pulls it (a page, an approval)
/// would wait on it for as long as the client kept the connection open.
pub async fn leer_cuerpo(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let declarado = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let tiene_cuerpo = match declarado {
        Some(largo) => largo > 0,
        None => req.headers().contains_key(header::TRANSFER_ENCODING),
    };
    let mut sin_leer = None;
    let error = match declarado {
        Some(largo) if largo > LIMITE_CUERPO as u64 => Some(demasiado_grande()),
        _ if tiene_cuerpo => {
            let plazo = req
                .app_data::<web::Data<Settings>>()
                .map_or(Duration::from_secs(10), |s| s.http.cuerpo_plazo);
            let mut payload = req.take_payload();
            let leido = tokio::time::timeout(plazo, leer(&mut payload)).await;
            match leido {
                Ok(Ok(cuerpo)) => {
                    req.set_payload(cuerpo.into());
                    None
                }
                Ok(Err(e)) => {
                    sin_leer = Some(payload);
                    Some(e)
                }
                Err(_) => {
                    tracing::info!(
                        ruta = req.path(),
                        ?plazo,
                        "cuerpo que no llegó a tiempo: 408"
                    );
                    sin_leer = Some(payload);
                    Some(ApiError::CuerpoLento(plazo))
                }
            }
        }
        _ => None,
    };
    if let Some(error) = error {
        let mut respuesta = req.error_response(error);
        respuesta
            .response_mut()
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        let respuesta = respuesta.map_body(|_, respuesta| ConCuerpoSinLeer {
            respuesta,
            _sin_leer: sin_leer,
        });
        return Ok(respuesta.map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// A refusal's answer holding the rest of the refused body until the
/// answer is written. actix-http *drains* a chunked body whose reader is
/// gone, for as long as the client keeps sending it (a slow client would
/// keep its connection that way); a body still held when the answer ends
/// makes it close the connection instead, after
/// `client_disconnect_timeout`.
struct ConCuerpoSinLeer<B> {
    respuesta: B,
    _sin_leer: Option<Payload>,
}

impl<B: MessageBody + Unpin> MessageBody for ConCuerpoSinLeer<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.respuesta.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.respuesta).poll_next(cx)
    }
}

/// The whole body, up to [`LIMITE_CUERPO`].
async fn leer(payload: &mut Payload) -> Result<Bytes, ApiError> {
    let mut cuerpo = BytesMut::new();
    while let Some(trozo) = payload.next().await {
        let trozo =
            trozo.map_err(|e| ApiError::Invalida(format!("no se pudo leer el cuerpo: {e}")))?;
        if cuerpo.len() + trozo.len() > LIMITE_CUERPO {
            return Err(demasiado_grande());
        }
        cuerpo.extend_from_slice(&trozo);
    }
    Ok(cuerpo.freeze())
}
