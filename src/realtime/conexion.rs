//! A WebSocket after its handshake, on comanda's own terms.
//!
//! actix-http hands the upgraded TCP stream over (see `http::traspaso`); from
//! then on a socket costs what it holds: its [`Buzon`], its `Session` actor,
//! one writer task and a read buffer only while a client frame is half read.
//! actix-http's connection dispatcher kept an 8 KiB read and an 8 KiB write
//! buffer per connection for the socket's whole life, and its task shared an
//! event loop with the API's requests, which queued behind thousands of
//! socket writes on every event.
//!
//! Sockets live on the [`Enchufes`] arbiters: the HTTP workers answer the
//! API and the handshakes, and nothing else.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use actix::{Addr, Arbiter};
use actix_http::ws::{CloseCode, CloseReason};
use actix_web::web::BytesMut;
use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;

use super::dispatcher::{Baja, Dispatcher};
use super::frame::{Decoded, Decoder, FrameCliente, FrameError};
use super::salida::{Buzon, Hilo};
use super::session::{ConexionPerdida, NuevaSession, Session};
use super::{LIMITE_FRAME, SesionId};

/// The arbiters that run the sockets: their `Session` actors, writers and
/// their side of the fan-out ([`Hilo`]).
pub struct Enchufes {
    hilos: Vec<Hilo>,
    siguiente: AtomicUsize,
}

impl Enchufes {
    /// `n` arbiters of their own (threads with an event loop each).
    pub fn new(n: usize) -> Self {
        // Dropping an `Arbiter` leaves its thread running; it ends with the
        // actix system.
        let hilos = (0..n.max(1))
            .map(|i| Hilo::new(i, Arbiter::new().handle()))
            .collect();
        Self {
            hilos,
            siguiente: AtomicUsize::new(0),
        }
    }

    fn elegir(&self) -> Hilo {
        let i = self.siguiente.fetch_add(1, Ordering::Relaxed) % self.hilos.len();
        self.hilos[i].clone()
    }
}

/// What becomes of an upgraded socket once its `101` is written. Made by
/// `Realtime::abrir` (a session) or [`Enganche::cerrado`] (a refusal),
/// carried in the handshake response's extensions and taken by
/// `http::traspaso`, which calls [`Enganche::conectar`].
pub struct Enganche {
    destino: Option<Destino>,
}

enum Destino {
    Sesion {
        nueva: Box<NuevaSession>,
        buzon: Arc<Buzon>,
        hilo: Hilo,
        espera_escritura: Duration,
    },
    /// Only what the buzon holds (a close frame), then the end.
    Cerrado(Arc<Buzon>),
}

impl Enganche {
    pub(super) fn sesion(
        nueva: NuevaSession,
        buzon: Arc<Buzon>,
        enchufes: &Enchufes,
        espera_escritura: Duration,
    ) -> Self {
        Self {
            destino: Some(Destino::Sesion {
                nueva: Box::new(nueva),
                buzon,
                hilo: enchufes.elegir(),
                espera_escritura,
            }),
        }
    }

    /// A socket closed at once with `codigo`: refused after the upgrade, so
    /// that a browser can tell why (a refused handshake is a bare 1006).
    pub fn cerrado(codigo: u16, motivo: &str) -> Self {
        let buzon = Buzon::new(1);
        buzon.cerrar(Some(CloseReason {
            code: CloseCode::Other(codigo),
            description: Some(motivo.to_owned()),
        }));
        Self {
            destino: Some(Destino::Cerrado(buzon)),
        }
    }

    /// The socket, its `101` written; `leido` is what the client sent after
    /// its request, if anything.
    pub fn conectar(mut self, tcp: TcpStream, leido: BytesMut) {
        match self.destino.take() {
            Some(Destino::Sesion {
                nueva,
                buzon,
                hilo,
                espera_escritura,
            }) => {
                // Off this worker's event loop and onto the arbiter's.
                let tcp = match tcp.into_std() {
                    Ok(tcp) => tcp,
                    Err(e) => {
                        tracing::debug!(error = %e, "socket perdido en el traspaso");
                        return baja(&nueva.dispatcher, nueva.id);
                    }
                };
                let arbitro = hilo.arbitro().clone();
                let enviado = arbitro.spawn(async move {
                    match TcpStream::from_std(tcp) {
                        Ok(tcp) => arrancar(*nueva, buzon, hilo, tcp, leido, espera_escritura),
                        Err(e) => {
                            tracing::warn!(error = %e, "no se pudo registrar el socket");
                            baja(&nueva.dispatcher, nueva.id);
                        }
                    }
                });
                if !enviado {
                    tracing::warn!("los arbitros de sockets ya pararon: socket cerrado");
                }
            }
            Some(Destino::Cerrado(buzon)) => {
                let (lectura, escritura) = tcp.into_split();
                let (devolver, devuelta) = oneshot::channel();
                let _ = devolver.send(lectura);
                actix_web::rt::spawn(escribir(buzon, escritura, devuelta, None, ESPERA_RECHAZO));
            }
            None => {}
        }
    }
}

impl Drop for Enganche {
    /// Never connected (the handshake could not be written): the admitted
    /// session is given back.
    fn drop(&mut self) {
        if let Some(Destino::Sesion { nueva, .. }) = &self.destino {
            baja(&nueva.dispatcher, nueva.id);
        }
    }
}

fn baja(dispatcher: &Addr<Dispatcher>, sesion: SesionId) {
    dispatcher.do_send(Baja { sesion });
}

/// On the socket's arbiter: the session's actor reads, a task writes.
fn arrancar(
    nueva: NuevaSession,
    buzon: Arc<Buzon>,
    hilo: Hilo,
    tcp: TcpStream,
    leido: BytesMut,
    espera_escritura: Duration,
) {
    let (lectura, escritura) = tcp.into_split();
    let (devolver, devuelta) = oneshot::channel();
    let lector = Lector {
        io: Some((lectura, devolver)),
        buf: leido,
        decoder: Decoder::new(LIMITE_FRAME),
    };
    let sesion = Session::start(nueva, buzon.clone(), hilo, lector);
    actix_web::rt::spawn(escribir(
        buzon,
        escritura,
        devuelta,
        Some(sesion),
        espera_escritura,
    ));
}

/// Writes what the buzon gives until the close frame, then ends the
/// stream. A write that can't finish within `espera` (a peer that stopped
/// reading) or fails ends the session.
///
/// Once the reading side is done with the socket (`lectura`), what the
/// client still sends is read and dropped until it closes, for a moment at
/// most: a socket closed with unread bytes is reset, and a reset can
/// overtake the close frame on its way to the client.
async fn escribir(
    buzon: Arc<Buzon>,
    mut io: OwnedWriteHalf,
    lectura: oneshot::Receiver<OwnedReadHalf>,
    sesion: Option<Addr<Session>>,
    espera: Duration,
) {
    while let Some((chunk, _)) = buzon.siguiente().await {
        if !escribir_a_tiempo(&mut io, &chunk, espera).await {
            tracing::debug!("no se pudo escribir en el socket: se da por perdido");
            buzon.terminar();
            if let Some(sesion) = &sesion {
                sesion.do_send(ConexionPerdida);
            }
            return;
        }
    }
    let _ = io.shutdown().await;
    let _ = tokio::time::timeout(ESPERA_CIERRE, async {
        if let Ok(mut lectura) = lectura.await {
            let mut descarte = [0u8; 1024];
            while let Ok(n) = lectura.read(&mut descarte).await
                && n > 0
            {}
        }
    })
    .await;
}

/// Writes `chunk` whole within `espera`; `false` if it could not. Most
/// writes go through at once: the clock is read only for one that waits.
async fn escribir_a_tiempo(io: &mut OwnedWriteHalf, chunk: &[u8], espera: Duration) -> bool {
    let resto = match io.try_write(chunk) {
        Ok(n) => &chunk[n..],
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => chunk,
        Err(_) => return false,
    };
    resto.is_empty()
        || matches!(
            tokio::time::timeout(espera, io.write_all(resto)).await,
            Ok(Ok(()))
        )
}

/// How long the close frame of a refused socket may take to be written.
const ESPERA_RECHAZO: Duration = Duration::from_secs(5);

/// How long a closed socket is read for the client's own close.
const ESPERA_CIERRE: Duration = Duration::from_secs(2);

/// Bytes read per read call at most. A frame longer than this is gathered
/// in the socket's own buffer, sized once its header says how long it is:
/// a socket reading holds one frame (the limit bounds it) and one read.
const LECTURA: usize = 4 * 1024;

/// The client's frames, as the `Session` actor's stream.
pub struct Lector {
    /// The socket's reading half and where it goes back to when the stream
    /// ends (the writer drains it); `None` once it has.
    io: Option<(OwnedReadHalf, oneshot::Sender<OwnedReadHalf>)>,
    /// What was read and not yet parsed; empty (no allocation) while idle.
    buf: BytesMut,
    decoder: Decoder,
}

impl Lector {
    /// Ends the stream: the reading half goes back to the writer, which
    /// reads and drops what still comes, with a buffer of its own.
    fn terminar(&mut self) {
        self.buf = BytesMut::new();
        self.decoder = Decoder::new(LIMITE_FRAME);
        if let Some((io, devolver)) = self.io.take() {
            let _ = devolver.send(io);
        }
    }
}

/// Room in `buf` for `total` bytes, allocated once: what a frame's header
/// announced (or one read, for a header).
fn reservar(buf: &mut BytesMut, total: usize) {
    let total = total.max(LECTURA);
    if buf.capacity() < total {
        let mut nuevo = BytesMut::with_capacity(total);
        nuevo.extend_from_slice(buf);
        *buf = nuevo;
    }
}

impl Drop for Lector {
    fn drop(&mut self) {
        self.terminar();
    }
}

impl Stream for Lector {
    type Item = Result<FrameCliente, FrameError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            let total = match this.decoder.decode(&mut this.buf) {
                Ok(Decoded::Frame(frame)) => {
                    if this.buf.is_empty() {
                        // Idle sockets hold no buffer.
                        this.buf = BytesMut::new();
                    }
                    if matches!(frame, FrameCliente::Cierre(_)) {
                        this.terminar();
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Ok(Decoded::Need(total)) => total,
                Err(e) => {
                    this.terminar();
                    return Poll::Ready(Some(Err(e)));
                }
            };
            let Some((io, _)) = &mut this.io else {
                return Poll::Ready(None);
            };
            reservar(&mut this.buf, total);
            // Never past what was reserved: the buffer is not reallocated.
            let libre = (this.buf.capacity() - this.buf.len()).min(LECTURA);
            let mut bloque = [0u8; LECTURA];
            let mut leido = ReadBuf::new(&mut bloque[..libre]);
            match Pin::new(io).poll_read(cx, &mut leido) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) if leido.filled().is_empty() => {
                    this.terminar();
                    return Poll::Ready(None);
                }
                Poll::Ready(Ok(())) => this.buf.extend_from_slice(leido.filled()),
                Poll::Ready(Err(e)) => {
                    tracing::debug!(error = %e, "error leyendo del socket");
                    this.terminar();
                    return Poll::Ready(None);
                }
            }
        }
    }
}
