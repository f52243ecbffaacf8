//! Where an upgraded connection leaves actix-http.
//!
//! actix-http hands every WebSocket upgrade request, with its connection, to
//! this service instead of the app. The request still goes through the app
//! (its middleware and `GET /ws`, which authenticates and decides), then its
//! answer is written here: a `101` whose extensions carry an [`Enganche`]
//! hands the bare TCP stream to the realtime core (`realtime::conexion`);
//! any other answer is written whole and the connection closed.

use std::io;
use std::rc::Rc;

use actix_codec::Framed;
use actix_http::body::{BodySize, MessageBody};
use actix_http::h1::{Codec, Message};
use actix_http::{ConnectionType, Request, Response, StatusCode};
use actix_service::{Service, ServiceFactory, fn_factory, fn_service};
use actix_web::HttpResponse;
use actix_web::dev::{AppConfig, ServiceResponse};

use super::connection::Conexion;
use futures_util::SinkExt;

use crate::realtime::conexion::Enganche;

/// The upgrade service of one worker, answering through `app` (built
/// from the same factory as the worker's own app).
pub fn servicio<F, S, B>(
    app: F,
    config: AppConfig,
) -> impl ServiceFactory<
    (Request, Framed<Conexion, Codec>),
    Config = (),
    Response = (),
    Error = actix_web::Error,
    InitError = (),
>
where
    F: ServiceFactory<
            Request,
            Config = AppConfig,
            Service = S,
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
        > + 'static,
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    fn_factory(move || {
        let app = app.new_service(config.clone());
        async move {
            let app = Rc::new(app.await.map_err(|_| {
                tracing::error!("no se pudo construir la app del traspaso");
            })?);
            Ok(fn_service(move |(req, framed)| {
                let app = app.clone();
                async move {
                    // The client went away mid-answer: nothing to tell anyone.
                    if let Err(e) = traspasar(app, req, framed).await {
                        tracing::debug!(error = %e, "no se pudo responder al upgrade");
                    }
                    Ok(())
                }
            }))
        }
    })
}

async fn traspasar<S, B>(
    app: Rc<S>,
    req: Request,
    mut framed: Framed<Conexion, Codec>,
) -> Result<(), io::Error>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let mut respuesta: HttpResponse = match app.call(req).await {
        Ok(r) => r.into_parts().1.map_into_boxed_body(),
        Err(e) => e.error_response(),
    };
    let enganche = respuesta.extensions_mut().remove::<Enganche>();
    let (respuesta, cuerpo) = respuesta.into_parts();
    let mut cabecera: Response<()> = respuesta.into();
    if let Some(enganche) = enganche
        && cabecera.status() == StatusCode::SWITCHING_PROTOCOLS
    {
        framed
            .send(Message::Item((cabecera, BodySize::None)))
            .await?;
        let partes = framed.into_parts();
        enganche.conectar(partes.io.into_inner(), partes.read_buf);
        return Ok(());
    }
    // Refused before the upgrade (not a WebSocket request, a forbidden
    // origin): an ordinary answer, and the connection ends with it.
    let cuerpo = actix_web::body::to_bytes(cuerpo)
        .await
        .map_err(|e| io::Error::other(e.to_string()))?;
    cabecera
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    framed
        .send(Message::Item((
            cabecera,
            BodySize::Sized(cuerpo.len() as u64),
        )))
        .await?;
    framed.send(Message::Chunk(Some(cuerpo))).await?;
    framed.close().await
}
