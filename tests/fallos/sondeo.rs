//! A load balancer's probe: `GET /readyz` over and over, every answer kept
//! with when it was asked and when it came.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// How long a probe waits for `/readyz` (what a load balancer allows).
pub const LIMITE_DEL_SONDEO: Duration = Duration::from_secs(3);
const CADA: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct Muestra {
    pub inicio: Instant,
    pub fin: Instant,
    /// The status, or what went wrong (no answer in time, no connection).
    pub resultado: Result<(u16, serde_json::Value), String>,
}

impl Muestra {
    pub fn status(&self) -> Option<u16> {
        self.resultado.as_ref().ok().map(|(s, _)| *s)
    }
}

/// Probes `/readyz` on `puerto` until dropped.
pub struct Sondeo {
    muestras: Arc<Mutex<Vec<Muestra>>>,
    tarea: tokio::task::JoinHandle<()>,
}

impl Sondeo {
    pub fn empezar(puerto: u16) -> Self {
        let muestras = Arc::new(Mutex::new(Vec::new()));
        let destino = muestras.clone();
        let http = reqwest::Client::builder()
            .timeout(LIMITE_DEL_SONDEO)
            .build()
            .unwrap();
        let url = format!("http://127.0.0.1:{puerto}/readyz");
        let tarea = tokio::spawn(async move {
            loop {
                let inicio = Instant::now();
                let resultado = match http.get(&url).send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        Ok((status, r.json().await.unwrap_or_default()))
                    }
                    Err(e) => Err(format!("{e:?}")),
                };
                destino.lock().unwrap().push(Muestra {
                    inicio,
                    fin: Instant::now(),
                    resultado,
                });
                tokio::time::sleep_until(inicio + CADA).await;
            }
        });
        Self { muestras, tarea }
    }

    /// Every answer so far.
    pub fn muestras(&self) -> Vec<Muestra> {
        self.muestras.lock().unwrap().clone()
    }
}

impl Drop for Sondeo {
    fn drop(&mut self) {
        self.tarea.abort();
    }
}

/// The samples as `+1.20s…+1.21s 200 {…}` lines from `origen`, for failure messages.
pub fn cronologia(muestras: &[Muestra], origen: Instant) -> String {
    muestras
        .iter()
        .map(|m| {
            format!(
                "+{:.2?}…+{:.2?} {}",
                m.inicio - origen,
                m.fin - origen,
                match &m.resultado {
                    Ok((s, cuerpo)) => format!("{s} {cuerpo}"),
                    Err(e) => e.chars().take(80).collect(),
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
