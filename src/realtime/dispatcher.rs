//! `Dispatcher`: one per node, started once. It receives every committed
//! event in id order, serializes it once and routes it: to the `Sucursal`
//! actor of its sucursal, to the [`Monitor`] (the admin and superadmin
//! screens, the ring of recent events, the counters), and to the
//! [`Subscriber`]s of its kind. It keeps the node's registry of sessions:
//! it admits new sockets (at most `ws_sesiones_por_usuario` per user),
//! registers each with its `Sucursal` or the Monitor, closes them on demand,
//! and obeys the revocations among the events (`auth::Revocacion`), closing
//! the sockets of a login or an account that ended on any node.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use actix::prelude::*;

use super::SesionId;
use super::cocina::{Cocina, Escalador};
use super::estadisticas::SesionesDe;
use super::monitor::{DejarDeVigilar, Monitor, Mostrar, Vigilar};
use super::protocolo::{EventoPublicado, Presencia, cierre};
use super::salida::Salida;
use super::session::Cerrar;
use super::subscriber::{Subscriber, Subscriptions};
use super::sucursal::{Difundir, PresenciaRemota, Salir, Sucursal, Unirse};
use crate::auth::{Huella, Perfil, Revocacion, TokenHash};
use crate::config::RealtimeSettings;
use crate::modelo::{Evento, EventoId, Rol, SucursalId, TipoEvento, UsuarioId};
use crate::store::Store;

/// How many recent revocations the Dispatcher keeps for sockets still
/// registering (see [`Registrar`]).
const REVOCACIONES_RECORDADAS: usize = 1000;

pub struct Dispatcher {
    store: Store,
    escalador: Option<Arc<dyn Escalador>>,
    config: Arc<RealtimeSettings>,
    monitor: Addr<Monitor>,
    suscripciones: Subscriptions,
    /// The sucursales known at start: their actors start with the Dispatcher.
    conocidas: Vec<SucursalId>,
    sucursales: HashMap<SucursalId, Addr<Sucursal>>,
    sesiones: HashMap<SesionId, Registro>,
    /// Sockets admitted (`Admitir`) and not yet gone (`Baja`), and their count by user.
    admitidas: HashMap<SesionId, UsuarioId>,
    por_usuario: HashMap<UsuarioId, usize>,
    /// Screens online by sucursal on this node (what the other nodes are told).
    presencias_locales: HashMap<SucursalId, Presencia>,
    presencia_local_cambiada: Arc<tokio::sync::Notify>,
    revocaciones: Revocaciones,
    ultimo_id: EventoId,
}

struct Registro {
    salida: Salida,
    perfil: Perfil,
    usuario_id: UsuarioId,
    token: TokenHash,
}

/// The revocations among the events dispatched lately, oldest first.
#[derive(Default)]
struct Revocaciones {
    recientes: VecDeque<(EventoId, Revocacion)>,
    /// The newest id among those no longer kept.
    olvidada: EventoId,
}

impl Revocaciones {
    fn anotar(&mut self, id: EventoId, revocacion: Revocacion) {
        if self.recientes.len() == REVOCACIONES_RECORDADAS
            && let Some((vieja, _)) = self.recientes.pop_front()
        {
            self.olvidada = vieja;
        }
        self.recientes.push_back((id, revocacion));
    }

    /// The revocation, among those dispatched after `desde`, that ends the
    /// login `token` of `usuario`, if any: one that reached this node
    /// between the login's check and its socket's registration. With a
    /// revocation after `desde` already forgotten (over a thousand in that
    /// moment), the answer can't be known: the socket is told to retry.
    fn tras(
        &self,
        desde: EventoId,
        usuario: UsuarioId,
        token: &TokenHash,
    ) -> Option<(u16, &'static str)> {
        for (id, r) in self.recientes.iter().rev() {
            if *id <= desde {
                break;
            }
            let (cuales, codigo) = alcance_de(r);
            if cuales.alcanza(usuario, token) {
                return Some((codigo, r.motivo()));
            }
        }
        (self.olvidada > desde).then_some((cierre::REINTENTA_LUEGO, "vuelve a conectar"))
    }
}

impl Dispatcher {
    /// `ultimo_id` is the newest event already in the store when the node
    /// starts. Starts the node's [`Monitor`] on the current arbiter.
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
            monitor: Monitor::new(ultimo_id, &sucursales).start(),
            suscripciones: Subscriptions::default(),
            conocidas: sucursales,
            sucursales: HashMap::new(),
            sesiones: HashMap::new(),
            admitidas: HashMap::new(),
            por_usuario: HashMap::new(),
            presencias_locales: HashMap::new(),
            presencia_local_cambiada: Default::default(),
            revocaciones: Revocaciones::default(),
            ultimo_id,
        }
    }

    /// `subscriber` is told every event of kind `tipo` (before start).
    pub fn suscribir(&mut self, tipo: TipoEvento, subscriber: Arc<dyn Subscriber>) {
        self.suscripciones.add(tipo, subscriber);
    }

    /// The node's Monitor.
    pub fn monitor(&self) -> Addr<Monitor> {
        self.monitor.clone()
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
                self.monitor.clone(),
                self.config.escalado_intervalo,
                self.escalador.clone(),
            )
            .start();
            Sucursal::new(id, cocina, ctx.address(), self.monitor.clone()).start()
        })
    }

    /// Tells the sessions `de` names to close; answers how many.
    fn cerrar(&self, de: &CualesSesiones, codigo: u16, motivo: &'static str) -> usize {
        let mut cerradas = 0;
        for registro in self.sesiones.values().filter(|r| de.incluye(r)) {
            registro.salida.sesion.do_send(Cerrar { codigo, motivo });
            cerradas += 1;
        }
        cerradas
    }

    /// Closes the sockets a revocation names, whichever node it came from.
    fn revocar(&self, revocacion: &Revocacion) {
        let (cuales, codigo) = alcance_de(revocacion);
        let cerradas = self.cerrar(&cuales, codigo, revocacion.motivo());
        if cerradas > 0 {
            tracing::info!(
                sockets = cerradas,
                ?cuales,
                codigo,
                "sockets cerrados por una revocación"
            );
        }
    }
}

/// The sessions a revocation ends and their close code: 4001 for a login
/// that ended, 4003 for an account that changed.
fn alcance_de(revocacion: &Revocacion) -> (CualesSesiones, u16) {
    match revocacion {
        Revocacion::Sesion {
            usuario, huella, ..
        } => (
            CualesSesiones::DeLogin(*usuario, huella.clone()),
            cierre::NO_AUTENTICADO,
        ),
        Revocacion::Cuenta { usuario } => (CualesSesiones::DeUsuario(*usuario), cierre::PROHIBIDO),
    }
}

impl Actor for Dispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        for s in std::mem::take(&mut self.conocidas) {
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
/// position its `hola` reports. Every event after it reaches the session
/// (through its `Sucursal`, or the Monitor for an admin or superadmin);
/// a revocation of its login dispatched after `comprobado_hasta` (when its
/// login was found valid) and before now closes it at once.
#[derive(Message)]
#[rtype(result = "EventoId")]
pub struct Registrar {
    pub sesion: SesionId,
    pub salida: Salida,
    pub perfil: Perfil,
    pub usuario_id: UsuarioId,
    pub token: TokenHash,
    pub comprobado_hasta: EventoId,
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
            comprobado_hasta,
        } = msg;
        if let Some((codigo, motivo)) = self.revocaciones.tras(comprobado_hasta, usuario_id, &token)
        {
            tracing::info!(%sesion, codigo, "socket de una sesión revocada mientras se abría");
            salida.sesion.do_send(Cerrar { codigo, motivo });
        }
        // Sent before any event after `ultimo_id`: the Monitor or the
        // Sucursal hears of the session first.
        if perfil.es_monitor() {
            self.monitor.do_send(Vigilar {
                sesion,
                salida: salida.clone(),
                perfil,
            });
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
        if registro.perfil.es_monitor() {
            self.monitor.do_send(DejarDeVigilar { sesion: msg.sesion });
        } else if let Some(s) = registro.perfil.alcance.sucursal()
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
        self.suscripciones.notify(&evento);
        let publicado = EventoPublicado::new(evento);
        let id = publicado.id();
        self.ultimo_id = self.ultimo_id.max(id);
        self.monitor.do_send(Mostrar(publicado.clone()));
        if let Some(revocacion) = Revocacion::de(&publicado.evento) {
            self.revocar(&revocacion);
            self.revocaciones.anotar(id, revocacion);
        }
        if let Some(s) = publicado.sucursal_id() {
            self.sucursal(s, ctx).do_send(Difundir(publicado));
        }
    }
}

/// A sucursal's online screens on this node changed (sent by its
/// `Sucursal` actor; the Monitor hears of them on every node).
#[derive(Message)]
#[rtype(result = "()")]
pub struct PresenciaLocalCambiada {
    pub sucursal: SucursalId,
    pub local: Presencia,
}

impl Handler<PresenciaLocalCambiada> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: PresenciaLocalCambiada, _: &mut Self::Context) {
        if self.presencias_locales.insert(msg.sucursal, msg.local) != Some(msg.local) {
            self.presencia_local_cambiada.notify_one();
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

/// Closes sessions: of one user (its account changed), of one login (it
/// logged out, or the account's cap ended it), or all of them (shutdown).
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
    /// One login, as a revocation event names it.
    DeLogin(UsuarioId, Huella),
    Todas,
}

impl CualesSesiones {
    fn incluye(&self, registro: &Registro) -> bool {
        self.alcanza(registro.usuario_id, &registro.token)
    }

    /// Whether the session of login `token` of `usuario` is among these.
    fn alcanza(&self, usuario: UsuarioId, token: &TokenHash) -> bool {
        match self {
            CualesSesiones::DeUsuario(u) => usuario == *u,
            CualesSesiones::DeToken(t) => token == t,
            CualesSesiones::DeLogin(u, huella) => usuario == *u && token.huella() == *huella,
            CualesSesiones::Todas => true,
        }
    }
}

impl Handler<CerrarSesiones> for Dispatcher {
    type Result = usize;

    fn handle(&mut self, msg: CerrarSesiones, _: &mut Self::Context) -> usize {
        self.cerrar(&msg.de, msg.codigo, msg.motivo)
    }
}

/// The sessions open on this node, counted for `GET /api/estadisticas`.
#[derive(Message)]
#[rtype(result = "SesionesAbiertas")]
pub struct ContarSesiones;

#[derive(Debug, Clone)]
pub struct SesionesAbiertas {
    pub total: usize,
    /// By sucursal (`None`: no sucursal) and role.
    pub por_sucursal_y_rol: Vec<SesionesDe>,
}

impl Handler<ContarSesiones> for Dispatcher {
    type Result = MessageResult<ContarSesiones>;

    fn handle(&mut self, _: ContarSesiones, _: &mut Self::Context) -> Self::Result {
        let mut conteo: HashMap<(Option<SucursalId>, Rol), usize> = HashMap::new();
        for r in self.sesiones.values() {
            *conteo
                .entry((r.perfil.alcance.sucursal(), r.perfil.rol))
                .or_default() += 1;
        }
        let mut por_sucursal_y_rol: Vec<SesionesDe> = conteo
            .into_iter()
            .map(|((sucursal_id, rol), sesiones)| SesionesDe {
                sucursal_id,
                rol,
                sesiones,
            })
            .collect();
        por_sucursal_y_rol.sort_by_key(|s| (s.sucursal_id, s.rol));
        MessageResult(SesionesAbiertas {
            total: self.sesiones.len(),
            por_sucursal_y_rol,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::types::Json;
    use time::OffsetDateTime;

    use super::*;
    use crate::auth::{MotivoCierre, Token, sesion_cerrada};
    use crate::config::{Settings, StoreSettings};
    use crate::modelo::Usuario;
    use crate::realtime::salida::Buzon;
    use crate::realtime::session::{NuevaSession, Session};
    use crate::reglas::RuleEngine;

    fn cocina() -> Usuario {
        Usuario {
            id: UsuarioId(7),
            usuario: "cocina1".into(),
            nombre: "Cocina".into(),
            rol: Rol::Cocina,
            sucursal_id: Some(SucursalId(1)),
            activo: true,
            creado: OffsetDateTime::UNIX_EPOCH,
        }
    }

    /// The `sesion_cerrada` of `token`, as committed with id 1.
    fn logout(token: &Token) -> Evento {
        let nuevo = sesion_cerrada(&cocina(), &token.hash().huella(), MotivoCierre::Logout);
        Evento {
            id: EventoId(1),
            entidad_tipo: nuevo.entidad.as_ref().map(|e| e.tipo.clone()),
            entidad_id: nuevo.entidad.as_ref().map(|e| e.id),
            tipo: nuevo.tipo,
            subtipo: nuevo.subtipo,
            payload: Json(nuevo.payload),
            usuario_id: nuevo.usuario_id,
            sucursal_id: nuevo.sucursal_id,
            prioridad: nuevo.prioridad,
            destinos: Json(nuevo.destinos),
            fecha: OffsetDateTime::now_utc(),
        }
    }

    /// The close code among a chunk of server frames (unmasked), if any.
    fn codigo_de_cierre(mut chunk: &[u8]) -> Option<u16> {
        while chunk.len() >= 2 {
            let (largo, cabecera) = match chunk[1] & 0x7f {
                126 => (u16::from_be_bytes([chunk[2], chunk[3]]) as usize, 4),
                127 => (
                    u64::from_be_bytes(chunk[2..10].try_into().unwrap()) as usize,
                    10,
                ),
                n => (n as usize, 2),
            };
            let cuerpo = &chunk[cabecera..cabecera + largo];
            if chunk[0] & 0x0f == 8 && cuerpo.len() >= 2 {
                return Some(u16::from_be_bytes([cuerpo[0], cuerpo[1]]));
            }
            chunk = &chunk[cabecera + largo..];
        }
        None
    }

    /// A socket-less session of `token`, whose login was found valid when
    /// the Dispatcher had dispatched up to `comprobado_hasta`; answers its
    /// close code, or `None` if it is still open after a moment.
    async fn abrir(
        dispatcher: &Addr<Dispatcher>,
        store: &Store,
        token: &Token,
        comprobado_hasta: EventoId,
    ) -> Option<u16> {
        let config = Arc::new(Settings::defaults().realtime);
        let buzon = Buzon::new(config.ws_cola);
        Session::start_sin_socket(
            NuevaSession {
                id: SesionId(comprobado_hasta.0 as u64 + 1),
                usuario: cocina(),
                token: token.hash(),
                dispatcher: dispatcher.clone(),
                store: store.clone(),
                reglas: Arc::new(RuleEngine::new(time::UtcOffset::UTC).0),
                config,
                expira: OffsetDateTime::now_utc() + Duration::from_secs(3600),
                comprobado_hasta,
            },
            buzon.clone(),
        );
        let leer = async {
            while let Some((chunk, _)) = buzon.siguiente().await {
                if let Some(codigo) = codigo_de_cierre(&chunk) {
                    return Some(codigo);
                }
            }
            None
        };
        tokio::time::timeout(Duration::from_millis(500), leer)
            .await
            .unwrap_or(None)
    }

    #[actix_web::test]
    async fn un_socket_que_se_registra_tras_la_revocacion_de_su_login_se_cierra() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreSettings {
            database_url: format!("sqlite://{}", dir.path().join("d.db").display()),
            db_max_connections: 2,
        })
        .await
        .unwrap();
        let config = Arc::new(Settings::defaults().realtime);
        let dispatcher = Dispatcher::new(store.clone(), config, EventoId(0), vec![], None).start();
        let token = Token::generar();
        dispatcher.send(Despachar(logout(&token))).await.unwrap();

        // Checked before the logout was dispatched, registered after it.
        assert_eq!(
            abrir(&dispatcher, &store, &token, EventoId(0)).await,
            Some(cierre::NO_AUTENTICADO)
        );
        // Checked after it: the login was valid then (another login, say).
        let otro = Token::generar();
        assert_eq!(abrir(&dispatcher, &store, &otro, EventoId(0)).await, None);
        assert_eq!(abrir(&dispatcher, &store, &token, EventoId(1)).await, None);
    }
}
