//! The limits on what one client may ask (issue 9): bodies of at most 64 KiB
//! on every API route, socket frames of at most 64 KiB, frames per second
//! per socket, sockets per user, and writes per second per `servicio`
//! login. Each is refused with a clear error, loses nothing, and leaves
//! everyone else alone.

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::{Duration, Instant};

use comanda::http::LIMITE_CUERPO;
use comanda::modelo::EventoId;
use comanda::realtime::LIMITE_FRAME;
use futures_util::future::join_all;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::fixtures::Cadena;
use crate::helpers::{TestApp, codigo_de_error, en_ambos_stores, spawn_app, spawn_app_with};
use crate::socket::{Cliente, Conexion, PLAZO};

fn n32(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap()
}

/// A JSON object of exactly `largo` bytes: `{"nombre":"xxx…"}`.
fn json_de(largo: usize) -> Vec<u8> {
    let cuerpo = format!("{{\"nombre\":\"{}\"}}", "x".repeat(largo - 13));
    assert_eq!(cuerpo.len(), largo);
    cuerpo.into_bytes()
}

/// How a body travels: with `Content-Length`, or chunked with none.
#[derive(Debug, Clone, Copy)]
enum Envio {
    ConLargo,
    PorTrozos,
}

async fn enviar_cuerpo(
    app: &TestApp,
    metodo: Method,
    ruta: &str,
    token: Option<&str>,
    cuerpo: Vec<u8>,
    envio: Envio,
) -> reqwest::Response {
    let cuerpo = match envio {
        Envio::ConLargo => reqwest::Body::from(cuerpo),
        Envio::PorTrozos => {
            let trozos: Vec<Result<Vec<u8>, std::io::Error>> =
                cuerpo.chunks(16 * 1024).map(|t| Ok(t.to_vec())).collect();
            reqwest::Body::wrap_stream(futures_util::stream::iter(trozos))
        }
    };
    let mut req = app
        .client
        .request(metodo, app.url(ruta))
        .header(CONTENT_TYPE, "application/json")
        .body(cuerpo);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("the server answers")
}

/// Every way a user can write: the routes that read a JSON body, and those
/// that ignore it (logout, approve), and one that does not exist.
fn rutas_de_escritura() -> Vec<(Method, &'static str)> {
    vec![
        (Method::POST, "/api/login"),
        (Method::POST, "/api/logout"),
        (Method::POST, "/api/usuarios"),
        (Method::PATCH, "/api/usuarios/1"),
        (Method::POST, "/api/sucursales"),
        (Method::POST, "/api/eventos"),
        (Method::POST, "/api/alertas"),
        (Method::POST, "/api/alertas/1/leida"),
        (Method::POST, "/api/pedidos"),
        (Method::POST, "/api/pedidos/1/aprobar"),
        (Method::POST, "/api/pedidos/1/estado"),
        (Method::POST, "/api/refills"),
        (Method::POST, "/api/vouchers"),
        (Method::POST, "/api/vouchers/1/aprobar"),
        (Method::POST, "/api/vouchers/1/rechazar"),
        (Method::PUT, "/api/reglas/prioridad"),
        (Method::POST, "/api/reglas/prioridad/validar"),
        (Method::POST, "/api/reglas/probar"),
        (Method::POST, "/api/reglas/prioridad/restaurar"),
        (Method::POST, "/api/no-existe"),
    ]
}

/// `n` pings sent back to back, before reading anything.
async fn pings(c: &mut Cliente, n: usize) {
    for _ in 0..n {
        c.enviar(&json!({"type": "ping"})).await;
    }
}

/// Reads `pong`s until the next frame of another type (or the close),
/// skipping presence: answers how many, and what came after them.
async fn pongs_y_luego(c: &mut Cliente) -> (usize, Result<Value, u16>) {
    let mut pongs = 0;
    loop {
        match c.siguiente_o_cierre(PLAZO).await {
            Ok(v) if v["type"] == "pong" => pongs += 1,
            Ok(v) if v["type"] == "presencia" => {}
            otro => return (pongs, otro),
        }
    }
}

en_ambos_stores! {
    async fn un_cuerpo_de_mas_de_64_kib_da_413_en_toda_ruta_con_o_sin_content_length(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let jefa = app.token("jefa").await;
        let antes = app.store.ultimo_evento_id().await.unwrap();
        let sucursales = app.store.sucursales(None).await.unwrap().len();
        let reglas = app.get("/api/reglas/prioridad", &jefa).await.text().await.unwrap();

        for envio in [Envio::ConLargo, Envio::PorTrozos] {
            for (metodo, ruta) in rutas_de_escritura() {
                let r = enviar_cuerpo(app, metodo.clone(), ruta, Some(&jefa), json_de(LIMITE_CUERPO + 1), envio).await;
                assert_eq!(
                    codigo_de_error(r, StatusCode::PAYLOAD_TOO_LARGE).await,
                    "demasiado_grande",
                    "{metodo} {ruta} {envio:?}"
                );
            }
        }

        // Nothing was done: no event, no sucursal, the rule as it was, and
        // the refused logout did not end the login.
        assert_eq!(app.store.ultimo_evento_id().await.unwrap(), antes);
        assert_eq!(app.store.sucursales(None).await.unwrap().len(), sucursales);
        assert_eq!(app.get("/api/reglas/prioridad", &jefa).await.text().await.unwrap(), reglas);
        assert_eq!(app.get("/api/me", &jefa).await.status(), StatusCode::OK);
    }

    async fn un_cuerpo_de_64_kib_justos_pasa_el_limite_y_uno_pequeno_por_trozos_llega_entero(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let jefa = app.token("jefa").await;

        // At the limit the body is read: here it is refused for what it says
        // (a name that long), not for its size.
        for envio in [Envio::ConLargo, Envio::PorTrozos] {
            let r = enviar_cuerpo(app, Method::POST, "/api/sucursales", Some(&jefa), json_de(LIMITE_CUERPO), envio).await;
            assert_eq!(codigo_de_error(r, StatusCode::BAD_REQUEST).await, "peticion_invalida", "{envio:?}");
        }
        // A chunked body the size check read reaches the handler whole.
        let cuerpo = json!({"nombre": "Sur"}).to_string().into_bytes();
        let r = enviar_cuerpo(app, Method::POST, "/api/sucursales", Some(&jefa), cuerpo, Envio::PorTrozos).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let creada: Value = r.json().await.unwrap();
        assert_eq!(creada["nombre"], "Sur");
        let evento = json!({"tipo": "aviso_general", "mensaje": "ñandú ".repeat(5000)});
        let r = enviar_cuerpo(app, Method::POST, "/api/eventos", Some(&jefa), evento.to_string().into_bytes(), Envio::PorTrozos).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let guardado = &app.store.eventos_desde(EventoId(id - 1), None, 1).await.unwrap()[0];
        assert_eq!(guardado.payload.0["mensaje"], evento["mensaje"]);
    }

    async fn un_frame_de_64_kib_justos_se_atiende_y_uno_mas_grande_cierra_con_1009(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let token = app.token("cocina1").await;
        let mut c = app.socket(&token).await;

        let mut justo = String::from(r#"{"type":"ping"}"#);
        justo.push_str(&" ".repeat(LIMITE_FRAME - justo.len()));
        c.enviar_texto(&justo).await;
        c.esperar("pong").await;

        let mut grande = justo.clone();
        grande.push(' ');
        assert_eq!(c.enviar_y_esperar_cierre(Message::text(grande)).await, 1009);
        // Only that socket: the user opens another at once.
        app.socket(&token).await.ping().await;
    }

    async fn quien_manda_frames_de_mas_recibe_un_aviso_y_si_sigue_se_cierra_con_1008(backend) {
        let app = spawn_app_with(backend, |s| {
            s.realtime.ws_mensajes_por_segundo = n32(1);
            s.realtime.ws_rafaga = n32(5);
        })
        .await;
        let cadena = Cadena::nueva(app).await;
        let app = &cadena.app;
        let token = app.token("cocina1").await;
        let mut vecina = app.socket(&token).await;
        let mut c = app.socket(&token).await;

        // The burst is answered; the first frame past it gets the warning.
        pings(&mut c, 6).await;
        let (pongs, despues) = pongs_y_luego(&mut c).await;
        assert_eq!(pongs, 5);
        let aviso = despues.expect("un aviso, no un cierre");
        assert_eq!(aviso["type"], "error", "{aviso}");
        assert_eq!(aviso["codigo"], "demasiados_mensajes", "{aviso}");
        assert!(!aviso["mensaje"].as_str().unwrap().is_empty());

        // Five more dropped frames (another burst's worth) close it, unanswered.
        pings(&mut c, 5).await;
        assert_eq!(pongs_y_luego(&mut c).await, (0, Err(1008)));

        // Its neighbour on the same login was not touched.
        vecina.ping().await;
        let id = cadena.alerta("bot1", cadena.s1, "sigue llegando").await;
        assert_eq!(vecina.evento().await["id"], id);
    }

    async fn el_aviso_por_frames_de_mas_se_levanta_si_el_cliente_se_calma(backend) {
        let app = spawn_app_with(backend, |s| {
            s.realtime.ws_mensajes_por_segundo = n32(4);
            s.realtime.ws_rafaga = n32(4);
        })
        .await;
        let cadena = Cadena::nueva(app).await;
        let app = &cadena.app;
        let mut c = app.socket(&app.token("cocina1").await).await;

        pings(&mut c, 5).await;
        let (pongs, aviso) = pongs_y_luego(&mut c).await;
        assert_eq!(pongs, 4);
        assert_eq!(aviso.unwrap()["codigo"], "demasiados_mensajes");
        // A full refill of quiet (4 frames at 4/s: one second) forgives it.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        for _ in 0..3 {
            pings(&mut c, 5).await;
            let (pongs, aviso) = pongs_y_luego(&mut c).await;
            assert_eq!(pongs, 4);
            assert_eq!(aviso.unwrap()["codigo"], "demasiados_mensajes", "a new warning, not a close");
            tokio::time::sleep(Duration::from_millis(1200)).await;
        }
        c.ping().await;
    }

    async fn con_los_valores_por_defecto_una_rafaga_de_40_frames_pasa_entera(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let mut c = app.socket(&app.token("cocina1").await).await;
        pings(&mut c, 40).await;
        let mut pongs = 0;
        while pongs < 40 {
            let frame = c.siguiente().await;
            match frame["type"].as_str() {
                Some("pong") => pongs += 1,
                Some("presencia") => {}
                _ => panic!("tras {pongs} pongs: {frame}"),
            }
        }
        // Half a second later (ten tokens back) the client is still welcome.
        tokio::time::sleep(Duration::from_millis(500)).await;
        c.ping().await;
    }

    async fn un_usuario_no_abre_mas_sockets_que_su_limite_aunque_los_pida_a_la_vez(backend) {
        let app = spawn_app_with(backend, |s| {
            s.realtime.ws_sesiones_por_usuario = NonZeroUsize::new(3).unwrap();
        })
        .await;
        let cadena = Cadena::nueva(app).await;
        let app = &cadena.app;
        let cabeceras = vec![("Authorization", format!("Bearer {}", app.token("cocina1").await))];

        let intentos = join_all((0..10).map(|_| app.conectar(&cabeceras))).await;
        let (mut abiertas, mut rechazadas) = (Vec::new(), Vec::new());
        for intento in intentos {
            match intento {
                Conexion::Abierta(c) => abiertas.push(*c),
                Conexion::Cerrada(codigo) => rechazadas.push(codigo),
                otra => panic!("{otra:?}"),
            }
        }
        assert_eq!(abiertas.len(), 3);
        assert_eq!(rechazadas, [4029; 7]);

        // The limit is per user: the same user's other login is refused too,
        // another user is not.
        let otro_login = app.token("cocina1").await;
        assert!(matches!(
            app.conectar(&[("Authorization", format!("Bearer {otro_login}"))]).await,
            Conexion::Cerrada(4029)
        ));
        let mut atencion = app.socket(&app.token("atencion1").await).await;
        atencion.ping().await;

        // The open ones keep working; when one goes, its place is free again.
        for c in &mut abiertas {
            c.ping().await;
        }
        abiertas.pop().unwrap().cerrar().await;
        let fin = tokio::time::Instant::now() + PLAZO;
        let mut nueva = loop {
            match app.conectar(&cabeceras).await {
                Conexion::Abierta(c) => break *c,
                Conexion::Cerrada(4029) if tokio::time::Instant::now() < fin => {}
                otra => panic!("{otra:?}"),
            }
        };
        nueva.ping().await;
        assert!(matches!(app.conectar(&cabeceras).await, Conexion::Cerrada(4029)));
    }

    async fn por_defecto_un_usuario_abre_20_sockets_y_el_21_se_cierra_con_4029(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let token = app.token("cocina1").await;
        let mut abiertas = Vec::new();
        for _ in 0..20 {
            abiertas.push(app.socket(&token).await);
        }
        let cabeceras = [("Authorization", format!("Bearer {token}"))];
        assert!(matches!(app.conectar(&cabeceras).await, Conexion::Cerrada(4029)));
    }

    async fn un_servicio_por_encima_de_su_ritmo_recibe_429_con_retry_after_y_los_demas_no(backend) {
        let app = spawn_app_with(backend, |s| {
            s.realtime.servicio_eventos_por_segundo = n32(1);
            s.realtime.servicio_rafaga = n32(5);
        })
        .await;
        let cadena = Cadena::nueva(app).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let bot = app.token("bot1").await;
        let alerta = |n: i64| json!({"tipo": "alerta_cocina", "alerta_id": n, "mensaje": "rápido", "sucursal_id": s1.0});

        for n in 0..5 {
            cadena.publicar(&bot, alerta(n)).await;
        }
        let antes = app.store.ultimo_evento_id().await.unwrap();
        let r = app.post("/api/eventos", &bot, &alerta(5)).await;
        let espera: u64 = r.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
        assert!((1..=2).contains(&espera), "Retry-After: {espera}");
        assert_eq!(codigo_de_error(r, StatusCode::TOO_MANY_REQUESTS).await, "demasiadas_peticiones");
        // Every write of that login counts: a voucher is refused the same way.
        let voucher = json!({"sucursal_id": s1.0, "monto": 25.5, "numero_operacion": "OP-1",
                             "imagen_url": "https://ejemplo.pe/v.jpg", "telefono": "999"});
        let r = app.post("/api/vouchers", &bot, &voucher).await;
        assert_eq!(codigo_de_error(r, StatusCode::TOO_MANY_REQUESTS).await, "demasiadas_peticiones");
        assert_eq!(app.store.ultimo_evento_id().await.unwrap(), antes, "nada se guardó");
        // Reading is not limited.
        assert_eq!(app.get("/api/me", &bot).await.status(), StatusCode::OK);

        // Another login of the bot, the other bot, and every other role are not touched.
        for token in [app.token("bot1").await, app.token("bot2").await] {
            let r = app.post("/api/eventos", &token, &json!({"tipo": "aviso_general"})).await;
            assert_eq!(r.status(), StatusCode::CREATED);
        }
        let jefa = app.token("jefa").await;
        let atencion = app.token("atencion1").await;
        for n in 0..10 {
            cadena.publicar(&jefa, alerta(100 + n)).await;
            let r = app.post("/api/alertas", &atencion, &json!({"mensaje": format!("alerta {n}")})).await;
            assert_eq!(r.status(), StatusCode::CREATED);
        }

        // After the wait it was told, the bot writes again.
        tokio::time::sleep(Duration::from_secs(espera)).await;
        cadena.publicar(&bot, alerta(6)).await;
    }

    async fn con_los_valores_por_defecto_un_servicio_publica_una_rafaga_de_100(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let bot = app.token("bot1").await;
        let evento = json!({"tipo": "voucher_nuevo", "sucursal_id": cadena.s1.0, "monto": 10});
        let respuestas = join_all((0..100).map(|_| app.post("/api/eventos", &bot, &evento))).await;
        assert!(respuestas.iter().all(|r| r.status() == StatusCode::CREATED));
    }

    async fn un_cuerpo_que_no_llega_a_tiempo_da_408_y_cierra_la_conexion_en_toda_ruta(backend) {
        let plazo = Duration::from_millis(500);
        let app = spawn_app_with(backend, |s| s.http.cuerpo_plazo = plazo).await;

        for (ruta, cabeceras) in [
            // Before authentication, on a route that reads its body…
            ("/api/login", "Content-Type: application/json\r\nContent-Length: 100"),
            // …on one that never reads it, chunked…
            ("/api/pedidos/1/aprobar", "Transfer-Encoding: chunked"),
            // …and on a page, which is no API route at all.
            ("/index.html", "Content-Length: 100"),
        ] {
            let inicio = Instant::now();
            let (estado, cuerpo) = peticion_a_medias(&app, ruta, cabeceras).await;
            let tardo = inicio.elapsed();
            assert!(estado.starts_with("HTTP/1.1 408"), "{ruta}: {estado}");
            assert!(cuerpo.contains(r#""codigo":"cuerpo_lento""#), "{ruta}: {cuerpo}");
            assert!(tardo >= plazo && tardo < plazo + Duration::from_secs(3), "{ruta}: {tardo:?}");
        }
        // Meanwhile and after, everyone else is served.
        assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
    }

    async fn una_cabecera_que_no_llega_a_tiempo_da_408_y_cierra_la_conexion(backend) {
        let plazo = Duration::from_millis(500);
        let app = spawn_app_with(backend, |s| s.http.cabeceras_plazo = plazo).await;
        let mut tcp = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
        tcp.write_all(b"POST /api/login HTTP/1.1\r\nHost: comanda\r\nContent-Ty").await.unwrap();
        let inicio = Instant::now();
        let mut leido = Vec::new();
        tokio::time::timeout(plazo + Duration::from_secs(3), tcp.read_to_end(&mut leido))
            .await
            .expect("la conexión se cierra a tiempo")
            .unwrap();
        assert!(leido.starts_with(b"HTTP/1.1 408"), "{}", String::from_utf8_lossy(&leido));
        assert!(inicio.elapsed() < plazo + Duration::from_secs(3));
    }
    async fn las_conexiones_http_estan_acotadas_y_los_sockets_no_cuentan(backend) {
        let plazo = Duration::from_secs(1);
        let app = spawn_app_with(backend, |s| {
            s.http.conexiones = 2;
            s.http.cabeceras_plazo = plazo;
        })
        .await;
        let cadena = Cadena::nueva(app).await;
        let app = &cadena.app;
        let token = app.token("cocina1").await;
        // Upgraded sockets leave HTTP: many more than the bound stay open.
        let mut sockets = Vec::new();
        for _ in 0..5 {
            sockets.push(app.socket(&token).await);
        }
        let sin_reuso = || reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        assert_eq!(sin_reuso().get(app.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);

        // Two connections that send nothing take both places: the next one
        // waits until the head deadline frees one.
        let mut mudas = Vec::new();
        for _ in 0..2 {
            mudas.push(TcpStream::connect(("127.0.0.1", app.port)).await.unwrap());
        }
        let inicio = Instant::now();
        let r = sin_reuso().get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(inicio.elapsed() >= plazo / 2, "no esperó un lugar: {:?}", inicio.elapsed());
        for socket in &mut sockets {
            socket.ping().await;
        }
    }
    async fn una_cabecera_que_gotea_en_una_conexion_reutilizada_se_corta_a_tiempo(backend) {
        let plazo = Duration::from_millis(500);
        let app = spawn_app_with(backend, |s| s.http.cabeceras_plazo = plazo).await;
        let mut tcp = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
        // Kept alive: several requests go through on one connection.
        for _ in 0..3 {
            tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: comanda\r\n\r\n").await.unwrap();
            let mut leido = vec![0u8; 4096];
            let n = tcp.read(&mut leido).await.unwrap();
            assert!(leido[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&leido[..n]));
        }
        // The next head, a byte at a time: actix-http alone would wait for it
        // for as long as the bytes kept coming.
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nX-Goteo: ").await.unwrap();
        let inicio = Instant::now();
        let mut goteo = tokio::time::interval(Duration::from_millis(100));
        let mut leido = [0u8; 64];
        let cortada = loop {
            tokio::select! {
                _ = goteo.tick() => {
                    if tcp.write_all(b"x").await.is_err() {
                        break true;
                    }
                }
                r = tcp.read(&mut leido) => break matches!(r, Ok(0) | Err(_)),
            }
            assert!(
                inicio.elapsed() < plazo + Duration::from_secs(3),
                "la cabecera sigue goteando tras {:?}",
                inicio.elapsed()
            );
        };
        assert!(cortada, "{}", String::from_utf8_lossy(&leido));
        assert!(inicio.elapsed() >= plazo, "{:?}", inicio.elapsed());
    }
}

/// Sends a request head with `cabeceras` and a piece of its body, then
/// nothing more; answers the status line and the body of the answer, read
/// until the server closes the connection.
async fn peticion_a_medias(app: &TestApp, ruta: &str, cabeceras: &str) -> (String, String) {
    let mut tcp = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    let cabeza = format!("POST {ruta} HTTP/1.1\r\nHost: comanda\r\n{cabeceras}\r\n\r\n");
    tcp.write_all(cabeza.as_bytes()).await.unwrap();
    let trozo: &[u8] = if cabeceras.contains("chunked") {
        b"5\r\n{\"usu"
    } else {
        b"{\"usu"
    };
    tcp.write_all(trozo).await.unwrap();
    let mut leido = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut leido))
        .await
        .unwrap_or_else(|_| panic!("{ruta}: la conexión sigue abierta"))
        .unwrap();
    let texto = String::from_utf8_lossy(&leido).into_owned();
    let (cabeza, cuerpo) = texto.split_once("\r\n\r\n").unwrap_or((&texto, ""));
    (
        cabeza.lines().next().unwrap_or_default().to_owned(),
        cuerpo.to_owned(),
    )
}
