//! The Postgres the nodes share: a fresh database per test on the machine's
//! server, or a whole private server for the test that restarts it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use super::postgres::BaseDeDatos;
use super::proceso::puerto_libre;

/// A Postgres server of this test's own, in a temporary folder, on a free
/// port: one the test may restart without disturbing anyone else.
pub struct PostgresPropio {
    ctl: PgCtl,
    pub puerto: u16,
    carpeta: Option<tempfile::TempDir>,
}

/// What it takes to run `pg_ctl` on the private server; cheap to clone into
/// a blocking task.
#[derive(Clone)]
struct PgCtl {
    bin: PathBuf,
    datos: PathBuf,
    registro: PathBuf,
    /// Root can't run Postgres: the commands run as `postgres` then.
    como_postgres: bool,
}

impl PgCtl {
    fn comando(&self, programa: &str) -> Command {
        let ruta = self.bin.join(programa);
        if self.como_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(ruta);
            cmd
        } else {
            Command::new(ruta)
        }
    }

    fn correr(&self, programa: &str, args: &[&str]) {
        let mut cmd = self.comando(programa);
        cmd.args(args);
        let salida = cmd
            .output()
            .unwrap_or_else(|e| panic!("no se pudo ejecutar {cmd:?}: {e}"));
        assert!(
            salida.status.success(),
            "{cmd:?} falló ({}):\n{}\n{}\n── registro de Postgres ──\n{}",
            salida.status,
            String::from_utf8_lossy(&salida.stdout),
            String::from_utf8_lossy(&salida.stderr),
            std::fs::read_to_string(&self.registro).unwrap_or_default()
        );
    }

    fn pg_ctl(&self, accion: &[&str]) {
        let datos = self.datos.to_string_lossy().into_owned();
        let registro = self.registro.to_string_lossy().into_owned();
        let mut args = vec!["-D", &datos, "-l", &registro, "-w", "-t", "60"];
        args.extend_from_slice(accion);
        self.correr("pg_ctl", &args);
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin`.
fn binarios_de_postgres() -> PathBuf {
    let mut versiones: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("/usr/lib/postgresql: instala postgresql")
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versiones.sort();
    versiones
        .pop()
        .expect("ningún /usr/lib/postgresql/*/bin/initdb")
        .1
}

fn soy_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

impl PostgresPropio {
    /// initdb (trust auth, no fsync) and start; blocks for a few seconds.
    pub async fn iniciar() -> Self {
        tokio::task::spawn_blocking(Self::iniciar_ya)
            .await
            .expect("Postgres propio")
    }

    fn iniciar_ya() -> Self {
        let como_postgres = soy_root();
        let carpeta = tempfile::Builder::new()
            .prefix("comanda-pg-")
            .tempdir_in("/tmp")
            .expect("carpeta temporal");
        if como_postgres {
            let ok = Command::new("chown")
                .arg("postgres:postgres")
                .arg(carpeta.path())
                .status()
                .expect("chown")
                .success();
            assert!(ok, "chown postgres {}", carpeta.path().display());
        }
        let ctl = PgCtl {
            bin: binarios_de_postgres(),
            datos: carpeta.path().join("datos"),
            registro: carpeta.path().join("postgres.log"),
            como_postgres,
        };
        ctl.correr(
            "initdb",
            &[
                "-D",
                &ctl.datos.to_string_lossy(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        );
        let puerto = puerto_libre();
        configurar(&ctl.datos, carpeta.path(), puerto);
        ctl.pg_ctl(&["start"]);
        PostgresPropio {
            ctl,
            puerto,
            carpeta: Some(carpeta),
        }
    }

    /// The URL of its `postgres` database, to create others.
    pub fn url_admin(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.puerto)
    }

    /// Stops it the way an operator restarting it does (`-m fast`: every
    /// connection is cut), waits `apagado`, and starts it again.
    pub async fn reiniciar(&self, apagado: Duration) {
        self.parar().await;
        tokio::time::sleep(apagado).await;
        self.arrancar().await;
    }

    /// `pg_ctl stop -m fast`: every connection is cut; answers once it is down.
    pub async fn parar(&self) {
        self.pg_ctl(&["-m", "fast", "stop"]).await;
    }

    /// `pg_ctl start`: answers once it accepts connections.
    pub async fn arrancar(&self) {
        self.pg_ctl(&["start"]).await;
    }

    async fn pg_ctl(&self, accion: &'static [&'static str]) {
        let ctl = self.ctl.clone();
        tokio::task::spawn_blocking(move || ctl.pg_ctl(accion))
            .await
            .expect("pg_ctl");
    }
}

/// Appends what this server needs to its `postgresql.conf`.
fn configurar(datos: &Path, socket: &Path, puerto: u16) {
    use std::io::Write;
    let mut conf = std::fs::OpenOptions::new()
        .append(true)
        .open(datos.join("postgresql.conf"))
        .expect("postgresql.conf");
    write!(
        conf,
        "\n# comanda tests\nport = {puerto}\nlisten_addresses = '127.0.0.1'\n\
         unix_socket_directories = '{}'\nfsync = off\nfull_page_writes = off\n\
         max_connections = 100\n",
        socket.display()
    )
    .expect("postgresql.conf");
}

impl Drop for PostgresPropio {
    fn drop(&mut self) {
        let datos = self.ctl.datos.to_string_lossy().into_owned();
        let _ = self
            .ctl
            .comando("pg_ctl")
            .args(["-D", &datos, "-m", "immediate", "-w", "stop"])
            .output();
        if let Some(carpeta) = self.carpeta.take() {
            let _ = carpeta.close();
        }
    }
}
