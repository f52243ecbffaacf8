//! `GET /metrics`: after real activity — logins, sockets of two roles in two
//! sucursales, alerts delivered, a replay, a slow consumer, rules that fail,
//! unknown paths — the Prometheus text parses and each series moved by
//! exactly what happened; no user name, token or message shows.
//!
//! The recorder is one per process, and the other tests of this binary run
//! their servers in parallel in this process: exact counts come from a
//! `comanda` process of its own. A server in this process is checked for
//! answering the format.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::Duration;

use comanda::config::{Settings, StoreSettings};
use comanda::modelo::{NuevoUsuario, Password, Rol, SucursalId};
use comanda::store::{Backend, Store};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{PASSWORD, TestDb, en_ambos_stores, spawn_app};
use crate::proceso::{Proceso, puerto_libre};
use crate::reglas_de_fabrica::copia_de_las_reglas;

const PLAZO: Duration = Duration::from_secs(20);
/// Frames a socket may have waiting before it is closed with 4008.
const COLA: usize = 5;

/// A scrape: every sample by series (`nombre{etiquetas ordenadas}`).
#[derive(Debug)]
struct Muestras {
    valores: HashMap<String, f64>,
}

/// One series' name and labels as the map keys them.
fn clave(nombre: &str, etiquetas: &[(&str, &str)]) -> String {
    let ordenadas: BTreeMap<&str, &str> = etiquetas.iter().copied().collect();
    let etiquetas: Vec<String> = ordenadas
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    format!("{nombre}{{{}}}", etiquetas.join(","))
}

fn nombre_valido(n: &str) -> bool {
    let mut c = n.chars();
    c.next()
        .is_some_and(|p| p.is_ascii_alphabetic() || p == '_' || p == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

impl Muestras {
    /// Parses the Prometheus text format (0.0.4) strictly enough to fail on
    /// anything a scraper would refuse: every sample belongs to a family
    /// declared with `# TYPE` before it, names and labels are well formed,
    /// values are numbers, and each series appears once.
    fn parse(texto: &str) -> Result<Self, String> {
        let mut tipos: HashMap<String, String> = HashMap::new();
        let mut valores = HashMap::new();
        for (n, linea) in texto.lines().enumerate() {
            let error = |m: &str| format!("línea {}: {m}: {linea:?}", n + 1);
            if linea.is_empty() {
                continue;
            }
            if let Some(resto) = linea.strip_prefix("# TYPE ") {
                let (nombre, tipo) = resto.split_once(' ').ok_or_else(|| error("TYPE"))?;
                if !nombre_valido(nombre)
                    || !["counter", "gauge", "histogram", "summary", "untyped"].contains(&tipo)
                {
                    return Err(error("TYPE"));
                }
                if tipos.insert(nombre.into(), tipo.into()).is_some() {
                    return Err(error("TYPE repetido"));
                }
                continue;
            }
            if let Some(resto) = linea.strip_prefix("# HELP ") {
                let (nombre, _) = resto.split_once(' ').ok_or_else(|| error("HELP"))?;
                if !nombre_valido(nombre) {
                    return Err(error("HELP"));
                }
                continue;
            }
            if linea.starts_with('#') {
                continue;
            }
            let fin_nombre = linea.find(['{', ' ']).ok_or_else(|| error("sin valor"))?;
            let nombre = &linea[..fin_nombre];
            if !nombre_valido(nombre) {
                return Err(error("nombre"));
            }
            let familia = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    nombre.strip_suffix(s).filter(|f| {
                        matches!(
                            tipos.get(*f).map(String::as_str),
                            Some("histogram" | "summary")
                        )
                    })
                })
                .unwrap_or(nombre);
            if !tipos.contains_key(familia) {
                return Err(error("muestra sin TYPE"));
            }
            let mut resto = &linea[fin_nombre..];
            let mut etiquetas: Vec<(String, String)> = Vec::new();
            if let Some(r) = resto.strip_prefix('{') {
                resto = r;
                loop {
                    if let Some(r) = resto.strip_prefix('}') {
                        resto = r;
                        break;
                    }
                    let (k, r) = resto.split_once("=\"").ok_or_else(|| error("etiqueta"))?;
                    if !nombre_valido(k) || k.contains(':') {
                        return Err(error("nombre de etiqueta"));
                    }
                    let mut valor = String::new();
                    let mut chars = r.char_indices();
                    let cierre = loop {
                        match chars.next() {
                            Some((_, '\\')) => match chars.next() {
                                Some((_, 'n')) => valor.push('\n'),
                                Some((_, c @ ('\\' | '"'))) => valor.push(c),
                                _ => return Err(error("escape")),
                            },
                            Some((i, '"')) => break i,
                            Some((_, c)) => valor.push(c),
                            None => return Err(error("etiqueta sin cerrar")),
                        }
                    };
                    etiquetas.push((k.into(), valor));
                    resto = &r[cierre + 1..];
                    resto = resto.strip_prefix(',').unwrap_or(resto);
                }
            }
            let mut partes = resto.split_ascii_whitespace();
            let valor = partes.next().ok_or_else(|| error("sin valor"))?;
            let valor: f64 = match valor {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().map_err(|_| error("valor"))?,
            };
            if let Some(marca) = partes.next() {
                marca.parse::<i64>().map_err(|_| error("marca de tiempo"))?;
            }
            let etiquetas: Vec<(&str, &str)> = etiquetas
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            if valores.insert(clave(nombre, &etiquetas), valor).is_some() {
                return Err(error("serie repetida"));
            }
        }
        Ok(Self { valores })
    }

    /// A series' value; 0 if it has not appeared yet.
    fn valor(&self, nombre: &str, etiquetas: &[(&str, &str)]) -> f64 {
        self.valores
            .get(&clave(nombre, etiquetas))
            .copied()
            .unwrap_or(0.0)
    }

    /// The number of observations of a histogram series.
    fn cuenta(&self, nombre: &str, etiquetas: &[(&str, &str)]) -> f64 {
        self.valor(&format!("{nombre}_count"), etiquetas)
    }

    /// How much a series moved since `antes`.
    fn delta(&self, antes: &Muestras, nombre: &str, etiquetas: &[(&str, &str)]) -> f64 {
        self.valor(nombre, etiquetas) - antes.valor(nombre, etiquetas)
    }
}

/// A `comanda` process of its own on a fresh database: two sucursales, and
/// the accounts below in them.
struct Servidor {
    base: String,
    http: reqwest::Client,
    proceso: Proceso,
    _db: TestDb,
    _reglas: tempfile::TempDir,
}

/// The accounts, and their roles and sucursal (1 Centro, 2 Norte).
const CUENTAS: [(&str, Rol, i64); 5] = [
    ("mx_atencion_centro", Rol::Atencion, 1),
    ("mx_cocina_centro", Rol::Cocina, 1),
    ("mx_admin_centro", Rol::Admin, 1),
    ("mx_atencion_norte", Rol::Atencion, 2),
    ("mx_cocina_norte", Rol::Cocina, 2),
];

impl Servidor {
    async fn lanzar(backend: Backend) -> Self {
        let db = TestDb::new(backend).await;
        // Accounts first: an SQLite file serves one process at a time.
        let store = Store::open(&StoreSettings {
            database_url: db.url.clone(),
            ..Settings::defaults().store
        })
        .await
        .expect("store");
        let centro = store.crear_sucursal("Centro").await.unwrap().id;
        let norte = store.crear_sucursal("Norte").await.unwrap().id;
        assert_eq!((centro, norte), (SucursalId(1), SucursalId(2)));
        for (usuario, rol, sucursal) in CUENTAS {
            comanda::cuentas::crear_usuario(
                &store,
                NuevoUsuario {
                    usuario: usuario.into(),
                    nombre: Some(format!("Nombre de {usuario}")),
                    password: Password::parse(PASSWORD.into()).unwrap(),
                    rol,
                    sucursal_id: Some(SucursalId(sucursal)),
                },
            )
            .await
            .expect("usuario");
        }
        store.close().await;

        let reglas = copia_de_las_reglas();
        let port = puerto_libre();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_comanda"));
        for var in std::env::vars().map(|(k, _)| k) {
            if var.starts_with("COMANDA_") || var == "DATABASE_URL" || var == "RUST_LOG" {
                cmd.env_remove(var);
            }
        }
        cmd.arg("serve")
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &db.url])
            .arg("--rules-dir")
            .arg(reglas.path())
            .args([
                "--static-dir",
                concat!(env!("CARGO_MANIFEST_DIR"), "/static"),
            ])
            .args(["--workers", "1", "--db-max-connections", "5"])
            .args(["--ws-cola", &COLA.to_string()])
            // A socket that says nothing stays not live, holding its
            // events: the cheap slow consumer.
            .args(["--ws-espera-reanudar", "10m"])
            .args(["--escalado-intervalo", "1h"]);
        let mut servidor = Servidor {
            base: format!("127.0.0.1:{port}"),
            http: reqwest::Client::builder().timeout(PLAZO).build().unwrap(),
            proceso: Proceso::lanzar(cmd),
            _db: db,
            _reglas: reglas,
        };
        servidor.esperar_listo().await;
        servidor
    }

    fn url(&self, ruta: &str) -> String {
        format!("http://{}{ruta}", self.base)
    }

    async fn esperar_listo(&mut self) {
        let limite = Instant::now() + PLAZO * 3;
        loop {
            if let Ok(r) = self.http.get(self.url("/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            if let Some(status) = self.proceso.termino() {
                panic!("comanda terminó ({status}):\n{}", self.proceso.salida());
            }
            assert!(Instant::now() < limite, "/readyz no respondió 200");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET /metrics`, checked and parsed; answers the text too.
    async fn metricas(&self) -> (Muestras, String) {
        let r = self.http.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let tipo = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(tipo.starts_with("text/plain; version=0.0.4"), "{tipo}");
        let texto = r.text().await.unwrap();
        let muestras = Muestras::parse(&texto)
            .unwrap_or_else(|e| panic!("/metrics no es texto de Prometheus: {e}\n{texto}"));
        (muestras, texto)
    }

    /// Scrapes until `listo` holds; panics with the last scrape after the deadline.
    async fn metricas_cuando(&self, listo: impl Fn(&Muestras) -> bool) -> (Muestras, String) {
        let limite = Instant::now() + PLAZO;
        loop {
            let (m, texto) = self.metricas().await;
            if listo(&m) {
                return (m, texto);
            }
            assert!(
                Instant::now() < limite,
                "las métricas no llegaron:\n{texto}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn login(&self, usuario: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/login"))
            .json(&json!({"usuario": usuario, "password": password}))
            .send()
            .await
            .unwrap()
    }

    async fn token(&self, usuario: &str) -> String {
        let r = self.login(usuario, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        v["token"].as_str().unwrap().to_owned()
    }

    /// A request with a bearer token; answers its status and body.
    async fn pedir(
        &self,
        metodo: reqwest::Method,
        ruta: &str,
        token: &str,
        cuerpo: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.http.request(metodo, self.url(ruta)).bearer_auth(token);
        if let Some(c) = cuerpo {
            r = r.json(&c);
        }
        let r = r.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A kitchen alert from the desk of `token`.
    async fn alerta(&self, token: &str, mensaje: &str) {
        let (status, cuerpo) = self
            .pedir(
                reqwest::Method::POST,
                "/api/alertas",
                token,
                Some(json!({"mensaje": mensaje})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{cuerpo}");
    }

    async fn socket(&self, token: &str) -> Pantalla {
        let mut req = format!("ws://{}/ws", self.base)
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(req).await.expect("socket");
        let mut pantalla = Pantalla { ws };
        let hola = pantalla.siguiente().await.expect("hola");
        assert_eq!(hola["type"], "hola");
        pantalla
    }
}

/// A screen's socket.
struct Pantalla {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Pantalla {
    /// The next JSON frame, or the close code.
    async fn siguiente(&mut self) -> Result<Value, u16> {
        loop {
            match tokio::time::timeout(PLAZO, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => return Ok(serde_json::from_str(&t).unwrap()),
                Ok(Some(Ok(Message::Close(c)))) => {
                    return Err(c.map_or(1005, |c| u16::from(c.code)));
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) => return Err(1006),
                Err(_) => panic!("ningún frame en {PLAZO:?}"),
            }
        }
    }

    /// The next frame of `tipo` (others are skipped).
    async fn esperar(&mut self, tipo: &str) -> Value {
        loop {
            let v = self.siguiente().await.expect("el socket sigue abierto");
            if v["type"] == tipo {
                return v;
            }
        }
    }

    async fn enviar(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }

    /// Live now: a `ping` answered.
    async fn en_vivo(&mut self) {
        self.enviar(json!({"type": "ping"})).await;
        self.esperar("pong").await;
    }

    /// The close code, skipping what comes before it.
    async fn cierre(&mut self) -> u16 {
        loop {
            if let Err(codigo) = self.siguiente().await {
                return codigo;
            }
        }
    }
}

const SESIONES: &str = "comanda_ws_sessions";
const PUBLICADOS: &str = "comanda_events_published_total";
const ENTREGAS: &str = "comanda_deliveries_total";
const DESCARTADAS: &str = "comanda_deliveries_dropped_total";
const LENTOS: &str = "comanda_ws_slow_consumer_closes_total";
const FALLOS: &str = "comanda_rule_failures_total";
const EVALUACIONES: &str = "comanda_rule_evaluations_total";
const PETICIONES: &str = "comanda_http_requests_total";

fn sesiones(m: &Muestras, sucursal: &str, rol: &str) -> f64 {
    m.valor(SESIONES, &[("sucursal_id", sucursal), ("rol", rol)])
}

fn peticiones(m: &Muestras, ruta: &str, metodo: &str, status: &str) -> f64 {
    m.valor(
        PETICIONES,
        &[("route", ruta), ("method", metodo), ("status", status)],
    )
}

en_ambos_stores! {
    async fn las_metricas_cuentan_exactamente_lo_que_paso_y_a_nadie(backend) {
        let s = Servidor::lanzar(backend).await;
        let (m0, _) = s.metricas().await;
        let d = |m: &Muestras, nombre: &str, etiquetas: &[(&str, &str)]| m.delta(&m0, nombre, etiquetas);

        // Five logins, and one wrong password.
        let mut tokens = HashMap::new();
        for (usuario, _, _) in CUENTAS {
            tokens.insert(usuario, s.token(usuario).await);
        }
        let mal = s.login("mx_cocina_norte", "no-es-la-contraseña").await;
        assert_eq!(mal.status(), StatusCode::UNAUTHORIZED);

        // Sockets of two roles in two sucursales; the one in Norte never
        // speaks, so it stays not live.
        let mut cocina = s.socket(&tokens["mx_cocina_centro"]).await;
        cocina.en_vivo().await;
        let mut atencion = s.socket(&tokens["mx_atencion_centro"]).await;
        atencion.en_vivo().await;
        let mut callada = s.socket(&tokens["mx_cocina_norte"]).await;

        // The desk alerts the kitchen: the rules decide, one screen receives it.
        const MENSAJE: &str = "Mesa 4: sin cebolla, alergia";
        s.alerta(&tokens["mx_atencion_centro"], MENSAJE).await;
        let evento = cocina.esperar("evento").await;
        assert_eq!(evento["tipo"], "alerta_cocina");
        let id = evento["id"].as_i64().unwrap();

        // A second kitchen screen resumes from just before it: a replay of one.
        let mut otra_cocina = s.socket(&tokens["mx_cocina_centro"]).await;
        otra_cocina.enviar(json!({"type": "reanudar", "ultimo_id": id - 1})).await;
        assert_eq!(otra_cocina.esperar("evento").await["id"], id);

        // A page, and unknown paths under the API and outside it.
        let r = s.http.get(s.url("/cocina.html")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        for ruta in ["/api/no-existe", "/api/pedidos/123/desaprobar", "/no-existe.html"] {
            let r = s.http.get(s.url(ruta)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{ruta}");
        }

        let (m1, texto) = s.metricas().await;
        assert_eq!(sesiones(&m1, "1", "cocina"), 2.0);
        assert_eq!(sesiones(&m1, "1", "atencion"), 1.0);
        assert_eq!(sesiones(&m1, "2", "cocina"), 1.0);
        assert_eq!(sesiones(&m1, "2", "atencion"), 0.0);
        assert_eq!(d(&m1, PUBLICADOS, &[("tipo", "alerta_cocina")]), 1.0);
        assert_eq!(d(&m1, ENTREGAS, &[]), 1.0, "a la cocina de Centro, a nadie más");
        assert_eq!(d(&m1, DESCARTADAS, &[]), 0.0);
        assert_eq!(d(&m1, LENTOS, &[]), 0.0);
        assert_eq!(d(&m1, "comanda_ws_replay_events_count", &[]), 1.0);
        assert_eq!(d(&m1, "comanda_ws_replay_events_sum", &[]), 1.0);
        assert_eq!(d(&m1, EVALUACIONES, &[("regla", "prioridad")]), 1.0);
        assert_eq!(d(&m1, EVALUACIONES, &[("regla", "destinos")]), 1.0);
        assert_eq!(m1.cuenta("comanda_rule_duration_seconds", &[("regla", "prioridad")])
            - m0.cuenta("comanda_rule_duration_seconds", &[("regla", "prioridad")]), 1.0);
        assert_eq!(m1.cuenta("comanda_store_duration_seconds", &[("operation", "publicar")])
            - m0.cuenta("comanda_store_duration_seconds", &[("operation", "publicar")]), 1.0);
        assert_eq!(m1.cuenta("comanda_store_duration_seconds", &[("operation", "eventos_desde")])
            - m0.cuenta("comanda_store_duration_seconds", &[("operation", "eventos_desde")]), 1.0);
        assert!(m1.cuenta("comanda_store_duration_seconds", &[("operation", "usuario_de_sesion")]) >= 5.0);
        assert_eq!(d(&m1, "comanda_store_errors_total", &[("operation", "publicar")]), 0.0);

        assert_eq!(peticiones(&m1, "/api/login", "POST", "200") - peticiones(&m0, "/api/login", "POST", "200"), 5.0);
        assert_eq!(peticiones(&m1, "/api/login", "POST", "401") - peticiones(&m0, "/api/login", "POST", "401"), 1.0);
        assert_eq!(peticiones(&m1, "/api/alertas", "POST", "201") - peticiones(&m0, "/api/alertas", "POST", "201"), 1.0);
        assert_eq!(peticiones(&m1, "/ws", "GET", "101") - peticiones(&m0, "/ws", "GET", "101"), 4.0);
        assert_eq!(peticiones(&m1, "desconocida", "GET", "404") - peticiones(&m0, "desconocida", "GET", "404"), 3.0,
            "las rutas desconocidas comparten una serie:\n{texto}");
        assert_eq!(peticiones(&m1, "/{pagina}", "GET", "200") - peticiones(&m0, "/{pagina}", "GET", "200"), 1.0);
        assert_eq!(peticiones(&m0, "/metrics", "GET", "200"), 0.0, "la propia lectura cuenta después");
        assert_eq!(peticiones(&m1, "/metrics", "GET", "200"), 1.0);
        assert_eq!(m1.cuenta("comanda_http_request_duration_seconds", &[("route", "/api/login"), ("method", "POST")])
            - m0.cuenta("comanda_http_request_duration_seconds", &[("route", "/api/login"), ("method", "POST")]), 6.0);
        for ruta in ["/api/no-existe", "desaprobar", "/api/pedidos/123", "no-existe.html", "cocina.html"] {
            assert!(!texto.contains(ruta), "una ruta cruda en las métricas: {ruta}");
        }

        // The slow consumer: Norte's silent kitchen holds what it is sent,
        // and one alert past its bound closes it with 4008.
        let antes = m1;
        for n in 0..=COLA {
            s.alerta(&tokens["mx_atencion_norte"], &format!("Norte {n}")).await;
        }
        assert_eq!(callada.cierre().await, 4008);
        let (m2, _) = s.metricas_cuando(|m| sesiones(m, "2", "cocina") == 0.0).await;
        assert_eq!(m2.delta(&antes, LENTOS, &[]), 1.0);
        assert_eq!(m2.delta(&antes, DESCARTADAS, &[]), 1.0, "el evento que desbordó la cola");
        assert_eq!(m2.delta(&antes, ENTREGAS, &[]), (COLA + 1) as f64);
        assert_eq!(m2.delta(&antes, PUBLICADOS, &[("tipo", "alerta_cocina")]), (COLA + 1) as f64);
        assert_eq!(sesiones(&m2, "1", "cocina"), 2.0, "las demás siguen");

        // Rules that fail: one that never ends, one that answers nonsense,
        // one that does not compile. The default decides; each is counted.
        let antes = m2;
        let admin = &tokens["mx_admin_centro"];
        for (fuente, status) in [
            ("fn prioridad(alerta) { loop { } }", StatusCode::OK),
            ("fn prioridad(alerta) { \"rojo\" }", StatusCode::OK),
            ("fn prioridad(alerta) { ", StatusCode::UNPROCESSABLE_ENTITY),
        ] {
            let (r, cuerpo) = s
                .pedir(reqwest::Method::PUT, "/api/reglas/prioridad", admin, Some(json!({"fuente": fuente})))
                .await;
            assert_eq!(r, status, "{cuerpo}");
            if r == StatusCode::OK {
                s.alerta(&tokens["mx_atencion_centro"], MENSAJE).await;
                cocina.esperar("evento").await;
            }
        }
        // The `regla_fallida` events are published after the alert, apart.
        let (m3, texto) = s
            .metricas_cuando(|m| m.delta(&antes, PUBLICADOS, &[("tipo", "regla_fallida")]) == 2.0)
            .await;
        let fallos = |causa| m3.delta(&antes, FALLOS, &[("regla", "prioridad"), ("causa", causa)]);
        assert_eq!(fallos("tiempo_agotado"), 1.0);
        assert_eq!(fallos("ejecucion"), 1.0);
        assert_eq!(fallos("compilacion"), 1.0);
        assert_eq!(m3.delta(&antes, EVALUACIONES, &[("regla", "prioridad")]), 2.0);
        assert_eq!(m3.delta(&antes, PUBLICADOS, &[("tipo", "regla_actualizada")]), 2.0);
        assert_eq!(m3.delta(&antes, PUBLICADOS, &[("tipo", "alerta_cocina")]), 2.0);
        assert_eq!(m3.delta(&antes, ENTREGAS, &[]), 4.0, "dos alertas a dos pantallas de cocina");

        // Nobody in it: no user name, name, password, token or message.
        for (usuario, _, _) in CUENTAS {
            assert!(!texto.contains(usuario), "{usuario} en las métricas");
            assert!(!texto.contains(&tokens[usuario]), "el token de {usuario} en las métricas");
        }
        for secreto in [PASSWORD, "Nombre de", "cebolla", "alergia", "Norte 0", "rojo", "127.0.0.1"] {
            assert!(!texto.contains(secreto), "{secreto:?} en las métricas");
        }
        drop((atencion, otra_cocina));
    }

    async fn un_servidor_en_este_proceso_tambien_sirve_metrics(backend) {
        // Several servers share the process's recorder: each answers it.
        let app = spawn_app(backend).await;
        let otro = spawn_app(backend).await;
        for app in [&app, &otro] {
            let r = app.client.get(app.url("/api/no-existe")).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND);
            let r = app.client.get(app.url("/metrics")).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let texto = r.text().await.unwrap();
            let m = Muestras::parse(&texto).unwrap_or_else(|e| panic!("{e}\n{texto}"));
            assert!(peticiones(&m, "desconocida", "GET", "404") >= 1.0, "{texto}");
            assert!(texto.contains("# HELP comanda_http_requests_total "));
        }
    }
}

#[test]
fn el_analizador_rechaza_lo_que_prometheus_rechazaria() {
    let bien = "# HELP a_total Algo.\n# TYPE a_total counter\na_total{x=\"1\",y=\"d\\\"e\"} 3\n\
                # TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.5\nh_count 2\n";
    let m = Muestras::parse(bien).unwrap();
    assert_eq!(m.valor("a_total", &[("y", "d\"e"), ("x", "1")]), 3.0);
    assert_eq!(m.cuenta("h", &[]), 2.0);
    for mal in [
        "a_total 1\n",
        "# TYPE a counter\na{x=\"1} 1\n",
        "# TYPE a counter\na uno\n",
        "# TYPE a counter\na 1\na 2\n",
        "# TYPE 1a counter\n",
    ] {
        assert!(Muestras::parse(mal).is_err(), "{mal:?}");
    }
}
