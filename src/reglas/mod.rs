//! The `RuleEngine`: Rhai scripts that decide alert priorities, event
//! audiences and escalation (design §8), compiled once, swapped atomically on
//! reload, and never trusted: a script that fails, runs too long or answers
//! something outside the allowed set is counted, logged with its line, reported
//! as a `regla_fallida` event — and the built-in default decides instead.
//!
//! The engine evaluates on the thread that calls it (`prioridad`,
//! `destinos`, `escalar`, `probar`); the node calls it through its
//! `decidir_*` methods, which run the evaluation on the rules' own threads
//! ([`pool`]) and never from an event loop or inside a write transaction.
//! Every call has an operations budget and a deadline (its running time,
//! capped on the wall clock); a rule that runs out of time
//! [`PLAZOS_SEGUIDOS`] times in a row is paused (the default decides,
//! without running it) for `--reglas-pausa`.

mod escalado;
mod gestion;
mod motor;
pub mod pool;
mod vigilante;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use rhai::{AST, CallFnOptions, Dynamic, Engine, EvalAltResult, FuncArgs, Map, Scope};
use serde::Serialize;
use time::{OffsetDateTime, UtcOffset};
use tokio::sync::mpsc;

pub use escalado::EscaladoPorReglas;
pub use gestion::{GestionError, Reglas};
pub use vigilante::vigilar;

use crate::eventos::destinos_por_defecto;
use crate::metricas::{self, CausaFallo};
use crate::modelo::{Audiencia, Destinos, NombreRegla, NuevoEvento, Prioridad, SucursalId};
use pool::{Lane, RulePool};

/// Time-outs in a row after which a rule is paused.
pub const PLAZOS_SEGUIDOS: u32 = 3;

/// The bounds of evaluation (the `--reglas-*` settings).
#[derive(Debug, Clone, Copy)]
pub struct LimitesReglas {
    /// Wall-clock time one rule call may take.
    pub plazo: Duration,
    /// How long a rule that ran out of time [`PLAZOS_SEGUIDOS`] times in a
    /// row is not run.
    pub pausa: Duration,
    /// Threads of the publication lane; 0 = one per two cores.
    pub hilos: usize,
}

impl Default for LimitesReglas {
    fn default() -> Self {
        Self {
            plazo: Duration::from_millis(50),
            pausa: Duration::from_secs(10),
            hilos: 0,
        }
    }
}

/// A script that does not compile: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{mensaje} (línea {linea:?}, columna {columna:?})")]
pub struct ErrorCompilacion {
    pub linea: Option<usize>,
    pub columna: Option<usize>,
    pub mensaje: String,
}

/// A rule that failed at run time; the default decided instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fallo {
    pub regla: NombreRegla,
    pub linea: Option<usize>,
    pub columna: Option<usize>,
    pub mensaje: String,
    pub sucursal_id: Option<SucursalId>,
    /// For the metrics: whether it failed to compile, to run, or to finish.
    #[serde(skip)]
    pub causa: CausaFallo,
}

/// A compiled script and the source it came from.
#[derive(Debug)]
pub struct Compilada {
    pub fuente: String,
    ast: AST,
    /// Whether the script mentions `payload`. Converting an event's payload
    /// for the script is most of the cost of a `destinos` call, and the
    /// shipped rule never reads it, so it is converted only when used.
    usa_payload: bool,
}

/// What a desk's alert looks like to `prioridad(alerta)`.
#[derive(Debug, Clone)]
pub struct EntradaAlerta {
    pub mensaje: String,
    pub prioridad_pedida: Option<Prioridad>,
    pub pedido_id: Option<i64>,
    pub sucursal_id: SucursalId,
    pub minutos_pedido: Option<i64>,
}

/// What an event looks like to `destinos(evento)`.
#[derive(Debug, Clone)]
pub struct EntradaEvento<'a> {
    pub tipo: &'a str,
    pub subtipo: Option<&'a str>,
    pub sucursal_id: Option<SucursalId>,
    pub prioridad: Option<Prioridad>,
    pub payload: &'a serde_json::Map<String, serde_json::Value>,
}

/// What an unread alert looks like to `escalar(alerta, minutos_sin_leer)`.
#[derive(Debug, Clone)]
pub struct EntradaEscalado<'a> {
    pub prioridad: Prioridad,
    pub mensaje: &'a str,
    pub pedido_id: Option<i64>,
    pub sucursal_id: SucursalId,
}

/// Counters of one rule since start, and its pause.
#[derive(Debug, Default)]
struct Contadores {
    evaluaciones: AtomicU64,
    fallos: AtomicU64,
    /// Calls in a row that ran out of time.
    plazos_seguidos: AtomicU32,
    /// Not run until then.
    pausada_hasta: Mutex<Option<Instant>>,
}

impl Contadores {
    fn pausada(&self) -> bool {
        let hasta = *self.pausada_hasta.lock().unwrap_or_else(|e| e.into_inner());
        hasta.is_some_and(|h| Instant::now() < h)
    }

    fn pausar(&self, pausa: Duration) {
        *self.pausada_hasta.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Instant::now() + pausa);
    }

    fn reanudar(&self) {
        self.plazos_seguidos.store(0, Ordering::Relaxed);
        *self.pausada_hasta.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct ContadoresRegla {
    pub evaluaciones: u64,
    pub fallos: u64,
}

pub struct RuleEngine {
    engine: Engine,
    activas: [ArcSwapOption<Compilada>; 3],
    contadores: [Contadores; 3],
    fallos: mpsc::UnboundedSender<Fallo>,
    zona: UtcOffset,
    limites: LimitesReglas,
    pool: RulePool,
}

impl std::fmt::Debug for RuleEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleEngine")
            .field("zona", &self.zona)
            .finish()
    }
}

impl RuleEngine {
    /// An engine with no script installed (every decision is the default),
    /// with the default limits, and the stream of its run-time failures.
    pub fn new(zona: UtcOffset) -> (Self, mpsc::UnboundedReceiver<Fallo>) {
        Self::con_limites(zona, LimitesReglas::default())
    }

    /// [`RuleEngine::new`] with the given limits.
    pub fn con_limites(
        zona: UtcOffset,
        limites: LimitesReglas,
    ) -> (Self, mpsc::UnboundedReceiver<Fallo>) {
        let (fallos, recibidos) = mpsc::unbounded_channel();
        let engine = Self {
            engine: motor::motor(),
            activas: Default::default(),
            contadores: Default::default(),
            fallos,
            zona,
            limites,
            pool: RulePool::new(limites.hilos),
        };
        (engine, recibidos)
    }

    pub fn limites(&self) -> LimitesReglas {
        self.limites
    }

    /// Compiles `fuente` and checks it defines the rule's function.
    pub fn compilar(
        &self,
        nombre: NombreRegla,
        fuente: &str,
    ) -> Result<Compilada, ErrorCompilacion> {
        let ast = self.engine.compile(fuente).map_err(|e| {
            let pos = e.position();
            ErrorCompilacion {
                linea: pos.line(),
                columna: pos.position(),
                mensaje: e.err_type().to_string(),
            }
        })?;
        let (funcion, parametros) = nombre.funcion();
        if !ast
            .iter_functions()
            .any(|f| f.name == funcion && f.params.len() == parametros)
        {
            return Err(ErrorCompilacion {
                linea: None,
                columna: None,
                mensaje: format!(
                    "falta la función {funcion}({}) ",
                    ["alerta", "minutos_sin_leer"][..parametros].join(", ")
                ),
            });
        }
        Ok(Compilada {
            fuente: fuente.to_owned(),
            usa_payload: fuente.contains("payload"),
            ast,
        })
    }

    /// Makes `compilada` the rule in force, atomically: a call in progress
    /// finishes on the old script, the next one runs the new (a paused rule
    /// is paused no more).
    pub fn instalar(&self, nombre: NombreRegla, compilada: Compilada) {
        self.activas[indice(nombre)].store(Some(Arc::new(compilada)));
        self.contadores[indice(nombre)].reanudar();
    }

    pub fn activa(&self, nombre: NombreRegla) -> Option<Arc<Compilada>> {
        self.activas[indice(nombre)].load_full()
    }

    pub fn contadores(&self, nombre: NombreRegla) -> ContadoresRegla {
        let c = &self.contadores[indice(nombre)];
        ContadoresRegla {
            evaluaciones: c.evaluaciones.load(Ordering::Relaxed),
            fallos: c.fallos.load(Ordering::Relaxed),
        }
    }

    fn hora(&self) -> i64 {
        OffsetDateTime::now_utc().to_offset(self.zona).hour().into()
    }

    /// The final priority of a desk's alert.
    pub fn prioridad(&self, alerta: &EntradaAlerta) -> Prioridad {
        let defecto = alerta.prioridad_pedida.unwrap_or(Prioridad::Normal);
        self.decidir(
            NombreRegla::Prioridad,
            Some(alerta.sucursal_id),
            |_| (self.mapa_alerta(alerta),),
            defecto,
            parse_prioridad,
        )
    }

    /// The audiences of an event within its sucursal.
    pub fn destinos(&self, evento: &EntradaEvento<'_>) -> Destinos {
        self.decidir(
            NombreRegla::Destinos,
            evento.sucursal_id,
            |regla| (self.mapa_evento(evento, regla.usa_payload),),
            destinos_por_defecto(evento.tipo),
            parse_destinos,
        )
    }

    /// A raised priority for an unread alert, or `None` to leave it. A rule
    /// may only raise: an answer at or below the current priority is no change.
    pub fn escalar(
        &self,
        alerta: &EntradaEscalado<'_>,
        minutos_sin_leer: i64,
    ) -> Option<Prioridad> {
        let nueva = self.decidir(
            NombreRegla::Escalado,
            Some(alerta.sucursal_id),
            |_| {
                (
                    self.mapa_escalado(alerta),
                    Dynamic::from_int(minutos_sin_leer),
                )
            },
            None,
            parse_escalado,
        );
        nueva.filter(|p| *p > alerta.prioridad)
    }

    /// Runs the rule in force; on any failure reports it and answers `defecto`.
    fn decidir<T, A: FuncArgs>(
        &self,
        nombre: NombreRegla,
        sucursal_id: Option<SucursalId>,
        args: impl FnOnce(&Compilada) -> A,
        defecto: T,
        parse: fn(Dynamic) -> Result<T, String>,
    ) -> T {
        let Some(regla) = self.activa(nombre) else {
            return defecto;
        };
        let contadores = &self.contadores[indice(nombre)];
        contadores.evaluaciones.fetch_add(1, Ordering::Relaxed);
        if contadores.pausada() {
            self.sin_correr(nombre, sucursal_id, CausaFallo::Suspendida);
            return defecto;
        }
        let inicio = Instant::now();
        let decision = self.correr(nombre, &regla.ast, args(&regla)).and_then(|d| {
            parse(d).map_err(|mensaje| Fallo {
                regla: nombre,
                linea: None,
                columna: None,
                mensaje,
                sucursal_id: None,
                causa: CausaFallo::Ejecucion,
            })
        });
        let causa = decision.as_ref().err().map(|f| f.causa);
        metricas::regla_evaluada(nombre, inicio.elapsed(), causa);
        if causa == Some(CausaFallo::TiempoAgotado) {
            let seguidos = contadores.plazos_seguidos.fetch_add(1, Ordering::Relaxed) + 1;
            if seguidos >= PLAZOS_SEGUIDOS {
                contadores.plazos_seguidos.store(0, Ordering::Relaxed);
                contadores.pausar(self.limites.pausa);
                tracing::warn!(regla = %nombre.archivo(), pausa = ?self.limites.pausa, "regla en pausa: se pasó de su plazo {PLAZOS_SEGUIDOS} veces seguidas");
            }
        } else {
            contadores.plazos_seguidos.store(0, Ordering::Relaxed);
        }
        match decision {
            Ok(valor) => valor,
            Err(mut fallo) => {
                fallo.sucursal_id = sucursal_id;
                self.reportar(fallo);
                defecto
            }
        }
    }

    fn correr(
        &self,
        nombre: NombreRegla,
        ast: &AST,
        args: impl FuncArgs,
    ) -> Result<Dynamic, Fallo> {
        let opciones = CallFnOptions::new().eval_ast(false).rewind_scope(false);
        motor::con_plazo(self.limites.plazo, || {
            self.engine.call_fn_with_options::<Dynamic>(
                opciones,
                &mut Scope::new(),
                ast,
                nombre.funcion().0,
                args,
            )
        })
        .map_err(|e| {
            let pos = e.position();
            let (causa, mensaje) = if motor::plazo_vencido(&e) {
                let plazo = humantime::format_duration(self.limites.plazo);
                (
                    CausaFallo::TiempoAgotado,
                    format!("la regla se pasó de su plazo de {plazo}"),
                )
            } else if matches!(*e, EvalAltResult::ErrorTooManyOperations(_)) {
                (CausaFallo::TiempoAgotado, e.to_string())
            } else {
                (CausaFallo::Ejecucion, e.to_string())
            };
            Fallo {
                regla: nombre,
                linea: pos.line(),
                columna: pos.position(),
                mensaje,
                sucursal_id: None,
                causa,
            }
        })
    }

    /// The default decided without running the rule: why, counted and
    /// reported like any failure. The message is the same for every call of
    /// the spell, so that the monitor hears it once (see
    /// [`Reglas::reportar_fallos`]); only the first call of a pause is logged.
    fn sin_correr(&self, nombre: NombreRegla, sucursal_id: Option<SucursalId>, causa: CausaFallo) {
        let mensaje = match causa {
            CausaFallo::Suspendida => format!(
                "la regla se pasó de su plazo {PLAZOS_SEGUIDOS} veces seguidas: decide el valor por defecto durante {}",
                humantime::format_duration(self.limites.pausa)
            ),
            CausaFallo::Sobrecarga => {
                "demasiadas evaluaciones en espera: decide el valor por defecto".to_owned()
            }
            _ => format!(
                "la regla no respondió en {}: decide el valor por defecto",
                humantime::format_duration(self.espera())
            ),
        };
        metricas::regla_fallida(nombre, causa);
        self.contadores[indice(nombre)]
            .fallos
            .fetch_add(1, Ordering::Relaxed);
        if causa != CausaFallo::Suspendida {
            tracing::warn!(regla = %nombre.archivo(), %mensaje, "regla sin evaluar");
        }
        let _ = self.fallos.send(Fallo {
            regla: nombre,
            linea: None,
            columna: None,
            mensaje,
            sucursal_id,
            causa,
        });
    }

    /// How long a caller waits for a decision before the default decides:
    /// the call's own deadline and room for a few queued before it, and at
    /// least a second, so that a loaded machine's scheduling is not taken
    /// for a slow rule (the call stops itself at its deadline).
    fn espera(&self) -> Duration {
        (self.limites.plazo * 4).max(Duration::from_secs(1))
    }

    /// Runs `evaluar` on the rules' `lane`: the default decides, reported,
    /// when the lane is full or the answer is later than [`Self::espera`].
    /// `nombres`: the rules `evaluar` runs, each reported if the default
    /// decides for it.
    async fn en_hilos<T: Send + 'static>(
        self: &Arc<Self>,
        lane: Lane,
        nombres: &[NombreRegla],
        sucursal_id: Option<SucursalId>,
        defecto: T,
        evaluar: impl FnOnce(&RuleEngine) -> T + Send + 'static,
    ) -> T {
        // No script: the default, without a trip to another thread.
        if nombres.iter().all(|n| self.activa(*n).is_none()) {
            return defecto;
        }
        let motor = self.clone();
        let causa = match self.pool.submit(lane, move || evaluar(&motor)) {
            Ok(respuesta) => match tokio::time::timeout(self.espera(), respuesta).await {
                Ok(Ok(decision)) => return decision,
                _ => CausaFallo::TiempoAgotado,
            },
            Err(pool::Busy) => CausaFallo::Sobrecarga,
        };
        for nombre in nombres.iter().filter(|n| self.activa(**n).is_some()) {
            self.contadores[indice(*nombre)]
                .evaluaciones
                .fetch_add(1, Ordering::Relaxed);
            self.sin_correr(*nombre, sucursal_id, causa);
        }
        defecto
    }

    /// A kitchen alert's priority and its event's audiences, in one trip to
    /// the rules' threads (each trip costs a thread wake-up both ways, and
    /// an alert is the hottest write): `prioridad(alerta)` decides
    /// `nuevo.prioridad`, then `destinos` sees the event with it.
    pub async fn decidir_alerta(
        self: &Arc<Self>,
        alerta: EntradaAlerta,
        nuevo: &mut NuevoEvento,
    ) -> Prioridad {
        let prioridad_defecto = alerta.prioridad_pedida.unwrap_or(Prioridad::Normal);
        let destinos_defecto = destinos_por_defecto(&nuevo.tipo);
        let sucursal = Some(alerta.sucursal_id);
        let (tipo, subtipo, sucursal_id, payload) = (
            nuevo.tipo.clone(),
            nuevo.subtipo.clone(),
            nuevo.sucursal_id,
            nuevo.payload.clone(),
        );
        let (prioridad, destinos) = self
            .en_hilos(
                Lane::Publication,
                &[NombreRegla::Prioridad, NombreRegla::Destinos],
                sucursal,
                (prioridad_defecto, destinos_defecto),
                move |motor| {
                    let prioridad = motor.prioridad(&alerta);
                    let destinos = motor.destinos(&EntradaEvento {
                        tipo: tipo.as_str(),
                        subtipo: subtipo.as_deref(),
                        sucursal_id,
                        prioridad: Some(prioridad),
                        payload: &payload,
                    });
                    (prioridad, destinos)
                },
            )
            .await;
        nuevo.prioridad = Some(prioridad);
        nuevo.destinos = destinos;
        prioridad
    }

    /// [`RuleEngine::prioridad`] on the rules' threads.
    pub async fn decidir_prioridad(self: &Arc<Self>, alerta: EntradaAlerta) -> Prioridad {
        let defecto = alerta.prioridad_pedida.unwrap_or(Prioridad::Normal);
        let sucursal = Some(alerta.sucursal_id);
        self.en_hilos(
            Lane::Publication,
            &[NombreRegla::Prioridad],
            sucursal,
            defecto,
            move |motor| motor.prioridad(&alerta),
        )
        .await
    }

    /// Sets `nuevo.destinos` by [`RuleEngine::destinos`], on the rules'
    /// threads. The rule sees the event as it will be published, except
    /// what only its write assigns (a new row's id).
    pub async fn decidir_destinos(self: &Arc<Self>, nuevo: &mut NuevoEvento) {
        let defecto = destinos_por_defecto(&nuevo.tipo);
        let (tipo, subtipo, sucursal_id, prioridad, payload) = (
            nuevo.tipo.clone(),
            nuevo.subtipo.clone(),
            nuevo.sucursal_id,
            nuevo.prioridad,
            nuevo.payload.clone(),
        );
        nuevo.destinos = self
            .en_hilos(
                Lane::Publication,
                &[NombreRegla::Destinos],
                sucursal_id,
                defecto,
                move |motor| {
                    motor.destinos(&EntradaEvento {
                        tipo: tipo.as_str(),
                        subtipo: subtipo.as_deref(),
                        sucursal_id,
                        prioridad,
                        payload: &payload,
                    })
                },
            )
            .await;
    }

    /// Runs `trabajo` on the background lane (escalation reviews, compiling
    /// and trying drafts) and waits for it as long as it takes; `None` if the
    /// lane is full.
    pub async fn en_fondo<T: Send + 'static>(
        self: &Arc<Self>,
        trabajo: impl FnOnce(&RuleEngine) -> T + Send + 'static,
    ) -> Option<T> {
        let motor = self.clone();
        let respuesta = self
            .pool
            .submit(Lane::Background, move || trabajo(&motor))
            .ok()?;
        respuesta.await.ok()
    }

    /// `POST /api/reglas/probar` on the background lane: compiles `fuente`
    /// if given (else runs the rule in force) and runs it on `muestra`.
    pub async fn decidir_prueba(
        self: &Arc<Self>,
        nombre: NombreRegla,
        fuente: Option<String>,
        muestra: serde_json::Value,
        minutos_sin_leer: i64,
    ) -> Result<Prueba, ErrorCompilacion> {
        let trabajo = self.en_fondo(move |motor| {
            let compilada = fuente.map(|f| motor.compilar(nombre, &f)).transpose()?;
            Ok(motor.probar(nombre, compilada.as_ref(), &muestra, minutos_sin_leer))
        });
        // Compiling and a run within their deadline, and a queue ahead.
        match tokio::time::timeout(self.espera() * 2, trabajo).await {
            Ok(Some(prueba)) => prueba,
            Ok(None) => Ok(Prueba::sin_respuesta(
                "demasiadas pruebas en espera: inténtalo de nuevo en un momento",
            )),
            Err(_) => Ok(Prueba::sin_respuesta(
                "la prueba no terminó a tiempo: la regla es demasiado lenta",
            )),
        }
    }

    /// Compiles on the background lane (see [`RuleEngine::compilar`]).
    pub async fn decidir_compilacion(
        self: &Arc<Self>,
        nombre: NombreRegla,
        fuente: String,
    ) -> Result<Compilada, ErrorCompilacion> {
        self.en_fondo(move |motor| motor.compilar(nombre, &fuente))
            .await
            .unwrap_or_else(|| {
                Err(ErrorCompilacion {
                    linea: None,
                    columna: None,
                    mensaje: "el compilador de reglas está ocupado: inténtalo de nuevo".into(),
                })
            })
    }

    fn reportar(&self, fallo: Fallo) {
        self.contadores[indice(fallo.regla)]
            .fallos
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            regla = %fallo.regla.archivo(),
            linea = fallo.linea,
            columna = fallo.columna,
            mensaje = %fallo.mensaje,
            "regla fallida: decide el valor por defecto"
        );
        let _ = self.fallos.send(fallo);
    }

    fn mapa_alerta(&self, a: &EntradaAlerta) -> Map {
        let mut m = Map::new();
        m.insert("mensaje".into(), a.mensaje.clone().into());
        m.insert(
            "prioridad_pedida".into(),
            opcional(a.prioridad_pedida.map(|p| p.as_str())),
        );
        m.insert("pedido_id".into(), opcional(a.pedido_id));
        m.insert("sucursal_id".into(), a.sucursal_id.0.into());
        m.insert("hora".into(), self.hora().into());
        m.insert("minutos_pedido".into(), opcional(a.minutos_pedido));
        m
    }

    fn mapa_evento(&self, e: &EntradaEvento<'_>, con_payload: bool) -> Map {
        let mut m = Map::new();
        m.insert("tipo".into(), e.tipo.into());
        m.insert("subtipo".into(), opcional(e.subtipo));
        m.insert("sucursal_id".into(), opcional(e.sucursal_id.map(|s| s.0)));
        m.insert(
            "prioridad".into(),
            opcional(e.prioridad.map(|p| p.as_str())),
        );
        let payload = match con_payload {
            true => rhai::serde::to_dynamic(e.payload).unwrap_or(Dynamic::UNIT),
            false => Dynamic::UNIT,
        };
        m.insert("payload".into(), payload);
        m.insert("hora".into(), self.hora().into());
        m
    }

    fn mapa_escalado(&self, a: &EntradaEscalado<'_>) -> Map {
        let mut m = Map::new();
        m.insert("prioridad".into(), a.prioridad.as_str().into());
        m.insert("mensaje".into(), a.mensaje.into());
        m.insert("pedido_id".into(), opcional(a.pedido_id));
        m.insert("sucursal_id".into(), a.sucursal_id.0.into());
        m.insert("hora".into(), self.hora().into());
        m
    }

    /// Runs `compilada` (or the rule in force) on a sample written as JSON,
    /// publishing nothing: the decision, or the failure, and how long it took.
    pub fn probar(
        &self,
        nombre: NombreRegla,
        compilada: Option<&Compilada>,
        muestra: &serde_json::Value,
        minutos_sin_leer: i64,
    ) -> Prueba {
        let activa = self.activa(nombre);
        let Some(ast) = compilada
            .map(|c| &c.ast)
            .or(activa.as_deref().map(|c| &c.ast))
        else {
            return Prueba {
                decision: None,
                fallo: Some("no hay regla activa: decide el valor por defecto".into()),
                micros: 0.0,
            };
        };
        let mut mapa = match rhai::serde::to_dynamic(muestra).map(|d| d.try_cast::<Map>()) {
            Ok(Some(m)) => m,
            _ => {
                return Prueba {
                    decision: None,
                    fallo: Some("la muestra debe ser un objeto JSON".into()),
                    micros: 0.0,
                };
            }
        };
        mapa.entry("hora".into())
            .or_insert_with(|| self.hora().into());
        let inicio = Instant::now();
        let resultado = match nombre {
            NombreRegla::Escalado => {
                self.correr(nombre, ast, (mapa, Dynamic::from_int(minutos_sin_leer)))
            }
            _ => self.correr(nombre, ast, (mapa,)),
        };
        let micros = inicio.elapsed().as_secs_f64() * 1e6;
        let decision = resultado.map_err(|f| f.mensaje).and_then(|d| match nombre {
            NombreRegla::Prioridad => parse_prioridad(d).map(|p| serde_json::json!(p)),
            NombreRegla::Destinos => parse_destinos(d).map(|d| serde_json::json!(d)),
            NombreRegla::Escalado => parse_escalado(d).map(|p| serde_json::json!(p)),
        });
        match decision {
            Ok(decision) => Prueba {
                decision: Some(decision),
                fallo: None,
                micros,
            },
            Err(fallo) => Prueba {
                decision: None,
                fallo: Some(fallo),
                micros,
            },
        }
    }
}

/// The answer of `POST /api/reglas/probar`.
#[derive(Debug, Clone, Serialize)]
pub struct Prueba {
    pub decision: Option<serde_json::Value>,
    pub fallo: Option<String>,
    pub micros: f64,
}

impl Prueba {
    fn sin_respuesta(motivo: &str) -> Self {
        Prueba {
            decision: None,
            fallo: Some(motivo.to_owned()),
            micros: 0.0,
        }
    }
}

fn indice(nombre: NombreRegla) -> usize {
    nombre as usize
}

fn opcional<T: Into<Dynamic>>(v: Option<T>) -> Dynamic {
    v.map_or(Dynamic::UNIT, Into::into)
}

fn parse_prioridad(d: Dynamic) -> Result<Prioridad, String> {
    let tipo = d.type_name();
    let texto = d
        .into_immutable_string()
        .map_err(|_| format!("prioridad debe devolver un texto, no {tipo}"))?;
    texto.parse().map_err(|_| {
        format!("prioridad devolvió {texto:?}: se esperaba \"normal\", \"alta\" o \"urgente\"")
    })
}

fn parse_destinos(d: Dynamic) -> Result<Destinos, String> {
    let tipo = d.type_name();
    let lista = d
        .into_array()
        .map_err(|_| format!("destinos debe devolver una lista, no {tipo}"))?;
    let mut destinos = Destinos::NINGUNO;
    for item in lista {
        let texto = item
            .into_immutable_string()
            .map_err(|t| format!("destinos devolvió un {t} en la lista"))?;
        let audiencia: Audiencia = texto.parse().map_err(|_| {
            format!("destinos devolvió {texto:?}: se esperaba \"atencion\", \"cocina\" o \"admin\"")
        })?;
        destinos = destinos.con(audiencia);
    }
    Ok(destinos)
}

fn parse_escalado(d: Dynamic) -> Result<Option<Prioridad>, String> {
    if d.is_unit() {
        Ok(None)
    } else {
        parse_prioridad(d).map(Some)
    }
}

#[cfg(test)]
mod tests;
