//! `Sucursal`: one per sucursal. It holds the sucursal's desk and kitchen
//! sessions by role, delivers each event to the roles it is addressed to, and
//! tells everyone which screens are online (presence).

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;

use super::SesionId;
use super::cocina::Cocina;
use super::dispatcher::{Dispatcher, PresenciaCambiada};
use super::protocolo::{Aviso, EventoPublicado, Presencia};
use super::session::{Entregar, Frame, Session};
use crate::auth::Perfil;
use crate::modelo::{Rol, SucursalId};

pub struct Sucursal {
    id: SucursalId,
    miembros: HashMap<SesionId, Miembro>,
    cocina: Addr<Cocina>,
    dispatcher: Addr<Dispatcher>,
    /// This sucursal's screens on the other nodes serving the database.
    remota: Presencia,
}

struct Miembro {
    addr: Addr<Session>,
    perfil: Perfil,
}

impl Sucursal {
    pub fn new(id: SucursalId, cocina: Addr<Cocina>, dispatcher: Addr<Dispatcher>) -> Self {
        Self {
            id,
            miembros: HashMap::new(),
            cocina,
            dispatcher,
            remota: Presencia::default(),
        }
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
    /// on any node.
    fn anunciar_presencia(&self) {
        let local = self.presencia_local();
        let presencia = local + self.remota;
        let frame = Aviso::Presencia {
            sucursal_id: self.id,
            en_linea: &presencia,
        }
        .a_texto();
        for m in self.miembros.values() {
            m.addr.do_send(Frame(frame.clone()));
        }
        self.dispatcher.do_send(PresenciaCambiada {
            sucursal: self.id,
            local,
            presencia,
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
    pub addr: Addr<Session>,
    pub perfil: Perfil,
}

impl Handler<Unirse> for Sucursal {
    type Result = ();

    fn handle(&mut self, msg: Unirse, _: &mut Self::Context) {
        self.miembros.insert(
            msg.sesion,
            Miembro {
                addr: msg.addr,
                perfil: msg.perfil,
            },
        );
        self.anunciar_presencia();
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Salir {
    pub sesion: SesionId,
}

impl Handler<Salir> for Sucursal {
    type Result = ();

    fn handle(&mut self, msg: Salir, _: &mut Self::Context) {
        if self.miembros.remove(&msg.sesion).is_some() {
            self.anunciar_presencia();
        }
    }
}

/// This sucursal's screens on the other nodes, from the Dispatcher.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PresenciaRemota(pub Presencia);

impl Handler<PresenciaRemota> for Sucursal {
    type Result = ();

    fn handle(&mut self, PresenciaRemota(remota): PresenciaRemota, _: &mut Self::Context) {
        if remota != self.remota {
            self.remota = remota;
            self.anunciar_presencia();
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
        let (sucursal, destinos) = (evento.sucursal_id(), evento.destinos());
        for m in self.miembros.values() {
            if m.perfil.puede_recibir(sucursal, destinos) {
                m.addr.do_send(Entregar(evento.clone()));
            }
        }
        self.cocina.do_send(Difundir(evento));
    }
}
