//! Startup: build an [`Application`] from [`Settings`] — store opened and
//! migrated, first accounts made, socket bound — then run it until a signal.
//! Tests build the same thing on port 0.

use std::net::TcpListener;

use std::time::Duration;

use actix_http::{HttpService, KeepAlive, Protocol};
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::body::MessageBody;
use actix_web::dev::{
    AppConfig, Server, ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse,
};
use actix_web::middleware::from_fn;
use actix_web::rt::net::TcpStream;
use actix_web::{App, web};
use tracing_actix_web::TracingLogger;

use crate::auth::{self, Inicios, Intentos};
use crate::config::Settings;
use crate::cuentas::{self, CuentaError, SuperadminInicial};
use crate::flujos::Contexto;
use crate::http::connection::Conexion;
use crate::http::{self, OrigenesPermitidos};
use crate::metricas;
use crate::modelo::{Sucursal, Usuario};
use crate::realtime::CualesSesiones;
use crate::realtime::Realtime;
use crate::realtime::nodo::Nodo;
use crate::realtime::protocolo::cierre;
use crate::reglas::{self, Reglas};
use crate::store::{Backend, NodoUnico, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ArranqueError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no se pudieron crear las cuentas iniciales: {0}")]
    Cuentas(#[from] CuentaError),
    #[error(
        "--cluster (COMANDA_CLUSTER) pide varios nodos, y SQLite sirve a uno solo: \
         usa Postgres (DATABASE_URL=postgres://…) o quita --cluster"
    )]
    ClusterEnSqlite,
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
    /// `--shutdown-timeout`: how long a signalled stop may take.
    gracia: Duration,
    store: Store,
    realtime: Realtime,
    pub arranque: Arranque,
    _nodo_unico: NodoUnico,
}

/// Stops a running [`Application`] the way a signal does: sockets are closed
/// with 1001 (clients reconnect elsewhere), in-flight requests finish.
#[derive(Clone)]
pub struct Parada {
    server: ServerHandle,
    realtime: Realtime,
}

impl Parada {
    pub async fn parar(&self) {
        let cerradas = self
            .realtime
            .cerrar_sesiones(
                CualesSesiones::Todas,
                cierre::APAGANDO,
                "el servidor se apaga",
            )
            .await;
        tracing::info!(
            sesiones = cerradas,
            "sockets cerrados; esperando las peticiones en curso"
        );
        self.server.stop(true).await;
    }
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, ArranqueError> {
        metricas::instalar();
        if settings.nodo.cluster
            && Backend::of_url(&settings.store.database_url)? == Backend::Sqlite
        {
            return Err(ArranqueError::ClusterEnSqlite);
        }
        let store = Store::open(&settings.store).await?;
        let nodo_unico = store.reclamar_nodo_unico()?;
        let demo = if settings.demo {
            Some(cuentas::demo(&store).await?)
        } else {
            None
        };
        let superadmin_inicial = cuentas::primer_arranque(&store).await?;
        auth::preparar_senuelo().await;

        let listener = escuchar(settings.bind).map_err(|source| ArranqueError::Bind {
            bind: settings.bind,
            source,
        })?;
        let direccion = listener
            .local_addr()
            .map_err(|source| ArranqueError::Bind {
                bind: settings.bind,
                source,
            })?;
        let port = direccion.port();

        let (reglas, fallos) = Reglas::iniciar(
            store.clone(),
            settings.rules_dir.clone(),
            settings.zona_horaria,
            (&settings.reglas).into(),
        )
        .await?;
        actix_web::rt::spawn(reglas.clone().reportar_fallos(fallos));
        if let Err(e) = reglas::vigilar(reglas.clone()) {
            tracing::warn!(dir = %settings.rules_dir.display(), error = %e, "no se pueden vigilar las reglas: solo cambiarán por la API");
        }
        let gracia = settings.shutdown_timeout;
        let nodo = Nodo::new(&settings.nodo, direccion.to_string());
        let realtime =
            Realtime::iniciar(store.clone(), settings.realtime.clone(), &reglas, nodo).await?;
        let origenes = origenes_permitidos(&settings, port);
        if !settings.static_dir.is_dir() {
            tracing::warn!(dir = %settings.static_dir.display(), "no existe la carpeta de páginas: solo se sirve la API");
        }
        let server = servidor(
            listener,
            store.clone(),
            realtime.clone(),
            reglas,
            origenes,
            settings,
        )?;
        Ok(Self {
            port,
            server,
            gracia,
            store,
            realtime,
            arranque: Arranque {
                superadmin_inicial,
                demo,
            },
            _nodo_unico: nodo_unico,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn realtime(&self) -> &Realtime {
        &self.realtime
    }

    /// A handle that stops the server gracefully (what a signal does).
    pub fn parada(&self) -> Parada {
        Parada {
            server: self.server.handle(),
            realtime: self.realtime.clone(),
        }
    }

    /// Serves until SIGINT or SIGTERM, then closes the sockets with 1001 and
    /// lets in-flight requests finish.
    ///
    /// The signal is heard on a thread of its own, so that nothing running
    /// on the node's event loops can keep it from being heard; and once it
    /// is, the process ends within `--shutdown-timeout` plus
    /// [`MARGEN_DE_SALIDA`] whatever it was doing: a stop that can't finish
    /// (a database that does not answer, a connection that is never given
    /// back) is cut short.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let parada = self.parada();
        let (senal, recibida) = tokio::sync::oneshot::channel();
        // Dropped when the server ends (stopped without a signal: a test).
        let (servidor_vivo, servidor_terminado) = tokio::sync::oneshot::channel::<()>();
        let limite = self.gracia + MARGEN_DE_SALIDA;
        let oido = std::thread::Builder::new()
            .name("senales".into())
            .spawn(move || oir_senales(senal, servidor_terminado, limite));
        if let Err(e) = oido {
            tracing::error!(error = %e, "no se pueden oír las señales: solo para SIGKILL");
        }
        actix_web::rt::spawn(async move {
            if recibida.await.is_ok() {
                tracing::info!("señal recibida: cerrando");
                parada.parar().await;
            }
        });
        let resultado = self.server.await;
        drop(servidor_vivo);
        let despedida = async {
            if let Err(e) = self.store.baja_de_nodo(&self.realtime.nodo().id).await {
                tracing::warn!(error = %e, "no se pudo dar de baja el nodo");
            }
            self.store.close().await;
        };
        if tokio::time::timeout(MARGEN_DE_SALIDA, despedida)
            .await
            .is_err()
        {
            tracing::warn!("la base de datos no respondió al cerrar: se sale sin despedirse");
        }
        resultado
    }
}

/// `--allowed-origins`, or the origins of the bound port on loopback.
fn origenes_permitidos(settings: &Settings, port: u16) -> OrigenesPermitidos {
    if settings.allowed_origins.is_empty() {
        OrigenesPermitidos(vec![
            format!("http://127.0.0.1:{port}"),
            format!("http://localhost:{port}"),
        ])
    } else {
        OrigenesPermitidos(settings.allowed_origins.clone())
    }
}

fn servidor(
    listener: TcpListener,
    store: Store,
    realtime: Realtime,
    reglas: Reglas,
    origenes: OrigenesPermitidos,
    settings: Settings,
) -> Result<Server, ArranqueError> {
    let bind = settings.bind;
    let workers = match settings.workers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let shutdown_timeout = settings.shutdown_timeout.as_secs();
    let cabeceras_plazo = settings.http.cabeceras_plazo;
    let conexiones = conexiones_http(settings.http.conexiones);
    tracing::info!(conexiones, "conexiones HTTP a la vez");
    let static_dir = settings.static_dir.clone();
    let realtime = web::Data::new(realtime);
    let contexto = web::Data::new(Contexto {
        store: store.clone(),
        reglas: reglas.motor().clone(),
    });
    let estado = Estado {
        reglas: web::Data::new(reglas),
        store: web::Data::new(store),
        realtime,
        contexto,
        origenes: web::Data::new(origenes),
        intentos: web::Data::new(Intentos::new((&settings.login).into(), auth::CAPACIDAD)),
        inicios: web::Data::new(Inicios::from(&settings.login)),
        settings: web::Data::new(settings),
        static_dir,
    };
    let addr = listener
        .local_addr()
        .map_err(|source| ArranqueError::Bind { bind, source })?;
    let servidor = Server::build();
    // Tells idle keep-alive connections to close when the server stops.
    let parada = servidor.graceful_shutdown_signal();
    let server = servidor
        .workers(workers)
        // actix-server counts a connection per worker until its HTTP
        // service ends; an upgraded WebSocket ends it in `http::traspaso`
        // when it leaves for the realtime core, so sockets don't count.
        .max_concurrent_connections(conexiones.div_ceil(workers).max(1))
        .disable_signals()
        .shutdown_timeout(shutdown_timeout)
        .listen("comanda", listener, move || {
            // The host and address of `AppConfig` are only a fallback for
            // requests without a `Host` (HTTP/1.0); comanda reads neither.
            let config = AppConfig::default();
            let para_la_app = config.clone();
            let parada = parada.clone();
            let http = HttpService::build()
                .graceful_shutdown_signal(move || {
                    let parada = parada.clone();
                    async move { parada.notified().await }
                })
                .keep_alive(KeepAlive::default())
                .client_request_timeout(cabeceras_plazo)
                .client_disconnect_timeout(Duration::from_secs(1))
                .h1_allow_half_closed(true)
                .local_addr(addr)
                // Each request tells its connection where it is (see
                // `http::connection`).
                .on_connect_ext(|io: &Conexion, datos| {
                    datos.insert(io.fase());
                })
                // WebSocket upgrades go through the same app, then leave
                // actix-http with their socket.
                .upgrade(http::traspaso::servicio(
                    aplicacion(estado.clone()).into_factory(),
                    config,
                ))
                .finish(map_config(
                    aplicacion(estado.clone())
                        .into_factory()
                        .map_err(|e: actix_web::Error| e.error_response()),
                    move |_| para_la_app.clone(),
                ));
            fn_service(move |io: TcpStream| async move {
                // Frames are small and must leave at once: without this,
                // Nagle's algorithm holds a frame written right after the
                // client's own small frame (a ping, a `reanudar`) until the
                // client's delayed ACK, up to 40 ms.
                if let Err(e) = io.set_nodelay(true) {
                    tracing::debug!(error = %e, "no se pudo quitar Nagle");
                }
                let peer = io.peer_addr().ok();
                Ok((Conexion::new(io, cabeceras_plazo), Protocol::Http1, peer))
            })
            .and_then(http)
        })
        .map_err(|source| ArranqueError::Bind { bind, source })?
        .run();
    Ok(server)
}

/// `--http-conexiones`, or half of the soft limit of open files when 0
/// (at least 64): the other half is for the sockets, the database pool and
/// the rules, which slow HTTP clients then can never starve.
fn conexiones_http(pedidas: usize) -> usize {
    if pedidas > 0 {
        return pedidas;
    }
    let mut limite = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    let leido = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limite) } == 0;
    let archivos = if leido && limite.rlim_cur != libc::RLIM_INFINITY {
        usize::try_from(limite.rlim_cur).unwrap_or(usize::MAX)
    } else {
        usize::MAX
    };
    (archivos / 2).clamp(64, 1 << 20)
}

/// What every worker's app shares.
#[derive(Clone)]
struct Estado {
    store: web::Data<Store>,
    realtime: web::Data<Realtime>,
    reglas: web::Data<Reglas>,
    contexto: web::Data<Contexto>,
    origenes: web::Data<OrigenesPermitidos>,
    intentos: web::Data<Intentos>,
    inicios: web::Data<Inicios>,
    settings: web::Data<Settings>,
    static_dir: std::path::PathBuf,
}

/// The app: built twice per worker, for requests and for WebSocket
/// upgrades (see `http::traspaso`).
fn aplicacion(
    estado: Estado,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let static_dir = estado.static_dir;
    App::new()
        // Innermost of the four: a refused body is measured and answered
        // with the security headers like any other answer.
        .wrap(from_fn(http::leer_cuerpo))
        .wrap(http::cabeceras_de_seguridad())
        // Around `/ws` too: it ends at the handshake, holding nothing for
        // the socket's life (unlike a request span).
        .wrap(from_fn(http::medir))
        // Outermost: the head has arrived when the app is called.
        .wrap(from_fn(http::connection::seguir_peticiones))
        .app_data(estado.store)
        .app_data(estado.realtime)
        .app_data(estado.reglas)
        .app_data(estado.contexto)
        .app_data(estado.origenes)
        .app_data(estado.intentos)
        .app_data(estado.inicios)
        .app_data(estado.settings)
        // Outside the request spans: a socket's would outlive its handshake.
        .configure(http::socket)
        .service(
            web::scope("")
                .wrap(TracingLogger::default())
                .configure(|cfg| http::configure(cfg, &static_dir)),
        )
}

/// Pending connections the kernel holds before comanda accepts them: a
/// reconnect wave of every screen of the chain must not meet refused SYNs
/// (the standard library's listener allows 128).
const BACKLOG: u32 = 2048;

/// The listening socket, with [`BACKLOG`].
fn escuchar(bind: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match bind {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(bind)?;
    socket.listen(BACKLOG)?.into_std()
}

/// How much longer than `--shutdown-timeout` a signalled stop may take
/// before the process ends regardless.
pub const MARGEN_DE_SALIDA: Duration = Duration::from_secs(2);

/// On its own thread: waits for SIGINT or SIGTERM, tells the node, and ends
/// the process if it is still running `limite` later. Returns if the server
/// ends without a signal.
fn oir_senales(
    senal: tokio::sync::oneshot::Sender<()>,
    servidor_terminado: tokio::sync::oneshot::Receiver<()>,
    limite: Duration,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "no se pueden oír las señales");
            return;
        }
    };
    let oida = runtime.block_on(async {
        tokio::select! {
            _ = esperar_senal() => true,
            _ = servidor_terminado => false,
        }
    });
    if !oida {
        return;
    }
    let _ = senal.send(());
    std::thread::sleep(limite);
    tracing::error!(plazo = ?limite, "el cierre no terminó a tiempo: se fuerza la salida");
    std::process::exit(1);
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
