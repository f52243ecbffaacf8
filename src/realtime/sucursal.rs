//! `Sucursal`: one per sucursal. It holds the sucursal's desk and kitchen
//! sessions by role, delivers each event to the roles it is addressed to and
//! hands it on to its `Cocina`, and tells everyone which screens are online
//! (presence): its own screens, the Monitor, and the Dispatcher (for the
//! other nodes).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::SesionId;
use super::cocina::{Anotar, Cocina};
use super::dispatcher::{Dispatcher, PresenciaLocalCambiada};
use super::monitor::{Monitor, PresenciaCambiada};
use super::protocolo::{EventoPublicado, Presencia, frame_de_presencia};
use super::salida::{Hilo, Miembro, Reparto, Salida};
use crate::auth::Perfil;
use crate::modelo::{Rol, SucursalId};

pub struct Sucursal {
    id: SucursalId,
    miembros: HashMap<SesionId, Miembro>,
    /// The members grouped by socket thread, for the fan-out; made again
    /// at the first event after a member joins or leaves.
    por_hilo: Option<Vec<Grupo>>,
    cocina: Addr<Cocina>,
    dispatcher: Addr<Dispatcher>,
    monitor: Addr<Monitor>,
    /// This sucursal's screens on the other nodes serving the database.
    remota: Presencia,
    /// An announcement is scheduled (see [`PAUSA_PRESENCIA`]).
    anuncio_pendiente: bool,
    /// What was last announced.
    anunciada: Option<Presencia>,
}

/// The members whose writers run on one socket thread (`None`: sessions
/// without a socket, delivered to in place).
struct Grupo {
    hilo: Option<Hilo>,
    miembros: Arc<[Miembro]>,
}

/// Changes of presence this close together are announced once: a burst of
/// screens connecting (a restart, a reconnect wave) costs one frame per
/// screen, not one per screen per screen.
const PAUSA_PRESENCIA: Duration = Duration::from_millis(50);
/// An announcement reaches every member: in a crowded sucursal they are
/// spaced further apart, so that presence costs at most about one frame per
/// this long on average (10,000 screens: one announcement a second).
const PRESENCIA_POR_MIEMBRO: Duration = Duration::from_micros(100);

impl Sucursal {
    pub fn new(
        id: SucursalId,
        cocina: Addr<Cocina>,
        dispatcher: Addr<Dispatcher>,
        monitor: Addr<Monitor>,
    ) -> Self {
        Self {
            id,
            miembros: HashMap::new(),
            por_hilo: None,
            cocina,
            dispatcher,
            monitor,
            remota: Presencia::default(),
            anuncio_pendiente: false,
            anunciada: None,
        }
    }

    /// Presence may have changed: announce it shortly, once.
    fn presencia_cambiada(&mut self, ctx: &mut Context<Self>) {
        if !self.anuncio_pendiente {
            self.anuncio_pendiente = true;
            let pausa = PAUSA_PRESENCIA.max(PRESENCIA_POR_MIEMBRO * self.miembros.len() as u32);
            ctx.run_later(pausa, |sucursal, _| {
                sucursal.anuncio_pendiente = false;
                sucursal.anunciar_presencia();
            });
        }
    }

    /// The members by socket thread (see [`Hilo`]).
    fn por_hilo(&mut self) -> &[Grupo] {
        self.por_hilo.get_or_insert_with(|| {
            let mut grupos: BTreeMap<Option<usize>, (Option<Hilo>, Vec<Miembro>)> = BTreeMap::new();
            for m in self.miembros.values() {
                let hilo = &m.salida.hilo;
                grupos
                    .entry(hilo.as_ref().map(Hilo::indice))
                    .or_insert_with(|| (hilo.clone(), Vec::new()))
                    .1
                    .push(m.clone());
            }
            grupos
                .into_values()
                .map(|(hilo, miembros)| Grupo {
                    hilo,
                    miembros: miembros.into(),
                })
                .collect()
        })
    }

    /// Its screens on this node.
    fn presencia_local(&self) -> Presencia {
        let mut p = Presencia::default();
        for m in self.miembros.values() {
            match m.perfil.rol {
                Rol::Atencion => p.atencion += 1,
                Rol::Cocina => p.cocina += 1,
                _ => {}
            }
        }
        p
    }

    /// Tells every screen of the sucursal, and the monitors, who is online
    /// on any node; and the Dispatcher who is online on this one.
    fn anunciar_presencia(&mut self) {
        let local = self.presencia_local();
        let presencia = local + self.remota;
        if self.anunciada == Some(presencia) {
            return;
        }
        self.anunciada = Some(presencia);
        let frame = frame_de_presencia(self.id, &presencia);
        for m in self.miembros.values() {
            m.salida.frame(frame.clone());
        }
        self.monitor.do_send(PresenciaCambiada {
            sucursal: self.id,
            presencia,
        });
        self.dispatcher.do_send(PresenciaLocalCambiada {
            sucursal: self.id,
            local,
        });
    }
}

impl Actor for Sucursal {
    type Context = Context<Self>;
}

/// A desk or kitchen session of this sucursal opened.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unirse {
    pub sesion: SesionId,
    pub salida: Salida,
    pub perfil: Perfil,
}

impl Handler<Unirse> for Sucursal {
    type Result = ();

    fn handle(&mut self, msg: Unirse, ctx: &mut Self::Context) {
        let salida = msg.salida.clone();
        self.miembros.insert(
            msg.sesion,
            Miembro {
                salida: msg.salida,
                perfil: msg.perfil,
            },
        );
        self.por_hilo = None;
        // The newcomer learns who is online at once; the others with the
        // next announcement.
        let presencia = self.presencia_local() + self.remota;
        salida.frame(frame_de_presencia(self.id, &presencia));
        self.presencia_cambiada(ctx);
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Salir {
    pub sesion: SesionId,
}

impl Handler<Salir> for Sucursal {
    type Result = ();

    fn handle(&mut self, msg: Salir, ctx: &mut Self::Context) {
        if self.miembros.remove(&msg.sesion).is_some() {
            self.por_hilo = None;
            self.presencia_cambiada(ctx);
        }
    }
}

/// This sucursal's screens on the other nodes, from the Dispatcher.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PresenciaRemota(pub Presencia);

impl Handler<PresenciaRemota> for Sucursal {
    type Result = ();

    fn handle(&mut self, PresenciaRemota(remota): PresenciaRemota, ctx: &mut Self::Context) {
        if remota != self.remota {
            self.remota = remota;
            self.presencia_cambiada(ctx);
        }
    }
}

/// An event of this sucursal, from the Dispatcher.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Difundir(pub Arc<EventoPublicado>);

impl Handler<Difundir> for Sucursal {
    type Result = ();

    fn handle(&mut self, Difundir(evento): Difundir, _: &mut Self::Context) {
        for grupo in self.por_hilo() {
            let reparto = Reparto {
                evento: evento.clone(),
                miembros: grupo.miembros.clone(),
            };
            match &grupo.hilo {
                Some(hilo) => hilo.repartir(reparto),
                None => reparto.entregar(),
            }
        }
        self.cocina.do_send(Anotar(evento));
    }
}
