//! A child process whose output is collected on threads of its own (so that
//! it never blocks on a full pipe), killed if the test ends before it does,
//! and a free port for it to listen on. Shared by the test binaries that run
//! `comanda` itself (`tests/api`'s `binario` and `metricas`, `tests/nodos`)
//! through `#[path]`.

// Each test binary that includes this file uses a part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::time::Instant;

/// Everything a pipe says, as it arrives.
struct Salida {
    texto: Arc<Mutex<String>>,
    hilo: Option<JoinHandle<()>>,
}

impl Salida {
    fn leer(mut pipe: impl Read + Send + 'static) -> Self {
        let texto = Arc::new(Mutex::new(String::new()));
        let destino = texto.clone();
        let hilo = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                destino
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            texto,
            hilo: Some(hilo),
        }
    }

    fn hasta_ahora(&self) -> String {
        self.texto.lock().unwrap().clone()
    }

    /// Waits for the writer to close the pipe (the child has exited).
    fn cerrar(&mut self) {
        if let Some(hilo) = self.hilo.take() {
            let _ = hilo.join();
        }
    }
}

pub struct Proceso {
    child: Child,
    stdout: Salida,
    stderr: Salida,
}

impl Proceso {
    pub fn lanzar(cmd: Command) -> Self {
        Self::lanzar_con(cmd, None)
    }

    /// Started with `entrada` on its standard input, which is then closed.
    pub fn lanzar_con(mut cmd: Command, entrada: Option<&str>) -> Self {
        cmd.stdin(if entrada.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("no se pudo lanzar {cmd:?}: {e}"));
        if let Some(entrada) = entrada {
            let mut stdin = child.stdin.take().expect("stdin");
            // A child that fails before reading (a bad flag) closes the pipe
            // first: that broken pipe is its answer, not the test's failure.
            if let Err(e) = stdin.write_all(entrada.as_bytes()) {
                assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
            }
            // Dropping stdin closes it: the child sees the end of its input.
        }
        let stdout = Salida::leer(child.stdout.take().expect("stdout"));
        let stderr = Salida::leer(child.stderr.take().expect("stderr"));
        Self {
            child,
            stdout,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// stdout and stderr so far, one after the other.
    pub fn salida(&self) -> String {
        format!(
            "── stdout ──\n{}\n── stderr ──\n{}",
            self.stdout.hasta_ahora(),
            self.stderr.hasta_ahora()
        )
    }

    pub fn stdout(&self) -> String {
        self.stdout.hasta_ahora()
    }

    pub fn stderr(&self) -> String {
        self.stderr.hasta_ahora()
    }

    /// SIGTERM, as a service manager stops it.
    pub fn terminar(&self) {
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -TERM {}", self.pid());
    }

    /// The exit status, if it has exited.
    pub fn termino(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Waits for the child to exit on its own, up to `plazo`.
    pub async fn esperar_fin(&mut self, plazo: Duration) -> ExitStatus {
        let limite = Instant::now() + plazo;
        loop {
            if let Some(status) = self.termino() {
                self.stdout.cerrar();
                self.stderr.cerrar();
                return status;
            }
            assert!(
                Instant::now() < limite,
                "el proceso {} no terminó en {plazo:?}:\n{}",
                self.pid(),
                self.salida()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Proceso {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now, for a child process to listen on.
pub fn puerto_libre() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().unwrap().port()
}
