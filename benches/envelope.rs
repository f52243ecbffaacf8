//! The per-event hot path of the Dispatcher: serializing an event's envelope
//! once (`EventoPublicado::new`) — the bytes every receiver then shares.
//!
//! `cargo bench --bench envelope`

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, json};
use sqlx::types::Json;

use comanda::modelo::{Audiencia, Destinos, Evento, EventoId, Prioridad, SucursalId, UsuarioId};
use comanda::realtime::protocolo::EventoPublicado;

fn alerta_realista() -> Evento {
    let payload: Map<String, serde_json::Value> = json!({
        "alerta_id": 10_482,
        "pedido_id": 50_117,
        "mensaje": "Pedido 50117: salchipapa grande sin ají, cliente esperando en mostrador",
        "usuario_envia": 7,
    })
    .as_object()
    .unwrap()
    .clone();
    Evento {
        id: EventoId(1_234_567),
        tipo: "alerta_cocina".into(),
        subtipo: None,
        payload: Json(payload),
        usuario_id: Some(UsuarioId(7)),
        sucursal_id: Some(SucursalId(3)),
        entidad_tipo: Some("ALERTA".into()),
        entidad_id: Some(10_482),
        prioridad: Some(Prioridad::Urgente),
        destinos: Json(Destinos::de(&[Audiencia::Cocina])),
        fecha: time::OffsetDateTime::now_utc(),
    }
}

fn envelope(c: &mut Criterion) {
    let evento = alerta_realista();
    c.bench_function("envelope de una alerta_cocina", |b| {
        b.iter(|| EventoPublicado::new(std::hint::black_box(evento.clone())))
    });
}

criterion_group!(benches, envelope);
criterion_main!(benches);
