//! `Cocina`: one per sucursal's kitchen. It holds the kitchen's open work in
//! memory — unread alerts and open refills — loaded from the store at start
//! and kept current from the events its `Sucursal` hands on ([`Anotar`]),
//! and it reviews the unread alerts on a timer through an [`Escalador`] hook
//! (the rules). Its summary goes to the Monitor ([`ResumenCocina`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::future::BoxFuture;
use serde::Serialize;
use time::OffsetDateTime;

use super::monitor::{Monitor, ResumenCocina};
use super::protocolo::EventoPublicado;
use crate::modelo::{
    AlertaCocina, EstadoRefill, Evento, EventoId, Prioridad, SolicitudRefill, SucursalId,
};
use crate::store::{Store, TrabajoAbierto};

/// An unread alert as the kitchen holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertaAbierta {
    pub id: i64,
    pub sucursal_id: SucursalId,
    pub prioridad: Prioridad,
    pub mensaje: String,
    pub pedido_id: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub fecha_envio: OffsetDateTime,
}

/// A refill not yet completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefillAbierto {
    pub id: i64,
    pub producto: String,
    pub cantidad: i64,
    pub estado: EstadoRefill,
}

/// The review hook: given the unread alerts on every tick, it acts on its
/// own (decides off this thread, stores the new priorities, publishes the
/// changes); the kitchen only keeps time and state, and starts no review
/// while the last one is still running.
pub trait Escalador: Send + Sync {
    fn revisar(&self, alertas: Vec<AlertaAbierta>) -> BoxFuture<'static, ()>;
}

pub struct Cocina {
    sucursal: SucursalId,
    store: Store,
    monitor: Addr<Monitor>,
    intervalo: Duration,
    escalador: Option<Arc<dyn Escalador>>,
    alertas: BTreeMap<i64, AlertaAbierta>,
    refills: BTreeMap<i64, RefillAbierto>,
    /// `None` until the store was read; events that arrive before are held.
    cargada_hasta: Option<EventoId>,
    en_espera: Vec<Arc<EventoPublicado>>,
    /// A review is running (a slow rule must not pile reviews up).
    revisando: bool,
}

impl Cocina {
    pub fn new(
        sucursal: SucursalId,
        store: Store,
        monitor: Addr<Monitor>,
        intervalo: Duration,
        escalador: Option<Arc<dyn Escalador>>,
    ) -> Self {
        Self {
            sucursal,
            store,
            monitor,
            intervalo,
            escalador,
            alertas: BTreeMap::new(),
            refills: BTreeMap::new(),
            cargada_hasta: None,
            en_espera: Vec::new(),
            revisando: false,
        }
    }

    fn cargar(&mut self, trabajo: TrabajoAbierto) {
        self.alertas = trabajo
            .alertas
            .into_iter()
            .map(|a| (a.id.0, AlertaAbierta::from(a)))
            .collect();
        self.refills = trabajo
            .refills
            .into_iter()
            .map(|r| (r.id.0, RefillAbierto::from(r)))
            .collect();
        self.cargada_hasta = Some(trabajo.hasta);
        // Every held event is applied, even those at or before `hasta`: an
        // alert published flat (the seed's `notify()`) has no row, so the rows
        // don't reflect it. Applying the others again is harmless, and since
        // they come in id order the state ends as the log says.
        for evento in std::mem::take(&mut self.en_espera) {
            self.aplicar(&evento.evento);
        }
        self.resumir();
    }

    /// Keeps the open work current; events of other kinds are ignored.
    fn aplicar(&mut self, e: &Evento) {
        match e.tipo.as_str() {
            "alerta_cocina" => {
                if let Some(id) = id_de(e, "ALERTA", "alerta_id") {
                    self.alertas.insert(
                        id,
                        AlertaAbierta {
                            id,
                            sucursal_id: self.sucursal,
                            prioridad: e.prioridad.unwrap_or(Prioridad::Normal),
                            mensaje: texto(e, "mensaje").unwrap_or_default(),
                            pedido_id: e.payload.get("pedido_id").and_then(|v| v.as_i64()),
                            fecha_envio: fecha(e, "fecha_envio").unwrap_or(e.fecha),
                        },
                    );
                }
            }
            "alerta_leida" => {
                if let Some(id) = id_de(e, "ALERTA", "alerta_id") {
                    self.alertas.remove(&id);
                }
            }
            "alerta_escalada" => {
                if let (Some(id), Some(p)) = (id_de(e, "ALERTA", "alerta_id"), e.prioridad)
                    && let Some(alerta) = self.alertas.get_mut(&id)
                {
                    alerta.prioridad = p;
                }
            }
            "refill_solicitado" => {
                if let Some(id) = id_de(e, "REFILL", "refill_id") {
                    self.refills.insert(
                        id,
                        RefillAbierto {
                            id,
                            producto: texto(e, "producto").unwrap_or_default(),
                            cantidad: e
                                .payload
                                .get("cantidad")
                                .and_then(|v| v.as_i64())
                                .unwrap_or(1),
                            estado: EstadoRefill::Pendiente,
                        },
                    );
                }
            }
            "refill_estado" => {
                let estado = texto(e, "estado").and_then(|s| s.parse::<EstadoRefill>().ok());
                if let (Some(id), Some(estado)) = (id_de(e, "REFILL", "refill_id"), estado) {
                    if estado == EstadoRefill::Completado {
                        self.refills.remove(&id);
                    } else if let Some(r) = self.refills.get_mut(&id) {
                        r.estado = estado;
                    }
                }
            }
            _ => return,
        }
        self.resumir();
    }

    fn resumir(&self) {
        self.monitor.do_send(ResumenCocina {
            sucursal: self.sucursal,
            cargada: self.cargada_hasta.is_some(),
            alertas_sin_leer: self.alertas.len(),
            refills_abiertos: self.refills.len(),
        });
    }

    fn revisar(&mut self, ctx: &mut Context<Self>) {
        let Some(escalador) = &self.escalador else {
            return;
        };
        if self.alertas.is_empty() {
            return;
        }
        if self.revisando {
            tracing::debug!(sucursal = %self.sucursal, "la revisión anterior sigue en curso");
            return;
        }
        self.revisando = true;
        escalador
            .revisar(self.alertas.values().cloned().collect())
            .into_actor(self)
            .map(|(), cocina, _| cocina.revisando = false)
            .spawn(ctx);
    }
}

/// The row id an event is about: its entity when of the given kind, else the
/// payload field the seed used (`alerta_id`, `refill_id`).
fn id_de(e: &Evento, entidad: &str, campo: &str) -> Option<i64> {
    match (&e.entidad_tipo, e.entidad_id) {
        (Some(t), Some(id)) if t == entidad => Some(id),
        _ => e.payload.get(campo).and_then(|v| v.as_i64()),
    }
}

/// An RFC 3339 time in the payload (an alert's `fecha_envio` may be older than its event).
fn fecha(e: &Evento, campo: &str) -> Option<OffsetDateTime> {
    let texto = e.payload.get(campo)?.as_str()?;
    OffsetDateTime::parse(texto, &time::format_description::well_known::Rfc3339).ok()
}

fn texto(e: &Evento, campo: &str) -> Option<String> {
    e.payload
        .get(campo)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

impl From<AlertaCocina> for AlertaAbierta {
    fn from(a: AlertaCocina) -> Self {
        Self {
            id: a.id.0,
            sucursal_id: a.sucursal_id,
            prioridad: a.prioridad,
            mensaje: a.mensaje,
            pedido_id: a.pedido_id.map(|p| p.0),
            fecha_envio: a.fecha_envio,
        }
    }
}

impl From<SolicitudRefill> for RefillAbierto {
    fn from(r: SolicitudRefill) -> Self {
        Self {
            id: r.id.0,
            producto: r.producto,
            cantidad: r.cantidad.into(),
            estado: r.estado,
        }
    }
}

impl Actor for Cocina {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.cargar_desde_store(ctx);
        ctx.run_interval(self.intervalo, |cocina, ctx| cocina.revisar(ctx));
    }
}

impl Cocina {
    /// Reads the open work; events that arrive meanwhile are held and applied
    /// after. If the store is unreachable, tries again a second later.
    fn cargar_desde_store(&mut self, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let sucursal = self.sucursal;
        async move { store.trabajo_abierto(sucursal).await }
            .into_actor(self)
            .map(move |resultado, cocina, ctx| match resultado {
                Ok(trabajo) => cocina.cargar(trabajo),
                Err(e) => {
                    tracing::warn!(%sucursal, error = %e, "cocina: no se pudo cargar el trabajo abierto");
                    ctx.run_later(Duration::from_secs(1), |cocina, ctx| {
                        cocina.cargar_desde_store(ctx)
                    });
                }
            })
            .spawn(ctx);
    }
}

/// An event of this sucursal, handed on by its `Sucursal` after delivering it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Anotar(pub Arc<EventoPublicado>);

impl Handler<Anotar> for Cocina {
    type Result = ();

    fn handle(&mut self, Anotar(evento): Anotar, _: &mut Self::Context) {
        if self.cargada_hasta.is_some() {
            self.aplicar(&evento.evento);
        } else {
            self.en_espera.push(evento);
        }
    }
}
