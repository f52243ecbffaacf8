//! `Dispatcher`: one per node, started once. It receives every committed
//! event, serializes it once, keeps the ring of the last 1000 and the
//! counters, and fans it out: to the `Sucursal` actor of its sucursal and to
//! the monitors (admin and superadmin sessions) whose scope includes it.
//! It also admits new sockets: at most `ws_sesiones_por_usuario` per user.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use actix::prelude::*;
use time::OffsetDateTime;

use super::SesionId;
use super::cocina::{Cocina, Escalador, ResumenCocina};
use super::protocolo::{EventoPublicado, Presencia, frame_de_presencia};
use super::salida::Salida;
use super::session::Cerrar;
use super::sucursal::{Difundir, PresenciaRemota, Salir, Sucursal, Unirse};
use crate::auth::{Perfil, TokenHash};
use crate::config::RealtimeSettings;
use crate::modelo::{Evento, EventoId, Rol, SucursalId, UsuarioId};
use crate::store::Store;

/// How many recent events `GET /api/eventos/vivo` shows.
pub const TAMANO_ANILLO: usize = 1000;

pub struct Dispatcher {
    store: Store,
    escalador: Option<Arc<dyn Escalador>>,
    config: Arc<RealtimeSettings>,
    sucursales: HashMap<SucursalId, Addr<Sucursal>>,
    sesiones: HashMap<SesionId, Registro>,
    /// Sockets admitted (`Admitir`) and not yet gone (`Baja`), and their count by user.
    admitidas: HashMap<SesionId, UsuarioId>,
    por_usuario: HashMap<UsuarioId, usize>,
    /// Screens online by sucursal on every node (what screens are told).
    presencias: HashMap<SucursalId, Presencia>,
    /// Screens online by sucursal on this node (what the other nodes are told).
    presencias_locales: HashMap<SucursalId, Presencia>,
    presencia_local_cambiada: Arc<tokio::sync::Notify>,
    cocinas: HashMap<SucursalId, ResumenCocina>,
    anillo: VecDeque<Arc<EventoPublicado>>,
    eventos_desde_inicio: u64,
    ultimo_id: EventoId,
    inicio: OffsetDateTime,
}

struct Registro {
    salida: Salida,
    perfil: Perfil,
    usuario_id: UsuarioId,
    token: TokenHash,
}

impl Dispatcher {
    /// `ultimo_id` is the newest event already in the store when the node starts.
    pub fn new(
        store: Store,
        config: Arc<RealtimeSettings>,
        ultimo_id: EventoId,
        sucursales: Vec<SucursalId>,
        escalador: Option<Arc<dyn Escalador>>,
    ) -> Self {
        Self {
            store,
            escalador,
            config,
            sucursales: HashMap::new(),
            sesiones: HashMap::new(),
            admitidas: HashMap::new(),
            por_usuario: HashMap::new(),
            presencias: sucursales
                .iter()
                .map(|s| (*s, Presencia::default()))
                .collect(),
            presencias_locales: HashMap::new(),
            presencia_local_cambiada: Default::default(),
            cocinas: HashMap::new(),
            anillo: VecDeque::with_capacity(TAMANO_ANILLO),
            eventos_desde_inicio: 0,
            ultimo_id,
            inicio: OffsetDateTime::now_utc(),
        }
    }

    /// Woken whenever this node's screens online change (the node's
    /// heartbeat tells the other nodes at once).
    pub fn aviso_de_presencia_local(&self) -> Arc<tokio::sync::Notify> {
        self.presencia_local_cambiada.clone()
    }

    /// The sucursal's actor (and its kitchen), started on first use: a
    /// sucursal created after startup gets its actors with its first session
    /// or event.
    fn sucursal(&mut self, id: SucursalId, ctx: &mut Context<Self>) -> &Addr<Sucursal> {
        self.sucursales.entry(id).or_insert_with(|| {
            let cocina = Cocina::new(
                id,
                self.store.clone(),
                ctx.address(),
                self.config.escalado_intervalo,
                self.escalador.clone(),
            )
            .start();
            Sucursal::new(id, cocina, ctx.address()).start()
        })
    }

    fn monitores(&self) -> impl Iterator<Item = (&SesionId, &Registro)> {
        self.sesiones.iter().filter(|(_, r)| r.perfil.es_monitor())
    }

    fn presencia_a(&self, salida: &Salida, sucursal: SucursalId, presencia: &Presencia) {
        salida.frame(frame_de_presencia(sucursal, presencia));
    }
}

impl Actor for Dispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let conocidas: Vec<SucursalId> = self.presencias.keys().copied().collect();
        for s in conocidas {
            self.sucursal(s, ctx);
        }
        tracing::info!(sucursales = self.sucursales.len(), "dispatcher en marcha");
    }
}

/// A socket is about to open for `usuario_id`: admitted while the user has
/// fewer than `ws_sesiones_por_usuario` sockets on this node. It counts from
/// here until its session's `Baja`, so sockets opened at the same moment
/// can't all slip in before any of them registers. Sessions without a
/// socket (the fan-out benchmark) are not admitted and not counted.
#[derive(Message)]
#[rtype(result = "Result<(), DemasiadasSesiones>")]
pub struct Admitir {
    pub sesion: SesionId,
    pub usuario_id: UsuarioId,
}

/// Refusal of [`Admitir`]: how many sockets the user already has open.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("ya tienes {abiertas} pantallas conectadas con esta cuenta, el máximo")]
pub struct DemasiadasSesiones {
    pub abiertas: usize,
}

impl Handler<Admitir> for Dispatcher {
    type Result = Result<(), DemasiadasSesiones>;

    fn handle(&mut self, msg: Admitir, _: &mut Self::Context) -> Self::Result {
        let abiertas = self.por_usuario.entry(msg.usuario_id).or_default();
        if *abiertas >= self.config.ws_sesiones_por_usuario.get() {
            return Err(DemasiadasSesiones {
                abiertas: *abiertas,
            });
        }
        *abiertas += 1;
        self.admitidas.insert(msg.sesion, msg.usuario_id);
        Ok(())
    }
}

/// A session opens: answers the newest event id dispatched so far, the
/// position its `hola` reports. Every event after it reaches the session.
#[derive(Message)]
#[rtype(result = "EventoId")]
pub struct Registrar {
    pub sesion: SesionId,
    pub salida: Salida,
    pub perfil: Perfil,
    pub usuario_id: UsuarioId,
    pub token: TokenHash,
}

impl Handler<Registrar> for Dispatcher {
    type Result = MessageResult<Registrar>;

    fn handle(&mut self, msg: Registrar, ctx: &mut Self::Context) -> Self::Result {
        let Registrar {
            sesion,
            salida,
            perfil,
            usuario_id,
            token,
        } = msg;
        if perfil.es_monitor() {
            for (s, p) in &self.presencias {
                if perfil.alcance.incluye(*s) {
                    self.presencia_a(&salida, *s, p);
                }
            }
        } else if let (Some(_), Some(s)) = (perfil.audiencia(), perfil.alcance.sucursal()) {
            self.sucursal(s, ctx).do_send(Unirse {
                sesion,
                salida: salida.clone(),
                perfil,
            });
        }
        crate::metricas::sesion_abierta(&perfil);
        self.sesiones.insert(
            sesion,
            Registro {
                salida,
                perfil,
                usuario_id,
                token,
            },
        );
        MessageResult(self.ultimo_id)
    }
}

/// A session ended, whichever way.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Baja {
    pub sesion: SesionId,
}

impl Handler<Baja> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: Baja, _: &mut Self::Context) {
        if let Some(usuario) = self.admitidas.remove(&msg.sesion)
            && let Entry::Occupied(mut abiertas) = self.por_usuario.entry(usuario)
        {
            *abiertas.get_mut() -= 1;
            if *abiertas.get() == 0 {
                abiertas.remove();
            }
        }
        let Some(registro) = self.sesiones.remove(&msg.sesion) else {
            return;
        };
        crate::metricas::sesion_cerrada(&registro.perfil);
        if !registro.perfil.es_monitor()
            && let Some(s) = registro.perfil.alcance.sucursal()
            && let Some(sucursal) = self.sucursales.get(&s)
        {
            sucursal.do_send(Salir { sesion: msg.sesion });
        }
    }
}

/// A committed event, in id order (the store's publication turn guarantees it).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Despachar(pub Evento);

impl Handler<Despachar> for Dispatcher {
    type Result = ();

    fn handle(&mut self, Despachar(evento): Despachar, ctx: &mut Self::Context) {
        let publicado = EventoPublicado::new(evento);
        let (sucursal, destinos) = (publicado.sucursal_id(), publicado.destinos());
        self.ultimo_id = self.ultimo_id.max(publicado.id());
        self.eventos_desde_inicio += 1;
        if self.anillo.len() == TAMANO_ANILLO {
            self.anillo.pop_front();
        }
        self.anillo.push_back(publicado.clone());

        let mut entregas = 0;
        for (_, monitor) in self.monitores() {
            if monitor.perfil.puede_recibir(sucursal, destinos) {
                monitor.salida.entregar(&publicado);
                entregas += 1;
            }
        }
        crate::metricas::entregas(entregas);
        if let Some(s) = sucursal {
            self.sucursal(s, ctx).do_send(Difundir(publicado));
        }
    }
}

/// A sucursal's online screens changed (sent by its `Sucursal` actor).
#[derive(Message)]
#[rtype(result = "()")]
pub struct PresenciaCambiada {
    pub sucursal: SucursalId,
    /// On this node.
    pub local: Presencia,
    /// On every node.
    pub presencia: Presencia,
}

impl Handler<PresenciaCambiada> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: PresenciaCambiada, _: &mut Self::Context) {
        if self.presencias_locales.insert(msg.sucursal, msg.local) != Some(msg.local) {
            self.presencia_local_cambiada.notify_one();
        }
        self.presencias.insert(msg.sucursal, msg.presencia);
        let frame = frame_de_presencia(msg.sucursal, &msg.presencia);
        for (_, monitor) in self.monitores() {
            if monitor.perfil.alcance.incluye(msg.sucursal) {
                monitor.salida.frame(frame.clone());
            }
        }
    }
}

/// This node's screens online by sucursal, and its open sockets: what its
/// row in `nodos` tells the other nodes.
#[derive(Message)]
#[rtype(result = "(BTreeMap<SucursalId, Presencia>, usize)")]
pub struct PresenciaLocal;

impl Handler<PresenciaLocal> for Dispatcher {
    type Result = MessageResult<PresenciaLocal>;

    fn handle(&mut self, _: PresenciaLocal, _: &mut Self::Context) -> Self::Result {
        let locales = self
            .presencias_locales
            .iter()
            .filter(|(_, p)| **p != Presencia::default())
            .map(|(s, p)| (*s, *p))
            .collect();
        MessageResult((locales, self.sesiones.len()))
    }
}

/// The screens online on the other nodes, summed by sucursal.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PresenciaDeOtrosNodos(pub BTreeMap<SucursalId, Presencia>);

impl Handler<PresenciaDeOtrosNodos> for Dispatcher {
    type Result = ();

    fn handle(
        &mut self,
        PresenciaDeOtrosNodos(otros): PresenciaDeOtrosNodos,
        ctx: &mut Self::Context,
    ) {
        for s in otros.keys() {
            self.sucursal(*s, ctx);
        }
        for (s, addr) in &self.sucursales {
            addr.do_send(PresenciaRemota(otros.get(s).copied().unwrap_or_default()));
        }
    }
}

impl Handler<ResumenCocina> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: ResumenCocina, _: &mut Self::Context) {
        self.cocinas.insert(msg.sucursal, msg);
    }
}

/// Closes sessions: of one user (its account changed), of one login (it
/// logged out), or all of them (shutdown).
#[derive(Message, Clone)]
#[rtype(result = "usize")]
pub struct CerrarSesiones {
    pub de: CualesSesiones,
    pub codigo: u16,
    pub motivo: &'static str,
}

#[derive(Debug, Clone)]
pub enum CualesSesiones {
    DeUsuario(UsuarioId),
    DeToken(TokenHash),
    Todas,
}

impl Handler<CerrarSesiones> for Dispatcher {
    type Result = usize;

    fn handle(&mut self, msg: CerrarSesiones, _: &mut Self::Context) -> usize {
        let mut cerradas = 0;
        for registro in self.sesiones.values() {
            let aplica = match &msg.de {
                CualesSesiones::DeUsuario(u) => registro.usuario_id == *u,
                CualesSesiones::DeToken(t) => registro.token == *t,
                CualesSesiones::Todas => true,
            };
            if aplica {
                registro.salida.sesion.do_send(Cerrar {
                    codigo: msg.codigo,
                    motivo: msg.motivo,
                });
                cerradas += 1;
            }
        }
        cerradas
    }
}

/// The in-memory ring, oldest first.
#[derive(Message)]
#[rtype(result = "Vec<Arc<EventoPublicado>>")]
pub struct EventosEnVivo;

impl Handler<EventosEnVivo> for Dispatcher {
    type Result = MessageResult<EventosEnVivo>;

    fn handle(&mut self, _: EventosEnVivo, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.anillo.iter().cloned().collect())
    }
}

/// Counters for `GET /api/estadisticas` and the monitor.
#[derive(Message)]
#[rtype(result = "Estadisticas")]
pub struct ConsultarEstadisticas;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Estadisticas {
    #[serde(with = "time::serde::rfc3339")]
    pub inicio: OffsetDateTime,
    pub eventos_desde_inicio: u64,
    pub ultimo_id: EventoId,
    pub sesiones_total: usize,
    /// Open sessions by sucursal (`null`: no sucursal) and role.
    pub sesiones: Vec<SesionesDe>,
    /// Each sucursal's online screens, as its `Sucursal` actor counts them.
    pub presencia: Vec<PresenciaDe>,
    /// Each kitchen's open work, as its `Cocina` actor holds it.
    pub cocinas: Vec<ResumenCocina>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SesionesDe {
    pub sucursal_id: Option<SucursalId>,
    pub rol: Rol,
    pub sesiones: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PresenciaDe {
    pub sucursal_id: SucursalId,
    pub en_linea: Presencia,
}

impl Handler<ConsultarEstadisticas> for Dispatcher {
    type Result = MessageResult<ConsultarEstadisticas>;

    fn handle(&mut self, _: ConsultarEstadisticas, _: &mut Self::Context) -> Self::Result {
        let mut conteo: HashMap<(Option<SucursalId>, Rol), usize> = HashMap::new();
        for r in self.sesiones.values() {
            *conteo
                .entry((r.perfil.alcance.sucursal(), r.perfil.rol))
                .or_default() += 1;
        }
        let mut sesiones: Vec<SesionesDe> = conteo
            .into_iter()
            .map(|((sucursal_id, rol), sesiones)| SesionesDe {
                sucursal_id,
                rol,
                sesiones,
            })
            .collect();
        sesiones.sort_by_key(|s| (s.sucursal_id, s.rol));
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
        MessageResult(Estadisticas {
            inicio: self.inicio,
            eventos_desde_inicio: self.eventos_desde_inicio,
            ultimo_id: self.ultimo_id,
            sesiones_total: self.sesiones.len(),
            sesiones,
            presencia,
            cocinas,
        })
    }
}
