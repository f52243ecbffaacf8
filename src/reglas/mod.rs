//! The `RuleEngine`: Rhai scripts that decide alert priorities, event
//! audiences and escalation (design §8), compiled once, swapped atomically on
//! reload, and never trusted: a script that fails, runs too long or answers
//! something outside the allowed set is counted, logged with its line, reported
//! as a `regla_fallida` event — and the built-in default decides instead.

mod escalado;
mod gestion;
mod motor;
mod vigilante;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

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
use crate::modelo::{Audiencia, Destinos, NombreRegla, Prioridad, SucursalId};

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

/// Counters of one rule since start.
#[derive(Debug, Default)]
struct Contadores {
    evaluaciones: AtomicU64,
    fallos: AtomicU64,
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
    /// and the stream of its run-time failures.
    pub fn new(zona: UtcOffset) -> (Self, mpsc::UnboundedReceiver<Fallo>) {
        let (fallos, recibidos) = mpsc::unbounded_channel();
        let engine = Self {
            engine: motor::motor(),
            activas: Default::default(),
            contadores: Default::default(),
            fallos,
            zona,
        };
        (engine, recibidos)
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
    /// finishes on the old script, the next one runs the new.
    pub fn instalar(&self, nombre: NombreRegla, compilada: Compilada) {
        self.activas[indice(nombre)].store(Some(Arc::new(compilada)));
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
        self.contadores[indice(nombre)]
            .evaluaciones
            .fetch_add(1, Ordering::Relaxed);
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
        self.engine
            .call_fn_with_options::<Dynamic>(
                opciones,
                &mut Scope::new(),
                ast,
                nombre.funcion().0,
                args,
            )
            .map_err(|e| {
                let pos = e.position();
                let causa = match *e {
                    EvalAltResult::ErrorTooManyOperations(_) => CausaFallo::TiempoAgotado,
                    _ => CausaFallo::Ejecucion,
                };
                Fallo {
                    regla: nombre,
                    linea: pos.line(),
                    columna: pos.position(),
                    mensaje: e.to_string(),
                    sucursal_id: None,
                    causa,
                }
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
