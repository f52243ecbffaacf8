//! `Dispatcher`: one per node, started once. It receives every committed
//! event, serializes it once, keeps the ring of the last 1000 and the
//! counters, and fans it out: to the `Sucursal` actor of its sucursal and to
//! the monitors (admin and superadmin sessions) whose scope includes it.
//! It also admits new sockets: at most `ws_sesiones_por_usuario` per user;
//! and it obeys the revocations among the events (`auth::Revocacion`),
//! closing the sockets of a login or an account that ended on any node.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use actix::prelude::*;
use time::OffsetDateTime;

use super::SesionId;
use super::cocina::{Cocina, Escalador, ResumenCocina};
use super::protocolo::{EventoPublicado, Presencia, cierre, frame_de_presencia};
use super::salida::Salida;
use super::session::Cerrar;
use super::sucursal::{Difundir, PresenciaRemota, Salir, Sucursal, Unirse};
use crate::auth::{Huella, Perfil, Revocacion, TokenHash};
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

    /// The revocation, among the events dispatched after `desde`, that ends
    /// the login `token` of `usuario`, if any: one that reached this node
    /// between the login's check and its socket's registration. With the
    /// ring overflowed since `desde` (over a thousand events in that
    /// moment), the answer can't be known: the socket is told to retry.
    fn revocada_tras(
        &self,
        desde: EventoId,
        usuario: UsuarioId,
        token: &TokenHash,
    ) -> Option<(u16, &'static str)> {
        let mut visto_todo = self.anillo.len() < TAMANO_ANILLO;
        for publicado in self.anillo.iter().rev() {
            if publicado.id() <= desde {
                visto_todo = true;
                break;
            }
            if let Some(r) = Revocacion::de(&publicado.evento) {
                let (cuales, codigo) = alcance_de(&r);
                if cuales.alcanza(usuario, token) {
                    return Some((codigo, r.motivo()));
                }
            }
        }
        (!visto_todo).then_some((cierre::REINTENTA_LUEGO, "vuelve a conectar"))
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
/// position its `hola` reports. Every event after it reaches the session;
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
        if let Some((codigo, motivo)) = self.revocada_tras(comprobado_hasta, usuario_id, &token) {
            tracing::info!(%sesion, codigo, "socket de una sesión revocada mientras se abría");
            salida.sesion.do_send(Cerrar { codigo, motivo });
        }
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
        if let Some(revocacion) = Revocacion::de(&publicado.evento) {
            self.revocar(&revocacion);
        }
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
