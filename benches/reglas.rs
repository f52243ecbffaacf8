//! One `prioridad` + `destinos` evaluation of the shipped rules on a
//! realistic kitchen alert: the rules' cost on every alert's hot path.
//! Target (issue #4): median ≤ 5 µs in release.
//!
//! `cargo bench --bench reglas`

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use time::UtcOffset;

use comanda::modelo::{NombreRegla, Prioridad, SucursalId};
use comanda::reglas::{EntradaAlerta, EntradaEvento, RuleEngine};

fn reglas(c: &mut Criterion) {
    let (motor, _fallos) = RuleEngine::new(UtcOffset::UTC);
    for (nombre, fuente) in [
        (
            NombreRegla::Prioridad,
            include_str!("../rules/prioridad.rhai"),
        ),
        (
            NombreRegla::Destinos,
            include_str!("../rules/destinos.rhai"),
        ),
    ] {
        let compilada = motor
            .compilar(nombre, fuente)
            .expect("shipped rule compiles");
        motor.instalar(nombre, compilada);
    }
    let alerta = EntradaAlerta {
        mensaje: "Pedido 50117: salchipapa grande sin ají, el cliente pregunta".into(),
        prioridad_pedida: Some(Prioridad::Normal),
        pedido_id: Some(50_117),
        sucursal_id: SucursalId(3),
        minutos_pedido: Some(12),
    };
    let payload = json!({"alerta_id": 10_482, "pedido_id": 50_117, "mensaje": alerta.mensaje})
        .as_object()
        .unwrap()
        .clone();

    c.bench_function("prioridad + destinos de una alerta", |b| {
        b.iter(|| {
            let prioridad = motor.prioridad(std::hint::black_box(&alerta));
            let evento = EntradaEvento {
                tipo: "alerta_cocina",
                subtipo: None,
                sucursal_id: Some(alerta.sucursal_id),
                prioridad: Some(prioridad),
                payload: &payload,
            };
            motor.destinos(std::hint::black_box(&evento))
        })
    });
}

criterion_group!(benches, reglas);
criterion_main!(benches);
