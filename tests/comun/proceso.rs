//! A child process whose output is collected on threads of its own (so that
//! it never blocks on a full pipe), killed if the test ends before it does.

use std::io::Read;
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
    fn terminar(&mut self) {
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
    pub fn lanzar(mut cmd: Command) -> Self {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("no se pudo lanzar {cmd:?}: {e}"));
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

    pub fn stderr(&self) -> String {
        self.stderr.hasta_ahora()
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
                self.stdout.terminar();
                self.stderr.terminar();
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
