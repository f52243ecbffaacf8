//! `Monitor`: one per node, started with its Dispatcher. It serves the
//! admin and superadmin screens — every event in their scope, the presence
//! of every sucursal in their scope — and keeps what those screens and
//! `GET /api/eventos/vivo` and `GET /api/estadisticas` read: the ring of
//! the last 1000 events, the event counters, each sucursal's screens online
//! and each kitchen's open work.
//!
//! It hears each event once from the Dispatcher (one message per event,
//! however many monitors) and puts the event's shared frame in the buzon of
//! each monitor whose scope includes it, as a `Sucursal` does for its desks
//! and kitchens; `Perfil::puede_recibir` decides, as for a replay.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use actix::prelude::*;
use serde::Serialize;
use time::OffsetDateTime;

use super::SesionId;
use super::estadisticas::PresenciaDe;
use super::protocolo::{EventoPublicado, Presencia, frame_de_presencia};
use super::salida::Salida;
use crate::auth::Perfil;
use crate::modelo::{EventoId, SucursalId};

/// How many recent events `GET /api/eventos/vivo` shows.
pub const TAMANO_ANILLO: usize = 1000;

pub struct Monitor {
    pantallas: HashMap<SesionId, Pantalla>,
    /// Screens online by sucursal on every node (what monitors are told).
    presencias: HashMap<SucursalId, Presencia>,
    cocinas: HashMap<SucursalId, ResumenCocina>,
    anillo: VecDeque<Arc<EventoPublicado>>,
    eventos_desde_inicio: u64,
    ultimo_id: EventoId,
    inicio: OffsetDateTime,
}

/// An admin or superadmin session.
struct Pantalla {
    salida: Salida,
    perfil: Perfil,
}

impl Monitor {
    /// `ultimo_id` is the newest event already in the store when the node
    /// starts; `sucursales`, the sucursales known then (each shows, with
    /// nobody online, until its `Sucursal` says otherwise).
    pub fn new(ultimo_id: EventoId, sucursales: &[SucursalId]) -> Self {
        Self {
            pantallas: HashMap::new(),
            presencias: sucursales
                .iter()
                .map(|s| (*s, Presencia::default()))
                .collect(),
            cocinas: HashMap::new(),
            anillo: VecDeque::with_capacity(TAMANO_ANILLO),
            eventos_desde_inicio: 0,
            ultimo_id,
            inicio: OffsetDateTime::now_utc(),
        }
    }
}

impl Actor for Monitor {
    type Context = Context<Self>;
}

/// A monitor session opened (from the Dispatcher, which registered it):
/// it learns at once who is online in its scope.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Vigilar {
    pub sesion: SesionId,
    pub salida: Salida,
    pub perfil: Perfil,
}

impl Handler<Vigilar> for Monitor {
    type Result = ();

    fn handle(&mut self, msg: Vigilar, _: &mut Self::Context) {
        for (s, p) in &self.presencias {
            if msg.perfil.alcance.incluye(*s) {
                msg.salida.frame(frame_de_presencia(*s, p));
            }
        }
        self.pantallas.insert(
            msg.sesion,
            Pantalla {
                salida: msg.salida,
                perfil: msg.perfil,
            },
        );
    }
}

/// A monitor session ended.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DejarDeVigilar {
    pub sesion: SesionId,
}

impl Handler<DejarDeVigilar> for Monitor {
    type Result = ();

    fn handle(&mut self, msg: DejarDeVigilar, _: &mut Self::Context) {
        self.pantallas.remove(&msg.sesion);
    }
}

/// A committed event, from the Dispatcher, in id order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Mostrar(pub Arc<EventoPublicado>);

impl Handler<Mostrar> for Monitor {
    type Result = ();

    fn handle(&mut self, Mostrar(publicado): Mostrar, _: &mut Self::Context) {
        let (sucursal, destinos) = (publicado.sucursal_id(), publicado.destinos());
        self.ultimo_id = self.ultimo_id.max(publicado.id());
        self.eventos_desde_inicio += 1;
        if self.anillo.len() == TAMANO_ANILLO {
            self.anillo.pop_front();
        }
        let mut entregas = 0;
        for pantalla in self.pantallas.values() {
            if pantalla.perfil.puede_recibir(sucursal, destinos) {
                pantalla.salida.entregar(&publicado);
                entregas += 1;
            }
        }
        crate::metricas::entregas(entregas);
        self.anillo.push_back(publicado);
    }
}

/// A sucursal's online screens on every node changed (sent by its `Sucursal`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct PresenciaCambiada {
    pub sucursal: SucursalId,
    pub presencia: Presencia,
}

impl Handler<PresenciaCambiada> for Monitor {
    type Result = ();

    fn handle(&mut self, msg: PresenciaCambiada, _: &mut Self::Context) {
        self.presencias.insert(msg.sucursal, msg.presencia);
        let frame = frame_de_presencia(msg.sucursal, &msg.presencia);
        for pantalla in self.pantallas.values() {
            if pantalla.perfil.alcance.incluye(msg.sucursal) {
                pantalla.salida.frame(frame.clone());
            }
        }
    }
}

/// A kitchen's open work, counted (sent by its `Cocina` whenever it
/// changes; the Monitor keeps the latest for the counters).
#[derive(Message, Debug, Clone, Serialize)]
#[rtype(result = "()")]
pub struct ResumenCocina {
    #[serde(rename = "sucursal_id")]
    pub sucursal: SucursalId,
    pub cargada: bool,
    pub alertas_sin_leer: usize,
    pub refills_abiertos: usize,
}

impl Handler<ResumenCocina> for Monitor {
    type Result = ();

    fn handle(&mut self, msg: ResumenCocina, _: &mut Self::Context) {
        self.cocinas.insert(msg.sucursal, msg);
    }
}

/// The in-memory ring, oldest first.
#[derive(Message)]
#[rtype(result = "Vec<Arc<EventoPublicado>>")]
pub struct EventosEnVivo;

impl Handler<EventosEnVivo> for Monitor {
    type Result = MessageResult<EventosEnVivo>;

    fn handle(&mut self, _: EventosEnVivo, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.anillo.iter().cloned().collect())
    }
}

/// The Monitor's part of `GET /api/estadisticas` (the Dispatcher counts
/// the sessions: see `estadisticas`).
#[derive(Message)]
#[rtype(result = "Contadores")]
pub struct ConsultarContadores;

#[derive(Debug, Clone)]
pub struct Contadores {
    pub inicio: OffsetDateTime,
    pub eventos_desde_inicio: u64,
    pub ultimo_id: EventoId,
    /// By sucursal.
    pub presencia: Vec<PresenciaDe>,
    /// By sucursal.
    pub cocinas: Vec<ResumenCocina>,
}

impl Handler<ConsultarContadores> for Monitor {
    type Result = MessageResult<ConsultarContadores>;

    fn handle(&mut self, _: ConsultarContadores, _: &mut Self::Context) -> Self::Result {
        let mut presencia: Vec<PresenciaDe> = self
            .presencias
            .iter()
            .map(|(s, p)| PresenciaDe {
                sucursal_id: *s,
                en_linea: *p,
            })
            .collect();
        presencia.sort_by_key(|p| p.sucursal_id);
        let mut cocinas: Vec<ResumenCocina> = self.cocinas.values().cloned().collect();
        cocinas.sort_by_key(|c| c.sucursal);
        MessageResult(Contadores {
            inicio: self.inicio,
            eventos_desde_inicio: self.eventos_desde_inicio,
            ultimo_id: self.ultimo_id,
            presencia,
            cocinas,
        })
    }
}
