//! The in-process fan-out: one committed event through Dispatcher → Sucursal
//! → the buzon of each of N `Session`s, drained as the socket's writer
//! drains it (`Buzon::siguiente`). No sockets and no store on the
//! path: what the actors and the buzon cost per delivery
//! (`benches/carga.rs` measures the whole thing over sockets).
//!
//! `cargo bench --bench difusion`

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Actor;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Map, json};
use sqlx::types::Json;
use tokio::sync::Notify;

use comanda::auth::Token;
use comanda::config::{Settings, StoreSettings};
use comanda::modelo::{
    Audiencia, Destinos, Evento, EventoId, Prioridad, Rol, SucursalId, Usuario, UsuarioId,
};
use comanda::realtime::SesionId;
use comanda::realtime::dispatcher::{Despachar, Dispatcher};
use comanda::realtime::salida::Buzon;
use comanda::realtime::session::{NuevaSession, Session};
use comanda::reglas::RuleEngine;
use comanda::store::Store;

const SUCURSAL: SucursalId = SucursalId(1);

fn alerta(id: i64) -> Evento {
    let payload = json!({
        "alerta_id": id,
        "pedido_id": 50_117,
        "mensaje": "Pedido 50117: salchipapa grande sin ají, cliente esperando en mostrador",
        "usuario_envia": 7,
    });
    let payload: Map<String, serde_json::Value> = payload.as_object().unwrap().clone();
    Evento {
        id: EventoId(id),
        tipo: "alerta_cocina".into(),
        subtipo: None,
        payload: Json(payload),
        usuario_id: Some(UsuarioId(7)),
        sucursal_id: Some(SUCURSAL),
        entidad_tipo: Some("ALERTA".into()),
        entidad_id: Some(id),
        prioridad: Some(Prioridad::Normal),
        destinos: Json(Destinos::de(&[Audiencia::Cocina])),
        fecha: time::OffsetDateTime::now_utc(),
    }
}

/// A Dispatcher with `n` live kitchen sessions of one sucursal, whose
/// queues are drained by tasks that count what arrives.
struct Mundo {
    dispatcher: actix::Addr<Dispatcher>,
    recibidos: Rc<Cell<u64>>,
    esperado: Rc<Cell<u64>>,
    llegaron: Rc<Notify>,
    proximo_id: i64,
    _dir: tempfile::TempDir,
}

impl Mundo {
    async fn nuevo(n: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreSettings {
            database_url: format!("sqlite://{}", dir.path().join("b.db").display()),
            db_max_connections: 2,
        })
        .await
        .unwrap();
        let mut config = Settings::defaults().realtime;
        config.ws_espera_reanudar = Duration::ZERO;
        config.ws_cola = 4096;
        // No client answers pings here: never time a session out.
        config.ws_heartbeat = Duration::from_secs(24 * 3600);
        config.ws_timeout = Duration::from_secs(48 * 3600);
        let config = Arc::new(config);
        let dispatcher = Dispatcher::new(
            store.clone(),
            config.clone(),
            EventoId(0),
            vec![SUCURSAL],
            None,
        )
        .start();
        let (motor, _) = RuleEngine::new(time::UtcOffset::UTC);
        let motor = Arc::new(motor);
        let recibidos = Rc::new(Cell::new(0));
        let esperado = Rc::new(Cell::new(u64::MAX));
        let llegaron = Rc::new(Notify::new());
        for i in 0..n {
            let buzon = Buzon::new(config.ws_cola);
            Session::start_sin_socket(
                NuevaSession {
                    id: SesionId(i as u64 + 1),
                    usuario: Usuario {
                        id: UsuarioId(1),
                        usuario: "cocina1".into(),
                        nombre: "Cocina".into(),
                        rol: Rol::Cocina,
                        sucursal_id: Some(SUCURSAL),
                        activo: true,
                        creado: time::OffsetDateTime::now_utc(),
                    },
                    token: Token::generar().hash(),
                    dispatcher: dispatcher.clone(),
                    store: store.clone(),
                    reglas: motor.clone(),
                    config: config.clone(),
                    expira: time::OffsetDateTime::now_utc() + time::Duration::days(2),
                    comprobado_hasta: EventoId(0),
                },
                buzon.clone(),
            );
            let (recibidos, esperado, llegaron) =
                (recibidos.clone(), esperado.clone(), llegaron.clone());
            actix::spawn(async move {
                while let Some((_, frames)) = buzon.siguiente().await {
                    recibidos.set(recibidos.get() + frames as u64);
                    if recibidos.get() >= esperado.get() {
                        llegaron.notify_one();
                    }
                }
            });
        }
        let mundo = Mundo {
            dispatcher,
            recibidos,
            esperado,
            llegaron,
            proximo_id: 1,
            _dir: dir,
        };
        // `hola` and the presence frames of joining: let them pass.
        let mut antes = u64::MAX;
        while mundo.recibidos.get() != antes {
            antes = mundo.recibidos.get();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        mundo
    }

    /// Dispatches `eventos` events and waits until every session queued each
    /// — in bursts no larger than a session's queue, as a queue that
    /// overflows closes its session (4008).
    async fn difundir(&mut self, eventos: u64, sesiones: u64) -> Duration {
        let inicio = Instant::now();
        let mut quedan = eventos;
        while quedan > 0 {
            let rafaga = quedan.min(RAFAGA);
            self.esperado.set(self.recibidos.get() + rafaga * sesiones);
            for _ in 0..rafaga {
                self.dispatcher.do_send(Despachar(alerta(self.proximo_id)));
                self.proximo_id += 1;
            }
            self.llegaron.notified().await;
            quedan -= rafaga;
        }
        inicio.elapsed()
    }
}

/// Events dispatched before waiting for them all (well under `ws_cola`).
const RAFAGA: u64 = 256;

fn difusion(c: &mut Criterion) {
    let mut grupo = c.benchmark_group("difusion de una alerta a n cocinas");
    grupo.sample_size(20);
    for n in [100usize, 1_000, 10_000] {
        let sistema = actix::System::new();
        let mut mundo = sistema.block_on(Mundo::nuevo(n));
        grupo.throughput(Throughput::Elements(n as u64));
        grupo.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_custom(|iters| sistema.block_on(mundo.difundir(iters, n as u64)))
        });
    }
    grupo.finish();
}

criterion_group!(benches, difusion);
criterion_main!(benches);
