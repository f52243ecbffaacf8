//! Settings: the command line and its environment variables (design §11), parsed once.

use std::net::{IpAddr, SocketAddr};
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::modelo::Rol;

/// The SQLite file used when no `DATABASE_URL` is given: created on first run.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://comanda.db";

#[derive(Debug, Parser)]
#[command(
    name = "comanda",
    version,
    about = "Realtime hub of the Cony Chips restaurant chain",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub comando: Option<Comando>,

    /// `comanda` alone is `comanda serve`.
    #[command(flatten)]
    pub serve: Settings,
}

#[derive(Debug, Subcommand)]
pub enum Comando {
    /// Run the server (the default).
    Serve(Box<Settings>),
    /// Apply the database migrations and exit.
    Migrate(StoreSettings),
    /// Manage accounts.
    Usuario {
        #[command(subcommand)]
        accion: UsuarioComando,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsuarioComando {
    /// Create an account. The password is asked on the terminal, or read from
    /// the first line of standard input when it is not a terminal.
    Crear(CrearUsuario),
}

#[derive(Debug, Args)]
pub struct CrearUsuario {
    #[arg(long)]
    pub usuario: String,
    /// Display name; the login name when omitted.
    #[arg(long)]
    pub nombre: Option<String>,
    #[arg(long, value_parser = parse_rol)]
    pub rol: Rol,
    /// Id of the sucursal (required for atencion and cocina).
    #[arg(long)]
    pub sucursal: Option<i64>,
    #[command(flatten)]
    pub store: StoreSettings,
}

fn parse_rol(s: &str) -> Result<Rol, String> {
    s.parse()
}

/// `-05:00`, `+01:00`, `Z`.
fn parse_offset(s: &str) -> Result<time::UtcOffset, String> {
    let error = || format!("zona horaria no válida {s:?}: se espera p. ej. -05:00");
    if s == "Z" {
        return Ok(time::UtcOffset::UTC);
    }
    let (signo, resto) = match s.split_at_checked(1) {
        Some(("+", r)) => (1, r),
        Some(("-", r)) => (-1, r),
        _ => return Err(error()),
    };
    let (h, m) = resto.split_once(':').ok_or_else(error)?;
    let h: i8 = h.parse().map_err(|_| error())?;
    let m: i8 = m.parse().map_err(|_| error())?;
    time::UtcOffset::from_hms(signo * h, signo * m, 0).map_err(|_| error())
}

#[derive(Debug, Clone, Args)]
pub struct StoreSettings {
    /// `postgres://…` (production) or `sqlite://file.db` (embedded, one node).
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,

    /// Upper bound of the connection pool.
    #[arg(long, env = "COMANDA_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, env = "COMANDA_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    #[command(flatten)]
    pub store: StoreSettings,

    /// Folder of the Rhai rules.
    #[arg(long, env = "COMANDA_RULES_DIR", default_value = "rules")]
    pub rules_dir: PathBuf,

    /// UTC offset of the sucursales' clocks, for the rules' `hora` (Peru: -05:00).
    #[arg(long, env = "COMANDA_ZONA_HORARIA", value_parser = parse_offset, default_value = "-05:00", allow_hyphen_values = true)]
    pub zona_horaria: time::UtcOffset,

    /// Folder of the pages.
    #[arg(long, env = "COMANDA_STATIC_DIR", default_value = "static")]
    pub static_dir: PathBuf,

    /// Create two demo sucursales and one user per role in each, and print them.
    #[arg(long, env = "COMANDA_DEMO")]
    pub demo: bool,

    /// Log lines as text or as JSON objects.
    #[arg(long, env = "COMANDA_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// How long a login lasts.
    #[arg(long, env = "COMANDA_SESSION_TTL", value_parser = humantime::parse_duration, default_value = "12h")]
    pub session_ttl: Duration,

    /// Mark the session cookie `Secure` (set it when comanda is served over TLS).
    #[arg(long, env = "COMANDA_COOKIE_SECURE")]
    pub cookie_secure: bool,

    /// Origins allowed to open a socket with the session cookie, comma separated.
    /// Empty: the origins of `--bind` (http://127.0.0.1:PORT and http://localhost:PORT).
    #[arg(long, env = "COMANDA_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// HTTP worker threads; 0 = one per core.
    #[arg(long, env = "COMANDA_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// How long in-flight requests may take to finish at shutdown.
    #[arg(long, env = "COMANDA_SHUTDOWN_TIMEOUT", value_parser = humantime::parse_duration, default_value = "10s")]
    pub shutdown_timeout: Duration,

    #[command(flatten)]
    pub reglas: ReglasSettings,

    #[command(flatten)]
    pub http: HttpSettings,

    #[command(flatten)]
    pub login: LoginSettings,

    #[command(flatten)]
    pub realtime: RealtimeSettings,

    #[command(flatten)]
    pub nodo: NodoSettings,
}

/// How long a client may take to send a request, and how many HTTP
/// connections a node holds at once: what a client that sends slowly (or
/// not at all) can tie up.
#[derive(Debug, Clone, Args)]
pub struct HttpSettings {
    /// Time from a request's first byte (for a connection's first request,
    /// from the connection's start) to the end of its head; after it, the
    /// connection closes (with a 408 on its first request).
    #[arg(long = "cabeceras-plazo", env = "COMANDA_CABECERAS_PLAZO", value_parser = humantime::parse_duration, default_value = "5s")]
    pub cabeceras_plazo: Duration,

    /// Time from the end of a request head to the end of its body, on every
    /// route; after it, 408 and the connection closes. Bodies are at most
    /// 64 KiB: 10 s is a 52 kbit/s link.
    #[arg(long = "cuerpo-plazo", env = "COMANDA_CUERPO_PLAZO", value_parser = humantime::parse_duration, default_value = "10s")]
    pub cuerpo_plazo: Duration,

    /// HTTP connections this node holds at once (sending a request, being
    /// answered, or idle between requests); more wait in the listen queue
    /// until one ends. WebSockets don't count: they leave HTTP once
    /// upgraded. 0 = half of the process's open-file limit, so that slow
    /// clients can never take the descriptors that sockets, the database
    /// and the rules need.
    #[arg(
        long = "http-conexiones",
        env = "COMANDA_HTTP_CONEXIONES",
        default_value_t = 0
    )]
    pub conexiones: usize,
}

/// Login abuse: after this many failed logins for one user name, or from one
/// client address, within the window, `POST /api/login` answers 429 until the
/// lockout ends, even with the right password; an account's successful
/// logins are paced, and the logins it keeps are capped. Counted per node,
/// in memory, except the cap, which the store keeps.
#[derive(Debug, Clone, Args)]
pub struct LoginSettings {
    /// Failed logins of one user name, within `--login-ventana`, that lock it out.
    #[arg(long = "login-fallos-usuario", env = "COMANDA_LOGIN_FALLOS_USUARIO", value_parser = clap::value_parser!(u32).range(1..), default_value_t = 5)]
    pub fallos_por_usuario: u32,

    /// Failed logins from one client address (an IPv6 /64), within
    /// `--login-ventana`, that lock it out: every screen of a sucursal may sit
    /// behind one address, so this is higher.
    #[arg(long = "login-fallos-direccion", env = "COMANDA_LOGIN_FALLOS_DIRECCION", value_parser = clap::value_parser!(u32).range(1..), default_value_t = 20)]
    pub fallos_por_direccion: u32,

    /// The window in which failures add up, from the first one.
    #[arg(long = "login-ventana", env = "COMANDA_LOGIN_VENTANA", value_parser = humantime::parse_duration, default_value = "15m")]
    pub ventana: Duration,

    /// How long a lockout lasts.
    #[arg(long = "login-bloqueo", env = "COMANDA_LOGIN_BLOQUEO", value_parser = humantime::parse_duration, default_value = "15m")]
    pub bloqueo: Duration,

    /// Successful logins one account may make per minute, sustained, on
    /// this node; past it (and the burst) `POST /api/login` answers 429
    /// `demasiados_inicios` before looking at the password.
    #[arg(
        long = "login-exitos-por-minuto",
        env = "COMANDA_LOGIN_EXITOS_POR_MINUTO",
        default_value = "6"
    )]
    pub exitos_por_minuto: NonZeroU32,

    /// Successful logins one account may make at once (the bucket's size):
    /// room for every screen of a shared account logging in at opening time.
    #[arg(
        long = "login-exitos-rafaga",
        env = "COMANDA_LOGIN_EXITOS_RAFAGA",
        default_value = "10"
    )]
    pub exitos_rafaga: NonZeroU32,

    /// Logins one account keeps at once; a newer one ends the oldest (its
    /// sockets close with 4001 on every node). A kitchen account is often
    /// shared by several tablets, each of which may also log in again while
    /// its old login has not expired yet: keep room for both.
    #[arg(
        long = "sesiones-por-cuenta",
        env = "COMANDA_SESIONES_POR_CUENTA",
        default_value = "20"
    )]
    pub sesiones_por_cuenta: NonZeroUsize,

    /// Reverse proxies (IP addresses, comma separated) whose
    /// `X-Forwarded-For` names the client. Empty: the header is ignored and
    /// the client is the peer of the connection.
    #[arg(
        long = "trusted-proxies",
        env = "COMANDA_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub proxies_de_confianza: Vec<IpAddr>,
}

/// How the rules are run: they are admins' scripts, so each call is bounded
/// in time and runs on threads of its own (`reglas::pool`).
#[derive(Debug, Clone, Args)]
pub struct ReglasSettings {
    /// Time one rule call may run; past it the call is stopped and the
    /// built-in default decides. Counted in its thread's running time, and
    /// never more than ten times this on the wall clock. A rule normally
    /// takes microseconds.
    #[arg(long = "reglas-plazo", env = "COMANDA_REGLAS_PLAZO", value_parser = humantime::parse_duration, default_value = "50ms")]
    pub plazo: Duration,

    /// How long a rule that ran out of time three times in a row is not run
    /// (the default decides, and the monitor is told).
    #[arg(long = "reglas-pausa", env = "COMANDA_REGLAS_PAUSA", value_parser = humantime::parse_duration, default_value = "10s")]
    pub pausa: Duration,

    /// Threads that evaluate the rules of events being published; 0 = one
    /// per two cores, at least one. Escalation reviews and `probar` have one
    /// thread of their own.
    #[arg(
        long = "reglas-hilos",
        env = "COMANDA_REGLAS_HILOS",
        default_value_t = 0
    )]
    pub hilos: usize,
}

impl From<&ReglasSettings> for crate::reglas::LimitesReglas {
    fn from(s: &ReglasSettings) -> Self {
        Self {
            plazo: s.plazo,
            pausa: s.pausa,
            hilos: s.hilos,
        }
    }
}

/// This node among others on one Postgres (design §10).
#[derive(Debug, Clone, Args)]
pub struct NodoSettings {
    /// This node's name in `/api/estadisticas`, on the monitor and in the
    /// logs; a random one when empty.
    #[arg(long = "nodo", env = "COMANDA_NODO", default_value = "")]
    pub id: String,

    /// Declare that several nodes share the database. Postgres nodes always
    /// share their events; this makes a deployment meant for several nodes
    /// refuse to start on SQLite, which serves one.
    #[arg(long, env = "COMANDA_CLUSTER")]
    pub cluster: bool,

    /// How often a node refreshes its row in `nodos`; a node not seen for
    /// five of these counts as gone.
    #[arg(long = "nodos-latido", env = "COMANDA_NODOS_LATIDO", value_parser = humantime::parse_duration, default_value = "2s")]
    pub latido: Duration,

    /// How often a node reads the events committed elsewhere even when no
    /// notification woke it (one lost with a connection, say).
    #[arg(long = "ponerse-al-dia", env = "COMANDA_PONERSE_AL_DIA", value_parser = humantime::parse_duration, default_value = "1s")]
    pub ponerse_al_dia: Duration,
}

/// The realtime hub's timings and bounds: its sockets and its publishers.
#[derive(Debug, Clone, Args)]
pub struct RealtimeSettings {
    /// How often the server pings each socket.
    #[arg(long, env = "COMANDA_WS_HEARTBEAT", value_parser = humantime::parse_duration, default_value = "10s")]
    pub ws_heartbeat: Duration,

    /// A socket silent for this long (no frame, no pong) is dropped.
    #[arg(long, env = "COMANDA_WS_TIMEOUT", value_parser = humantime::parse_duration, default_value = "30s")]
    pub ws_timeout: Duration,

    /// Threads that run the sockets (their sessions and writes), apart from
    /// the HTTP workers; 0 = one per two cores, at least one (why: BENCHMARKS.md).
    #[arg(long, env = "COMANDA_WS_HILOS", default_value_t = 0)]
    pub ws_hilos: usize,

    /// Frames a socket may have waiting to be written; past it the client is
    /// too slow and is closed with 4008 (it resumes when it reconnects).
    #[arg(long, env = "COMANDA_WS_COLA", default_value_t = 512)]
    pub ws_cola: usize,

    /// Most events a `reanudar` replays; a client further behind gets
    /// `reinicio` and reloads its lists.
    #[arg(long, env = "COMANDA_WS_VENTANA", default_value_t = 10_000)]
    pub ws_ventana: i64,

    /// After `hola`, how long the server waits for a `reanudar` before going
    /// live on its own (a page always resumes at once; a bare client need not).
    #[arg(long, env = "COMANDA_WS_ESPERA_REANUDAR", value_parser = humantime::parse_duration, default_value = "300ms")]
    pub ws_espera_reanudar: Duration,

    /// Frames per second one socket may send, sustained (see
    /// `realtime::limite::LimiteDeMensajes` for the exact rule): past it the
    /// client gets a `demasiados_mensajes` error, and if it keeps going, 1008.
    #[arg(long, env = "COMANDA_WS_MENSAJES_POR_SEGUNDO", default_value = "20")]
    pub ws_mensajes_por_segundo: NonZeroU32,

    /// Frames one socket may send at once (the bucket's size).
    #[arg(long, env = "COMANDA_WS_RAFAGA", default_value = "40")]
    pub ws_rafaga: NonZeroU32,

    /// Open sockets one user may have on this node; one more is closed
    /// right after the upgrade with 4029.
    #[arg(long, env = "COMANDA_WS_SESIONES_POR_USUARIO", default_value = "20")]
    pub ws_sesiones_por_usuario: NonZeroUsize,

    /// Writes (`POST /api/eventos`, orders, vouchers…) per second one
    /// `servicio` login may make, sustained; past it, 429 with `Retry-After`.
    #[arg(
        long,
        env = "COMANDA_SERVICIO_EVENTOS_POR_SEGUNDO",
        default_value = "50"
    )]
    pub servicio_eventos_por_segundo: NonZeroU32,

    /// Writes one `servicio` login may make in one burst (the bucket's
    /// size): room for the backlog a bot flushes after a hiccup.
    #[arg(long, env = "COMANDA_SERVICIO_RAFAGA", default_value = "100")]
    pub servicio_rafaga: NonZeroU32,

    /// How often each kitchen reviews its unread alerts for escalation.
    #[arg(long, env = "COMANDA_ESCALADO_INTERVALO", value_parser = humantime::parse_duration, default_value = "30s")]
    pub escalado_intervalo: Duration,
}

impl Settings {
    /// Settings as `comanda serve` would read them with no flags and no
    /// environment: the base that tests adjust.
    pub fn defaults() -> Self {
        Cli::parse_from(["comanda"]).serve
    }
}
