//! The desk writing while things break: `atencion1` sends kitchen alerts
//! (and, if asked, orders) with an `Idempotency-Key` each, at a steady rate,
//! retrying with the same key what was not acknowledged — as the shared
//! client module does. Every attempt is recorded: what it answered and how
//! long it took.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::time::Instant;

/// How long one attempt may take before the test calls it a hang. With the
/// database down a write is refused at once once the node knows it; one that
/// was already waiting for a connection when it went away waits up to the
/// pool's 5 s; with room to spare.
pub const LIMITE_POR_INTENTO: Duration = Duration::from_secs(12);
/// Between two attempts of one write.
const ESPERA_ENTRE_INTENTOS: Duration = Duration::from_millis(200);

/// What the desk writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mezcla {
    /// Only kitchen alerts (`POST /api/alertas`), to `cocina`.
    Alertas,
    /// Alerts and orders (`POST /api/pedidos`, to `atencion`) in turn.
    AlertasYPedidos,
}

/// Which kind of row a write creates, and the event that reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Clase {
    Alerta,
    Pedido,
}

impl Clase {
    /// `entidad_tipo` of its event.
    pub fn entidad(self) -> &'static str {
        match self {
            Clase::Alerta => "ALERTA",
            Clase::Pedido => "PEDIDO",
        }
    }
}

/// One attempt: its answer, or the transport error.
#[derive(Debug, Clone)]
pub struct Intento {
    /// When it was sent.
    pub inicio: Instant,
    pub tardo: Duration,
    pub resultado: Result<(StatusCode, Value), String>,
}

impl Intento {
    /// The transport gave up waiting (the server hung).
    pub fn colgado(&self) -> bool {
        self.tardo >= LIMITE_POR_INTENTO
    }
}

/// One write and all its attempts.
#[derive(Debug, Clone)]
pub struct Escritura {
    pub n: usize,
    pub clave: String,
    pub clase: Clase,
    pub intentos: Vec<Intento>,
}

impl Escritura {
    /// The id of the row created, if some attempt was acknowledged (2xx).
    pub fn confirmada(&self) -> Option<i64> {
        self.intentos.iter().find_map(|i| match &i.resultado {
            Ok((status, cuerpo)) if status.is_success() => cuerpo["id"].as_i64(),
            _ => None,
        })
    }
}

/// `atencion1` on one node (the address stays: a restarted node comes back on it).
pub struct Escritor {
    http: reqwest::Client,
    base: String,
    token: String,
    /// Tells this run's rows apart: each message (alert) or client (order)
    /// is `{marca} #{n}`.
    pub marca: String,
    mezcla: Mezcla,
    /// Attempts answered 503 so far, for a test to watch while it runs.
    no_disponibles: AtomicUsize,
}

impl Escritor {
    pub fn nuevo(puerto: u16, token: String, marca: &str, mezcla: Mezcla) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(LIMITE_POR_INTENTO)
                .build()
                .unwrap(),
            base: format!("http://127.0.0.1:{puerto}"),
            token,
            marca: marca.to_owned(),
            mezcla,
            no_disponibles: AtomicUsize::new(0),
        }
    }

    /// How many attempts were answered 503 so far.
    pub fn no_disponibles(&self) -> usize {
        self.no_disponibles.load(Ordering::Relaxed)
    }

    pub fn clase(&self, n: usize) -> Clase {
        match self.mezcla {
            Mezcla::AlertasYPedidos if n % 2 == 1 => Clase::Pedido,
            _ => Clase::Alerta,
        }
    }

    /// The text that identifies write `n` in its row.
    pub fn texto(&self, n: usize) -> String {
        format!("{} #{n}", self.marca)
    }

    /// The `Idempotency-Key` of write `n`: every attempt of it sends the same.
    pub fn clave(&self, n: usize) -> String {
        format!("{}-{n}", self.marca.replace(' ', "-"))
    }

    fn peticion(&self, n: usize) -> (String, Value) {
        let texto = self.texto(n);
        match self.clase(n) {
            Clase::Alerta => (
                format!("{}/api/alertas", self.base),
                json!({"mensaje": texto, "prioridad": "normal"}),
            ),
            Clase::Pedido => (
                format!("{}/api/pedidos", self.base),
                json!({"cliente": texto, "detalle": "1 pollo entero", "total": 95.5}),
            ),
        }
    }

    /// One attempt of write `n`, with its key.
    pub async fn intentar(&self, n: usize, clave: &str) -> Intento {
        let (url, cuerpo) = self.peticion(n);
        let inicio = Instant::now();
        let respuesta = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .header("Idempotency-Key", clave)
            .json(&cuerpo)
            .send()
            .await;
        let resultado = match respuesta {
            Ok(r) => {
                let status = r.status();
                match r.text().await {
                    Ok(texto) => Ok((
                        status,
                        serde_json::from_str(&texto).unwrap_or(Value::String(texto)),
                    )),
                    Err(e) => Err(format!("{status}, cuerpo cortado: {e}")),
                }
            }
            Err(e) => Err(format!("{e:?}")),
        };
        if matches!(&resultado, Ok((StatusCode::SERVICE_UNAVAILABLE, _))) {
            self.no_disponibles.fetch_add(1, Ordering::Relaxed);
        }
        Intento {
            inicio,
            tardo: inicio.elapsed(),
            resultado,
        }
    }

    /// Write `n`: tries until acknowledged, retrying (same key) what a client
    /// may retry — a 503 or no answer — until `limite`. Any other answer ends it.
    pub async fn escribir(&self, n: usize, limite: Instant) -> Escritura {
        let mut escritura = Escritura {
            n,
            clave: self.clave(n),
            clase: self.clase(n),
            intentos: Vec::new(),
        };
        loop {
            let intento = self.intentar(n, &escritura.clave).await;
            let reintentar = match &intento.resultado {
                Ok((status, _)) => *status == StatusCode::SERVICE_UNAVAILABLE,
                Err(_) => true,
            };
            escritura.intentos.push(intento);
            if !reintentar || Instant::now() >= limite {
                return escritura;
            }
            tokio::time::sleep(ESPERA_ENTRE_INTENTOS).await;
        }
    }

    /// `cantidad` writes, the `n`th started at `n × cada` from now whatever
    /// happened to the others (a steady rate, as many screens make), each
    /// retried until `limite`.
    pub async fn a_ritmo(
        &self,
        cantidad: usize,
        cada: Duration,
        limite: Instant,
    ) -> Vec<Escritura> {
        let inicio = Instant::now();
        futures_util::future::join_all((0..cantidad).map(|n| async move {
            tokio::time::sleep_until(inicio + cada * n as u32).await;
            self.escribir(n, limite).await
        }))
        .await
    }
}

/// Every write acknowledged, each attempt either acknowledged or a 503 with
/// the JSON error `no_disponible` or no connection at all (the node is
/// down), none hung. Answers how many attempts met each outcome.
pub fn verificar_escrituras(escrituras: &[Escritura], contexto: &str) -> Resumen {
    let mut resumen = Resumen::default();
    let mut problemas = Vec::new();
    for e in escrituras {
        for i in &e.intentos {
            match &i.resultado {
                Ok((status, _)) if status.is_success() => resumen.confirmados += 1,
                Ok((StatusCode::SERVICE_UNAVAILABLE, cuerpo))
                    if cuerpo["error"]["codigo"] == "no_disponible"
                        && cuerpo["error"]["mensaje"].is_string() =>
                {
                    resumen.no_disponible += 1;
                    resumen.mas_lento_503 = resumen.mas_lento_503.max(i.tardo);
                }
                Ok((status, cuerpo)) => {
                    problemas.push(format!("#{}: {status} {cuerpo}", e.n));
                }
                Err(error) if i.colgado() => {
                    problemas.push(format!(
                        "#{}: sin respuesta en {:.1?}: {error}",
                        e.n, i.tardo
                    ));
                }
                Err(_) => resumen.sin_conexion += 1,
            }
        }
        if e.confirmada().is_none() {
            problemas.push(format!(
                "#{} nunca se confirmó ({} intentos)",
                e.n,
                e.intentos.len()
            ));
        }
    }
    assert!(
        problemas.is_empty(),
        "{} problemas en {} escrituras ({resumen:?}):\n{}\n{contexto}",
        problemas.len(),
        escrituras.len(),
        problemas[..problemas.len().min(20)].join("\n")
    );
    resumen
}

/// How the attempts ended.
#[derive(Debug, Default)]
pub struct Resumen {
    pub confirmados: usize,
    pub no_disponible: usize,
    pub sin_conexion: usize,
    /// The longest a 503 took to come.
    pub mas_lento_503: Duration,
}
