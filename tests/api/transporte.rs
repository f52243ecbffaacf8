//! The socket after its handshake, byte by byte, with a hand-made client:
//! fragmented messages and control frames between their fragments, frames
//! that break RFC 6455 (1002) or carry text that is not UTF-8 (1007), one
//! `reanudar` per greeting, a clean end after the close, and a peer that
//! stops reading while it keeps talking.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::fixtures::{Cadena, alertas_con_relleno, estadisticas_cuando, sesiones_total};
use crate::helpers::{TestApp, en_ambos_stores, spawn_app, spawn_app_with};
use crate::socket::PLAZO;
use crate::trama::{
    BINARIO, CIERRE, CONTINUACION, PING, PONG, TEXTO, cierre, fin_de_cabecera, frame, upgrade,
};

/// A client text frame holding `mensaje`.
fn json_frame(mensaje: &Value) -> Vec<u8> {
    frame(TEXTO, true, mensaje.to_string().as_bytes())
}

/// A raw socket to `/ws`, upgraded, and what the server wrote after its `101`.
struct Crudo {
    io: TcpStream,
    leido: Vec<u8>,
}

impl Crudo {
    async fn abrir(app: &TestApp, token: &str) -> Crudo {
        Self::abrir_por(
            TcpStream::connect(("127.0.0.1", app.port)).await.unwrap(),
            token,
        )
        .await
    }

    async fn abrir_por(mut io: TcpStream, token: &str) -> Crudo {
        io.write_all(upgrade(token).as_bytes()).await.unwrap();
        let mut crudo = Crudo {
            io,
            leido: Vec::new(),
        };
        let fin = loop {
            if let Some(fin) = fin_de_cabecera(&crudo.leido) {
                break fin;
            }
            crudo.leer_mas().await;
        };
        let cabeza = String::from_utf8_lossy(&crudo.leido[..fin]).into_owned();
        assert!(cabeza.starts_with("HTTP/1.1 101"), "{cabeza}");
        crudo.leido.drain(..fin);
        crudo
    }

    async fn leer_mas(&mut self) {
        let mut bloque = [0u8; 8192];
        let n = tokio::time::timeout(PLAZO, self.io.read(&mut bloque))
            .await
            .expect("el servidor escribe antes del plazo")
            .expect("lectura del socket");
        assert!(
            n > 0,
            "el servidor cerró la conexión sin un frame de cierre"
        );
        self.leido.extend_from_slice(&bloque[..n]);
    }

    /// The server's next frame: opcode and payload (server frames are unmasked).
    async fn frame(&mut self) -> (u8, Vec<u8>) {
        loop {
            if let Some((op, datos, largo)) = analizar(&self.leido) {
                self.leido.drain(..largo);
                return (op, datos);
            }
            self.leer_mas().await;
        }
    }

    /// The next text frame of type `tipo`, skipping the others (presence…).
    async fn texto(&mut self, tipo: &str) -> Value {
        loop {
            let (op, datos) = self.frame().await;
            assert_ne!(op, CIERRE, "cerrado esperando {tipo}: {datos:?}");
            if op == TEXTO {
                let v: Value = serde_json::from_slice(&datos).unwrap();
                if v["type"] == tipo {
                    return v;
                }
            }
        }
    }

    /// The close frame's code, skipping what comes before it.
    async fn cierre(&mut self) -> u16 {
        loop {
            let (op, datos) = self.frame().await;
            if op == CIERRE {
                // 1005: a close without a code.
                return datos
                    .get(..2)
                    .map_or(1005, |c| u16::from_be_bytes([c[0], c[1]]));
            }
        }
    }

    /// The close frame's code; a pong before it fails the test (a frame
    /// that breaks the protocol is not answered).
    async fn cierre_sin_pong(&mut self, que: &str) -> u16 {
        loop {
            let (op, datos) = self.frame().await;
            assert_ne!(op, PONG, "{que}: contestado con un pong: {datos:?}");
            if op == CIERRE {
                return datos
                    .get(..2)
                    .map_or(1005, |c| u16::from_be_bytes([c[0], c[1]]));
            }
        }
    }

    async fn enviar(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
    }

    /// Reads JSON text frames into `registro` until one satisfies `listo`,
    /// and answers it. A close fails the test; so does an event id that
    /// comes a second time, or below one that came before.
    async fn leer_hasta(
        &mut self,
        registro: &mut Registro,
        listo: impl Fn(&Value) -> bool,
    ) -> Value {
        loop {
            let (op, datos) = self.frame().await;
            assert_ne!(op, CIERRE, "cerrado: {datos:?}; hasta aquí: {registro:?}");
            if op != TEXTO {
                continue;
            }
            let v: Value = serde_json::from_slice(&datos).unwrap();
            registro.anotar(&v);
            if listo(&v) {
                return v;
            }
        }
    }
}

/// What a socket got: its events' ids, in arrival order, and how many
/// frames of each other type.
#[derive(Debug, Default)]
struct Registro {
    ids: Vec<i64>,
    tipos: BTreeMap<String, usize>,
}

impl Registro {
    fn anotar(&mut self, v: &Value) {
        let tipo = match v["type"].as_str().unwrap() {
            "error" => format!("error:{}", v["codigo"].as_str().unwrap()),
            t => t.to_owned(),
        };
        if tipo == "evento" {
            let id = v["id"].as_i64().unwrap();
            assert!(
                !self.ids.contains(&id),
                "el evento {id} llegó dos veces al mismo socket ({} eventos antes: {:?}…)",
                self.ids.len(),
                &self.ids[..self.ids.len().min(20)]
            );
            assert!(
                self.ids.last().is_none_or(|&ultimo| ultimo < id),
                "el evento {id} llegó después del {:?}",
                self.ids.last()
            );
            self.ids.push(id);
        }
        *self.tipos.entry(tipo).or_default() += 1;
    }

    fn cuantos(&self, tipo: &str) -> usize {
        self.tipos.get(tipo).copied().unwrap_or(0)
    }
}

/// One whole frame at the start of `b`: opcode, payload, bytes taken.
fn analizar(b: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    if b.len() < 2 {
        return None;
    }
    assert_eq!(b[1] & 0x80, 0, "los frames del servidor van sin máscara");
    let (largo, cabeza) = match b[1] & 0x7f {
        126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
        127 if b.len() >= 10 => (
            u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
            10,
        ),
        126 | 127 => return None,
        n => (n as usize, 2),
    };
    assert_ne!(b[0] & 0x80, 0, "el servidor no fragmenta");
    (b.len() >= cabeza + largo).then(|| {
        (
            b[0] & 0x0f,
            b[cabeza..cabeza + largo].to_vec(),
            cabeza + largo,
        )
    })
}

en_ambos_stores! {
    async fn un_mensaje_en_fragmentos_con_un_ping_en_medio_llega_entero(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let publicado = cadena.alerta("bot1", s1, "antes de conectar").await;
        let mut c = Crudo::abrir(app, &app.token("cocina1").await).await;
        let hola = c.texto("hola").await;
        assert!(hola["ultimo_id"].as_i64().unwrap() >= publicado);

        // `reanudar` from 0 in three fragments, a ping between the first two:
        // only the whole message asks for the replay of what came before.
        let mensaje = json!({"type": "reanudar", "ultimo_id": 0}).to_string();
        let (a, resto) = mensaje.as_bytes().split_at(7);
        let (b, z) = resto.split_at(9);
        let mut bytes = frame(TEXTO, false, a);
        bytes.extend(frame(PING, true, b"entre medias"));
        bytes.extend(frame(CONTINUACION, false, b));
        c.enviar(&bytes).await;
        // A fragment at a time: the server joins what arrives in pieces too.
        tokio::time::sleep(Duration::from_millis(50)).await;
        c.enviar(&frame(CONTINUACION, true, z)).await;

        // The ping is answered at once, before the message is whole
        // (presence may come first).
        let pong = loop {
            let (op, datos) = c.frame().await;
            assert_ne!(op, CIERRE, "{datos:?}");
            if op == PONG {
                break datos;
            }
            assert_eq!(op, TEXTO);
            let v: Value = serde_json::from_slice(&datos).unwrap();
            assert_ne!(v["type"], "evento", "el pong va antes que la reanudación: {v}");
        };
        assert_eq!(pong, b"entre medias");
        let evento = c.texto("evento").await;
        assert_eq!(evento["id"], publicado, "la reanudación repite lo anterior: {evento}");
        assert_eq!(evento["payload"]["mensaje"], "antes de conectar");
    }

    async fn los_frames_que_rompen_el_protocolo_cierran_con_1002(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let token = app.token("cocina1").await;
        for (que, bytes) in [
            ("una continuación sin comienzo", frame(CONTINUACION, true, b"{}")),
            ("un mensaje nuevo en medio de otro", {
                let mut b = frame(TEXTO, false, b"{\"ty");
                b.extend(frame(TEXTO, true, b"{}"));
                b
            }),
            ("un frame sin máscara", vec![0x81, 0x02, b'{', b'}']),
            ("bits reservados sin extensión", frame(0x40 | TEXTO, true, b"{}")),
            ("un opcode desconocido", frame(0x3, true, b"{}")),
            // RFC 6455 §5.2: the 64-bit length is a 63-bit number.
            ("una longitud de 64 bits con el bit alto", {
                let mut b = vec![0x80 | BINARIO, 0x80 | 127];
                b.extend_from_slice(&(1u64 << 63 | 2).to_be_bytes());
                b.extend_from_slice(&[0x1f, 0x2e, 0x3d, 0x4c]);
                b
            }),
        ] {
            let mut c = Crudo::abrir(app, &token).await;
            c.texto("hola").await;
            c.enviar(&bytes).await;
            assert_eq!(c.cierre().await, 1002, "{que}");
        }
    }

    async fn un_ping_fragmentado_o_de_mas_de_125_bytes_cierra_con_1002_sin_pong(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let token = app.token("cocina1").await;
        // RFC 6455 §5.5: control frames are never fragmented and carry at
        // most 125 bytes. A message's fragments may have a ping between
        // them, so a broken one there breaks the socket too.
        for (que, bytes) in [
            ("un ping con FIN=0", frame(PING, false, b"hola")),
            ("un ping con FIN=0 y su continuación", {
                let mut b = frame(PING, false, b"ho");
                b.extend(frame(CONTINUACION, true, b"la"));
                b
            }),
            ("un ping de 126 bytes", frame(PING, true, &[b'p'; 126])),
            ("un ping de 126 bytes entre fragmentos", {
                let mut b = frame(TEXTO, false, b"{\"type\"");
                b.extend(frame(PING, true, &[b'p'; 126]));
                b.extend(frame(CONTINUACION, true, b":\"ping\"}"));
                b
            }),
            ("un cierre con FIN=0", frame(CIERRE, false, &1000u16.to_be_bytes())),
        ] {
            let mut c = Crudo::abrir(app, &token).await;
            c.texto("hola").await;
            c.enviar(&bytes).await;
            assert_eq!(c.cierre_sin_pong(que).await, 1002, "{que}");
        }
    }

    async fn un_cierre_de_un_byte_o_con_un_codigo_que_no_se_envia_cierra_con_1002(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let token = app.token("cocina1").await;
        let mut casos = vec![("un cierre de un byte".to_owned(), frame(CIERRE, true, &[0x03]))];
        // RFC 6455 §7.4: codes no endpoint may send.
        for codigo in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            casos.push((format!("un cierre con {codigo}"), cierre(codigo, b"")));
        }
        for (que, bytes) in casos {
            let mut c = Crudo::abrir(app, &token).await;
            c.texto("hola").await;
            c.enviar(&bytes).await;
            assert_eq!(c.cierre().await, 1002, "{que}");
        }
    }

    async fn texto_o_motivo_de_cierre_que_no_es_utf8_cierra_con_1007(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let token = app.token("cocina1").await;
        // RFC 6455 §8.1 and §7.4.1: invalid data in a message is 1007.
        for (que, bytes) in [
            ("texto que no es UTF-8", frame(TEXTO, true, &[b'"', 0xff, 0xfe, b'"'])),
            ("una secuencia UTF-8 cortada al final del texto", frame(TEXTO, true, &[b'"', 0xc3])),
            ("texto en fragmentos con un byte inválido en el segundo", {
                let mut b = frame(TEXTO, false, "{\"mensaje\":\"añ".as_bytes());
                b.extend(frame(CONTINUACION, false, &[0xc3, 0x28]));
                b.extend(frame(CONTINUACION, true, b"\"}"));
                b
            }),
            ("un motivo de cierre que no es UTF-8", cierre(1000, &[b'a', 0xff])),
        ] {
            let mut c = Crudo::abrir(app, &token).await;
            c.texto("hola").await;
            c.enviar(&bytes).await;
            assert_eq!(c.cierre().await, 1007, "{que}");
        }
        // A character split between two fragments is still one character.
        let mut c = Crudo::abrir(app, &token).await;
        c.texto("hola").await;
        let mensaje = json!({"type": "bailar", "con": "ñandú"}).to_string();
        let corte = mensaje.find('ñ').unwrap() + 1;
        let mut b = frame(TEXTO, false, &mensaje.as_bytes()[..corte]);
        b.extend(frame(CONTINUACION, true, &mensaje.as_bytes()[corte..]));
        c.enviar(&b).await;
        let error = c.texto("error").await;
        assert_eq!(error["codigo"], "mensaje_invalido", "{error}");
    }

    async fn cuarenta_reanudar_en_un_socket_dan_una_repeticion_y_39_reanudar_repetido(backend) {
        const REANUDAR: usize = 40;
        let app = spawn_app_with(backend, |s| {
            // The frame rate is not what is tested here.
            s.realtime.ws_rafaga = NonZeroU32::new(100).unwrap();
        })
        .await;
        let cadena = Cadena::nueva(app).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let mut publicados = Vec::new();
        for n in 0..5 {
            publicados.push(cadena.alerta("bot1", s1, &format!("antes {n}")).await);
        }
        let mut c = Crudo::abrir(app, &app.token("cocina1").await).await;
        c.texto("hola").await;

        // All at once, as the reproduction sent them.
        let reanudar = json_frame(&json!({"type": "reanudar", "ultimo_id": 0}));
        c.enviar(&reanudar.repeat(REANUDAR)).await;
        let mut r = Registro::default();
        while r.cuantos("error:reanudar_repetido") < REANUDAR - 1
            || !publicados.iter().all(|id| r.ids.contains(id))
        {
            c.leer_hasta(&mut r, |_| true).await;
        }
        // Whatever a later replay would have sent comes before a live event
        // and a pong sent after it.
        let centinela = cadena.alerta("bot1", s1, "en vivo").await;
        c.leer_hasta(&mut r, |v| v["id"] == centinela).await;
        c.enviar(&json_frame(&json!({"type": "ping"}))).await;
        c.leer_hasta(&mut r, |v| v["type"] == "pong").await;

        assert_eq!(r.cuantos("error:reanudar_repetido"), REANUDAR - 1, "{r:?}");
        assert_eq!(r.cuantos("evento"), r.ids.len(), "{r:?}");
        assert!(publicados.iter().chain([&centinela]).all(|id| r.ids.contains(id)), "{r:?}");
        let otros: Vec<_> = r.tipos.keys().filter(|t| !["evento", "error:reanudar_repetido", "pong", "presencia"].contains(&t.as_str())).collect();
        assert!(otros.is_empty(), "{otros:?}");
    }

    async fn un_reanudar_despues_de_ir_en_vivo_no_repite_nada_y_si_falta_algo_pide_reinicio(backend) {
        let app = spawn_app_with(backend, |s| {
            s.realtime.ws_espera_reanudar = Duration::from_millis(50);
        })
        .await;
        let cadena = Cadena::nueva(app).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let token = app.token("cocina1").await;
        let antes = cadena.alerta("bot1", s1, "antes de conectar").await;

        // A client whose `reanudar` comes after the session went live on
        // its own, with nothing missing: nothing is sent again.
        let mut c = Crudo::abrir(app, &token).await;
        let hola = c.texto("hola").await["ultimo_id"].as_i64().unwrap();
        let mut r = Registro::default();
        let vivo = cadena.alerta("bot1", s1, "en vivo").await;
        c.leer_hasta(&mut r, |v| v["id"] == vivo).await;
        c.enviar(&json_frame(&json!({"type": "reanudar", "ultimo_id": hola}))).await;
        c.enviar(&json_frame(&json!({"type": "ping"}))).await;
        c.leer_hasta(&mut r, |v| v["type"] == "pong").await;
        let despues = cadena.alerta("bot1", s1, "después").await;
        c.leer_hasta(&mut r, |v| v["id"] == despues).await;
        assert_eq!(r.ids, [vivo, despues]);
        // That was its one `reanudar`.
        c.enviar(&json_frame(&json!({"type": "reanudar", "ultimo_id": hola}))).await;
        c.leer_hasta(&mut r, |v| v["type"] == "error").await;
        assert_eq!(r.cuantos("error:reanudar_repetido"), 1, "{r:?}");

        // Late, and from before `hola`: what it lacks can't come in id order
        // any more (a later event went out already): `reinicio`, nothing
        // sent twice, and after it one more `reanudar` is taken.
        let mut c = Crudo::abrir(app, &token).await;
        c.texto("hola").await;
        let mut r = Registro::default();
        let vivo = cadena.alerta("bot1", s1, "en vivo").await;
        c.leer_hasta(&mut r, |v| v["id"] == vivo).await;
        c.enviar(&json_frame(&json!({"type": "reanudar", "ultimo_id": antes - 1}))).await;
        let reinicio = c.leer_hasta(&mut r, |v| v["type"] == "reinicio").await;
        assert_eq!(reinicio["ultimo_id"], vivo, "{reinicio}");
        let mientras = cadena.alerta("bot1", s1, "mientras recarga").await;
        c.enviar(&json_frame(&json!({"type": "reanudar", "ultimo_id": vivo}))).await;
        c.leer_hasta(&mut r, |v| v["id"] == mientras).await;
        c.enviar(&json_frame(&json!({"type": "reanudar", "ultimo_id": vivo}))).await;
        c.leer_hasta(&mut r, |v| v["type"] == "error").await;
        assert_eq!(r.cuantos("error:reanudar_repetido"), 1, "{r:?}");
        assert_eq!(r.ids, [vivo, mientras]);
    }

    async fn tras_un_reinicio_los_eventos_esperan_al_reanudar_y_ninguno_llega_dos_veces(backend) {
        let app = spawn_app_with(backend, |s| s.realtime.ws_ventana = 3).await;
        let cadena = Cadena::nueva(app).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let desde = app.store.ultimo_evento_id().await.unwrap().0;
        for n in 0..5 {
            cadena.alerta("bot1", s1, &format!("antes {n}")).await;
        }
        let mut c = Crudo::abrir(app, &app.token("cocina1").await).await;
        c.texto("hola").await;
        let mut r = Registro::default();

        // Too far behind: reload by REST, then resume from what it loaded.
        c.enviar(&json_frame(&json!({"type": "reanudar", "ultimo_id": desde}))).await;
        let reinicio = c.leer_hasta(&mut r, |v| v["type"] == "reinicio").await;
        // While the page reloads (and pings), events wait for its `reanudar`:
        // sent now, it would drop them and then ask for them again.
        let mientras = cadena.alerta("bot1", s1, "mientras recarga").await;
        c.enviar(&json_frame(&json!({"type": "ping"}))).await;
        c.leer_hasta(&mut r, |v| v["type"] == "pong").await;
        assert!(r.ids.is_empty(), "{r:?}");
        let recargado = reinicio["ultimo_id"].as_i64().unwrap();
        c.enviar(&json_frame(&json!({"type": "reanudar", "ultimo_id": recargado}))).await;
        c.leer_hasta(&mut r, |v| v["id"] == mientras).await;
        let despues = cadena.alerta("bot1", s1, "después").await;
        c.leer_hasta(&mut r, |v| v["id"] == despues).await;
        assert_eq!(r.ids, [mientras, despues]);
        c.enviar(&json_frame(&json!({"type": "reanudar", "ultimo_id": desde}))).await;
        c.leer_hasta(&mut r, |v| v["type"] == "error").await;
        assert_eq!(r.cuantos("error:reanudar_repetido"), 1, "{r:?}");
    }

    async fn tras_el_cierre_el_servidor_sigue_leyendo_y_el_cliente_no_recibe_un_reset(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let mut c = Crudo::abrir(app, &app.token("cocina1").await).await;
        c.texto("hola").await;
        c.enviar(&frame(CIERRE, true, &4321u16.to_be_bytes())).await;
        assert_eq!(c.cierre().await, 4321, "el servidor devuelve el código del cliente");
        // The server's side is shut: a clean end of stream…
        let mut bloque = [0u8; 1024];
        let n = tokio::time::timeout(PLAZO, c.io.read(&mut bloque)).await.unwrap().unwrap();
        assert_eq!(n, 0, "tras el cierre, fin del flujo");
        // …and what the client still sends is read and dropped for a moment,
        // not answered with a reset (which can overtake a close frame still
        // on its way). A reset fails one of the later writes.
        for _ in 0..3 {
            c.io.write_all(&vec![0u8; 64 * 1024]).await.expect("sin reset");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn un_par_que_deja_de_leer_se_da_por_perdido_al_vencer_la_escritura(backend) {
        const EVENTOS: usize = 200;
        let app = spawn_app_with(backend, |s| {
            // No 4008: only the write's deadline can end this session.
            s.realtime.ws_cola = 100_000;
            s.realtime.ws_timeout = Duration::from_secs(1);
            s.realtime.servicio_rafaga = std::num::NonZeroU32::new(EVENTOS as u32).unwrap();
        })
        .await;
        let cadena = Cadena::nueva(app).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let jefa = app.token("jefa").await;

        // A kitchen whose socket takes little and that never reads, but
        // keeps pinging: never silent, so the heartbeat keeps it.
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let io = socket.connect(([127, 0, 0, 1], app.port).into()).await.unwrap();
        let mut c = Crudo::abrir_por(io, &app.token("cocina1").await).await;
        c.texto("hola").await;
        c.enviar(&frame(TEXTO, true, json!({"type": "reanudar", "ultimo_id": 0}).to_string().as_bytes())).await;
        estadisticas_cuando(app, &jefa, |e| sesiones_total(e) == 1).await;
        let (mut lectura, mut escritura) = c.io.into_split();
        let latidos = actix_web::rt::spawn(async move {
            while escritura.write_all(&frame(PING, true, b"sigo")).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });

        cadena.publicar_en_paralelo("bot1", 4, alertas_con_relleno(s1, EVENTOS)).await;

        // Its writes stall; a second later the server lets it go.
        estadisticas_cuando(app, &jefa, |e| sesiones_total(e) == 0).await;
        // The socket is gone: past what was buffered, the stream ends.
        let fin = async {
            let mut bloque = vec![0u8; 64 * 1024];
            while matches!(lectura.read(&mut bloque).await, Ok(n) if n > 0) {}
        };
        tokio::time::timeout(PLAZO, fin).await.expect("el servidor cerró el socket");
        latidos.abort();
    }
}
