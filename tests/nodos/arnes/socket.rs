//! A WebSocket client that connects to `/ws` of a node like a screen does.
//! Adapted from `tests/api/socket.rs`: here a connection can fail (a node
//! dies, the database restarts) and the caller decides what to do.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a connection attempt may take, `hola` included.
const CONEXION: Duration = Duration::from_secs(10);

pub struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The `hola` frame.
    pub hola: Value,
}

/// How a connection attempt ended.
pub enum Conexion {
    Abierta(Box<Socket>),
    /// Upgraded, then closed by the server with this code before `hola`.
    Cerrada(u16),
    /// Refused before the upgrade, with this HTTP status.
    Rechazada(u16),
    /// No answer: nobody listens there, or the connection broke.
    Fallida(String),
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket").field("hola", &self.hola).finish()
    }
}

impl std::fmt::Debug for Conexion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Conexion::Abierta(s) => write!(f, "abierta ({})", s.hola),
            Conexion::Cerrada(codigo) => {
                write!(f, "cerrada por el servidor con {codigo} antes de hola")
            }
            Conexion::Rechazada(status) => write!(f, "rechazada con HTTP {status}"),
            Conexion::Fallida(e) => write!(f, "fallida: {e}"),
        }
    }
}

/// What reading a socket gave.
#[derive(Debug)]
pub enum Frame {
    Evento(Value),
    /// Any other JSON frame (`presencia`, `pong`, `reinicio`, `error`…).
    Otro(Value),
    /// The server closed (the code) or the connection broke (1006).
    Cerrado(u16),
    /// Nothing before the deadline.
    Nada,
}

/// Connects to the node on `puerto` with `Authorization: Bearer` and waits
/// for `hola`.
pub async fn conectar(puerto: u16, token: &str) -> Conexion {
    let mut req = format!("ws://127.0.0.1:{puerto}/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    let ws = match tokio::time::timeout(CONEXION, tokio_tungstenite::connect_async(req)).await {
        Err(_) => return Conexion::Fallida(format!("sin respuesta en {CONEXION:?}")),
        Ok(Err(WsError::Http(r))) => return Conexion::Rechazada(r.status().as_u16()),
        Ok(Err(e)) => return Conexion::Fallida(e.to_string()),
        Ok(Ok((ws, _))) => ws,
    };
    let mut socket = Socket {
        ws,
        hola: Value::Null,
    };
    match socket.siguiente(Instant::now() + CONEXION).await {
        Frame::Otro(hola) if hola["type"] == "hola" => {
            socket.hola = hola;
            Conexion::Abierta(Box::new(socket))
        }
        Frame::Cerrado(codigo) => Conexion::Cerrada(codigo),
        Frame::Nada => Conexion::Fallida(format!("sin hola en {CONEXION:?}")),
        otro => panic!("el primer frame debe ser hola, no {otro:?}"),
    }
}

impl Socket {
    /// `{"type":"reanudar","ultimo_id":N}`; false if the socket is gone.
    pub async fn reanudar(&mut self, ultimo_id: i64) -> bool {
        let frame = json!({"type": "reanudar", "ultimo_id": ultimo_id});
        self.ws.send(Message::text(frame.to_string())).await.is_ok()
    }

    /// The next JSON frame, a close, or [`Frame::Nada`] at `hasta`.
    pub async fn siguiente(&mut self, hasta: Instant) -> Frame {
        loop {
            let Ok(frame) = tokio::time::timeout_at(hasta, self.ws.next()).await else {
                return Frame::Nada;
            };
            match frame {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t)
                        .unwrap_or_else(|e| panic!("frame que no es JSON ({e}): {t}"));
                    return if v["type"] == "evento" {
                        Frame::Evento(v)
                    } else {
                        Frame::Otro(v)
                    };
                }
                Some(Ok(Message::Close(c))) => {
                    return Frame::Cerrado(c.map_or(1005, |c| u16::from(c.code)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Frame::Cerrado(1006),
            }
        }
    }

    /// A clean goodbye (close 1000).
    pub async fn cerrar(mut self) {
        let cierre = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(Some(cierre))).await;
    }

    /// Drops the TCP connection without a close handshake (a flaky wifi).
    pub fn cortar(self) {
        drop(self.ws);
    }
}
