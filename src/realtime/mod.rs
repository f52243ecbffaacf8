//! The realtime core (design §5–6): one `Dispatcher` per node, one
//! `Sucursal` and one `Cocina` actor per sucursal, one `Session` actor per
//! WebSocket. Events enter through the store's publication turn, in id order,
//! and leave as shared bytes. `limite` holds the rate limits on clients;
//! `frame` reads the client's frames (RFC 6455), `conexion` owns the socket.

pub mod cocina;
pub mod conexion;
pub mod dispatcher;
pub mod frame;
pub mod limite;
pub mod nodo;
pub mod protocolo;
pub mod salida;
pub mod session;
pub mod sucursal;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix::prelude::*;

use crate::auth::Autenticado;
use crate::config::RealtimeSettings;
use crate::flujos::Contexto;
use crate::modelo::Rol;
use crate::reglas::{EscaladoPorReglas, Reglas, RuleEngine};
use crate::store::{Store, StoreError};
use conexion::{Enchufes, Enganche};
use dispatcher::{Admitir, CerrarSesiones, CualesSesiones, Despachar, Dispatcher};
use limite::LimitePorToken;
use nodo::Nodo;
use protocolo::cierre;
use salida::Buzon;
use session::NuevaSession;

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
    store: Store,
    reglas: Arc<RuleEngine>,
    config: Arc<RealtimeSettings>,
    proxima_sesion: Arc<AtomicU64>,
    nodo: Arc<Nodo>,
    escrituras_de_servicio: Arc<LimitePorToken>,
    enchufes: Arc<Enchufes>,
}

impl Realtime {
    /// Starts the Dispatcher (and through it one `Sucursal` and one `Cocina`
    /// per known sucursal) on the current arbiter, connects the store's
    /// committed events to it — this node's own and the other nodes' — and
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
        let dispatcher = Dispatcher::new(
            store.clone(),
            config.clone(),
            ultimo_id,
            sucursales,
            Some(Arc::new(escalado)),
        );
        let presencia_local = dispatcher.aviso_de_presencia_local();
        let dispatcher = dispatcher.start();
        let destino = dispatcher.clone();
        let gestion = reglas.clone();
        store.al_publicar(ultimo_id, move |evento| {
            gestion.al_despachar(&evento);
            destino.do_send(Despachar(evento))
        });
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

    pub fn dispatcher(&self) -> &Addr<Dispatcher> {
        &self.dispatcher
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
}
