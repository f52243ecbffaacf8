//! Integrations publishing through `POST /api/eventos` on a node of their
//! choice, as the WhatsApp bot does: a mix of kitchen alerts, vouchers and
//! managers-only events, in one sucursal or (superadmin) chain-wide.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::nodo::Nodo;

/// What a publisher does when a publish is not acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlFallar {
    /// Counts it as one of its publishes and goes on (the test then
    /// asserts there was none).
    Seguir,
    /// Waits a little and goes on until it has its acknowledged publishes
    /// (the database may be restarting).
    Reintentar,
    /// Stops publishing (its node is gone).
    Parar,
}

pub struct Publicador {
    pub nombre: String,
    /// The account's token; `servicio1`/`servicio2` publish in their
    /// sucursal, `superadmin` chain-wide.
    token: String,
    sucursal: Option<i64>,
}

/// What one publisher achieved.
#[derive(Debug, Default)]
pub struct Resultado {
    /// Ids of the acknowledged (2xx) publishes, in the order they were acknowledged.
    pub confirmados: Vec<i64>,
    pub fallos: Vec<String>,
}

impl Publicador {
    /// `servicio{s}` publishing in sucursal `s`, or `superadmin` chain-wide (`None`).
    pub fn nuevo(nombre: &str, token: String, sucursal: Option<i64>) -> Self {
        Self {
            nombre: nombre.to_owned(),
            token,
            sucursal,
        }
    }

    /// The `n`th event: per sucursal, alternating kitchen alerts (to
    /// cocina), vouchers (to atención and admin) and closings (admin only);
    /// chain-wide, a notice only chain-wide monitors see.
    pub fn cuerpo(&self, n: usize) -> Value {
        let marca = format!("{} #{n}", self.nombre);
        match self.sucursal {
            None => json!({"tipo": "aviso_general", "mensaje": marca}),
            Some(s) => match n % 4 {
                0 | 1 => json!({"tipo": "alerta_cocina", "sucursal_id": s, "mensaje": marca}),
                2 => json!({"tipo": "voucher_nuevo", "sucursal_id": s, "monto": 25.5,
                            "numero_operacion": marca}),
                _ => json!({"tipo": "cierre_de_caja", "sucursal_id": s, "nota": marca}),
            },
        }
    }

    /// One publish; the event id when acknowledged.
    pub async fn publicar_uno(&self, nodo: &Nodo, n: usize) -> Result<i64, String> {
        let r = nodo
            .post("/api/eventos", &self.token, &self.cuerpo(n))
            .await
            .map_err(|e| format!("{} #{n} en {}: {e}", self.nombre, nodo.id))?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(format!(
                "{} #{n} en {}: {status} {body}",
                self.nombre, nodo.id
            ));
        }
        body["id"].as_i64().ok_or_else(|| {
            format!(
                "{} #{n} en {}: {status} sin id: {body}",
                self.nombre, nodo.id
            )
        })
    }

    /// Publishes `cantidad` events on `nodo`, one after the other with
    /// `pausa` between them, counting each acknowledged one in `progreso`;
    /// gives up at `limite`.
    pub async fn publicar(
        &self,
        nodo: &Nodo,
        cantidad: usize,
        al_fallar: AlFallar,
        pausa: Duration,
        progreso: &AtomicUsize,
        limite: Instant,
    ) -> Resultado {
        let mut resultado = Resultado::default();
        let mut n = 0;
        while resultado.confirmados.len() < cantidad && Instant::now() < limite {
            if al_fallar == AlFallar::Seguir && n == cantidad {
                break;
            }
            match self.publicar_uno(nodo, n).await {
                Ok(id) => {
                    resultado.confirmados.push(id);
                    progreso.fetch_add(1, Ordering::SeqCst);
                }
                Err(e) => {
                    resultado.fallos.push(e);
                    match al_fallar {
                        AlFallar::Seguir => {}
                        AlFallar::Reintentar => {
                            tokio::time::sleep(Duration::from_millis(100)).await
                        }
                        AlFallar::Parar => break,
                    }
                }
            }
            n += 1;
            if !pausa.is_zero() {
                tokio::time::sleep(pausa).await;
            }
        }
        resultado
    }
}

/// Waits until `progreso` reaches `cuantos` (some publishes are through).
pub async fn esperar_progreso(progreso: &AtomicUsize, cuantos: usize, limite: Instant) {
    while progreso.load(Ordering::SeqCst) < cuantos {
        assert!(
            Instant::now() < limite,
            "solo se confirmaron {} de {cuantos} publicaciones",
            progreso.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
