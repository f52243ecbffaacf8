//! The load run (`benches/CARGA.md`): against a server that is already
//! running — comanda, or one of the peers — opens N screens' sockets from
//! several worker processes, publishes kitchen alerts at a steady rate
//! through the server's real publishing path, and reports sessions, events,
//! deliveries expected / received / lost / duplicated, deliveries per
//! second, publish → receive latency, the server's memory per idle session
//! and its CPU time per delivery.
//!
//! ```sh
//! cargo bench --bench carga -- --objetivo comanda --url http://127.0.0.1:8090 \
//!     --sesiones 10000 --eventos 200 --ritmo 50 [--pid N] [--json]
//! ```
//!
//! Why worker processes: one process may hold at most its hard open-file
//! limit of sockets, so the tool runs itself again (`--trabajador i`, hidden)
//! once per ~9,000 sockets. The coordinator sends each worker its share as a
//! JSON line on its stdin and reads JSON lines back from its stdout: progress
//! while opening, `listo`, then progress while receiving, then the worker's
//! report — counts, and its latency histogram (HdrHistogram V2, base64) for
//! the coordinator to merge. Each worker binds its sockets round-robin to
//! 127.0.0.1–127.0.0.4 so that the ephemeral ports of one source address
//! never run out.
//!
//! A delivery is (socket, seq): each socket keeps a bit per event of its
//! sucursal, so a second arrival is a duplicate and a missing bit a loss.
//! Event `seq` goes to the `seq % K`-th sucursal. Latency is the receiver's
//! clock minus the send time written in the message (`carga <seq> <unix
//! ns>`): every process is on the same machine. The server's memory and CPU
//! come from `/proc/<pid>` (`--pid`, or whoever listens on the URL's port).
//!
//! On comanda the tool, as `superadmin` (demo password), creates what it
//! lacks: sucursales `Carga 1`…`Carga K`, and in each the accounts
//! `carga-cocina-k` and `carga-atencion-k` (password `carga-password-1`).
//! Kitchen sockets log in as the first, desk sockets as the second, and the
//! desk publishes. On the peers, kitchen sockets join room `id` and desk
//! sockets room `1000000 + id`, which nothing is published to.
//!
//! The tool runs on the server's machine and competes with it for the
//! cores: its own CPU over the run is reported next to the server's.
//!
//! Exits non-zero when a delivery was lost, duplicated or misrouted, a
//! socket did not open, a publication failed, or a deadline passed — after
//! printing what it has.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::{Parser, ValueEnum};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

type Resultado<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// comanda's demo password, the superadmin's included.
const PASSWORD_DEMO: &str = "conychips";
/// The password of the accounts the tool creates in comanda.
const PASSWORD_CARGA: &str = "carga-password-1";
/// The most sockets one worker is given by default: room under the 20,000
/// open files of this machine for the HTTP client, the runtime, and a margin.
const SOCKETS_POR_TRABAJADOR: usize = 9_000;
/// Open files a worker needs besides its sockets.
const FICHEROS_DE_MARGEN: u64 = 200;
/// Peers have no roles: the idle "atención" sockets join a room that no
/// event is published to, so that they count as sessions and receive nothing,
/// as comanda's desk screens do with kitchen alerts.
const SALA_INACTIVA: i64 = 1_000_000;
/// How long a publication may wait for its answer: a slow answer is a
/// figure of the run, not a failure.
const RESPUESTA: Duration = Duration::from_secs(60);
/// How long one socket may take to connect and be greeted.
const APERTURA: Duration = Duration::from_secs(30);
/// Attempts to open one socket before it counts as failed.
const INTENTOS: usize = 3;
/// How often workers report progress.
const PROGRESO: Duration = Duration::from_millis(100);
/// The idle server counts as settled when it uses less CPU than this in a
/// [`PAUSA_QUIETO`] (heartbeat pings of every socket never stop).
const CPU_QUIETO: Duration = Duration::from_millis(50);
const PAUSA_QUIETO: Duration = Duration::from_millis(500);
/// The longest wait for the server to settle after the sockets opened.
const ASENTAR_MAX: Duration = Duration::from_secs(60);
/// Latencies are recorded in µs, up to an hour, with 3 significant digits.
const LATENCIA_MAX_US: u64 = 3_600_000_000;

// ── Flags ───────────────────────────────────────────────────────────────────

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Objetivo {
    /// comanda: login, `GET /ws` with a bearer token, `POST /api/alertas`.
    Comanda,
    /// Socket.IO 4 on Node (Engine.IO v4 spoken by hand).
    Socketio,
    /// The `ws` package on Node.
    Ws,
    /// tokio + tokio-tungstenite (`cargo bench --bench difusor`).
    Tokio,
}

impl Objetivo {
    fn nombre(self) -> &'static str {
        match self {
            Objetivo::Comanda => "comanda",
            Objetivo::Socketio => "socketio",
            Objetivo::Ws => "ws",
            Objetivo::Tokio => "tokio",
        }
    }
}

/// Load run against a running server (benches/CARGA.md).
#[derive(Debug, Parser)]
#[command(name = "carga")]
struct Opciones {
    /// Which server is listening on --url.
    #[arg(long, value_enum, default_value = "comanda")]
    objetivo: Objetivo,
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The server's process (the node process for the Node peers), for its
    /// RSS and CPU; by default whoever listens on the URL's port.
    #[arg(long)]
    pid: Option<u32>,
    /// Sockets in all, kitchen and desk.
    #[arg(long, default_value_t = 10_000)]
    sesiones: usize,
    /// Sucursales the sockets and the events are spread over.
    #[arg(long, default_value_t = 1)]
    sucursales: usize,
    /// Idle desk (atención) sockets per sucursal: sessions that kitchen
    /// alerts do not reach.
    #[arg(long, default_value_t = 0)]
    atencion_por_sucursal: usize,
    /// Events to publish.
    #[arg(long, default_value_t = 200)]
    eventos: usize,
    /// Events published per second.
    #[arg(long, default_value_t = 50.0)]
    ritmo: f64,
    /// Worker processes; by default one per 9,000 sockets.
    #[arg(long)]
    procesos: Option<usize>,
    /// Seconds the whole run may take.
    #[arg(long, default_value_t = 300)]
    plazo: u64,
    /// Seconds deliveries may lag behind the last publication.
    #[arg(long, default_value_t = 30)]
    drenaje: u64,
    /// Sockets being opened at once, over all workers.
    #[arg(long, default_value_t = 200)]
    concurrencia: usize,
    /// Source addresses 127.0.0.1…127.0.0.N the sockets are bound to.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=250))]
    origenes: u8,
    /// Microseconds a worker sleeps between turns of its event loop while
    /// receiving: frames are then read in batches, with fewer wake-ups of
    /// the tool competing with the server for the cores (0: never sleeps).
    #[arg(long, default_value_t = 0)]
    pausa_us: u64,
    /// Print the report as one JSON object too, as the last line of stdout.
    #[arg(long)]
    json: bool,
    /// Run as worker i (the coordinator starts them).
    #[arg(long, hide = true)]
    trabajador: Option<usize>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> ExitCode {
    let opciones = Opciones::parse();
    if let Some(i) = opciones.trabajador {
        // One thread per worker: the processes are the parallelism, and a
        // thread per core of the tool would compete with the server.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        return match rt.block_on(trabajador(i)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("carga: trabajador {i}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(coordinar(opciones)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("carga: {e}");
            ExitCode::FAILURE
        }
    }
}

// ── What coordinator and workers say to each other (JSON lines) ─────────────

/// Coordinator → worker, on the worker's stdin.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "orden", rename_all = "snake_case")]
enum Orden {
    Plan(Plan),
    /// Open the sockets (once the server was weighed without them).
    Abrir,
    /// Publishing starts now.
    Go,
    /// Stop and report; `sin_publicar` are the seqs that must not be
    /// expected (their publication failed or was never sent).
    Fin {
        sin_publicar: Vec<usize>,
    },
}

/// Worker → coordinator, on the worker's stdout.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "aviso", rename_all = "snake_case")]
enum Aviso {
    /// Logged in: nothing left to do before opening sockets.
    Preparado,
    Abriendo {
        abiertos: usize,
        fallidos: usize,
    },
    /// Every socket of the share is open or has failed.
    Listo {
        abiertos: usize,
        fallidos: usize,
        /// Open sockets that events reach, by sucursal (plan order).
        receptores: Vec<usize>,
        errores: Vec<String>,
        /// Other frames received so far (while opening).
        otros: u64,
    },
    Progreso {
        recibidas: u64,
        cerrados: usize,
    },
    Informe(InformeTrabajador),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Plan {
    objetivo: Objetivo,
    /// `host:port` of the server.
    servidor: String,
    sucursales: Vec<SucursalPlan>,
    pantallas: Vec<Grupo>,
    eventos: usize,
    concurrencia: usize,
    origenes: u8,
    /// Messages sent before this (unix ns) are another run's.
    desde_ns: u64,
    pausa_us: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SucursalPlan {
    id: i64,
    /// comanda's accounts for this sucursal's sockets.
    cocina: Option<String>,
    atencion: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Rol {
    Cocina,
    Atencion,
}

/// `cuantas` sockets of one role in the `sucursal`-th sucursal of the plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Grupo {
    sucursal: usize,
    rol: Rol,
    cuantas: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct InformeTrabajador {
    esperadas: u64,
    recibidas: u64,
    perdidas: u64,
    duplicadas: u64,
    /// Alerts that reached a socket they were not for (another sucursal's, or
    /// a desk screen).
    ajenas: u64,
    /// Arrivals of alerts whose publication failed (not expected, not lost).
    de_fallidas: u64,
    /// Text frames that were not this run's alerts, over the whole run.
    otros: u64,
    /// How the sockets that closed during the run closed, and how many.
    cierres: BTreeMap<String, usize>,
    /// unix ns of the last first arrival.
    ultima_ns: u64,
    /// The worker's own CPU from `go` to `fin`, in clock ticks.
    cpu_ticks: u64,
    /// HdrHistogram V2, base64: publish → receive in µs.
    latencias: String,
    /// By event seq: publish → its first and its last arrival here, in µs.
    por_evento: Vec<Option<[u64; 2]>>,
}

fn escribir_linea<T: Serialize>(salida: &mut impl Write, valor: &T) -> Resultado<()> {
    let mut linea = serde_json::to_vec(valor)?;
    linea.push(b'\n');
    salida.write_all(&linea)?;
    salida.flush()?;
    Ok(())
}

// ── The coordinator ─────────────────────────────────────────────────────────

/// Answers whether every delivery arrived exactly once, in time.
async fn coordinar(op: Opciones) -> Resultado<bool> {
    let inicio = Instant::now();
    let plazo = tokio::time::Instant::from_std(inicio + Duration::from_secs(op.plazo));
    let desde_ns = unix_ns();
    let ritmo_valido = op.ritmo.is_finite() && op.ritmo > 0.0;
    if op.sucursales == 0 || op.sesiones == 0 || !ritmo_valido || op.concurrencia == 0 {
        return Err("--sesiones, --sucursales, --ritmo y --concurrencia deben ser > 0".into());
    }
    let desks = op.sucursales * op.atencion_por_sucursal;
    if desks >= op.sesiones {
        return Err(format!(
            "--sesiones {} no deja sockets de cocina tras {desks} de atención",
            op.sesiones
        )
        .into());
    }
    let servidor = autoridad(&op.url)?;
    let base = format!("http://{servidor}");
    let procesos = op
        .procesos
        .unwrap_or(op.sesiones.div_ceil(SOCKETS_POR_TRABAJADOR))
        .clamp(1, op.sesiones);
    let (_, duro) = limite_de_ficheros()?;
    let por_trabajador = op.sesiones.div_ceil(procesos) as u64;
    if por_trabajador + FICHEROS_DE_MARGEN > duro {
        let cabe = duro.saturating_sub(FICHEROS_DE_MARGEN).max(1) as usize;
        return Err(format!(
            "{por_trabajador} sockets por proceso no caben en {duro} ficheros abiertos: \
             usa más --procesos (al menos {})",
            op.sesiones.div_ceil(cabe)
        )
        .into());
    }
    let pid = op
        .pid
        .or_else(|| puerto(&servidor).and_then(pid_que_escucha));
    let servidor_proc = pid.map(Proceso);
    let tic = ticks_por_segundo();

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let (sucursales, publicadores) = match op.objetivo {
        Objetivo::Comanda => preparar_comanda(&http, &base, op.sucursales).await?,
        _ => preparar_par(op.sucursales),
    };
    eprintln!(
        "carga: {} en {base}{}; {} sesiones ({} de cocina, {desks} de atención) en {} \
         sucursal(es), {procesos} proceso(s); {} eventos a {}/s",
        op.objetivo.nombre(),
        pid.map_or(" (sin pid: sin RSS ni CPU)".into(), |p| format!(
            " (pid {p})"
        )),
        op.sesiones,
        op.sesiones - desks,
        op.sucursales,
        op.eventos,
        op.ritmo
    );
    let plan = Plan {
        objetivo: op.objetivo,
        servidor,
        sucursales,
        pantallas: Vec::new(),
        eventos: op.eventos,
        concurrencia: op.concurrencia.div_ceil(procesos),
        origenes: op.origenes,
        desde_ns,
        pausa_us: op.pausa_us,
    };
    let mut c = Coordinador::lanzar(&op, plan.clone(), procesos, plazo)?;

    // 1. Weigh the server once every login is done (argon2 leaves memory
    // behind that is not the sessions'), then open every socket.
    c.esperar(|e| e.preparados == procesos, None).await?;
    if let Some(p) = &servidor_proc {
        esperar_quieto(p, tic, plazo).await;
    }
    let rss_antes = servidor_proc.as_ref().and_then(Proceso::rss_kib);
    c.ordenar_a_todos(&Orden::Abrir);
    let abriendo = Instant::now();
    let sesiones = op.sesiones;
    c.esperar(
        |e| e.listos == procesos,
        Some(&|e: &Estado| {
            format!(
                "sockets {}/{sesiones} (fallidos {})",
                e.abiertos(),
                e.fallidos()
            )
        }),
    )
    .await?;
    let apertura = abriendo.elapsed();
    let abiertos = c.estado.abiertos();
    for e in c.estado.errores.iter().take(5) {
        eprintln!("carga: un socket no abrió: {e}");
    }

    // 2. Let the server settle with every session idle, then weigh it.
    let mut asentado = Duration::ZERO;
    let mut rss_inactivo = None;
    if !c.plazo_vencido {
        let t = Instant::now();
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(p) = &servidor_proc {
            esperar_quieto(p, tic, plazo).await;
        }
        asentado = t.elapsed();
        rss_inactivo = servidor_proc.as_ref().and_then(Proceso::rss_kib);
        eprintln!(
            "carga: servidor asentado en {:.1} s; RSS {} → {}",
            asentado.as_secs_f64(),
            kib(rss_antes),
            kib(rss_inactivo)
        );
    }

    // 3. Publish, and wait for the deliveries.
    let cpu_antes = servidor_proc.as_ref().and_then(Proceso::cpu_ticks);
    let (publicado, drenaje_vencido) = if c.plazo_vencido {
        (Publicado::nada(op.eventos), false)
    } else {
        c.ordenar_a_todos(&Orden::Go);
        c.cargar(&op, &plan, publicadores).await?
    };
    let cpu_despues = servidor_proc.as_ref().and_then(Proceso::cpu_ticks);
    let rss_final = servidor_proc.as_ref().and_then(Proceso::rss_kib);

    // 4. The workers' reports, then the run's.
    let sin_publicar = (0..op.eventos)
        .filter(|&seq| !publicado.exitosa(seq))
        .collect();
    c.terminar(sin_publicar).await;
    let informe = Informe::reunir(InformeEntrada {
        op: &op,
        pid,
        estado: &c.estado,
        abiertos,
        publicado: &publicado,
        rss: [rss_antes, rss_inactivo, rss_final],
        cpu: cpu_antes.zip(cpu_despues).map(|(a, d)| d.saturating_sub(a)),
        tic,
        apertura,
        asentado,
        plazo_vencido: c.plazo_vencido,
        drenaje_vencido,
        duracion: inicio.elapsed(),
    })?;
    informe.imprimir();
    if op.json {
        println!("{}", serde_json::to_string(&informe)?);
    }
    Ok(informe.bien())
}

/// The coordinator's side of the run: its workers, what they said, and the
/// deadline of the whole run.
struct Coordinador {
    trabajadores: Vec<Trabajador>,
    avisos: mpsc::UnboundedReceiver<(usize, Aviso)>,
    estado: Estado,
    plazo: tokio::time::Instant,
    plazo_vencido: bool,
}

/// How often the progress line is redrawn.
const DIBUJO: Duration = Duration::from_millis(250);

impl Coordinador {
    /// Starts the workers, each with its share of every sucursal and role.
    fn lanzar(
        op: &Opciones,
        plan: Plan,
        procesos: usize,
        plazo: tokio::time::Instant,
    ) -> Resultado<Self> {
        let desks = op.sucursales * op.atencion_por_sucursal;
        let cocinas = repartir_cocinas(op.sesiones - desks, op.sucursales);
        let (tx, avisos) = mpsc::unbounded_channel();
        let mut trabajadores = Vec::with_capacity(procesos);
        for w in 0..procesos {
            let mut pantallas = Vec::new();
            for (s, &cocinas) in cocinas.iter().enumerate() {
                for (rol, n) in [
                    (Rol::Cocina, cocinas),
                    (Rol::Atencion, op.atencion_por_sucursal),
                ] {
                    // Rotated by sucursal, so that remainders do not all land on worker 0.
                    let turno = (w + procesos - s % procesos) % procesos;
                    let cuantas = n / procesos + usize::from(turno < n % procesos);
                    if cuantas > 0 {
                        pantallas.push(Grupo {
                            sucursal: s,
                            rol,
                            cuantas,
                        });
                    }
                }
            }
            let plan = Plan {
                pantallas,
                ..plan.clone()
            };
            trabajadores.push(Trabajador::lanzar(w, &plan, tx.clone())?);
        }
        Ok(Coordinador {
            trabajadores,
            avisos,
            estado: Estado::new(procesos, op.sucursales),
            plazo,
            plazo_vencido: false,
        })
    }

    fn ordenar_a_todos(&mut self, orden: &Orden) {
        for t in &mut self.trabajadores {
            // A worker that died shows up later, as a missing report.
            let _ = t.ordenar(orden);
        }
    }

    /// Reads the workers' news until `hecho` holds or the deadline passes,
    /// redrawing `linea` as the progress line.
    async fn esperar(
        &mut self,
        hecho: impl Fn(&Estado) -> bool,
        linea: Option<&dyn Fn(&Estado) -> String>,
    ) -> Resultado<()> {
        let mut dibujo = tokio::time::interval(DIBUJO);
        dibujo.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !hecho(&self.estado) && !self.plazo_vencido {
            tokio::select! {
                aviso = self.avisos.recv() => match aviso {
                    Some((w, aviso)) => self.estado.anotar(w, aviso),
                    None => return Err("los trabajadores terminaron antes de tiempo".into()),
                },
                _ = dibujo.tick(), if linea.is_some() => {
                    progreso(&linea.map(|l| l(&self.estado)).unwrap_or_default());
                }
                _ = tokio::time::sleep_until(self.plazo) => self.plazo_vencido = true,
            }
        }
        if let Some(l) = linea {
            progreso(&l(&self.estado));
            eprintln!();
        }
        Ok(())
    }

    /// Publishes (on a task of its own) while reading the workers' counts,
    /// until every expected delivery arrived, the drain or the deadline
    /// passed. Answers how the publications went and whether the drain
    /// deadline passed.
    async fn cargar(
        &mut self,
        op: &Opciones,
        plan: &Plan,
        publicadores: Publicadores,
    ) -> Resultado<(Publicado, bool)> {
        let enviadas = Arc::new(AtomicUsize::new(0));
        let http = reqwest::Client::builder()
            .timeout(RESPUESTA)
            .pool_max_idle_per_host(256)
            .build()?;
        let mut publicador = tokio::spawn(publicar(
            http,
            format!("http://{}", plan.servidor),
            plan.clone(),
            publicadores,
            op.ritmo,
            self.plazo,
            enviadas.clone(),
        ));
        let mut publicado: Option<Publicado> = None;
        // Known once every publication was answered.
        let mut esperadas = u64::MAX;
        let mut fin_de_publicar = None;
        let mut drenaje_vencido = false;
        let mut dibujo = tokio::time::interval(DIBUJO);
        dibujo.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let linea = |e: &Estado, esperadas: u64| {
            format!(
                "publicadas {}/{} · entregas {}{} (cerrados {})",
                enviadas.load(Ordering::Relaxed),
                op.eventos,
                e.recibidas(),
                if esperadas == u64::MAX {
                    String::new()
                } else {
                    format!("/{esperadas}")
                },
                e.cerrados()
            )
        };
        while self.estado.recibidas() < esperadas && !self.plazo_vencido {
            if fin_de_publicar.is_some_and(|f: Instant| f.elapsed().as_secs() >= op.drenaje) {
                drenaje_vencido = true;
                break;
            }
            tokio::select! {
                aviso = self.avisos.recv() => match aviso {
                    Some((w, aviso)) => self.estado.anotar(w, aviso),
                    None => return Err("los trabajadores terminaron durante la carga".into()),
                },
                p = &mut publicador, if publicado.is_none() => {
                    let p = p?;
                    esperadas = p
                        .exitosas()
                        .map(|seq| self.estado.receptores[seq % op.sucursales] as u64)
                        .sum();
                    fin_de_publicar = Some(Instant::now());
                    publicado = Some(p);
                }
                _ = dibujo.tick() => progreso(&linea(&self.estado, esperadas)),
                _ = tokio::time::sleep_until(self.plazo) => self.plazo_vencido = true,
            }
        }
        progreso(&linea(&self.estado, esperadas));
        eprintln!();
        publicador.abort();
        let publicado = publicado.unwrap_or_else(|| Publicado::nada(op.eventos));
        Ok((publicado, drenaje_vencido))
    }

    /// Tells the workers to stop and report, collects their reports (30 s at
    /// most), and ends them.
    async fn terminar(&mut self, sin_publicar: Vec<usize>) {
        self.ordenar_a_todos(&Orden::Fin { sin_publicar });
        let limite = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.estado.informes.iter().any(Option::is_none) {
            tokio::select! {
                aviso = self.avisos.recv() => match aviso {
                    Some((w, aviso)) => self.estado.anotar(w, aviso),
                    None => break,
                },
                _ = tokio::time::sleep_until(limite) => break,
            }
        }
        for t in self.trabajadores.drain(..) {
            t.terminar();
        }
    }
}

/// What the coordinator knows of its workers.
struct Estado {
    abriendo: Vec<(usize, usize)>,
    preparados: usize,
    listos: usize,
    otros_al_abrir: u64,
    /// Open receiving sockets by sucursal, over all workers.
    receptores: Vec<usize>,
    errores: Vec<String>,
    progreso: Vec<(u64, usize)>,
    informes: Vec<Option<InformeTrabajador>>,
}

impl Estado {
    fn new(procesos: usize, sucursales: usize) -> Self {
        Self {
            abriendo: vec![(0, 0); procesos],
            preparados: 0,
            listos: 0,
            otros_al_abrir: 0,
            receptores: vec![0; sucursales],
            errores: Vec::new(),
            progreso: vec![(0, 0); procesos],
            informes: (0..procesos).map(|_| None).collect(),
        }
    }

    fn anotar(&mut self, w: usize, aviso: Aviso) {
        match aviso {
            Aviso::Preparado => self.preparados += 1,
            Aviso::Abriendo { abiertos, fallidos } => self.abriendo[w] = (abiertos, fallidos),
            Aviso::Listo {
                abiertos,
                fallidos,
                receptores,
                errores,
                otros,
            } => {
                self.abriendo[w] = (abiertos, fallidos);
                self.otros_al_abrir += otros;
                for (total, n) in self.receptores.iter_mut().zip(receptores) {
                    *total += n;
                }
                self.errores.extend(errores);
                self.listos += 1;
            }
            Aviso::Progreso {
                recibidas,
                cerrados,
            } => self.progreso[w] = (recibidas, cerrados),
            Aviso::Informe(informe) => self.informes[w] = Some(informe),
        }
    }

    fn abiertos(&self) -> usize {
        self.abriendo.iter().map(|a| a.0).sum()
    }

    fn fallidos(&self) -> usize {
        self.abriendo.iter().map(|a| a.1).sum()
    }

    fn recibidas(&self) -> u64 {
        self.progreso.iter().map(|p| p.0).sum()
    }

    fn cerrados(&self) -> usize {
        self.progreso.iter().map(|p| p.1).sum()
    }
}

/// A worker process: its stdin to give orders; its stdout is read by a
/// thread that forwards each line, parsed, to the coordinator.
struct Trabajador {
    proceso: Child,
    entrada: ChildStdin,
}

impl Trabajador {
    fn lanzar(
        w: usize,
        plan: &Plan,
        avisos: mpsc::UnboundedSender<(usize, Aviso)>,
    ) -> Resultado<Self> {
        let mut proceso = Command::new(std::env::current_exe()?)
            .args(["--trabajador", &w.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let salida = proceso.stdout.take().ok_or("sin stdout del trabajador")?;
        let entrada = proceso.stdin.take().ok_or("sin stdin del trabajador")?;
        std::thread::spawn(move || {
            for linea in BufReader::new(salida).lines() {
                let Ok(linea) = linea else { break };
                match serde_json::from_str::<Aviso>(&linea) {
                    Ok(aviso) => {
                        if avisos.send((w, aviso)).is_err() {
                            break;
                        }
                    }
                    Err(e) => eprintln!("carga: trabajador {w}: línea ilegible ({e}): {linea}"),
                }
            }
        });
        let mut t = Trabajador { proceso, entrada };
        t.ordenar(&Orden::Plan(plan.clone()))?;
        Ok(t)
    }

    fn ordenar(&mut self, orden: &Orden) -> Resultado<()> {
        escribir_linea(&mut self.entrada, orden)
    }

    /// Closes its stdin (it exits on that too), and kills it if it lingers.
    fn terminar(self) {
        let Trabajador {
            mut proceso,
            entrada,
        } = self;
        drop(entrada);
        let limite = Instant::now() + Duration::from_secs(5);
        while Instant::now() < limite {
            if let Ok(Some(_)) = proceso.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = proceso.kill();
        let _ = proceso.wait();
    }
}

/// Kitchen sockets per sucursal: `total` spread as evenly as it goes.
fn repartir_cocinas(total: usize, sucursales: usize) -> Vec<usize> {
    (0..sucursales)
        .map(|s| total / sucursales + usize::from(s < total % sucursales))
        .collect()
}

/// One progress line on stderr, rewritten in place.
fn progreso(linea: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[K  {linea}");
    let _ = err.flush();
}

/// Waits until the server's CPU use falls below [`CPU_QUIETO`] per
/// [`PAUSA_QUIETO`]: the sessions' opening work (presence, registration)
/// is over and what is left is what idle sessions cost.
async fn esperar_quieto(p: &Proceso, tic: u64, plazo: tokio::time::Instant) {
    let limite = tokio::time::Instant::now() + ASENTAR_MAX;
    let umbral = (CPU_QUIETO.as_secs_f64() * tic as f64).ceil() as u64;
    let Some(mut antes) = p.cpu_ticks() else {
        return;
    };
    loop {
        let ahora = tokio::time::Instant::now();
        if ahora >= limite || ahora >= plazo {
            eprintln!("carga: el servidor no quedó quieto; se mide igual");
            return;
        }
        tokio::time::sleep(PAUSA_QUIETO).await;
        let Some(despues) = p.cpu_ticks() else {
            return;
        };
        if despues.saturating_sub(antes) <= umbral {
            return;
        }
        antes = despues;
    }
}

// ── Preparing the server ────────────────────────────────────────────────────

/// Who publishes for each sucursal (plan order): a bearer token in comanda.
type Publicadores = Vec<Option<String>>;

/// Peers have no accounts: sucursal `k` is room `k`.
fn preparar_par(k: usize) -> (Vec<SucursalPlan>, Publicadores) {
    let sucursales = (1..=k as i64)
        .map(|id| SucursalPlan {
            id,
            cocina: None,
            atencion: None,
        })
        .collect();
    (sucursales, vec![None; k])
}

/// As superadmin, makes sure sucursales `Carga 1..K` exist with one kitchen
/// and one desk account each, and logs in each desk to publish.
async fn preparar_comanda(
    http: &reqwest::Client,
    base: &str,
    k: usize,
) -> Resultado<(Vec<SucursalPlan>, Publicadores)> {
    let admin = login(http, base, "superadmin", PASSWORD_DEMO).await?;
    let mut ids = Vec::with_capacity(k);
    for i in 1..=k {
        let nombre = format!("Carga {i}");
        let id = match buscar_sucursal(http, base, &admin, &nombre).await? {
            Some(id) => id,
            None => {
                let r = http
                    .post(format!("{base}/api/sucursales"))
                    .bearer_auth(&admin)
                    .json(&json!({ "nombre": nombre }))
                    .send()
                    .await?;
                match r.status().as_u16() {
                    201 => r.json::<Value>().await?["id"]
                        .as_i64()
                        .ok_or("POST /api/sucursales sin id")?,
                    409 => buscar_sucursal(http, base, &admin, &nombre)
                        .await?
                        .ok_or("409 y la sucursal no aparece")?,
                    s => return Err(format!("POST /api/sucursales: {s}").into()),
                }
            }
        };
        ids.push(id);
    }

    let usuarios = listar(http, base, &admin, "usuarios").await?;
    let mut sucursales = Vec::with_capacity(k);
    for (i, &id) in ids.iter().enumerate() {
        let mut plan = SucursalPlan {
            id,
            cocina: None,
            atencion: None,
        };
        for rol in [Rol::Cocina, Rol::Atencion] {
            let (usuario, texto_rol) = match rol {
                Rol::Cocina => (format!("carga-cocina-{}", i + 1), "cocina"),
                Rol::Atencion => (format!("carga-atencion-{}", i + 1), "atencion"),
            };
            match usuarios.iter().find(|u| u["usuario"] == usuario.as_str()) {
                Some(u) => {
                    if u["rol"] != texto_rol || u["sucursal_id"] != id || u["activo"] != true {
                        return Err(format!(
                            "la cuenta {usuario} existe pero no es {texto_rol} activa de la \
                             sucursal {id}: {u}"
                        )
                        .into());
                    }
                }
                None => {
                    let r = http
                        .post(format!("{base}/api/usuarios"))
                        .bearer_auth(&admin)
                        .json(&json!({
                            "usuario": usuario,
                            "nombre": usuario,
                            "password": PASSWORD_CARGA,
                            "rol": texto_rol,
                            "sucursal_id": id,
                        }))
                        .send()
                        .await?;
                    if !matches!(r.status().as_u16(), 201 | 409) {
                        let s = r.status();
                        return Err(format!(
                            "POST /api/usuarios {usuario}: {s} {}",
                            r.text().await?
                        )
                        .into());
                    }
                }
            }
            match rol {
                Rol::Cocina => plan.cocina = Some(usuario),
                Rol::Atencion => plan.atencion = Some(usuario),
            }
        }
        sucursales.push(plan);
    }
    let mut publicadores = Vec::with_capacity(k);
    for s in &sucursales {
        let usuario = s.atencion.as_deref().unwrap_or_default();
        publicadores.push(Some(login(http, base, usuario, PASSWORD_CARGA).await?));
    }
    Ok((sucursales, publicadores))
}

async fn login(
    http: &reqwest::Client,
    base: &str,
    usuario: &str,
    password: &str,
) -> Resultado<String> {
    let r = http
        .post(format!("{base}/api/login"))
        .json(&json!({ "usuario": usuario, "password": password }))
        .send()
        .await
        .map_err(|e| format!("{base} no responde: {e}"))?;
    if !r.status().is_success() {
        return Err(format!("login de {usuario}: {}", r.status()).into());
    }
    let body: Value = r.json().await?;
    Ok(body["token"].as_str().ok_or("login sin token")?.to_owned())
}

async fn listar(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    que: &str,
) -> Resultado<Vec<Value>> {
    let r = http
        .get(format!("{base}/api/{que}"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?;
    let mut body: Value = r.json().await?;
    match body["items"].take() {
        Value::Array(items) => Ok(items),
        _ => Err(format!("GET /api/{que} sin items").into()),
    }
}

async fn buscar_sucursal(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    nombre: &str,
) -> Resultado<Option<i64>> {
    let items = listar(http, base, token, "sucursales").await?;
    Ok(items
        .iter()
        .find(|s| s["nombre"] == nombre)
        .and_then(|s| s["id"].as_i64()))
}

// ── Publishing ──────────────────────────────────────────────────────────────

/// How the publications went.
struct Publicado {
    /// Whether each seq was answered 2xx (`None`: never sent).
    exito: Vec<Option<bool>>,
    /// Failed publications by kind (status and error code, or no answer).
    errores: BTreeMap<String, usize>,
    primera_ns: u64,
    /// Send → answer of every POST, in µs.
    respuestas: Histogram<u64>,
}

impl Publicado {
    fn nada(eventos: usize) -> Self {
        Publicado {
            exito: vec![None; eventos],
            errores: BTreeMap::new(),
            primera_ns: 0,
            respuestas: histograma(),
        }
    }

    fn exitosa(&self, seq: usize) -> bool {
        self.exito.get(seq).copied().flatten() == Some(true)
    }

    fn exitosas(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.exito.len()).filter(|&seq| self.exitosa(seq))
    }
}

/// Publishes the plan's events at `ritmo` per second, round-robin over the
/// sucursales, each on a task of its own so a slow answer never delays the
/// next. Stops sending at the deadline.
async fn publicar(
    http: reqwest::Client,
    base: String,
    plan: Plan,
    publicadores: Publicadores,
    ritmo: f64,
    plazo: tokio::time::Instant,
    enviadas: Arc<AtomicUsize>,
) -> Publicado {
    let Plan {
        objetivo,
        sucursales,
        eventos,
        ..
    } = plan;
    let mut publicado = Publicado::nada(eventos);
    let mut reloj = tokio::time::interval(Duration::from_secs_f64(1.0 / ritmo));
    let mut tareas = Vec::with_capacity(eventos);
    for seq in 0..eventos {
        reloj.tick().await;
        if tokio::time::Instant::now() >= plazo {
            break;
        }
        let s = seq % sucursales.len();
        let enviado = unix_ns();
        if seq == 0 {
            publicado.primera_ns = enviado;
        }
        let mensaje = format!("carga {seq} {enviado}");
        let peticion = match objetivo {
            Objetivo::Comanda => http
                .post(format!("{base}/api/alertas"))
                .bearer_auth(publicadores[s].as_deref().unwrap_or_default())
                .json(&json!({ "mensaje": mensaje, "prioridad": "normal" })),
            _ => http
                .post(format!("{base}/publicar"))
                .json(&json!({ "sucursal_id": sucursales[s].id, "mensaje": mensaje })),
        };
        tareas.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = peticion.send().await;
            let duracion = t.elapsed();
            let r = match r {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => {
                    let estado = r.status();
                    let cuerpo: Value = r.json().await.unwrap_or_default();
                    match cuerpo["error"]["codigo"].as_str() {
                        Some(codigo) => Err(format!("{estado} {codigo}")),
                        None => Err(estado.to_string()),
                    }
                }
                Err(e) if e.is_timeout() => Err(format!("sin respuesta en {RESPUESTA:?}")),
                Err(e) => Err(e.to_string()),
            };
            (seq, duracion, r)
        }));
        enviadas.fetch_add(1, Ordering::Relaxed);
    }
    for tarea in tareas {
        let Ok((seq, duracion, r)) = tarea.await else {
            continue;
        };
        publicado
            .respuestas
            .saturating_record(duracion.as_micros() as u64);
        publicado.exito[seq] = Some(r.is_ok());
        if let Err(e) = r {
            *publicado.errores.entry(e).or_default() += 1;
        }
    }
    publicado
}

// ── The workers ─────────────────────────────────────────────────────────────

/// One socket's record: which events of its sucursal arrived.
struct Pantalla {
    sucursal: usize,
    /// Whether the alerts of its sucursal are meant to reach it.
    recibe: bool,
    abierta: bool,
    error: Option<String>,
    /// How it closed during the run, if it did.
    cierre: Option<String>,
    /// Bit `seq / K` for event `seq` of this sucursal.
    vistas: Vec<u64>,
    duplicadas: u64,
    ajenas: u64,
}

/// What every socket task of a worker shares.
struct Comun {
    plan: Plan,
    direccion: SocketAddr,
    /// Bearer tokens (comanda), by sucursal and role.
    tokens: HashMap<(usize, Rol), String>,
    permisos: Semaphore,
    abiertos: AtomicUsize,
    fallidos: AtomicUsize,
    cerrados: AtomicUsize,
    recibidas: AtomicU64,
    /// Text frames that are not this run's alerts (greetings, presence…).
    otros: AtomicU64,
    ultima_ns: AtomicU64,
    receptores: Vec<AtomicUsize>,
    latencias: Mutex<Histogram<u64>>,
    /// By event seq: publish → its first and its last arrival, in µs.
    primera_us: Vec<AtomicU64>,
    ultima_us: Vec<AtomicU64>,
    /// The first few distinct reasons a socket did not open.
    errores: Mutex<Vec<String>>,
}

async fn trabajador(w: usize) -> Resultado<()> {
    let mut ordenes = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let plan = match siguiente_orden(&mut ordenes).await? {
        Orden::Plan(plan) => plan,
        otra => return Err(format!("se esperaba el plan: {otra:?}").into()),
    };
    let total: usize = plan.pantallas.iter().map(|g| g.cuantas).sum();
    asegurar_ficheros(total as u64 + FICHEROS_DE_MARGEN)?;
    let direccion = tokio::net::lookup_host(&plan.servidor)
        .await?
        .min_by_key(|a| !a.is_ipv4())
        .ok_or_else(|| format!("{} no resuelve", plan.servidor))?;

    let tokens = iniciar_sesiones(&plan).await?;

    let mut stdout = std::io::stdout();
    escribir_linea(&mut stdout, &Aviso::Preparado)?;
    match siguiente_orden(&mut ordenes).await? {
        Orden::Abrir => {}
        Orden::Fin { .. } => std::process::exit(0),
        otra => return Err(format!("se esperaba abrir: {otra:?}").into()),
    }

    let k = plan.sucursales.len();
    let comun = Arc::new(Comun {
        direccion,
        tokens,
        permisos: Semaphore::new(plan.concurrencia.max(1)),
        abiertos: AtomicUsize::new(0),
        fallidos: AtomicUsize::new(0),
        cerrados: AtomicUsize::new(0),
        recibidas: AtomicU64::new(0),
        otros: AtomicU64::new(0),
        ultima_ns: AtomicU64::new(0),
        receptores: (0..k).map(|_| AtomicUsize::new(0)).collect(),
        latencias: Mutex::new(histograma()),
        primera_us: (0..plan.eventos)
            .map(|_| AtomicU64::new(u64::MAX))
            .collect(),
        ultima_us: (0..plan.eventos).map(|_| AtomicU64::new(0)).collect(),
        errores: Mutex::new(Vec::new()),
        plan,
    });
    let (parar, parado) = watch::channel(false);
    let tareas = lanzar_pantallas(&comun, w, &parado);

    let mut tic = tokio::time::interval(PROGRESO);
    let mut listo = false;
    let mut cpu_go = None;
    let sin_publicar = loop {
        tokio::select! {
            _ = tic.tick() => {
                let abiertos = comun.abiertos.load(Ordering::Relaxed);
                let fallidos = comun.fallidos.load(Ordering::Relaxed);
                if !listo && abiertos + fallidos == total {
                    listo = true;
                    escribir_linea(&mut stdout, &aviso_listo(&comun))?;
                } else if !listo {
                    escribir_linea(&mut stdout, &Aviso::Abriendo { abiertos, fallidos })?;
                } else if cpu_go.is_some() {
                    escribir_linea(&mut stdout, &Aviso::Progreso {
                        recibidas: comun.recibidas.load(Ordering::Relaxed),
                        cerrados: comun.cerrados.load(Ordering::Relaxed),
                    })?;
                }
            }
            orden = siguiente_orden(&mut ordenes) => match orden? {
                Orden::Go => {
                    cpu_go = Proceso(std::process::id()).cpu_ticks();
                    if comun.plan.pausa_us > 0 {
                        tokio::spawn(pausar(Duration::from_micros(comun.plan.pausa_us)));
                    }
                }
                Orden::Fin { sin_publicar } => break sin_publicar,
                otra => return Err(format!("orden fuera de lugar: {otra:?}").into()),
            },
        }
    };

    let cpu_fin = Proceso(std::process::id()).cpu_ticks();
    let _ = parar.send(true);
    let mut pantallas = Vec::with_capacity(tareas.len());
    for t in tareas {
        pantallas.push(t.await?);
    }
    let informe = informar_trabajador(&comun, &pantallas, &sin_publicar, cpu_go, cpu_fin)?;
    if !listo {
        // Stopped while opening (the deadline): say how far it got, first.
        escribir_linea(&mut stdout, &aviso_listo(&comun))?;
    }
    escribir_linea(&mut stdout, &Aviso::Informe(informe))?;
    // Thousands of sockets close with the process, at once.
    std::process::exit(0);
}

/// comanda: logs in, once, each account the worker's sockets use.
async fn iniciar_sesiones(plan: &Plan) -> Resultado<HashMap<(usize, Rol), String>> {
    let mut tokens = HashMap::new();
    if plan.objetivo != Objetivo::Comanda {
        return Ok(tokens);
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = format!("http://{}", plan.servidor);
    for g in &plan.pantallas {
        if tokens.contains_key(&(g.sucursal, g.rol)) {
            continue;
        }
        let s = &plan.sucursales[g.sucursal];
        let usuario = match g.rol {
            Rol::Cocina => s.cocina.as_deref(),
            Rol::Atencion => s.atencion.as_deref(),
        }
        .ok_or("plan sin cuenta")?;
        let token = login(&http, &base, usuario, PASSWORD_CARGA).await?;
        tokens.insert((g.sucursal, g.rol), token);
    }
    Ok(tokens)
}

/// A task per socket of the worker's share, sucursales and roles
/// interleaved so that each fills up evenly. Source addresses go round-robin
/// from the worker's number, so that workers do not all start on 127.0.0.1.
fn lanzar_pantallas(
    comun: &Arc<Comun>,
    w: usize,
    parado: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<Pantalla>> {
    let k = comun.plan.sucursales.len();
    let mut grupos: Vec<Grupo> = comun.plan.pantallas.clone();
    let mut tareas = Vec::new();
    let mut j = w;
    while grupos.iter().any(|g| g.cuantas > 0) {
        for g in grupos.iter_mut().filter(|g| g.cuantas > 0) {
            g.cuantas -= 1;
            let eventos = eventos_de(comun.plan.eventos, k, g.sucursal);
            let pantalla = Pantalla {
                sucursal: g.sucursal,
                // Desk sockets get no kitchen alert: comanda's rules send
                // them to cocina, and on the peers they sit in an idle room.
                recibe: g.rol == Rol::Cocina,
                abierta: false,
                error: None,
                cierre: None,
                vistas: vec![0; eventos.div_ceil(64)],
                duplicadas: 0,
                ajenas: 0,
            };
            tareas.push(tokio::spawn(pantalla_viva(
                pantalla,
                g.rol,
                j,
                comun.clone(),
                parado.clone(),
            )));
            j += 1;
        }
    }
    tareas
}

fn aviso_listo(comun: &Comun) -> Aviso {
    Aviso::Listo {
        abiertos: comun.abiertos.load(Ordering::Relaxed),
        fallidos: comun.fallidos.load(Ordering::Relaxed),
        receptores: comun
            .receptores
            .iter()
            .map(|r| r.load(Ordering::Relaxed))
            .collect(),
        errores: comun
            .errores
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone(),
        otros: comun.otros.load(Ordering::Relaxed),
    }
}

/// Blocks the worker's only thread for `pausa` on every turn of its event
/// loop: whatever arrived meanwhile is then handled in one go.
async fn pausar(pausa: Duration) {
    loop {
        std::thread::sleep(pausa);
        tokio::task::yield_now().await;
    }
}

async fn siguiente_orden(
    ordenes: &mut tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>,
) -> Resultado<Orden> {
    match ordenes.next_line().await? {
        Some(linea) => Ok(serde_json::from_str(&linea)?),
        // The coordinator is gone: so is the run.
        None => std::process::exit(1),
    }
}

/// How many of `eventos` go to the `s`-th of `k` sucursales.
fn eventos_de(eventos: usize, k: usize, s: usize) -> usize {
    (eventos + k - 1 - s) / k
}

fn informar_trabajador(
    comun: &Comun,
    pantallas: &[Pantalla],
    sin_publicar: &[usize],
    cpu_go: Option<u64>,
    cpu_fin: Option<u64>,
) -> Resultado<InformeTrabajador> {
    let k = comun.plan.sucursales.len();
    let sin_publicar: HashSet<usize> = sin_publicar.iter().copied().collect();
    let mut informe = InformeTrabajador::default();
    for p in pantallas.iter().filter(|p| p.abierta) {
        informe.duplicadas += p.duplicadas;
        informe.ajenas += p.ajenas;
        if let Some(c) = &p.cierre {
            *informe.cierres.entry(c.clone()).or_default() += 1;
        }
        if !p.recibe {
            continue;
        }
        for i in 0..eventos_de(comun.plan.eventos, k, p.sucursal) {
            let vista = p.vistas[i / 64] & (1 << (i % 64)) != 0;
            if sin_publicar.contains(&(i * k + p.sucursal)) {
                informe.de_fallidas += u64::from(vista);
                continue;
            }
            informe.esperadas += 1;
            if vista {
                informe.recibidas += 1;
            } else {
                informe.perdidas += 1;
            }
        }
    }
    informe.ultima_ns = comun.ultima_ns.load(Ordering::Relaxed);
    informe.otros = comun.otros.load(Ordering::Relaxed);
    informe.cpu_ticks = cpu_go.zip(cpu_fin).map_or(0, |(a, b)| b.saturating_sub(a));
    let latencias = comun
        .latencias
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(&*latencias, &mut bytes)
        .map_err(|e| format!("histograma: {e:?}"))?;
    informe.latencias = BASE64.encode(bytes);
    informe.por_evento = comun
        .primera_us
        .iter()
        .zip(&comun.ultima_us)
        .map(|(primera, ultima)| {
            let primera = primera.load(Ordering::Relaxed);
            (primera != u64::MAX).then(|| [primera, ultima.load(Ordering::Relaxed)])
        })
        .collect();
    Ok(informe)
}

/// One socket's life: open it (at most `concurrencia` at once), then read
/// until the worker is told to stop. Answers its record.
async fn pantalla_viva(
    mut pantalla: Pantalla,
    rol: Rol,
    j: usize,
    comun: Arc<Comun>,
    mut parado: watch::Receiver<bool>,
) -> Pantalla {
    tokio::select! {
        () = vivir(&mut pantalla, rol, j, &comun) => {}
        _ = parado.wait_for(|p| *p) => {}
    }
    pantalla
}

type Socket = WebSocketStream<TcpStream>;

async fn vivir(p: &mut Pantalla, rol: Rol, j: usize, c: &Comun) {
    let ws = {
        let Ok(_permiso) = c.permisos.acquire().await else {
            return;
        };
        let mut intento = 0;
        loop {
            intento += 1;
            match tokio::time::timeout(APERTURA, abrir(c, p.sucursal, rol, j)).await {
                Ok(Ok(ws)) => break ws,
                Ok(Err(e)) if intento >= INTENTOS => {
                    p.error = Some(e.to_string());
                    contar_fallido(c, p);
                    return;
                }
                Err(_) if intento >= INTENTOS => {
                    p.error = Some(format!("no abrió en {APERTURA:?}"));
                    contar_fallido(c, p);
                    return;
                }
                _ => tokio::time::sleep(Duration::from_millis(200 * intento as u64)).await,
            }
        }
    };
    p.abierta = true;
    if p.recibe {
        c.receptores[p.sucursal].fetch_add(1, Ordering::Relaxed);
    }
    c.abiertos.fetch_add(1, Ordering::Relaxed);
    let cierre = leer(ws, p, c).await;
    p.cierre = Some(cierre);
    c.cerrados.fetch_add(1, Ordering::Relaxed);
}

fn contar_fallido(c: &Comun, p: &Pantalla) {
    c.fallidos.fetch_add(1, Ordering::Relaxed);
    let mut errores = c.errores.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(e) = &p.error
        && errores.len() < 5
        && !errores.contains(e)
    {
        errores.push(e.clone());
    }
}

/// Connects socket `j` from its source address and does the target's
/// handshake: comanda's `hola` → `reanudar`, Socket.IO's `0` → `40` → `40`.
async fn abrir(c: &Comun, s: usize, rol: Rol, j: usize) -> Resultado<Socket> {
    let plan = &c.plan;
    let sala = match rol {
        Rol::Cocina => plan.sucursales[s].id,
        Rol::Atencion => SALA_INACTIVA + plan.sucursales[s].id,
    };
    let ruta = match plan.objetivo {
        Objetivo::Comanda => "/ws".to_owned(),
        Objetivo::Ws | Objetivo::Tokio => format!("/ws?sucursal={sala}"),
        Objetivo::Socketio => {
            format!("/socket.io/?EIO=4&transport=websocket&sucursal={sala}")
        }
    };
    let mut req = format!("ws://{}{ruta}", plan.servidor).into_client_request()?;
    if let Some(token) = c.tokens.get(&(s, rol)) {
        req.headers_mut()
            .insert("Authorization", format!("Bearer {token}").parse()?);
    }

    let socket = match c.direccion {
        SocketAddr::V4(d) => {
            let socket = TcpSocket::new_v4()?;
            if d.ip().is_loopback() {
                let origen = Ipv4Addr::new(127, 0, 0, 1 + (j % usize::from(plan.origenes)) as u8);
                socket.bind(SocketAddr::new(IpAddr::V4(origen), 0))?;
            }
            socket
        }
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    let tcp = socket.connect(c.direccion).await?;
    tcp.set_nodelay(true)?;
    // Small buffers: frames are a few hundred bytes, and there are thousands
    // of sockets (the default is 128 KiB each way).
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(64 * 1024);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(req, tcp, Some(config)).await?;

    match plan.objetivo {
        Objetivo::Comanda => {
            let hola: Value = serde_json::from_str(&texto(&mut ws).await?)?;
            if hola["type"] != "hola" {
                return Err(format!("el primer frame no es hola: {hola}").into());
            }
            let reanudar = json!({"type": "reanudar", "ultimo_id": hola["ultimo_id"]});
            ws.send(Message::text(reanudar.to_string())).await?;
        }
        Objetivo::Socketio => {
            let abierto = texto(&mut ws).await?;
            if !abierto.starts_with('0') {
                return Err(format!("Engine.IO no abrió: {abierto}").into());
            }
            ws.send(Message::text("40")).await?;
            loop {
                let t = texto(&mut ws).await?;
                match t.as_str() {
                    "2" => ws.send(Message::text("3")).await?,
                    t if t.starts_with("40") => break,
                    t => return Err(format!("Socket.IO no conectó: {t}").into()),
                }
            }
        }
        Objetivo::Ws | Objetivo::Tokio => {}
    }
    Ok(ws)
}

/// The next text frame (pings are answered by tungstenite as it reads).
async fn texto(ws: &mut Socket) -> Resultado<String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
            Some(Ok(Message::Close(c))) => {
                return Err(format!("cerrado: {}", motivo_de_cierre(c.as_ref())).into());
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => return Err("el servidor cerró la conexión".into()),
        }
    }
}

fn motivo_de_cierre(c: Option<&tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> String {
    match c {
        Some(c) => format!("{} {}", u16::from(c.code), c.reason),
        None => "sin código".into(),
    }
}

/// Reads until the socket ends; answers how it ended.
async fn leer(mut ws: Socket, p: &mut Pantalla, c: &Comun) -> String {
    let socketio = c.plan.objetivo == Objetivo::Socketio;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let t = t.as_str();
                if socketio && t == "2" {
                    if let Err(e) = ws.send(Message::text("3")).await {
                        return format!("error: {e}");
                    }
                    continue;
                }
                if socketio && (t == "1" || t.starts_with("41")) {
                    return format!("Socket.IO {t}");
                }
                match carga_en(t) {
                    Some((seq, enviado)) => registrar(p, c, seq, enviado),
                    None => {
                        c.otros.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Some(Ok(Message::Close(f))) => {
                return format!("cerrado {}", motivo_de_cierre(f.as_ref()));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return format!("error: {e}"),
            None => return "fin del flujo".into(),
        }
    }
}

/// Marks event `seq` as seen on this socket, and its latency.
fn registrar(p: &mut Pantalla, c: &Comun, seq: usize, enviado: u64) {
    let ahora = unix_ns();
    if enviado < c.plan.desde_ns {
        return; // another run's
    }
    let k = c.plan.sucursales.len();
    if !p.recibe || seq >= c.plan.eventos || seq % k != p.sucursal {
        p.ajenas += 1;
        return;
    }
    let i = seq / k;
    let bit = 1u64 << (i % 64);
    if p.vistas[i / 64] & bit != 0 {
        p.duplicadas += 1;
        return;
    }
    p.vistas[i / 64] |= bit;
    c.recibidas.fetch_add(1, Ordering::Relaxed);
    c.ultima_ns.fetch_max(ahora, Ordering::Relaxed);
    let latencia = ahora.saturating_sub(enviado) / 1000;
    c.primera_us[seq].fetch_min(latencia, Ordering::Relaxed);
    c.ultima_us[seq].fetch_max(latencia, Ordering::Relaxed);
    c.latencias
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .saturating_record(latencia);
}

/// The seq and send time of a `carga` kitchen alert in a frame — plain JSON
/// (comanda, ws, tokio) or JSON quoted in a Socket.IO event — found without
/// parsing the whole frame.
fn carga_en(frame: &str) -> Option<(usize, u64)> {
    if campo(frame, "type")? != "evento" || campo(frame, "tipo")? != "alerta_cocina" {
        return None;
    }
    let (seq, enviado) = campo(frame, "mensaje")?
        .strip_prefix("carga ")?
        .split_once(' ')?;
    Some((seq.parse().ok()?, enviado.parse().ok()?))
}

/// The first string value of key `clave`, quoted as `"clave":"v"` or, inside
/// a JSON string, as `\"clave\":\"v\"`. The keys looked for come before any
/// payload in every envelope, and the values have no quotes.
fn campo<'a>(frame: &'a str, clave: &str) -> Option<&'a str> {
    let mut desde = 0;
    loop {
        let i = desde + frame[desde..].find(clave)?;
        desde = i + clave.len();
        if !frame[..i].ends_with('"') {
            continue;
        }
        let resto = &frame[desde..];
        let Some(valor) = resto
            .strip_prefix("\":\"")
            .or_else(|| resto.strip_prefix("\\\":\\\""))
        else {
            continue;
        };
        let fin = valor.find(['"', '\\'])?;
        return Some(&valor[..fin]);
    }
}

// ── The server's process, and this machine ──────────────────────────────────

/// A process seen through `/proc`.
struct Proceso(u32);

impl Proceso {
    /// `VmRSS` in KiB.
    fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0)).ok()?;
        let linea = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        linea.split_whitespace().nth(1)?.parse().ok()
    }

    /// utime + stime, in clock ticks.
    fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.0)).ok()?;
        // Fields after the command name, which may hold spaces: the 3rd
        // field of stat(5) is the first here, so utime (14th) is the 12th.
        let mut campos = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
        let utime: u64 = campos.next()?.parse().ok()?;
        let stime: u64 = campos.next()?.parse().ok()?;
        Some(utime + stime)
    }
}

/// `getconf CLK_TCK`: the unit of `/proc/<pid>/stat` times.
fn ticks_por_segundo() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// The process listening on TCP `port` (IPv4 or IPv6), from `/proc/net/tcp*`
/// and the processes' open sockets.
fn pid_que_escucha(port: u16) -> Option<u32> {
    let mut inodos = HashSet::new();
    for tabla in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(texto) = std::fs::read_to_string(tabla) else {
            continue;
        };
        for linea in texto.lines().skip(1) {
            let campos: Vec<&str> = linea.split_whitespace().collect();
            let (Some(local), Some(estado), Some(inodo)) =
                (campos.get(1), campos.get(3), campos.get(9))
            else {
                continue;
            };
            let puerto_local = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if *estado == "0A" && puerto_local == Some(port) {
                inodos.insert(format!("socket:[{inodo}]"));
            }
        }
    }
    if inodos.is_empty() {
        return None;
    }
    for proceso in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = proceso.file_name().to_str().and_then(|p| p.parse().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(proceso.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(destino) = std::fs::read_link(fd.path())
                && destino.to_str().is_some_and(|d| inodos.contains(d))
            {
                return Some(pid);
            }
        }
    }
    None
}

/// This process's (soft, hard) open-file limits.
fn limite_de_ficheros() -> Resultado<(u64, u64)> {
    let limites = std::fs::read_to_string("/proc/self/limits")?;
    let linea = limites
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .ok_or("/proc/self/limits sin «Max open files»")?;
    let mut campos = linea["Max open files".len()..]
        .split_whitespace()
        .map(|c| c.parse().unwrap_or(u64::MAX));
    let blando = campos.next().ok_or("límite blando ilegible")?;
    let duro = campos.next().ok_or("límite duro ilegible")?;
    Ok((blando, duro))
}

/// Makes sure this process may open `necesarios` files: raises the soft
/// limit to the hard one if needed (std has no setrlimit; util-linux's
/// `prlimit` sets it on a running process), or fails saying why.
fn asegurar_ficheros(necesarios: u64) -> Resultado<()> {
    let (blando, duro) = limite_de_ficheros()?;
    if blando >= necesarios {
        return Ok(());
    }
    if duro < necesarios {
        return Err(format!(
            "harían falta {necesarios} ficheros abiertos y el límite duro es {duro}: \
             usa más --procesos"
        )
        .into());
    }
    let subido = Command::new("prlimit")
        .args(["--pid", &std::process::id().to_string()])
        .arg(format!("--nofile={duro}:{duro}"))
        .status();
    let (blando, _) = limite_de_ficheros()?;
    if blando >= necesarios {
        return Ok(());
    }
    Err(format!(
        "el límite de ficheros abiertos es {blando} (duro {duro}) y hacen falta {necesarios}; \
         prlimit: {subido:?}; sube `ulimit -n` o usa más --procesos"
    )
    .into())
}

/// `host:port` of an `http://host:port[/…]` URL.
fn autoridad(url: &str) -> Resultado<String> {
    let resto = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--url {url}: se espera http://host:puerto"))?;
    let autoridad = resto.split('/').next().unwrap_or_default();
    if autoridad.is_empty() {
        return Err(format!("--url {url}: sin host").into());
    }
    Ok(if puerto(autoridad).is_some() {
        autoridad.to_owned()
    } else {
        format!("{autoridad}:80")
    })
}

fn puerto(autoridad: &str) -> Option<u16> {
    autoridad.rsplit_once(':')?.1.parse().ok()
}

fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64
}

fn histograma() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCIA_MAX_US, 3).expect("límites del histograma")
}

// ── The report ──────────────────────────────────────────────────────────────

#[derive(Debug, Serialize)]
struct Percentiles {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

impl Percentiles {
    /// Of a histogram in µs, in ms.
    fn de(h: &Histogram<u64>) -> Option<Self> {
        if h.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some(Percentiles {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        })
    }
}

#[derive(Debug, Serialize)]
struct Informe {
    objetivo: &'static str,
    url: String,
    pid: Option<u32>,
    sesiones_pedidas: usize,
    sesiones: usize,
    sockets_fallidos: usize,
    sucursales: usize,
    atencion_por_sucursal: usize,
    procesos: usize,
    eventos: usize,
    ritmo: f64,
    publicaciones_fallidas: usize,
    sin_enviar: usize,
    errores_de_publicacion: BTreeMap<String, usize>,
    entregas_esperadas: u64,
    recibidas: u64,
    perdidas: u64,
    duplicadas: u64,
    ajenas: u64,
    de_publicaciones_fallidas: u64,
    /// Frames that were not this run's alerts: while opening, and in all.
    otros_frames_al_abrir: u64,
    otros_frames: u64,
    entregas_por_segundo: Option<f64>,
    ofrecidas_por_segundo: f64,
    latencia_ms: Option<Percentiles>,
    /// Over the events: publish → the event's first socket, and its last.
    primer_socket_ms: Option<Percentiles>,
    ultimo_socket_ms: Option<Percentiles>,
    post_ms: Option<Percentiles>,
    rss_antes_kib: Option<u64>,
    rss_inactivo_kib: Option<u64>,
    rss_final_kib: Option<u64>,
    rss_por_sesion_kib: Option<f64>,
    apertura_s: f64,
    asentado_s: f64,
    cpu_servidor_s: Option<f64>,
    cpu_us_por_entrega: Option<f64>,
    cpu_cliente_s: f64,
    cierres: BTreeMap<String, usize>,
    trabajadores_sin_informe: usize,
    plazo_vencido: bool,
    drenaje_vencido: bool,
    duracion_s: f64,
}

struct InformeEntrada<'a> {
    op: &'a Opciones,
    pid: Option<u32>,
    estado: &'a Estado,
    abiertos: usize,
    publicado: &'a Publicado,
    rss: [Option<u64>; 3],
    cpu: Option<u64>,
    tic: u64,
    apertura: Duration,
    asentado: Duration,
    plazo_vencido: bool,
    drenaje_vencido: bool,
    duracion: Duration,
}

impl Informe {
    fn reunir(e: InformeEntrada<'_>) -> Resultado<Self> {
        let op = e.op;
        let mut latencias = histograma();
        let mut suma = InformeTrabajador::default();
        let mut por_evento: Vec<Option<[u64; 2]>> = vec![None; op.eventos];
        let mut sin_informe = 0;
        for informe in &e.estado.informes {
            let Some(i) = informe else {
                sin_informe += 1;
                continue;
            };
            suma.esperadas += i.esperadas;
            suma.recibidas += i.recibidas;
            suma.perdidas += i.perdidas;
            suma.duplicadas += i.duplicadas;
            suma.ajenas += i.ajenas;
            suma.de_fallidas += i.de_fallidas;
            suma.otros += i.otros;
            suma.ultima_ns = suma.ultima_ns.max(i.ultima_ns);
            suma.cpu_ticks += i.cpu_ticks;
            for (c, n) in &i.cierres {
                *suma.cierres.entry(c.clone()).or_default() += n;
            }
            for (todos, aqui) in por_evento.iter_mut().zip(&i.por_evento) {
                if let Some([primera, ultima]) = *aqui {
                    let [p, u] = todos.get_or_insert([primera, ultima]);
                    (*p, *u) = ((*p).min(primera), (*u).max(ultima));
                }
            }
            let bytes = BASE64.decode(&i.latencias)?;
            let h: Histogram<u64> = Deserializer::new()
                .deserialize(&mut bytes.as_slice())
                .map_err(|e| format!("histograma: {e:?}"))?;
            latencias
                .add(&h)
                .map_err(|e| format!("histograma: {e:?}"))?;
        }
        let (mut primeras, mut ultimas) = (histograma(), histograma());
        for [primera, ultima] in por_evento.into_iter().flatten() {
            primeras.saturating_record(primera);
            ultimas.saturating_record(ultima);
        }
        let publicaciones_fallidas = e
            .publicado
            .exito
            .iter()
            .filter(|x| **x == Some(false))
            .count();
        let sin_enviar = e.publicado.exito.iter().filter(|x| x.is_none()).count();
        let entregas_por_segundo = (suma.recibidas > 0 && suma.ultima_ns > e.publicado.primera_ns)
            .then(|| {
                suma.recibidas as f64 / ((suma.ultima_ns - e.publicado.primera_ns) as f64 / 1e9)
            });
        let receptores: usize = e.estado.receptores.iter().sum();
        let [rss_antes, rss_inactivo, rss_final] = e.rss;
        let rss_por_sesion = rss_antes
            .zip(rss_inactivo)
            .filter(|_| e.abiertos > 0)
            .map(|(a, d)| (d as f64 - a as f64) / e.abiertos as f64);
        let cpu_s = e.cpu.map(|t| t as f64 / e.tic as f64);
        Ok(Informe {
            objetivo: op.objetivo.nombre(),
            url: op.url.clone(),
            pid: e.pid,
            sesiones_pedidas: op.sesiones,
            sesiones: e.abiertos,
            sockets_fallidos: e.estado.fallidos(),
            sucursales: op.sucursales,
            atencion_por_sucursal: op.atencion_por_sucursal,
            procesos: e.estado.informes.len(),
            eventos: op.eventos,
            ritmo: op.ritmo,
            publicaciones_fallidas,
            sin_enviar,
            errores_de_publicacion: e.publicado.errores.clone(),
            entregas_esperadas: suma.esperadas,
            recibidas: suma.recibidas,
            perdidas: suma.perdidas,
            duplicadas: suma.duplicadas,
            ajenas: suma.ajenas,
            de_publicaciones_fallidas: suma.de_fallidas,
            otros_frames_al_abrir: e.estado.otros_al_abrir,
            otros_frames: suma.otros,
            entregas_por_segundo,
            // Every event reaches its sucursal's kitchens: on average
            // receivers / K per event.
            ofrecidas_por_segundo: op.ritmo * receptores as f64 / op.sucursales as f64,
            latencia_ms: Percentiles::de(&latencias),
            primer_socket_ms: Percentiles::de(&primeras),
            ultimo_socket_ms: Percentiles::de(&ultimas),
            post_ms: Percentiles::de(&e.publicado.respuestas),
            rss_antes_kib: rss_antes,
            rss_inactivo_kib: rss_inactivo,
            rss_final_kib: rss_final,
            rss_por_sesion_kib: rss_por_sesion,
            apertura_s: e.apertura.as_secs_f64(),
            asentado_s: e.asentado.as_secs_f64(),
            cpu_servidor_s: cpu_s,
            cpu_us_por_entrega: cpu_s
                .filter(|_| suma.recibidas > 0)
                .map(|s| s * 1e6 / suma.recibidas as f64),
            cpu_cliente_s: suma.cpu_ticks as f64 / e.tic as f64,
            cierres: suma.cierres,
            trabajadores_sin_informe: sin_informe,
            plazo_vencido: e.plazo_vencido,
            drenaje_vencido: e.drenaje_vencido,
            duracion_s: e.duracion.as_secs_f64(),
        })
    }

    fn bien(&self) -> bool {
        self.perdidas == 0
            && self.duplicadas == 0
            && self.ajenas == 0
            && self.sockets_fallidos == 0
            && self.publicaciones_fallidas == 0
            && self.sin_enviar == 0
            && self.trabajadores_sin_informe == 0
            && !self.plazo_vencido
            && !self.drenaje_vencido
    }

    fn imprimir(&self) {
        let opt = |v: Option<f64>, dec: usize| v.map_or("—".into(), |v| format!("{v:.dec$}"));
        println!();
        println!(
            "carga · {} · {}{}",
            self.objetivo,
            self.url,
            self.pid.map_or(String::new(), |p| format!(" (pid {p})"))
        );
        println!(
            "  sesiones         {} de {} ({} sucursal(es), {} de atención por sucursal, {} proceso(s)); {} no abrieron",
            self.sesiones,
            self.sesiones_pedidas,
            self.sucursales,
            self.atencion_por_sucursal,
            self.procesos,
            self.sockets_fallidos
        );
        println!(
            "  apertura         {:.1} s ({:.0} sockets/s); otros frames: {} al abrir, {} en total",
            self.apertura_s,
            self.sesiones as f64 / self.apertura_s.max(1e-3),
            self.otros_frames_al_abrir,
            self.otros_frames
        );
        println!(
            "  eventos          {} a {}/s; {} publicaciones fallidas, {} sin enviar",
            self.eventos, self.ritmo, self.publicaciones_fallidas, self.sin_enviar
        );
        for (e, n) in &self.errores_de_publicacion {
            println!("                   {n} × {e}");
        }
        println!(
            "  entregas         esperadas {}  recibidas {}  perdidas {}  duplicadas {}  ajenas {}",
            self.entregas_esperadas, self.recibidas, self.perdidas, self.duplicadas, self.ajenas
        );
        println!(
            "  entregas/s       {} (ofrecidas {:.0}/s)",
            opt(self.entregas_por_segundo, 0),
            self.ofrecidas_por_segundo
        );
        let pct = |p: &Option<Percentiles>| {
            p.as_ref().map_or("—".into(), |p| {
                format!(
                    "p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
                    p.p50, p.p90, p.p99, p.max
                )
            })
        };
        println!("  latencia (ms)    {}", pct(&self.latencia_ms));
        println!("    primer socket  {}", pct(&self.primer_socket_ms));
        println!("    último socket  {}", pct(&self.ultimo_socket_ms));
        println!("  POST (ms)        {}", pct(&self.post_ms));
        let mib = |v: Option<u64>| opt(v.map(|k| k as f64 / 1024.0), 1);
        println!(
            "  RSS (MiB)        antes {}  inactivo {}  al final {}  → {} KiB por sesión inactiva (asentado en {:.1} s)",
            mib(self.rss_antes_kib),
            mib(self.rss_inactivo_kib),
            mib(self.rss_final_kib),
            opt(self.rss_por_sesion_kib, 2),
            self.asentado_s
        );
        println!(
            "  CPU              servidor {} s → {} µs por entrega; cliente {:.2} s",
            opt(self.cpu_servidor_s, 2),
            opt(self.cpu_us_por_entrega, 3),
            self.cpu_cliente_s
        );
        if !self.cierres.is_empty() {
            println!("  cierres durante la carga:");
            for (c, n) in &self.cierres {
                println!("                   {n} × {c}");
            }
        }
        if self.trabajadores_sin_informe > 0 {
            println!(
                "  {} trabajador(es) sin informe",
                self.trabajadores_sin_informe
            );
        }
        if self.plazo_vencido {
            println!("  PLAZO VENCIDO: cifras incompletas");
        }
        if self.drenaje_vencido {
            println!("  no llegó todo en el drenaje");
        }
        println!(
            "  duración         {:.1} s  →  {}",
            self.duracion_s,
            if self.bien() { "bien" } else { "MAL" }
        );
    }
}

fn kib(v: Option<u64>) -> String {
    v.map_or("—".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}
