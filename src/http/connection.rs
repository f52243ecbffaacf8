//! Every request head on a connection, not only the first, must arrive
//! whole within `--cabeceras-plazo` of its first byte.
//!
//! actix-http times the first request's head (`client_request_timeout`,
//! answered 408) and the idle time between requests (keep-alive), but once
//! a byte of a later request arrives on a kept-alive connection it waits for
//! the rest of that head without end: a client could send it a byte a
//! second and hold the connection, and its place under `--http-conexiones`,
//! for hours. [`Conexion`] wraps each TCP stream and closes it when a head
//! takes too long; [`seguir_peticiones`], the app's outermost middleware,
//! tells it when a head has been parsed and when its answer is ready.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_codec::{AsyncRead, AsyncWrite, ReadBuf};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::rt::net::TcpStream;
use tokio::time::{Sleep, sleep};

/// Where a connection is between its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fase {
    /// Waiting for the next request (keep-alive bounds this).
    Libre,
    /// A byte of a request has arrived, its head is not parsed yet.
    Cabeza,
    /// The head is parsed: its body (bounded by `http::body`) and its answer.
    Peticion,
}

/// The phase of one connection, shared by its [`Conexion`] and its
/// requests (as actix-http connection data).
#[derive(Debug, Clone)]
pub struct FaseDeConexion(Rc<Cell<Fase>>);

/// A TCP stream that ends (as if the client had closed it) when a request
/// head is not whole within its deadline.
pub struct Conexion {
    io: TcpStream,
    fase: FaseDeConexion,
    plazo: Duration,
    reloj: Option<Pin<Box<Sleep>>>,
}

impl Conexion {
    pub fn new(io: TcpStream, plazo: Duration) -> Self {
        Conexion {
            io,
            fase: FaseDeConexion(Rc::new(Cell::new(Fase::Libre))),
            plazo,
            reloj: None,
        }
    }

    /// What the connection's requests carry to tell it their phase.
    pub fn fase(&self) -> FaseDeConexion {
        self.fase.clone()
    }

    /// The bare stream, for a WebSocket leaving HTTP.
    pub fn into_inner(self) -> TcpStream {
        self.io
    }
}

impl AsyncRead for Conexion {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.fase.0.get() != Fase::Cabeza {
            this.reloj = None;
        } else if let Some(reloj) = &mut this.reloj
            && reloj.as_mut().poll(cx).is_ready()
        {
            tracing::info!(plazo = ?this.plazo, "cabecera que no llegó a tiempo: se cierra la conexión");
            // An end of stream: actix-http closes the connection quietly.
            return Poll::Ready(Ok(()));
        }
        let antes = buf.filled().len();
        let leido = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(leido, Poll::Ready(Ok(())))
            && buf.filled().len() > antes
            && this.fase.0.get() == Fase::Libre
        {
            this.fase.0.set(Fase::Cabeza);
            let mut reloj = Box::pin(sleep(this.plazo));
            // Registers the wake-up: the client may send nothing more.
            let _ = reloj.as_mut().poll(cx);
            this.reloj = Some(reloj);
        }
        leido
    }
}

impl AsyncWrite for Conexion {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Tells the request's [`Conexion`] that its head has arrived (the deadline
/// no longer runs) and, once the answer is ready, that the next bytes
/// begin another request.
pub async fn seguir_peticiones(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let fase = req.conn_data::<FaseDeConexion>().cloned();
    if let Some(fase) = &fase {
        fase.0.set(Fase::Peticion);
    }
    let respuesta = next.call(req).await;
    if let Some(fase) = fase {
        fase.0.set(Fase::Libre);
    }
    respuesta
}
