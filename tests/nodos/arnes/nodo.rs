//! `comanda serve` as an operator runs it on several machines: real
//! processes on ports of their own, one database, short timings.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::base::BaseDeDatos;
use super::proceso::Proceso;
use super::reglas::copia_de_las_reglas;

const BINARIO: &str = env!("CARGO_BIN_EXE_comanda");
const PAGINAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/static");

/// The password of every `--demo` account (`cuentas::DEMO_PASSWORD`).
pub const DEMO_PASSWORD: &str = "conychips";

/// How long a node may take to start (the first one migrates the database).
const ARRANQUE: Duration = Duration::from_secs(60);

/// The node timings a test chooses.
#[derive(Debug, Clone, Copy)]
pub struct Ajustes {
    /// `--nodos-latido`.
    pub latido: &'static str,
    /// `--ponerse-al-dia`: a long one leaves NOTIFY as the only quick way
    /// for one node to learn of another's events.
    pub ponerse_al_dia: &'static str,
}

impl Default for Ajustes {
    fn default() -> Self {
        Self {
            latido: "200ms",
            ponerse_al_dia: "500ms",
        }
    }
}

/// `comanda` with an environment that can't leak into the test.
pub fn comanda() -> Command {
    let mut cmd = Command::new(BINARIO);
    for (var, _) in std::env::vars_os() {
        if var
            .to_str()
            .is_some_and(|v| v.starts_with("COMANDA_") || v == "DATABASE_URL" || v == "RUST_LOG")
        {
            cmd.env_remove(var);
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

/// `comanda serve` on a free port, logging JSON lines (the port is read from
/// them), with the given node id and timings.
pub fn serve(database_url: &str, reglas: &Path, id: &str, ajustes: Ajustes) -> Command {
    serve_en("127.0.0.1:0", database_url, reglas, id, ajustes)
}

/// [`serve`] on `bind`: a node restarted where its clients knew it.
pub fn serve_en(
    bind: &str,
    database_url: &str,
    reglas: &Path,
    id: &str,
    ajustes: Ajustes,
) -> Command {
    let mut cmd = comanda();
    cmd.arg("serve")
        .args(["--bind", bind])
        .args(["--database-url", database_url])
        .arg("--rules-dir")
        .arg(reglas)
        .args(["--static-dir", PAGINAS])
        .args(["--log-format", "json"])
        .args(["--workers", "2"])
        .args(["--db-max-connections", "4"])
        .args(["--nodo", id])
        .args(["--nodos-latido", ajustes.latido])
        .args(["--ponerse-al-dia", ajustes.ponerse_al_dia])
        // Several publishers share one `servicio` login per node and publish
        // as fast as they can: the runs measure delivery, not the rate limit.
        .args(["--servicio-eventos-por-segundo", "100000"])
        .args(["--servicio-rafaga", "100000"]);
    cmd
}

/// A running node.
pub struct Nodo {
    pub id: String,
    pub puerto: u16,
    proceso: Proceso,
    http: reqwest::Client,
}

impl std::fmt::Debug for Nodo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (:{})", self.id, self.puerto)
    }
}

impl Nodo {
    /// Launches `cmd`, reads the port it logs, and waits for `/readyz`.
    pub async fn arrancar(id: &str, cmd: Command) -> Nodo {
        let mut proceso = Proceso::lanzar(cmd);
        let limite = Instant::now() + ARRANQUE;
        let puerto = loop {
            if let Some(p) = puerto_anunciado(&proceso.stderr()) {
                break p;
            }
            if let Some(status) = proceso.termino() {
                panic!(
                    "el nodo {id} terminó al arrancar ({status}):\n{}",
                    proceso.salida()
                );
            }
            assert!(
                Instant::now() < limite,
                "el nodo {id} no dijo «comanda escuchando» en {ARRANQUE:?}:\n{}",
                proceso.salida()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let nodo = Nodo {
            id: id.to_owned(),
            puerto,
            proceso,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .unwrap(),
        };
        nodo.esperar_listo(limite).await;
        nodo
    }

    async fn esperar_listo(&self, limite: Instant) {
        loop {
            if let Ok(r) = self.http.get(self.url("/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                Instant::now() < limite,
                "/readyz de {} no respondió 200:\n{}",
                self.id,
                self.proceso.salida()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.puerto)
    }

    /// The last `lineas` lines of its log that say something about the
    /// realtime path (logins, accounts and rules left out), one short line
    /// each, for failure messages.
    pub fn registro(&self, lineas: usize) -> String {
        let utiles: Vec<String> = self
            .proceso
            .stderr()
            .lines()
            .filter_map(linea_breve)
            .collect();
        utiles[utiles.len().saturating_sub(lineas)..].join("\n")
    }

    /// SIGKILL, as a crash or the OOM killer ends it: no close frames, no
    /// goodbye in `nodos`. (The process is reaped when the node is dropped.)
    pub fn matar(&self) {
        let pid = self.proceso.pid().to_string();
        let ok = Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -KILL {pid} ({})", self.id);
    }

    /// Logs a demo account in and answers its bearer token.
    pub async fn token(&self, usuario: &str) -> String {
        let r = self
            .http
            .post(self.url("/api/login"))
            .json(&json!({"usuario": usuario, "password": DEMO_PASSWORD}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("login de {usuario} en {}: {e}", self.id));
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "login de {usuario} en {}",
            self.id
        );
        let body: Value = r.json().await.unwrap();
        body["token"].as_str().expect("token").to_owned()
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Result<reqwest::Response> {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
    }

    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: &Value,
    ) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
    }

    pub async fn patch(
        &self,
        path: &str,
        token: &str,
        body: &Value,
    ) -> reqwest::Result<reqwest::Response> {
        self.http
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
    }

    /// `GET /api/estadisticas`, which must answer 200.
    pub async fn estadisticas(&self, token: &str) -> Value {
        let r = self
            .get("/api/estadisticas", token)
            .await
            .unwrap_or_else(|e| panic!("estadisticas de {}: {e}", self.id));
        assert_eq!(r.status(), StatusCode::OK, "estadisticas de {}", self.id);
        r.json().await.expect("estadisticas JSON")
    }
}

// Stopping a node as a service manager does: the fault tests
// (`tests/fallos`, which share this harness) use it.
#[allow(dead_code)]
impl Nodo {
    /// SIGTERM, as a service manager stops it.
    pub fn terminar(&self) {
        self.proceso.terminar();
    }

    /// Waits for the process to exit, up to `plazo` (then the test fails).
    pub async fn esperar_fin(&mut self, plazo: Duration) -> std::process::ExitStatus {
        self.proceso.esperar_fin(plazo).await
    }

    /// Everything it wrote so far, for failure messages.
    pub fn salida(&self) -> String {
        self.proceso.salida()
    }

    /// Its process id, to read its `/proc/<pid>/status`.
    pub fn pid(&self) -> u32 {
        self.proceso.pid()
    }
}

/// Log messages that say nothing about events crossing nodes.
const RUIDO: [&str; 4] = [
    "sesión iniciada",
    "usuario creado",
    "regla en vigor",
    "vigilando las reglas",
];

/// A JSON log line as `time LEVEL message field=value…`, without its spans;
/// `None` for [`RUIDO`]. Other lines pass as they are.
fn linea_breve(linea: &str) -> Option<String> {
    let Ok(Value::Object(mut v)) = serde_json::from_str::<Value>(linea) else {
        return Some(linea.to_owned());
    };
    let mensaje = v.remove("message").unwrap_or_default();
    let mensaje = mensaje.as_str().unwrap_or_default();
    if RUIDO.contains(&mensaje) {
        return None;
    }
    let hora = v.remove("timestamp").unwrap_or_default();
    let hora = hora.as_str().unwrap_or_default();
    let hora = hora.split_once('T').map_or(hora, |(_, h)| h);
    let nivel = v.remove("level").unwrap_or_default();
    let mut breve = format!("{hora} {} {mensaje}", nivel.as_str().unwrap_or_default());
    for (campo, valor) in v {
        if !matches!(
            campo.as_str(),
            "span" | "spans" | "target" | "threadName" | "threadId"
        ) {
            breve.push_str(&format!(" {campo}={valor}"));
        }
    }
    Some(breve)
}

/// The port of the `comanda escuchando` line, in JSON (`"port":N`) or text
/// (`port=N`) logs.
fn puerto_anunciado(registro: &str) -> Option<u16> {
    let linea = registro
        .lines()
        .find(|l| l.contains("comanda escuchando"))?;
    if let Ok(v) = serde_json::from_str::<Value>(linea) {
        let port = v.get("port").or_else(|| v.get("fields")?.get("port"))?;
        return port.as_u64()?.try_into().ok();
    }
    let resto = &linea[linea.find("port=")? + "port=".len()..];
    let digitos: String = resto.chars().take_while(char::is_ascii_digit).collect();
    digitos.parse().ok()
}

/// Three nodes (or as many as asked) on one database: the first starts
/// alone with `--demo` (two sucursales, one account per role, password
/// [`DEMO_PASSWORD`]), the others join it once it is ready. Every node says
/// `--cluster`. Dropping it kills the nodes, then drops the database.
pub struct Cluster {
    pub nodos: Vec<Nodo>,
    _reglas: tempfile::TempDir,
    pub base: BaseDeDatos,
}

/// The names the nodes get, in order.
pub const NOMBRES: [&str; 3] = ["nodo-a", "nodo-b", "nodo-c"];

impl Cluster {
    /// Three nodes on a fresh database of the machine's Postgres.
    pub async fn levantar(ajustes: Ajustes) -> Self {
        Self::levantar_en(BaseDeDatos::nueva().await, ajustes).await
    }

    pub async fn levantar_en(base: BaseDeDatos, ajustes: Ajustes) -> Self {
        let reglas = copia_de_las_reglas();
        let primero = {
            let mut cmd = serve(&base.url, reglas.path(), NOMBRES[0], ajustes);
            cmd.args(["--demo", "--cluster"]);
            Nodo::arrancar(NOMBRES[0], cmd).await
        };
        let resto = futures_util::future::join_all(NOMBRES[1..].iter().map(|id| {
            let mut cmd = serve(&base.url, reglas.path(), id, ajustes);
            cmd.arg("--cluster");
            Nodo::arrancar(id, cmd)
        }))
        .await;
        let mut nodos = vec![primero];
        nodos.extend(resto);
        Cluster {
            nodos,
            _reglas: reglas,
            base,
        }
    }

    /// The ports of the nodes, for the screens.
    pub fn puertos(&self) -> Vec<(String, u16)> {
        self.nodos
            .iter()
            .map(|n| (n.id.clone(), n.puerto))
            .collect()
    }

    /// The tail of every node's log, for a failure message.
    pub fn registros(&self) -> String {
        self.nodos
            .iter()
            .map(|n| format!("── registro de {} ──\n{}\n", n.id, n.registro(15)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::puerto_anunciado;

    #[test]
    fn el_puerto_se_lee_de_la_linea_de_arranque_en_json_o_en_texto() {
        let json = r#"{"timestamp":"…","level":"INFO","message":"comanda escuchando","port":41234,"backend":"Postgres"}"#;
        assert_eq!(puerto_anunciado(json), Some(41234));
        let texto =
            "2026-01-01T00:00:00Z  INFO comanda: comanda escuchando port=5123 backend=Postgres";
        assert_eq!(puerto_anunciado(texto), Some(5123));
        assert_eq!(puerto_anunciado("nodo en marcha"), None);
    }
}
