//! Prometheus metrics: the process's recorder, the `comanda_*` series and the
//! one-line calls that move them, rendered by `GET /metrics`.
//!
//! The `metrics` crate keeps one global recorder per process, so
//! [`instalar`] installs it once (every [`Application`](crate::app::Application)
//! calls it) and each series adds up what every node started in the process
//! did — in production, one. Series say what the node does, never who: their
//! labels are sucursal ids, roles, event tipos from a fixed list, rule names,
//! route patterns, methods and status codes; never a user name, a token, an
//! address or a message's text. Every label takes a bounded set of values.
//!
//! | series | type | labels |
//! |---|---|---|
//! | `comanda_ws_sessions` | gauge | `sucursal_id`, `rol` |
//! | `comanda_events_published_total` | counter | `tipo` |
//! | `comanda_deliveries_total` | counter | |
//! | `comanda_deliveries_dropped_total` | counter | |
//! | `comanda_ws_slow_consumer_closes_total` | counter | |
//! | `comanda_ws_replay_events` | histogram | |
//! | `comanda_ws_resets_total` | counter | |
//! | `comanda_rule_evaluations_total` | counter | `regla` |
//! | `comanda_rule_failures_total` | counter | `regla`, `causa` |
//! | `comanda_rule_duration_seconds` | histogram | `regla` |
//! | `comanda_store_duration_seconds` | histogram | `operation` |
//! | `comanda_store_errors_total` | counter | `operation` |
//! | `comanda_http_requests_total` | counter | `route`, `method`, `status` |
//! | `comanda_http_request_duration_seconds` | histogram | `route`, `method` |

use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::auth::Perfil;
use crate::modelo::{NombreRegla, TipoEvento};

const SESIONES: &str = "comanda_ws_sessions";
const PUBLICADOS: &str = "comanda_events_published_total";
const ENTREGAS: &str = "comanda_deliveries_total";
const DESCARTADAS: &str = "comanda_deliveries_dropped_total";
const LENTOS: &str = "comanda_ws_slow_consumer_closes_total";
const REPETICION: &str = "comanda_ws_replay_events";
const REINICIOS: &str = "comanda_ws_resets_total";
const EVALUACIONES: &str = "comanda_rule_evaluations_total";
const FALLOS: &str = "comanda_rule_failures_total";
const DURACION_REGLA: &str = "comanda_rule_duration_seconds";
const DURACION_STORE: &str = "comanda_store_duration_seconds";
const ERRORES_STORE: &str = "comanda_store_errors_total";
const PETICIONES: &str = "comanda_http_requests_total";
const DURACION_HTTP: &str = "comanda_http_request_duration_seconds";

/// Buckets of the latencies, in seconds: a rule takes microseconds, a
/// request or a transaction milliseconds, a stalled store seconds.
const SEGUNDOS: &[f64] = &[
    0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];
/// Buckets of a replay's size, in events (at most `--ws-ventana`).
const EVENTOS: &[f64] = &[
    0.0, 1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10_000.0,
];

/// How often histogram samples are folded into their buckets when nobody
/// scrapes (a scrape folds them too): they wait in memory until then.
const MANTENIMIENTO: Duration = Duration::from_secs(5);

/// The label of routes that matched no pattern (a 404 of any path).
pub const RUTA_DESCONOCIDA: &str = "desconocida";

static EXPORTADOR: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder, once: later calls (another node in the
/// same process, as in the tests) find it installed.
pub fn instalar() -> &'static PrometheusHandle {
    EXPORTADOR.get_or_init(|| {
        let exportador = match constructor().install_recorder() {
            Ok(handle) => handle,
            Err(e) => {
                // Someone else's recorder got there first: `/metrics` then
                // shows nothing rather than failing the start.
                tracing::warn!(error = %e, "no se pudo instalar el registro de métricas");
                constructor().build_recorder().handle()
            }
        };
        describir();
        let mantenimiento = exportador.clone();
        let hilo = std::thread::Builder::new()
            .name("metricas".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(MANTENIMIENTO);
                    mantenimiento.run_upkeep();
                }
            });
        if let Err(e) = hilo {
            tracing::warn!(error = %e, "sin mantenimiento de métricas: solo cada lectura de /metrics");
        }
        exportador
    })
}

/// The Prometheus text exposition of every series.
pub fn render() -> String {
    instalar().render()
}

fn constructor() -> PrometheusBuilder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SEGUNDOS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full(REPETICION.into()), EVENTOS))
        .expect("los cubos no están vacíos")
}

/// The HELP line of every series.
fn describir() {
    describe_gauge!(
        SESIONES,
        "Sockets abiertos en este nodo, por sucursal (ninguna: toda la cadena) y rol."
    );
    describe_counter!(
        PUBLICADOS,
        "Eventos confirmados por este nodo, por tipo (los tipos que inventa una integración cuentan como otro)."
    );
    describe_counter!(
        ENTREGAS,
        "Sesiones a las que se entregó un evento en vivo: cada evento suma las sesiones que alcanzó."
    );
    describe_counter!(
        DESCARTADAS,
        "Entregas que una sesión no pudo tomar: se estaba cerrando o su cola desbordó."
    );
    describe_counter!(
        LENTOS,
        "Sockets cerrados con 4008 porque su cliente no daba abasto."
    );
    describe_histogram!(
        REPETICION,
        "Eventos repetidos por cada reanudar de un socket."
    );
    describe_counter!(
        REINICIOS,
        "Reanudar demasiado atrasados (o del futuro) contestados con reinicio."
    );
    describe_counter!(EVALUACIONES, "Evaluaciones de cada regla Rhai.");
    describe_counter!(
        FALLOS,
        "Fallos de las reglas: compilacion (guardada o editada y rechazada), ejecucion (error o respuesta fuera de lo permitido), tiempo_agotado (sin terminar tras el límite de operaciones)."
    );
    describe_histogram!(
        DURACION_REGLA,
        Unit::Seconds,
        "Duración de una evaluación de regla, con su respuesta ya interpretada."
    );
    describe_histogram!(
        DURACION_STORE,
        Unit::Seconds,
        "Duración de operaciones de la base de datos: publicar es el turno de publicación (tomarlo, insertar los eventos, confirmar)."
    );
    describe_counter!(
        ERRORES_STORE,
        "Errores de esas operaciones de la base de datos."
    );
    describe_counter!(
        PETICIONES,
        "Peticiones HTTP contestadas, por patrón de ruta, método y estado."
    );
    describe_histogram!(
        DURACION_HTTP,
        Unit::Seconds,
        "Duración de una petición HTTP hasta su respuesta (para /ws, hasta el handshake)."
    );
}

fn sucursal_de(perfil: &Perfil) -> String {
    perfil
        .alcance
        .sucursal()
        .map_or_else(|| "ninguna".to_owned(), |s| s.0.to_string())
}

/// A session registered with the Dispatcher.
pub fn sesion_abierta(perfil: &Perfil) {
    gauge!(SESIONES, "sucursal_id" => sucursal_de(perfil), "rol" => perfil.rol.as_str())
        .increment(1.0);
}

/// A session left the Dispatcher.
pub fn sesion_cerrada(perfil: &Perfil) {
    gauge!(SESIONES, "sucursal_id" => sucursal_de(perfil), "rol" => perfil.rol.as_str())
        .decrement(1.0);
}

/// `tipo` as a label: itself if it is a [`TipoEvento`] comanda knows (design
/// §4, the rules' own events and the revocations of logins), else `otro`:
/// the tipos an integration invents share one series.
pub fn tipo_de_evento(tipo: &(impl AsRef<str> + ?Sized)) -> &'static str {
    TipoEvento::conocido(tipo.as_ref())
        .and_then(|t| t.nombre_conocido())
        .unwrap_or("otro")
}

/// An event committed by this node.
pub fn evento_publicado(tipo: &(impl AsRef<str> + ?Sized)) {
    counter!(PUBLICADOS, "tipo" => tipo_de_evento(tipo)).increment(1);
}

/// An event was handed to `sesiones` sessions (once per event and fan-out).
pub fn entregas(sesiones: u64) {
    if sesiones > 0 {
        counter!(ENTREGAS).increment(sesiones);
    }
}

/// A session could not take an event handed to it.
pub fn entrega_descartada() {
    counter!(DESCARTADAS).increment(1);
}

/// A session's queue overflowed: it is closed with 4008.
pub fn cliente_lento() {
    counter!(LENTOS).increment(1);
}

/// A `reanudar` replayed `eventos` events.
pub fn repeticion(eventos: usize) {
    histogram!(REPETICION).record(eventos as f64);
}

/// A `reanudar` was answered with `reinicio`.
pub fn reinicio() {
    counter!(REINICIOS).increment(1);
}

/// Why a rule failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CausaFallo {
    /// A script saved or edited that does not compile (the old one stays).
    Compilacion,
    /// An error, or an answer outside the allowed set.
    Ejecucion,
    /// Stopped at the operations limit or its wall-clock deadline (a loop
    /// that never ends, work too heavy for a decision), or its answer did
    /// not reach the caller in time.
    TiempoAgotado,
    /// Not run: the rules' queue was full.
    Sobrecarga,
    /// Not run: the rule ran out of time several times in a row and is
    /// paused (`--reglas-pausa`).
    Suspendida,
}

impl CausaFallo {
    pub fn as_str(self) -> &'static str {
        match self {
            CausaFallo::Compilacion => "compilacion",
            CausaFallo::Ejecucion => "ejecucion",
            CausaFallo::TiempoAgotado => "tiempo_agotado",
            CausaFallo::Sobrecarga => "sobrecarga",
            CausaFallo::Suspendida => "suspendida",
        }
    }
}

/// A rule ran for `duracion`; `fallo` if the default had to decide.
pub fn regla_evaluada(regla: NombreRegla, duracion: Duration, fallo: Option<CausaFallo>) {
    let nombre = regla.as_str();
    counter!(EVALUACIONES, "regla" => nombre).increment(1);
    histogram!(DURACION_REGLA, "regla" => nombre).record(duracion.as_secs_f64());
    if let Some(causa) = fallo {
        regla_fallida(regla, causa);
    }
}

/// A rule failed (at run time, or a new version did not compile).
pub fn regla_fallida(regla: NombreRegla, causa: CausaFallo) {
    counter!(FALLOS, "regla" => regla.as_str(), "causa" => causa.as_str()).increment(1);
}

/// Times a store operation and counts its failure.
pub async fn medir_store<T, E>(
    operacion: &'static str,
    f: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let inicio = Instant::now();
    let resultado = f.await;
    operacion_de_store(operacion, inicio.elapsed(), resultado.is_ok());
    resultado
}

/// A store operation took `duracion`, and worked or not.
pub fn operacion_de_store(operacion: &'static str, duracion: Duration, ok: bool) {
    histogram!(DURACION_STORE, "operation" => operacion).record(duracion.as_secs_f64());
    if !ok {
        counter!(ERRORES_STORE, "operation" => operacion).increment(1);
    }
}

/// A method as a label: the standard ones by name, any other `OTRO` (a
/// client may send any token as a method).
pub fn metodo(metodo: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *metodo {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTRO",
    }
}

/// An HTTP request answered. `ruta` is the route pattern that matched (or
/// [`RUTA_DESCONOCIDA`]), never the path itself.
pub fn peticion(ruta: String, metodo: &'static str, estado: u16, duracion: Duration) {
    histogram!(DURACION_HTTP, "route" => ruta.clone(), "method" => metodo)
        .record(duracion.as_secs_f64());
    counter!(PETICIONES, "route" => ruta, "method" => metodo, "status" => estado.to_string())
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Alcance;
    use crate::modelo::{Rol, SucursalId};

    /// Runs `f` against a recorder of its own and answers its rendering:
    /// exact, whatever else the process records.
    fn medido(f: impl FnOnce()) -> String {
        let recorder = constructor().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describir();
            f()
        });
        handle.render()
    }

    #[test]
    fn los_tipos_inventados_comparten_una_serie() {
        assert_eq!(tipo_de_evento("alerta_cocina"), "alerta_cocina");
        assert_eq!(tipo_de_evento("cumpleaños_de_ana"), "otro");
        let texto = medido(|| {
            evento_publicado("alerta_cocina");
            evento_publicado("cumpleaños_de_ana");
            evento_publicado("lo_que_sea");
        });
        assert!(texto.contains("comanda_events_published_total{tipo=\"alerta_cocina\"} 1\n"));
        assert!(texto.contains("comanda_events_published_total{tipo=\"otro\"} 2\n"));
        assert!(!texto.contains("ana"), "{texto}");
    }

    #[test]
    fn las_sesiones_suben_y_bajan_por_sucursal_y_rol() {
        let cocina = Perfil {
            rol: Rol::Cocina,
            alcance: Alcance::Sucursal(SucursalId(3)),
        };
        let jefa = Perfil {
            rol: Rol::Superadmin,
            alcance: Alcance::Cadena,
        };
        let texto = medido(|| {
            sesion_abierta(&cocina);
            sesion_abierta(&cocina);
            sesion_abierta(&jefa);
            sesion_cerrada(&cocina);
        });
        assert!(
            texto.contains("# TYPE comanda_ws_sessions gauge\n"),
            "{texto}"
        );
        assert!(texto.contains("comanda_ws_sessions{sucursal_id=\"3\",rol=\"cocina\"} 1\n"));
        assert!(
            texto.contains("comanda_ws_sessions{sucursal_id=\"ninguna\",rol=\"superadmin\"} 1\n")
        );
    }

    #[test]
    fn las_latencias_son_histogramas_en_segundos_con_su_ayuda() {
        let texto = medido(|| {
            regla_evaluada(
                NombreRegla::Prioridad,
                Duration::from_micros(30),
                Some(CausaFallo::TiempoAgotado),
            );
            peticion(
                "/api/pedidos/{id}/aprobar".into(),
                "POST",
                200,
                Duration::from_millis(3),
            );
            repeticion(7);
        });
        assert!(
            texto.contains("# HELP comanda_rule_duration_seconds "),
            "{texto}"
        );
        assert!(texto.contains("# TYPE comanda_rule_duration_seconds histogram\n"));
        assert!(texto.contains(
            "comanda_rule_duration_seconds_bucket{regla=\"prioridad\",le=\"0.00005\"} 1\n"
        ));
        assert!(texto.contains(
            "comanda_rule_duration_seconds_bucket{regla=\"prioridad\",le=\"0.00001\"} 0\n"
        ));
        assert!(texto.contains(
            "comanda_rule_failures_total{regla=\"prioridad\",causa=\"tiempo_agotado\"} 1\n"
        ));
        assert!(texto.contains(
            "comanda_http_requests_total{route=\"/api/pedidos/{id}/aprobar\",method=\"POST\",status=\"200\"} 1\n"
        ));
        assert!(
            texto.contains("comanda_ws_replay_events_bucket{le=\"10\"} 1\n"),
            "{texto}"
        );
        assert!(texto.contains("comanda_ws_replay_events_sum 7\n"));
    }

    #[test]
    fn un_metodo_inventado_no_abre_series_nuevas() {
        let raro = actix_web::http::Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(metodo(&raro), "OTRO");
        assert_eq!(metodo(&actix_web::http::Method::PATCH), "PATCH");
    }
}
