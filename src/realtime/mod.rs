//! The realtime core (design §5–6): one `Dispatcher` and one `Monitor` per
//! node, one `Sucursal` and one `Cocina` actor per sucursal, one `Session`
//! actor per WebSocket; each actor's file declares the messages it handles.
//! Events enter through the store's publication turn, in id order, and
//! leave as shared bytes; the parts of the node that follow one kind of
//! event are [`subscriber::Subscriber`]s. The rest of the node — the HTTP
//! handlers, the accounts — goes through the [`Realtime`] facade, never an
//! actor's address. `estadisticas` gathers the counters; `limite` holds the
//! rate limits on clients; `frame` reads the client's frames (RFC 6455),
//! `conexion` owns the socket.

pub mod cocina;
pub mod conexion;
pub mod dispatcher;
pub mod estadisticas;
pub mod frame;
pub mod limite;
pub mod monitor;
pub mod nodo;
pub mod protocolo;
pub mod salida;
pub mod session;
pub mod subscriber;
pub mod sucursal;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix::prelude::*;

use crate::auth::Autenticado;
use crate::config::RealtimeSettings;
use crate::flujos::Contexto;
use crate::modelo::{Rol, TipoEvento};
use crate::reglas::{EscaladoPorReglas, Reglas, RuleEngine};
use crate::store::{Store, StoreError};
use conexion::{Enchufes, Enganche};
use dispatcher::{Admitir, CerrarSesiones, ContarSesiones, Despachar, Dispatcher};
use estadisticas::Estadisticas;
use limite::LimitePorToken;
use monitor::{ConsultarContadores, EventosEnVivo, Monitor};
use nodo::Nodo;
use protocolo::{EventoPublicado, cierre};
use salida::Buzon;
use session::NuevaSession;

pub use dispatcher::CualesSesiones;

/// Largest client frame or message (design §6); a bigger one closes the
/// socket with 1009 as soon as a frame's header shows it.
pub const LIMITE_FRAME: usize = 64 * 1024;

/// A socket's id within this node: sequential, for logs and registries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SesionId(pub u64);

impl fmt::Display for SesionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The node's realtime core as the HTTP side sees it. Cheap to clone.
#[derive(Clone)]
pub struct Realtime {
    dispatcher: Addr<Dispatcher>,
    monitor: Addr<Monitor>,
    store: Store,
    reglas: Arc<RuleEngine>,
    config: Arc<RealtimeSettings>,
    proxima_sesion: Arc<AtomicU64>,
    nodo: Arc<Nodo>,
    escrituras_de_servicio: Arc<LimitePorToken>,
    enchufes: Arc<Enchufes>,
}

/// The realtime core did not answer: the node is stopping.
#[derive(Debug, thiserror::Error)]
#[error("el núcleo en tiempo real no respondió: {0}")]
pub struct NoResponde(#[from] MailboxError);

impl Realtime {
    /// Starts the Dispatcher (and through it the Monitor, and one `Sucursal`
    /// and one `Cocina` per known sucursal) on the current arbiter, connects
    /// the store's committed events to it — this node's own and the other
    /// nodes' — subscribes the rules to the versions saved on any node, and
    /// starts the node's heartbeat. Call once per node.
    pub async fn iniciar(
        store: Store,
        config: RealtimeSettings,
        reglas: &Reglas,
        nodo: Nodo,
    ) -> Result<Self, StoreError> {
        let motor = reglas.motor().clone();
        let config = Arc::new(config);
        let ultimo_id = store.ultimo_evento_id().await?;
        let sucursales = store
            .sucursales(None)
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect();
        let escalado = EscaladoPorReglas {
            ctx: Contexto {
                store: store.clone(),
                reglas: motor.clone(),
            },
        };
        let mut dispatcher = Dispatcher::new(
            store.clone(),
            config.clone(),
            ultimo_id,
            sucursales,
            Some(Arc::new(escalado)),
        );
        // A version saved on another node is put in force here too.
        dispatcher.suscribir(TipoEvento::ReglaActualizada, Arc::new(reglas.clone()));
        let presencia_local = dispatcher.aviso_de_presencia_local();
        let monitor = dispatcher.monitor();
        let dispatcher = dispatcher.start();
        let destino = dispatcher.clone();
        store.al_publicar(ultimo_id, move |evento| destino.do_send(Despachar(evento)));
        store.seguir_publicaciones(nodo.ponerse_al_dia);
        actix_web::rt::spawn(nodo.clone().latir(
            store.clone(),
            dispatcher.clone(),
            presencia_local,
        ));
        tracing::info!(nodo = %nodo.id, "nodo en marcha");
        let escrituras_de_servicio = Arc::new(LimitePorToken::new(
            config.servicio_eventos_por_segundo,
            config.servicio_rafaga,
        ));
        let enchufes = Arc::new(Enchufes::new(match config.ws_hilos {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get().div_ceil(2)),
            n => n,
        }));
        Ok(Self {
            dispatcher,
            monitor,
            store,
            reglas: motor,
            config,
            proxima_sesion: Arc::new(AtomicU64::new(1)),
            nodo: Arc::new(nodo),
            escrituras_de_servicio,
            enchufes,
        })
    }

    /// This node.
    pub fn nodo(&self) -> &Nodo {
        &self.nodo
    }

    /// Admits an authenticated socket if its user may open one more
    /// (`ws_sesiones_por_usuario`): what to do with the socket once its
    /// `101` is written. A socket over the limit is closed with 4029.
    pub async fn abrir(&self, quien: Autenticado) -> Enganche {
        let id = SesionId(self.proxima_sesion.fetch_add(1, Ordering::Relaxed));
        let admitida = self
            .dispatcher
            .send(Admitir {
                sesion: id,
                usuario_id: quien.usuario.id,
            })
            .await;
        match admitida {
            Ok(Ok(())) => {}
            Ok(Err(motivo)) => {
                tracing::info!(usuario = %quien.usuario.usuario, abiertas = motivo.abiertas, "socket rechazado: demasiadas sesiones");
                return Enganche::cerrado(cierre::DEMASIADAS_SESIONES, &motivo.to_string());
            }
            Err(_) => return Enganche::cerrado(cierre::APAGANDO, "apagando"),
        }
        Enganche::sesion(
            NuevaSession {
                id,
                token: quien.token.hash(),
                usuario: quien.usuario,
                dispatcher: self.dispatcher.clone(),
                store: self.store.clone(),
                reglas: self.reglas.clone(),
                config: self.config.clone(),
                expira: quien.expira,
                comprobado_hasta: quien.comprobado_hasta,
            },
            Buzon::new(self.config.ws_cola),
            &self.enchufes,
            self.config.ws_timeout,
        )
    }

    /// Counts one write of `quien` against its login's rate if it is a
    /// `servicio` (the integrations); other roles are not limited. `Err`
    /// says how long until the next write would be taken.
    pub fn permitir_escritura(&self, quien: &Autenticado) -> Result<(), Duration> {
        if quien.usuario.rol != Rol::Servicio {
            return Ok(());
        }
        self.escrituras_de_servicio.permitir(&quien.token.hash())
    }

    /// Closes sessions (logout, account change, shutdown); answers how many.
    pub async fn cerrar_sesiones(
        &self,
        de: CualesSesiones,
        codigo: u16,
        motivo: &'static str,
    ) -> usize {
        self.dispatcher
            .send(CerrarSesiones { de, codigo, motivo })
            .await
            .unwrap_or(0)
    }

    /// The ring of the last events this node dispatched, oldest first.
    pub async fn en_vivo(&self) -> Result<Vec<Arc<EventoPublicado>>, NoResponde> {
        Ok(self.monitor.send(EventosEnVivo).await?)
    }

    /// This node's counters: its open sessions (the Dispatcher's), its
    /// events, screens online and kitchens (the Monitor's).
    pub async fn estadisticas(&self) -> Result<Estadisticas, NoResponde> {
        let sesiones = self.dispatcher.send(ContarSesiones).await?;
        let contadores = self.monitor.send(ConsultarContadores).await?;
        Ok(Estadisticas::de(sesiones, contadores))
    }
}
