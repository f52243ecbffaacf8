//! What crossing nodes adds to a delivery (design §10): two real `comanda`
//! processes on one fresh Postgres database, a kitchen screen on each, and
//! the desk publishing kitchen alerts on node A through the HTTP API at a
//! steady rate. Node A hands its own commits to its screens at once; node B
//! learns of them by NOTIFY and reads the rows. Reports publish → screen on
//! A and on B, and B − A per event; fails if a screen lost or repeated one.
//!
//! `cargo bench --bench nodos` — `BENCH_N` alerts (1000) at `BENCH_RATE` per
//! second (100), on the server of `BENCH_DATABASE_URL`
//! (`postgres://postgres@127.0.0.1:5432/postgres`, trust auth).

use std::io::Read;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Resultado<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const BINARIO: &str = env!("CARGO_BIN_EXE_comanda");
const REGLAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
const PAGINAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/static");
const PASSWORD: &str = "conychips";
/// The alert both screens must see before timing starts: the first frames
/// after a `reanudar` may wait up to 40 ms on a delayed TCP acknowledgement.
const PRIMERA: &str = "bench calentar";
/// The alert published after the others: a screen that has it has had every
/// chance to get them all (a session's events arrive in id order).
const ULTIMA: &str = "bench fin";
/// How long a node may take to start (node A migrates the database).
const ARRANQUE: Duration = Duration::from_secs(60);
/// How long delivery may lag behind the end of publishing.
const ENTREGA: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(medir()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("nodos: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Answers whether every screen got every alert exactly once.
async fn medir() -> Resultado<bool> {
    let n: usize = variable("BENCH_N", 1000)?;
    let ritmo: u32 = variable("BENCH_RATE", 100)?;
    if n == 0 || ritmo == 0 {
        return Err("BENCH_N y BENCH_RATE deben ser mayores que 0".into());
    }
    let admin = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());

    // Declared first, dropped last: the nodes are killed before the database goes.
    let base = Base::nueva(&admin).await?;
    let reglas = copia_de_las_reglas()?;
    let a = Nodo::arrancar("a", &base.url, reglas.path(), true).await?;
    let b = Nodo::arrancar("b", &base.url, reglas.path(), false).await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()?;
    let desk = login(&http, &a, "atencion1").await?;
    let cocina = login(&http, &a, "cocina1").await?;

    let mut ws_a = socket(&a, &cocina).await?;
    let mut ws_b = socket(&b, &cocina).await?;
    alerta(&http, &a, &desk, PRIMERA.into()).await?;
    esperar_alerta(&mut ws_a, PRIMERA).await?;
    esperar_alerta(&mut ws_b, PRIMERA).await?;
    let (parar, parado) = watch::channel(false);
    let pantalla_a = tokio::spawn(escuchar(ws_a, n, parado.clone()));
    let pantalla_b = tokio::spawn(escuchar(ws_b, n, parado));

    println!(
        "nodos: {n} alertas a {ritmo}/s en el nodo a (:{}), pantallas de cocina en a y b (:{})",
        a.puerto, b.puerto
    );
    let publicado = publicar(&http, &a, &desk, n, ritmo).await?;
    tokio::spawn(async move {
        tokio::time::sleep(ENTREGA).await;
        let _ = parar.send(true);
    });
    let llegadas_a = pantalla_a.await?;
    let llegadas_b = pantalla_b.await?;

    Ok(informar(&publicado, &llegadas_a, &llegadas_b, n))
}

fn variable<T: std::str::FromStr>(nombre: &str, por_defecto: T) -> Resultado<T> {
    match std::env::var(nombre) {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("{nombre}={v}: no es un número válido").into()),
        Err(_) => Ok(por_defecto),
    }
}

// ── The database and the nodes ──────────────────────────────────────────────

/// A database of the bench's own, dropped with it (also on a panic).
struct Base {
    url: String,
    nombre: String,
    admin: String,
}

impl Base {
    async fn nueva(admin: &str) -> Resultado<Self> {
        let mut conn = PgConnection::connect(admin)
            .await
            .map_err(|e| format!("Postgres no responde en {admin}: {e}"))?;
        let sello = std::time::UNIX_EPOCH
            .elapsed()
            .unwrap_or_default()
            .as_millis();
        let nombre = format!("comanda_bench_{}_{sello}", std::process::id());
        sqlx::query(sqlx::AssertSqlSafe(format!(
            r#"CREATE DATABASE "{nombre}""#
        )))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        let (servidor, _) = admin
            .rsplit_once('/')
            .ok_or("BENCH_DATABASE_URL debe nombrar una base")?;
        Ok(Base {
            url: format!("{servidor}/{nombre}"),
            nombre,
            admin: admin.to_owned(),
        })
    }
}

impl Drop for Base {
    fn drop(&mut self) {
        let (admin, nombre) = (self.admin.clone(), self.nombre.clone());
        // Drop runs inside the bench's runtime, which can't block on itself.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin).await?;
                let sql = format!(r#"DROP DATABASE IF EXISTS "{nombre}" WITH (FORCE)"#);
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .map(drop)
            })
            .map_err(std::io::Error::other)
        })
        .join();
    }
}

/// A writable copy of the shipped rules, shared by both nodes.
fn copia_de_las_reglas() -> Resultado<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    for entrada in std::fs::read_dir(REGLAS)? {
        let ruta = entrada?.path();
        if let Some(nombre) = ruta.file_name() {
            std::fs::copy(&ruta, dir.path().join(nombre))?;
        }
    }
    Ok(dir)
}

/// A `comanda` process, killed when dropped.
struct Nodo {
    nombre: &'static str,
    puerto: u16,
    proceso: Child,
    /// stdout and stderr as they arrive.
    salida: Arc<Mutex<String>>,
}

impl Nodo {
    /// Starts it on a free port, reads the port from its `comanda escuchando`
    /// log line and waits for `/readyz`.
    async fn arrancar(
        nombre: &'static str,
        base: &str,
        reglas: &std::path::Path,
        demo: bool,
    ) -> Resultado<Self> {
        let mut cmd = Command::new(BINARIO);
        cmd.args(["--nodo", nombre, "--bind", "127.0.0.1:0"])
            .args(["--database-url", base])
            .arg("--rules-dir")
            .arg(reglas)
            .args(["--static-dir", PAGINAS, "--log-format", "json"])
            .env("RUST_LOG", "warn,comanda=info")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (var, _) in std::env::vars_os() {
            if var.to_str().is_some_and(|v| v.starts_with("COMANDA_")) {
                cmd.env_remove(var);
            }
        }
        if demo {
            cmd.arg("--demo");
        }
        let mut proceso = cmd.spawn()?;
        let salida = Arc::new(Mutex::new(String::new()));
        leer(proceso.stdout.take(), salida.clone());
        leer(proceso.stderr.take(), salida.clone());
        let mut nodo = Nodo {
            nombre,
            puerto: 0,
            proceso,
            salida,
        };

        let limite = Instant::now() + ARRANQUE;
        while nodo.puerto == 0 {
            if let Some(status) = nodo.proceso.try_wait()? {
                return Err(nodo.fallo(&format!("terminó al arrancar ({status})")));
            }
            if Instant::now() > limite {
                return Err(nodo.fallo("no dijo «comanda escuchando»"));
            }
            nodo.puerto = puerto_anunciado(&nodo.salida.lock().unwrap()).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let http = reqwest::Client::new();
        loop {
            let listo = http.get(nodo.url("/readyz")).send().await;
            if listo.is_ok_and(|r| r.status().is_success()) {
                return Ok(nodo);
            }
            if Instant::now() > limite {
                return Err(nodo.fallo("/readyz no respondió 200"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.puerto)
    }

    fn fallo(&self, que: &str) -> Box<dyn std::error::Error + Send + Sync> {
        let salida = self.salida.lock().unwrap();
        format!("el nodo {} {que}:\n{salida}", self.nombre).into()
    }
}

impl Drop for Nodo {
    fn drop(&mut self) {
        let _ = self.proceso.kill();
        let _ = self.proceso.wait();
    }
}

/// Collects a pipe on a thread, so the node never blocks on a full one.
fn leer(pipe: Option<impl Read + Send + 'static>, destino: Arc<Mutex<String>>) {
    let Some(mut pipe) = pipe else { return };
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n @ 1..) = pipe.read(&mut buf) {
            destino
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
}

/// `"port":N` of the JSON line that says `comanda escuchando`.
fn puerto_anunciado(registro: &str) -> Option<u16> {
    let linea = registro
        .lines()
        .find(|l| l.contains("comanda escuchando"))?;
    let v: Value = serde_json::from_str(linea).ok()?;
    v["port"].as_u64()?.try_into().ok()
}

// ── The clients ─────────────────────────────────────────────────────────────

async fn login(http: &reqwest::Client, nodo: &Nodo, usuario: &str) -> Resultado<String> {
    let r = http
        .post(nodo.url("/api/login"))
        .json(&json!({"usuario": usuario, "password": PASSWORD}))
        .send()
        .await?
        .error_for_status()?;
    let body: Value = r.json().await?;
    let token = body["token"].as_str().ok_or("login sin token")?;
    Ok(token.to_owned())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A screen on `nodo`: connected, greeted, and live from `hola`'s id.
async fn socket(nodo: &Nodo, token: &str) -> Resultado<Socket> {
    let mut req = format!("ws://127.0.0.1:{}/ws", nodo.puerto).into_client_request()?;
    req.headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
    let hola = siguiente(&mut ws).await?;
    if hola["type"] != "hola" {
        return Err(format!("el primer frame no es hola: {hola}").into());
    }
    let reanudar = json!({"type": "reanudar", "ultimo_id": hola["ultimo_id"]});
    ws.send(Message::text(reanudar.to_string())).await?;
    Ok(ws)
}

/// The next JSON text frame, within 10 s.
async fn siguiente(ws: &mut Socket) -> Resultado<Value> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .map_err(|_| "ningún frame en 10 s")?;
        if let Message::Text(texto) = frame.ok_or("el socket se cerró")?? {
            return Ok(serde_json::from_str(&texto)?);
        }
    }
}

/// The `mensaje` of an `alerta_cocina` event frame.
fn mensaje_de_alerta(frame: &Value) -> Option<&str> {
    if frame["type"] != "evento" || frame["tipo"] != "alerta_cocina" {
        return None;
    }
    frame["payload"]["mensaje"].as_str()
}

/// Reads `ws` until the alert `mensaje` arrives.
async fn esperar_alerta(ws: &mut Socket, mensaje: &str) -> Resultado<()> {
    while mensaje_de_alerta(&siguiente(ws).await?) != Some(mensaje) {}
    Ok(())
}

/// Every arrival of alert `i` on one screen, and whether [`ULTIMA`] came.
struct Llegadas {
    de: Vec<Vec<Instant>>,
    completa: bool,
}

/// Reads one screen until [`ULTIMA`] arrives or `parado` says stop.
async fn escuchar(mut ws: Socket, n: usize, mut parado: watch::Receiver<bool>) -> Llegadas {
    let mut llegadas = Llegadas {
        de: vec![Vec::new(); n],
        completa: false,
    };
    loop {
        let frame = tokio::select! {
            frame = ws.next() => frame,
            _ = parado.changed() => return llegadas,
        };
        let ahora = Instant::now();
        let texto = match frame {
            Some(Ok(Message::Text(texto))) => texto,
            Some(Ok(Message::Close(_)) | Err(_)) | None => {
                eprintln!("nodos: el socket se cerró: {frame:?}");
                return llegadas;
            }
            Some(Ok(_)) => continue,
        };
        let Ok(frame) = serde_json::from_str::<Value>(&texto) else {
            continue;
        };
        let Some(mensaje) = mensaje_de_alerta(&frame) else {
            continue;
        };
        if mensaje == ULTIMA {
            llegadas.completa = true;
            return llegadas;
        }
        let i = mensaje.strip_prefix("bench ").and_then(|i| i.parse().ok());
        if let Some(i) = i.filter(|&i: &usize| i < n) {
            llegadas.de[i].push(ahora);
        }
    }
}

/// When each alert was sent, and how long its POST took.
struct Publicado {
    enviada: Vec<Instant>,
    respuesta: Vec<Duration>,
}

/// Posts `n` alerts on `nodo` at `ritmo` per second, each on a task of its
/// own (a slow answer never delays the next), then [`ULTIMA`].
async fn publicar(
    http: &reqwest::Client,
    nodo: &Nodo,
    token: &str,
    n: usize,
    ritmo: u32,
) -> Resultado<Publicado> {
    let mut reloj = tokio::time::interval(Duration::from_secs(1) / ritmo);
    let mut tareas = Vec::with_capacity(n);
    let inicio = Instant::now();
    for i in 0..n {
        reloj.tick().await;
        tareas.push(tokio::spawn(alerta(
            http,
            nodo,
            token,
            format!("bench {i}"),
        )));
        if (i + 1) % ritmo as usize == 0 || i + 1 == n {
            println!(
                "  publicadas {:>6}/{n}  ({:.1} s)",
                i + 1,
                inicio.elapsed().as_secs_f64()
            );
        }
    }
    let mut publicado = Publicado {
        enviada: Vec::with_capacity(n),
        respuesta: Vec::with_capacity(n),
    };
    for tarea in tareas {
        let (enviada, respuesta) = tarea.await??;
        publicado.enviada.push(enviada);
        publicado.respuesta.push(respuesta);
    }
    alerta(http, nodo, token, ULTIMA.into()).await?;
    Ok(publicado)
}

/// One `POST /api/alertas` as the desk sends it: when it was sent, and how
/// long the answer took. The future owns what it needs (it may be spawned).
fn alerta(
    http: &reqwest::Client,
    nodo: &Nodo,
    token: &str,
    mensaje: String,
) -> impl Future<Output = Result<(Instant, Duration), String>> + use<> {
    let peticion = http
        .post(nodo.url("/api/alertas"))
        .bearer_auth(token)
        .json(&json!({"mensaje": mensaje, "prioridad": "normal"}));
    async move {
        let enviada = Instant::now();
        let r = peticion.send().await.map_err(|e| e.to_string())?;
        if r.status() != reqwest::StatusCode::CREATED {
            return Err(format!("{mensaje}: {}", r.status()));
        }
        Ok((enviada, enviada.elapsed()))
    }
}

// ── The report ──────────────────────────────────────────────────────────────

/// Prints the figures; answers whether both screens got every alert once.
fn informar(publicado: &Publicado, a: &Llegadas, b: &Llegadas, n: usize) -> bool {
    let desde_envio = |llegadas: &Llegadas| -> Vec<f64> {
        (0..n)
            .filter_map(|i| Some(ms(*llegadas.de[i].first()? - publicado.enviada[i])))
            .collect()
    };
    let anadida: Vec<f64> = (0..n)
        .filter_map(|i| {
            let (a, b) = (*a.de[i].first()?, *b.de[i].first()?);
            Some(if b >= a { ms(b - a) } else { -ms(a - b) })
        })
        .collect();
    let respuesta: Vec<f64> = publicado.respuesta.iter().copied().map(ms).collect();

    println!("\nlatencia (ms)              p50      p90      p99      max");
    linea("POST /api/alertas", respuesta);
    linea("publicar → pantalla en a", desde_envio(a));
    linea("publicar → pantalla en b", desde_envio(b));
    let anadida = ordenadas(anadida);
    println!(
        "añadida por cruzar (b − a): p50 {:.2} ms, p99 {:.2} ms",
        percentil(&anadida, 50.0),
        percentil(&anadida, 99.0)
    );

    println!("\npantalla  esperadas  recibidas  perdidas  duplicadas");
    let mut bien = true;
    for (nombre, llegadas) in [("a", a), ("b", b)] {
        let recibidas = llegadas.de.iter().filter(|l| !l.is_empty()).count();
        let duplicadas: usize = llegadas.de.iter().map(|l| l.len().saturating_sub(1)).sum();
        let perdidas = n - recibidas;
        println!("{nombre:<9} {n:>9}  {recibidas:>9}  {perdidas:>8}  {duplicadas:>10}");
        if !llegadas.completa {
            println!("  la pantalla en {nombre} no llegó a «{ULTIMA}»");
        }
        bien &= perdidas == 0 && duplicadas == 0 && llegadas.completa;
    }
    bien
}

fn linea(que: &str, valores: Vec<f64>) {
    let v = ordenadas(valores);
    println!(
        "{que:<25} {:>7.2}  {:>7.2}  {:>7.2}  {:>7.2}",
        percentil(&v, 50.0),
        percentil(&v, 90.0),
        percentil(&v, 99.0),
        percentil(&v, 100.0)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ordenadas(mut valores: Vec<f64>) -> Vec<f64> {
    valores.sort_by(f64::total_cmp);
    valores
}

/// Nearest rank; NaN when there is nothing to rank.
fn percentil(ordenadas: &[f64], p: f64) -> f64 {
    if ordenadas.is_empty() {
        return f64::NAN;
    }
    let rango = (p / 100.0 * ordenadas.len() as f64).ceil() as usize;
    ordenadas[rango.clamp(1, ordenadas.len()) - 1]
}
