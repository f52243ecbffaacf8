//! Startup: build an [`Application`] from [`Settings`] — store opened and
//! migrated, first accounts made, socket bound — then run it until a signal.
//! Tests build the same thing on port 0.

use std::net::TcpListener;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::cuentas::{self, CuentaError, SuperadminInicial};
use crate::http;
use crate::modelo::{Sucursal, Usuario};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ArranqueError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no se pudieron crear las cuentas iniciales: {0}")]
    Cuentas(#[from] CuentaError),
    #[error("no se pudo escuchar en {bind}: {source}")]
    Bind {
        bind: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// What the first start created, for the command line to print once.
pub struct Arranque {
    pub superadmin_inicial: Option<SuperadminInicial>,
    pub demo: Option<(Vec<Sucursal>, Vec<Usuario>)>,
}

pub struct Application {
    port: u16,
    server: Server,
    store: Store,
    pub arranque: Arranque,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, ArranqueError> {
        let store = Store::open(&settings.store).await?;
        let demo = if settings.demo {
            Some(cuentas::demo(&store).await?)
        } else {
            None
        };
        let superadmin_inicial = cuentas::primer_arranque(&store).await?;

        let listener = TcpListener::bind(settings.bind).map_err(|source| ArranqueError::Bind {
            bind: settings.bind,
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| ArranqueError::Bind {
                bind: settings.bind,
                source,
            })?
            .port();

        let server = servidor(listener, store.clone(), settings)?;
        Ok(Self {
            port,
            server,
            store,
            arranque: Arranque {
                superadmin_inicial,
                demo,
            },
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A handle that stops the server gracefully (what a signal does).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT or SIGTERM, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        actix_web::rt::spawn(async move {
            esperar_senal().await;
            tracing::info!("señal recibida: cerrando");
            handle.stop(true).await;
        });
        let resultado = self.server.await;
        self.store.close().await;
        resultado
    }
}

fn servidor(listener: TcpListener, store: Store, settings: Settings) -> Result<Server, ArranqueError> {
    let bind = settings.bind;
    let workers = match settings.workers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let shutdown_timeout = settings.shutdown_timeout.as_secs();
    let store = web::Data::new(store);
    let settings = web::Data::new(settings);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(TracingLogger::default())
            .app_data(store.clone())
            .app_data(settings.clone())
            .configure(http::configure)
    })
    .workers(workers)
    .disable_signals()
    .shutdown_timeout(shutdown_timeout)
    .listen(listener)
    .map_err(|source| ArranqueError::Bind { bind, source })?
    .run();
    Ok(server)
}

async fn esperar_senal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
