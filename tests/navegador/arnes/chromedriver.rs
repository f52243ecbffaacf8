//! One chromedriver per test binary, on a free port, that can't outlive it.
//!
//! A `static` is never dropped, so the driver is not killed from Rust: it runs
//! under a small `sh` that is the leader of a process group of its own and
//! waits on a pipe from this process. When this process ends — normally, by a
//! panic, by a signal, even by SIGKILL — the kernel closes the pipe, `read`
//! returns, and the shell kills chromedriver and any browser left in its group.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// `$0` is chromedriver, `$1` the port, `$2` its log file. Started first, the
/// driver does not inherit the `trap` (an ignored signal stays ignored across
/// `exec`).
const GUARDIAN: &str = r#"
"$0" --port="$1" --log-path="$2" </dev/null >/dev/null 2>&1 &
driver=$!
read _fin
trap '' TERM
kill -TERM 0 2>/dev/null
kill -KILL "$driver" 2>/dev/null
wait "$driver"
sleep 1
kill -KILL 0
"#;

pub struct Chromedriver {
    pub url: String,
    /// The guardian shell; its stdin is the pipe whose end is this process's end.
    _guardian: Child,
}

static CHROMEDRIVER_DEL_BINARIO: OnceLock<Result<Chromedriver, String>> = OnceLock::new();

/// The binary's chromedriver, started on first use. Panics — the test fails,
/// never skips — when Chromium or chromedriver is missing.
pub fn chromedriver() -> &'static Chromedriver {
    match CHROMEDRIVER_DEL_BINARIO.get_or_init(arrancar) {
        Ok(c) => c,
        Err(mensaje) => panic!("{mensaje}"),
    }
}

fn arrancar() -> Result<Chromedriver, String> {
    comprobar_instalados()?;
    let dir = super::dir_de_diagnostico();
    let log = dir.join("chromedriver.log");
    let mut ultimo_error = String::new();
    // The free port is found by binding and releasing it: another process may
    // take it in between, so try a few.
    for _ in 0..5 {
        let port = puerto_libre();
        let mut guardian = Command::new("/bin/sh")
            .arg("-c")
            .arg(GUARDIAN)
            .arg(CHROMEDRIVER)
            .arg(port.to_string())
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("no se pudo lanzar {CHROMEDRIVER}: {e}"))?;
        match esperar_que_escuche(port, &mut guardian) {
            Ok(()) => {
                return Ok(Chromedriver {
                    url: format!("http://127.0.0.1:{port}"),
                    _guardian: guardian,
                });
            }
            Err(e) => {
                // Closing the pipe makes the guardian clean up this attempt.
                drop(guardian.stdin.take());
                let _ = guardian.wait();
                ultimo_error = e;
            }
        }
    }
    Err(format!(
        "chromedriver no arrancó: {ultimo_error} (mira {})",
        log.display()
    ))
}

fn comprobar_instalados() -> Result<(), String> {
    let faltan: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if faltan.is_empty() {
        return Ok(());
    }
    let instalar = "apt-get install chromium chromium-driver";
    let verbo = if faltan.len() == 1 { "falta" } else { "faltan" };
    Err(if std::env::var_os("CI").is_some() {
        format!(
            "CI: {verbo} {} — la imagen de CI debe tener el navegador: {instalar}. \
             Las pruebas de navegador nunca se saltan.",
            faltan.join(" y ")
        )
    } else {
        format!(
            "{verbo} {}: instala el navegador con `sudo {instalar}`. \
             Las pruebas de navegador nunca se saltan.",
            faltan.join(" y ")
        )
    })
}

fn puerto_libre() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("un puerto libre en 127.0.0.1")
        .port()
}

fn esperar_que_escuche(port: u16, guardian: &mut Child) -> Result<(), String> {
    let limite = Instant::now() + Duration::from_secs(20);
    loop {
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(estado)) = guardian.try_wait() {
            return Err(format!("chromedriver terminó al arrancar ({estado})"));
        }
        if Instant::now() > limite {
            return Err(format!(
                "chromedriver no escucha en el puerto {port} tras 20 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
