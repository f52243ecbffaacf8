//! Arbitrary script text as an admin saves it (`PUT /api/reglas/{nombre}`):
//! compiling with the engine's limits ends with a rule or a located error,
//! and a rule that compiles, run on a sample, ends within the operation limit
//! with its answer or — when it fails or answers outside the allowed set —
//! a reported failure and the built-in default. Never a panic, never a hang
//! (libFuzzer's `-timeout` is the judge of the last).
//!
//! Input: byte 0 picks the rule, the rest is the script.

#![no_main]

#[path = "comun.rs"]
mod comun;

use std::sync::OnceLock;

use comanda::eventos::destinos_por_defecto;
use comanda::modelo::{NombreRegla, Prioridad, SucursalId};
use comanda::reglas::{EntradaAlerta, EntradaEscalado, EntradaEvento};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|datos: &[u8]| {
    let [regla, fuente @ ..] = datos else {
        return;
    };
    let nombre = [
        NombreRegla::Prioridad,
        NombreRegla::Destinos,
        NombreRegla::Escalado,
    ][usize::from(*regla) % 3];
    let fuente = String::from_utf8_lossy(fuente);

    static REGLAS: OnceLock<comun::ConReglas> = OnceLock::new();
    let reglas = REGLAS.get_or_init(comun::ConReglas::vacio);
    let motor = &reglas.motor;
    let compilada = match motor.compilar(nombre, &fuente) {
        Ok(c) => c,
        Err(e) => {
            assert!(!e.mensaje.is_empty());
            return;
        }
    };
    motor.instalar(nombre, compilada);

    let sucursal_id = SucursalId(1);
    let fallo = |reglas: &comun::ConReglas| {
        let fallos = reglas.fallos();
        assert!(fallos.len() <= 1, "{fallos:?}");
        if let Some(f) = fallos.first() {
            assert_eq!(f.regla, nombre);
            assert_eq!(f.sucursal_id, Some(sucursal_id));
            assert!(!f.mensaje.is_empty());
        }
        !fallos.is_empty()
    };
    match nombre {
        NombreRegla::Prioridad => {
            let p = motor.prioridad(&EntradaAlerta {
                mensaje: "Pedido 50 sin papas".into(),
                prioridad_pedida: Some(Prioridad::Alta),
                pedido_id: Some(50),
                sucursal_id,
                minutos_pedido: Some(25),
            });
            if fallo(reglas) {
                assert_eq!(p, Prioridad::Alta, "el valor por defecto es lo pedido");
            }
        }
        NombreRegla::Destinos => {
            let payload = json!({"alerta_id": 10, "pedido_id": 50, "mensaje": "Pedido urgente"});
            let d = motor.destinos(&EntradaEvento {
                tipo: "alerta_cocina",
                subtipo: None,
                sucursal_id: Some(sucursal_id),
                prioridad: Some(Prioridad::Normal),
                payload: payload.as_object().unwrap(),
            });
            if fallo(reglas) {
                assert_eq!(d, destinos_por_defecto("alerta_cocina"));
            }
        }
        NombreRegla::Escalado => {
            let e = motor.escalar(
                &EntradaEscalado {
                    prioridad: Prioridad::Normal,
                    mensaje: "Pedido 50",
                    pedido_id: Some(50),
                    sucursal_id,
                },
                7,
            );
            if fallo(reglas) {
                assert_eq!(e, None);
            }
        }
    }
});
