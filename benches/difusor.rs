//! The load run's near-the-limit reference (`benches/CARGA.md`, objetivo
//! `tokio`): comanda's fan-out with nothing else — no auth, no store, no
//! rules, no actors. A room per sucursal holds a bounded queue per socket;
//! `POST /publicar` serializes the event once and hands every queue of the
//! room the same shared bytes.
//!
//! `cargo bench --bench difusor` serves on `PORT` (9100) until killed and
//! prints `escuchando en <port>` once it accepts connections:
//!
//! - `GET /ws?sucursal=K` with `Upgrade: websocket` → the socket joins room K;
//! - `POST /publicar` `{"sucursal_id": K, "mensaje": M}` → `201 {"id": N}`
//!   after every socket of room K was handed
//!   `{"type":"evento","id":N,"tipo":"alerta_cocina","sucursal_id":K,"payload":{"mensaje":M}}`.
//!
//! The HTTP is read by hand, just enough for those two requests: a peer
//! that pulled in an HTTP framework would measure the framework.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

type Resultado<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Events a socket may have waiting; past it the client is too slow and is
/// dropped. comanda's own default (`COMANDA_WS_COLA`).
const COLA: usize = 512;
/// Pending connections the kernel may hold before `accept`.
const BACKLOG: u32 = 2048;
/// Longest request head accepted; the two requests served are short.
const MAX_CABEZA: usize = 16 * 1024;
/// Longest `POST /publicar` body accepted.
const MAX_CUERPO: usize = 64 * 1024;

#[tokio::main]
async fn main() -> ExitCode {
    match servir().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("difusor: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn servir() -> Resultado<()> {
    let puerto: u16 = match std::env::var("PORT") {
        Ok(texto) => texto.parse().map_err(|e| format!("PORT={texto}: {e}"))?,
        Err(_) => 9100,
    };
    let escucha = TcpSocket::new_v4()?;
    escucha.set_reuseaddr(true)?;
    escucha.bind((Ipv4Addr::UNSPECIFIED, puerto).into())?;
    // actix-web's backlog, as comanda runs with: 10,000 sockets connect in a
    // burst, and the default 128 would drop SYNs (a 1 s retry each).
    let escucha = escucha.listen(BACKLOG)?;
    println!("escuchando en {}", escucha.local_addr()?.port());
    let difusor = Arc::new(Difusor::default());
    loop {
        let (conexion, _) = match escucha.accept().await {
            Ok(aceptada) => aceptada,
            Err(e) => {
                // Out of file descriptors, most likely: let some close.
                eprintln!("difusor: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let difusor = Arc::clone(&difusor);
        tokio::spawn(async move {
            // A broken connection only concerns its client.
            let _ = atender(conexion, difusor).await;
        });
    }
}

/// The rooms, and the id of the last event published.
#[derive(Default)]
struct Difusor {
    estado: Mutex<Estado>,
}

#[derive(Default)]
struct Estado {
    ultimo_id: u64,
    ultimo_socket: u64,
    salas: HashMap<u64, HashMap<u64, mpsc::Sender<Utf8Bytes>>>,
}

impl Difusor {
    fn estado(&self) -> std::sync::MutexGuard<'_, Estado> {
        self.estado.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts a socket in room `sucursal`; it leaves when the answer is dropped.
    fn inscribir(self: &Arc<Self>, sucursal: u64) -> (Inscripcion, mpsc::Receiver<Utf8Bytes>) {
        let (cola, salida) = mpsc::channel(COLA);
        let mut estado = self.estado();
        estado.ultimo_socket += 1;
        let socket = estado.ultimo_socket;
        estado
            .salas
            .entry(sucursal)
            .or_default()
            .insert(socket, cola);
        let inscripcion = Inscripcion {
            difusor: Arc::clone(self),
            sucursal,
            socket,
        };
        (inscripcion, salida)
    }

    /// Hands the event to every socket of the room and answers its id.
    ///
    /// The id is taken and the queues fed under one lock, so every socket
    /// receives events in id order. A full queue drops its socket: its task
    /// sees the queue close, writes what it holds and closes the socket.
    fn publicar(&self, sucursal: u64, mensaje: &str) -> u64 {
        let mut estado = self.estado();
        estado.ultimo_id += 1;
        let id = estado.ultimo_id;
        let evento = Evento {
            r#type: "evento",
            id,
            tipo: "alerta_cocina",
            sucursal_id: sucursal,
            payload: Carga { mensaje },
        };
        let texto = Utf8Bytes::from(
            serde_json::to_string(&evento).expect("an event of strings and integers serializes"),
        );
        if let Some(sala) = estado.salas.get_mut(&sucursal) {
            sala.retain(|_, cola| cola.try_send(texto.clone()).is_ok());
        }
        id
    }
}

/// A socket's place in its room, given up when dropped.
struct Inscripcion {
    difusor: Arc<Difusor>,
    sucursal: u64,
    socket: u64,
}

impl Drop for Inscripcion {
    fn drop(&mut self) {
        let mut estado = self.difusor.estado();
        if let Some(sala) = estado.salas.get_mut(&self.sucursal) {
            sala.remove(&self.socket);
            if sala.is_empty() {
                estado.salas.remove(&self.sucursal);
            }
        }
    }
}

/// The event as it goes on the wire; the fields in the order of CARGA.md.
#[derive(Serialize)]
struct Evento<'a> {
    r#type: &'static str,
    id: u64,
    tipo: &'static str,
    sucursal_id: u64,
    payload: Carga<'a>,
}

#[derive(Serialize)]
struct Carga<'a> {
    mensaje: &'a str,
}

#[derive(Deserialize)]
struct Publicacion {
    sucursal_id: u64,
    mensaje: String,
}

/// One request head, parsed just enough.
struct Cabeza {
    metodo: String,
    ruta: String,
    cabeceras: Vec<(String, String)>,
}

impl Cabeza {
    fn parse(texto: &str) -> Option<Cabeza> {
        let mut lineas = texto.split("\r\n");
        let mut inicio = lineas.next()?.split(' ');
        let metodo = inicio.next()?.to_owned();
        let ruta = inicio.next()?.to_owned();
        if !inicio.next()?.starts_with("HTTP/1.") {
            return None;
        }
        let cabeceras = lineas
            .filter(|linea| !linea.is_empty())
            .map(|linea| {
                let (nombre, valor) = linea.split_once(':')?;
                Some((nombre.trim().to_ascii_lowercase(), valor.trim().to_owned()))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Cabeza {
            metodo,
            ruta,
            cabeceras,
        })
    }

    fn cabecera(&self, nombre: &str) -> Option<&str> {
        self.cabeceras
            .iter()
            .find(|(n, _)| n == nombre)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated header lists `valor` (any case).
    fn lista(&self, nombre: &str, valor: &str) -> bool {
        self.cabeceras
            .iter()
            .filter(|(n, _)| n == nombre)
            .flat_map(|(_, v)| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(valor))
    }

    /// The `sucursal` of `/ws?sucursal=K`.
    fn sucursal(&self) -> Option<u64> {
        let (camino, consulta) = self.ruta.split_once('?')?;
        if camino != "/ws" {
            return None;
        }
        consulta
            .split('&')
            .find_map(|par| par.strip_prefix("sucursal="))?
            .parse()
            .ok()
    }
}

/// Serves one connection: HTTP requests (kept alive) until one upgrades.
async fn atender(mut conexion: TcpStream, difusor: Arc<Difusor>) -> Resultado<()> {
    conexion.set_nodelay(true)?;
    let mut leido = Vec::with_capacity(1024);
    loop {
        let Some(fin) = leer_cabeza(&mut conexion, &mut leido).await? else {
            return Ok(());
        };
        let cabeza = std::str::from_utf8(&leido[..fin])
            .ok()
            .and_then(Cabeza::parse);
        leido.drain(..fin + 4);
        let Some(cabeza) = cabeza else {
            return responder(&mut conexion, "400 Bad Request", "{}", false).await;
        };
        let seguir = !cabeza.lista("connection", "close");
        match (cabeza.metodo.as_str(), cabeza.ruta.as_str()) {
            ("GET", _) if cabeza.lista("upgrade", "websocket") => {
                let (Some(sucursal), Some(clave)) =
                    (cabeza.sucursal(), cabeza.cabecera("sec-websocket-key"))
                else {
                    return responder(&mut conexion, "400 Bad Request", "{}", false).await;
                };
                let aceptacion = derive_accept_key(clave.as_bytes());
                // In the room before the client learns it is open, so an
                // event published after that reaches it.
                let (inscripcion, salida) = difusor.inscribir(sucursal);
                conexion
                    .write_all(
                        format!(
                            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                             Connection: Upgrade\r\nSec-WebSocket-Accept: {aceptacion}\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await?;
                let socket = WebSocketStream::from_partially_read(
                    conexion,
                    std::mem::take(&mut leido),
                    Role::Server,
                    Some(configuracion()),
                )
                .await;
                pantalla(socket, salida).await;
                drop(inscripcion);
                return Ok(());
            }
            ("POST", "/publicar") => {
                let largo = cabeza.cabecera("content-length").map(str::parse::<usize>);
                let largo = match largo {
                    Some(Ok(largo)) if largo <= MAX_CUERPO => largo,
                    Some(Ok(_)) => {
                        return responder(&mut conexion, "413 Content Too Large", "{}", false)
                            .await;
                    }
                    _ => return responder(&mut conexion, "411 Length Required", "{}", false).await,
                };
                while leido.len() < largo {
                    if conexion.read_buf(&mut leido).await? == 0 {
                        return Ok(());
                    }
                }
                let cuerpo: Vec<u8> = leido.drain(..largo).collect();
                match serde_json::from_slice::<Publicacion>(&cuerpo) {
                    Ok(p) => {
                        let id = difusor.publicar(p.sucursal_id, &p.mensaje);
                        let respuesta = format!("{{\"id\":{id}}}");
                        responder(&mut conexion, "201 Created", &respuesta, seguir).await?;
                    }
                    Err(_) => responder(&mut conexion, "400 Bad Request", "{}", seguir).await?,
                }
            }
            _ => responder(&mut conexion, "404 Not Found", "{}", seguir).await?,
        }
        if !seguir {
            return Ok(());
        }
    }
}

/// Reads until `leido` holds a whole request head; answers where it ends
/// (the `\r\n\r\n`), or `None` if the client closed between requests.
async fn leer_cabeza(conexion: &mut TcpStream, leido: &mut Vec<u8>) -> Resultado<Option<usize>> {
    let mut buscado = 0;
    loop {
        if let Some(fin) = leido[buscado..].windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(buscado + fin));
        }
        buscado = leido.len().saturating_sub(3);
        if leido.len() > MAX_CABEZA {
            return Err("request head too long".into());
        }
        if conexion.read_buf(leido).await? == 0 {
            return if leido.is_empty() {
                Ok(None)
            } else {
                Err("connection closed mid-request".into())
            };
        }
    }
}

async fn responder(
    conexion: &mut TcpStream,
    estado: &str,
    cuerpo: &str,
    seguir: bool,
) -> Resultado<()> {
    let conexion_cabecera = if seguir { "keep-alive" } else { "close" };
    let respuesta = format!(
        "HTTP/1.1 {estado}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: {conexion_cabecera}\r\n\r\n{cuerpo}",
        cuerpo.len()
    );
    conexion.write_all(respuesta.as_bytes()).await?;
    Ok(())
}

/// A subscribed socket: writes what its queue hands it, reads what the
/// client sends (tungstenite answers pings), until either side ends.
/// Sockets here only send: a 4 KiB read buffer instead of tungstenite's
/// default 128 KiB (which would be most of the memory of an idle socket).
fn configuracion() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096)
}

async fn pantalla(socket: WebSocketStream<TcpStream>, mut salida: mpsc::Receiver<Utf8Bytes>) {
    let (mut escritura, mut lectura) = socket.split();
    loop {
        tokio::select! {
            texto = salida.recv() => {
                let Some(texto) = texto else {
                    // Dropped for falling behind.
                    let _ = escritura.send(Message::Close(None)).await;
                    return;
                };
                // Whatever else is already queued goes out in the same write.
                let mut enviado = escritura.feed(Message::Text(texto)).await;
                while let (Ok(()), Ok(texto)) = (&enviado, salida.try_recv()) {
                    enviado = escritura.feed(Message::Text(texto)).await;
                }
                if enviado.is_err() || escritura.flush().await.is_err() {
                    return;
                }
            }
            entrante = lectura.next() => match entrante {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
