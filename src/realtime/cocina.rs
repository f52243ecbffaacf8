//! `Cocina`: one per sucursal's kitchen. It holds the kitchen's open work in
//! memory — unread alerts and open refills — loaded from the store at start
//! and kept current from the events its `Sucursal` hands on ([`Anotar`]),
//! read as the payload structs of their kinds (`modelo::payload`), and it
//! reviews the unread alerts on a timer through an [`Escalador`] hook (the
//! rules). Its summary goes to the Monitor ([`ResumenCocina`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::monitor::{Monitor, ResumenCocina};
use super::protocolo::EventoPublicado;
use crate::modelo::payload::{
    PayloadAlertaCocina, PayloadAlertaEscalada, PayloadAlertaLeida, PayloadRefillEstado,
    PayloadRefillSolicitado,
};
use crate::modelo::{
    AlertaCocina, EstadoRefill, Evento, EventoId, Prioridad, SolicitudRefill, SucursalId,
    TipoEntidad, TipoEvento,
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

    /// Keeps the open work current from the payloads of the kinds it
    /// follows; events of other kinds are ignored.
    fn aplicar(&mut self, e: &Evento) {
        match &e.tipo {
            TipoEvento::AlertaCocina => {
                // Also the seed's flat alert: what it leaves out reads as empty.
                let Some(p) = payload_de::<PayloadAlertaCocina>(e) else {
                    return;
                };
                if let Some(id) = id_de(e, TipoEntidad::Alerta, p.alerta_id.map(|a| a.0)) {
                    self.alertas.insert(
                        id,
                        AlertaAbierta {
                            id,
                            sucursal_id: self.sucursal,
                            prioridad: e.prioridad.unwrap_or(Prioridad::Normal),
                            mensaje: p.mensaje,
                            pedido_id: p.pedido_id.map(|p| p.0),
                            fecha_envio: p.fecha_envio.unwrap_or(e.fecha),
                        },
                    );
                }
            }
            TipoEvento::AlertaLeida => {
                let Some(p) = payload_de::<PayloadAlertaLeida>(e) else {
                    return;
                };
                if let Some(id) = id_de(e, TipoEntidad::Alerta, Some(p.alerta_id.0)) {
                    self.alertas.remove(&id);
                }
            }
            TipoEvento::AlertaEscalada => {
                let Some(p) = payload_de::<PayloadAlertaEscalada>(e) else {
                    return;
                };
                if let (Some(id), Some(prioridad)) = (
                    id_de(e, TipoEntidad::Alerta, Some(p.alerta_id.0)),
                    e.prioridad,
                ) && let Some(alerta) = self.alertas.get_mut(&id)
                {
                    alerta.prioridad = prioridad;
                }
            }
            TipoEvento::RefillSolicitado => {
                // Also the seed's flat request: one of it, if it doesn't say.
                let Some(p) = payload_de::<PayloadRefillSolicitado>(e) else {
                    return;
                };
                if let Some(id) = id_de(e, TipoEntidad::Refill, p.refill_id.map(|r| r.0)) {
                    self.refills.insert(
                        id,
                        RefillAbierto {
                            id,
                            producto: p.producto,
                            cantidad: p.cantidad,
                            estado: EstadoRefill::Pendiente,
                        },
                    );
                }
            }
            TipoEvento::RefillEstado => {
                let Some(p) = payload_de::<PayloadRefillEstado>(e) else {
                    return;
                };
                if let Some(id) = id_de(e, TipoEntidad::Refill, Some(p.refill_id.0)) {
                    if p.estado == EstadoRefill::Completado {
                        self.refills.remove(&id);
                    } else if let Some(r) = self.refills.get_mut(&id) {
                        r.estado = p.estado;
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

/// The row id an event is about: its entity when of the given kind, else
/// the payload's field the seed used (`alerta_id`, `refill_id`).
fn id_de(e: &Evento, entidad: TipoEntidad, del_payload: Option<i64>) -> Option<i64> {
    match (&e.entidad_tipo, e.entidad_id) {
        (Some(t), Some(id)) if *t == entidad => Some(id),
        _ => del_payload,
    }
}

/// The payload of `e` as the struct of its kind. The kinds only comanda's
/// workflows publish always fit theirs; one that doesn't is left alone.
fn payload_de<T: DeserializeOwned>(e: &Evento) -> Option<T> {
    e.payload_como()
        .inspect_err(|error| tracing::warn!(evento = %e.id, tipo = %e.tipo, %error, "cocina: un payload que no es el de su tipo"))
        .ok()
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
