//! The shipped `rules/*.rhai` on arbitrary alerts, events and `probar`
//! samples: every evaluation ends, within the engine's limits, with the
//! answer the rule's text says (checked against the Rust oracle in
//! `comun.rs`), and a shipped rule never fails. `probar` on any sample
//! answers a decision or a clean failure.

#![no_main]

#[path = "comun.rs"]
mod comun;

use arbitrary::Arbitrary;
use comanda::eventos::destinos_por_defecto;
use comanda::modelo::{NombreRegla, Prioridad, SucursalId};
use comanda::reglas::{EntradaAlerta, EntradaEscalado, EntradaEvento};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Number, Value};

#[derive(Arbitrary, Debug)]
enum Entrada {
    Alerta {
        mensaje: String,
        pedida: Option<Nivel>,
        pedido_id: Option<i64>,
        sucursal: i64,
        minutos_pedido: Option<i64>,
    },
    Evento {
        tipo: String,
        subtipo: Option<String>,
        sucursal: Option<i64>,
        prioridad: Option<Nivel>,
        payload: Vec<(String, Valor)>,
    },
    Escalado {
        prioridad: Nivel,
        mensaje: String,
        pedido_id: Option<i64>,
        sucursal: i64,
        minutos_sin_leer: i64,
    },
    /// `POST /api/reglas/probar`: any JSON sample, on any rule.
    Probar {
        regla: Regla,
        muestra: Valor,
        minutos_sin_leer: i64,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Nivel {
    Normal,
    Alta,
    Urgente,
}

impl From<Nivel> for Prioridad {
    fn from(n: Nivel) -> Self {
        match n {
            Nivel::Normal => Prioridad::Normal,
            Nivel::Alta => Prioridad::Alta,
            Nivel::Urgente => Prioridad::Urgente,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Regla {
    Prioridad,
    Destinos,
    Escalado,
}

/// Any JSON value.
#[derive(Arbitrary, Debug)]
enum Valor {
    Nulo,
    Booleano(bool),
    Entero(i64),
    Natural(u64),
    Real(f64),
    Texto(String),
    Lista(Vec<Valor>),
    Mapa(Vec<(String, Valor)>),
}

impl Valor {
    fn json(&self) -> Value {
        match self {
            Valor::Nulo => Value::Null,
            Valor::Booleano(b) => Value::Bool(*b),
            Valor::Entero(i) => Value::from(*i),
            Valor::Natural(n) => Value::from(*n),
            Valor::Real(r) => Number::from_f64(*r).map_or(Value::Null, Value::Number),
            Valor::Texto(t) => Value::String(t.clone()),
            Valor::Lista(l) => Value::Array(l.iter().map(Valor::json).collect()),
            Valor::Mapa(m) => Value::Object(mapa(m)),
        }
    }
}

fn mapa(campos: &[(String, Valor)]) -> Map<String, Value> {
    campos.iter().map(|(k, v)| (k.clone(), v.json())).collect()
}

fuzz_target!(|entrada: Entrada| {
    let reglas = comun::de_fabrica();
    let motor = &reglas.motor;
    match entrada {
        Entrada::Alerta {
            mensaje,
            pedida,
            pedido_id,
            sucursal,
            minutos_pedido,
        } => {
            let pedida = pedida.map(Prioridad::from);
            let decidida = motor.prioridad(&EntradaAlerta {
                mensaje: mensaje.clone(),
                prioridad_pedida: pedida,
                pedido_id,
                sucursal_id: SucursalId(sucursal),
                minutos_pedido,
            });
            assert_eq!(
                decidida,
                comun::prioridad_esperada(&mensaje, pedida, minutos_pedido),
                "{mensaje:?} {pedida:?} {minutos_pedido:?}"
            );
        }
        Entrada::Evento {
            tipo,
            subtipo,
            sucursal,
            prioridad,
            payload,
        } => {
            let payload = mapa(&payload);
            let destinos = motor.destinos(&EntradaEvento {
                tipo: &tipo,
                subtipo: subtipo.as_deref(),
                sucursal_id: sucursal.map(SucursalId),
                prioridad: prioridad.map(Prioridad::from),
                payload: &payload,
            });
            assert_eq!(destinos, destinos_por_defecto(&tipo), "{tipo:?}");
        }
        Entrada::Escalado {
            prioridad,
            mensaje,
            pedido_id,
            sucursal,
            minutos_sin_leer,
        } => {
            let actual = Prioridad::from(prioridad);
            let nueva = motor.escalar(
                &EntradaEscalado {
                    prioridad: actual,
                    mensaje: &mensaje,
                    pedido_id,
                    sucursal_id: SucursalId(sucursal),
                },
                minutos_sin_leer,
            );
            assert_eq!(nueva, comun::escalado_esperado(actual, minutos_sin_leer));
        }
        Entrada::Probar {
            regla,
            muestra,
            minutos_sin_leer,
        } => {
            let nombre = match regla {
                Regla::Prioridad => NombreRegla::Prioridad,
                Regla::Destinos => NombreRegla::Destinos,
                Regla::Escalado => NombreRegla::Escalado,
            };
            let prueba = motor.probar(nombre, None, &muestra.json(), minutos_sin_leer);
            // Exactly one of the two, and a failure says why.
            assert!(
                prueba.decision.is_some() != prueba.fallo.is_some(),
                "{prueba:?}"
            );
            assert!(prueba.fallo.as_ref().is_none_or(|f| !f.is_empty()));
            assert!(prueba.micros.is_finite() && prueba.micros >= 0.0);
        }
    }
    let fallos = reglas.fallos();
    assert!(fallos.is_empty(), "una regla de fábrica falló: {fallos:?}");
});
