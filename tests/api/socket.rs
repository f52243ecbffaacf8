//! A WebSocket client for tests: connects to `/ws` like a screen does and
//! waits for frames with a deadline, never a bare sleep.

use std::time::Duration;

use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::TestApp;

/// How long a test waits for a frame that must come.
pub const PLAZO: Duration = Duration::from_secs(10);

/// The window in which an event that should not come would have come.
pub const CORTO: Duration = Duration::from_millis(300);

pub struct Cliente {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The `hola` frame, when the connection was accepted.
    pub hola: Value,
}

/// How a connection attempt ended.
#[derive(Debug)]
pub enum Conexion {
    Abierta(Box<Cliente>),
    /// Upgraded and then closed by the server with this code, before `hola`.
    Cerrada(u16),
    /// Refused before the upgrade, with this HTTP status.
    Rechazada(u16),
}

impl std::fmt::Debug for Cliente {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cliente").field("hola", &self.hola).finish()
    }
}

impl TestApp {
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    /// Connects with `Authorization: Bearer` and waits for `hola`.
    pub async fn socket(&self, token: &str) -> Cliente {
        match self
            .conectar(&[("Authorization", format!("Bearer {token}"))])
            .await
        {
            Conexion::Abierta(c) => *c,
            otra => panic!("el socket no abrió: {otra:?}"),
        }
    }

    /// Connects with the given headers and reports how it went.
    pub async fn conectar(&self, cabeceras: &[(&str, String)]) -> Conexion {
        let mut req = self.ws_url().into_client_request().unwrap();
        for (nombre, valor) in cabeceras {
            req.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(nombre.as_bytes())
                    .unwrap(),
                valor.parse().unwrap(),
            );
        }
        let ws = match tokio_tungstenite::connect_async(req).await {
            Ok((ws, _)) => ws,
            Err(WsError::Http(r)) => return Conexion::Rechazada(r.status().as_u16()),
            Err(e) => panic!("no se pudo conectar: {e}"),
        };
        let mut cliente = Cliente {
            ws,
            hola: Value::Null,
        };
        match cliente.siguiente_o_cierre(PLAZO).await {
            Ok(hola) => {
                assert_eq!(hola["type"], "hola", "el primer frame es hola: {hola}");
                cliente.hola = hola;
                Conexion::Abierta(Box::new(cliente))
            }
            Err(codigo) => Conexion::Cerrada(codigo),
        }
    }
}

impl Cliente {
    pub async fn enviar(&mut self, valor: &Value) {
        self.ws
            .send(Message::text(valor.to_string()))
            .await
            .expect("frame enviado");
    }

    pub async fn enviar_texto(&mut self, texto: &str) {
        self.ws
            .send(Message::text(texto.to_owned()))
            .await
            .expect("frame enviado");
    }

    pub async fn enviar_binario(&mut self, datos: Vec<u8>) {
        self.ws
            .send(Message::binary(datos))
            .await
            .expect("frame enviado");
    }

    /// The next JSON text frame, or the close code if the server closed first.
    pub async fn siguiente_o_cierre(&mut self, plazo: Duration) -> Result<Value, u16> {
        let fin = tokio::time::Instant::now() + plazo;
        loop {
            let frame = tokio::time::timeout_at(fin, self.ws.next())
                .await
                .expect("un frame antes del plazo");
            match frame {
                Some(Ok(Message::Text(t))) => {
                    return Ok(serde_json::from_str(&t).expect("frame JSON"));
                }
                Some(Ok(Message::Close(c))) => {
                    return Err(c.map_or(1005, |c| u16::from(c.code)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(1006),
            }
        }
    }

    /// The next JSON frame; panics on close or after the deadline.
    pub async fn siguiente(&mut self) -> Value {
        match self.siguiente_o_cierre(PLAZO).await {
            Ok(v) => v,
            Err(codigo) => panic!("el socket se cerró con {codigo}"),
        }
    }

    /// The next frame of this `type`, skipping others (presence, pong…).
    pub async fn esperar(&mut self, tipo: &str) -> Value {
        loop {
            let v = self.siguiente().await;
            if v["type"] == tipo {
                return v;
            }
        }
    }

    /// The next `evento` frame.
    pub async fn evento(&mut self) -> Value {
        self.esperar("evento").await
    }

    /// `n` events, in the order they arrive.
    pub async fn eventos(&mut self, n: usize) -> Vec<Value> {
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            v.push(self.evento().await);
        }
        v
    }

    /// Asserts that no event arrives within `espera` (other frames are skipped).
    pub async fn ningun_evento_en(&mut self, espera: Duration) {
        let fin = tokio::time::Instant::now() + espera;
        loop {
            match tokio::time::timeout_at(fin, self.ws.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    assert_ne!(v["type"], "evento", "no debía llegar: {v}");
                }
                Ok(Some(Ok(_))) => {}
                Ok(other) => panic!("el socket se cerró: {other:?}"),
            }
        }
    }

    /// Waits for the server to close the socket and answers its code.
    pub async fn cierre(&mut self) -> u16 {
        loop {
            match self.siguiente_o_cierre(PLAZO).await {
                Ok(_) => continue,
                Err(codigo) => return codigo,
            }
        }
    }

    /// Events that arrive within `plazo`, at most `max` (other frames are
    /// skipped): a bounded read for clients that come and go. Panics on close.
    pub async fn eventos_durante(&mut self, max: usize, plazo: Duration) -> Vec<Value> {
        let fin = tokio::time::Instant::now() + plazo;
        let mut eventos = Vec::new();
        while eventos.len() < max {
            match tokio::time::timeout_at(fin, self.ws.next()).await {
                Err(_) => break,
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(&t).expect("frame JSON");
                    if v["type"] == "evento" {
                        eventos.push(v);
                    }
                }
                Ok(Some(Ok(_))) => {}
                Ok(otro) => panic!("el socket se cerró: {otro:?}"),
            }
        }
        eventos
    }

    /// Reads until the server closes: the events that came first, and the code.
    pub async fn eventos_hasta_el_cierre(&mut self) -> (Vec<Value>, u16) {
        let mut eventos = Vec::new();
        loop {
            match self.siguiente_o_cierre(PLAZO).await {
                Ok(v) if v["type"] == "evento" => eventos.push(v),
                Ok(_) => {}
                Err(codigo) => return (eventos, codigo),
            }
        }
    }

    /// Sends `{"type":"ping"}` and waits for the `pong` (other frames are skipped).
    pub async fn ping(&mut self) {
        self.enviar(&serde_json::json!({"type": "ping"})).await;
        self.esperar("pong").await;
    }

    /// Sends a frame the server will refuse by closing, reading while it is
    /// written (the server stops reading it), and answers the close code.
    pub async fn enviar_y_esperar_cierre(self, frame: Message) -> u16 {
        let (mut tx, mut rx) = self.ws.split();
        // The server may close before the frame is fully written: whichever
        // ends first, the answer is the close that is read.
        let enviar = async move {
            let _ = tx.send(frame).await;
        };
        let leer = async move {
            loop {
                match rx.next().await {
                    Some(Ok(Message::Close(c))) => return c.map_or(1005, |c| u16::from(c.code)),
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return 1006,
                }
            }
        };
        let ambos = async move {
            tokio::pin!(enviar, leer);
            tokio::select! {
                codigo = &mut leer => codigo,
                () = &mut enviar => leer.await,
            }
        };
        tokio::time::timeout(PLAZO, ambos)
            .await
            .expect("el servidor cierra antes del plazo")
    }

    pub async fn reanudar(&mut self, ultimo_id: i64) {
        self.enviar(&serde_json::json!({"type": "reanudar", "ultimo_id": ultimo_id}))
            .await;
    }

    pub async fn cerrar(mut self) {
        let _ = self
            .ws
            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            }))
            .await;
    }

    /// Drops the TCP connection without a close handshake (a flaky wifi).
    pub fn cortar(self) {
        drop(self.ws);
    }
}

/// Asserts, for all of them at once, that no event arrives within [`CORTO`].
pub async fn nadie_recibe_nada(pantallas: Vec<&mut Cliente>) {
    join_all(pantallas.into_iter().map(|c| c.ningun_evento_en(CORTO))).await;
}
