//! What the targets share: an engine with the shipped `rules/*.rhai`, the
//! failures it reported, and the shipped rules written again in Rust as the
//! oracle their answers are checked against.

#![allow(dead_code)]

use std::sync::{Mutex, OnceLock};

use comanda::modelo::{NombreRegla, Prioridad};
use comanda::reglas::{Fallo, RuleEngine};
use time::UtcOffset;
use tokio::sync::mpsc::UnboundedReceiver;

pub const PRIORIDAD: &str = include_str!("../../rules/prioridad.rhai");
pub const DESTINOS: &str = include_str!("../../rules/destinos.rhai");
pub const ESCALADO: &str = include_str!("../../rules/escalado.rhai");

pub struct ConReglas {
    pub motor: RuleEngine,
    fallos: Mutex<UnboundedReceiver<Fallo>>,
}

impl ConReglas {
    /// An engine with no rule installed: each target installs its own.
    pub fn vacio() -> Self {
        let (motor, fallos) = RuleEngine::new(UtcOffset::UTC);
        Self {
            motor,
            fallos: Mutex::new(fallos),
        }
    }

    /// The failures reported since the last call.
    pub fn fallos(&self) -> Vec<Fallo> {
        let mut rx = self.fallos.lock().unwrap();
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }
}

/// One engine per process with the three shipped rules installed.
pub fn de_fabrica() -> &'static ConReglas {
    static REGLAS: OnceLock<ConReglas> = OnceLock::new();
    REGLAS.get_or_init(|| {
        let r = ConReglas::vacio();
        for (nombre, fuente) in [
            (NombreRegla::Prioridad, PRIORIDAD),
            (NombreRegla::Destinos, DESTINOS),
            (NombreRegla::Escalado, ESCALADO),
        ] {
            let c = r
                .motor
                .compilar(nombre, fuente)
                .expect("la regla de fábrica compila");
            r.motor.instalar(nombre, c);
        }
        r
    })
}

/// `rules/prioridad.rhai`, in Rust.
pub fn prioridad_esperada(
    mensaje: &str,
    pedida: Option<Prioridad>,
    minutos_pedido: Option<i64>,
) -> Prioridad {
    if mensaje.to_lowercase().contains("urgente") {
        return Prioridad::Urgente;
    }
    if minutos_pedido.is_some_and(|m| m >= 20) && pedida != Some(Prioridad::Urgente) {
        return Prioridad::Alta;
    }
    pedida.unwrap_or(Prioridad::Normal)
}

/// `rules/escalado.rhai`, in Rust, after the engine's "only raise" filter.
pub fn escalado_esperado(actual: Prioridad, minutos_sin_leer: i64) -> Option<Prioridad> {
    match actual {
        Prioridad::Normal if minutos_sin_leer >= 5 => Some(Prioridad::Alta),
        Prioridad::Alta if minutos_sin_leer >= 10 => Some(Prioridad::Urgente),
        _ => None,
    }
}
