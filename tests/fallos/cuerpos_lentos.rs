//! Slow bodies against a real `comanda serve` with few file descriptors:
//! more connections than the process may open send their headers and a
//! piece of a body, and then nothing. Each is answered 408 (or closed)
//! within the body deadline, a round at a time, and a login made behind
//! them all still goes through — the HTTP connections never take the
//! descriptors that the store and everyone else need.

use std::os::unix::process::CommandExt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;
use tokio::time::Instant;

use crate::almacen::Almacen;
use crate::arnes::nodo::{DEMO_PASSWORD, serve};
use crate::arnes::reglas::copia_de_las_reglas;
use crate::arnes::{Ajustes, Nodo};

/// The open-file limit of the server process.
const ARCHIVOS: u64 = 256;
/// Connections that send a piece of a body and stop: more than the limit.
const LENTAS: usize = 300;
/// `--cuerpo-plazo`.
const PLAZO: Duration = Duration::from_secs(2);
/// `--http-conexiones` by default: half of the open-file limit.
const CONEXIONES: usize = (ARCHIVOS / 2) as usize;
/// After its 408, a connection lingers up to `client_disconnect_timeout`
/// (1 s) for the client to go.
const DESPEDIDA: Duration = Duration::from_secs(1);
/// Scheduling on a shared machine.
const MARGEN: Duration = Duration::from_secs(5);

/// The connections are served `CONEXIONES` at a time, each round within
/// the deadline: when the last one must have its answer.
fn limite() -> Duration {
    let rondas = LENTAS.div_ceil(CONEXIONES) as u32;
    (PLAZO + DESPEDIDA) * rondas + MARGEN
}

/// Sends a request head and a piece of its body, then waits: answers the
/// status line it got (empty if the server just closed) and how long after
/// the head it came.
async fn lenta(puerto: u16, n: usize, enviadas: Arc<Barrier>) -> (String, Duration) {
    let mut tcp = TcpStream::connect(("127.0.0.1", puerto))
        .await
        .expect("el núcleo acepta la conexión");
    let cabeza = format!(
        "POST /api/login HTTP/1.1\r\nHost: comanda\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"usuario\":\"lenta{n}\""
    );
    tcp.write_all(cabeza.as_bytes()).await.unwrap();
    let inicio = Instant::now();
    enviadas.wait().await;
    let mut leido = Vec::new();
    let mut trozo = [0u8; 1024];
    let resultado = tokio::time::timeout(limite(), async {
        loop {
            match tcp.read(&mut trozo).await {
                Ok(0) | Err(_) => break,
                Ok(n) => leido.extend_from_slice(&trozo[..n]),
            }
            if leido.windows(2).any(|w| w == b"\r\n") {
                break;
            }
        }
    })
    .await;
    assert!(
        resultado.is_ok(),
        "la conexión {n} sigue abierta y sin respuesta tras {:?}",
        limite()
    );
    let linea = String::from_utf8_lossy(&leido)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    (linea, inicio.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuerpos_lentos_de_mas_conexiones_que_descriptores_reciben_408_y_un_login_sigue_entrando() {
    let almacen = Almacen::sqlite();
    let reglas = copia_de_las_reglas();
    let mut cmd = serve(almacen.url(), reglas.path(), "lento", Ajustes::default());
    cmd.arg("--demo")
        .args(["--cuerpo-plazo", &format!("{}s", PLAZO.as_secs())]);
    // SAFETY: between fork and exec only setrlimit runs, which is
    // async-signal-safe, on a struct of the child's own.
    unsafe {
        cmd.pre_exec(|| {
            let limite = libc::rlimit {
                rlim_cur: ARCHIVOS,
                rlim_max: ARCHIVOS,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limite) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let nodo = Nodo::arrancar("lento", cmd).await;

    let enviadas = Arc::new(Barrier::new(LENTAS + 1));
    let lentas: Vec<_> = (0..LENTAS)
        .map(|n| tokio::spawn(lenta(nodo.puerto, n, enviadas.clone())))
        .collect();
    // Behind all of them in the listen queue.
    enviadas.wait().await;
    let cliente = reqwest::Client::builder()
        .timeout(limite())
        .build()
        .unwrap();
    let login = cliente
        .post(nodo.url("/api/login"))
        .json(&json!({"usuario": "atencion1", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("el login no entró: {e}\n{}", nodo.registro(30)));
    assert_eq!(login.status(), StatusCode::OK, "{}", nodo.registro(30));

    let mut respondidas = 0;
    for resultado in join_all(lentas).await {
        let (linea, tardo) = resultado.expect("la tarea de la conexión");
        assert!(
            linea.is_empty() || linea.starts_with("HTTP/1.1 408"),
            "{linea}"
        );
        assert!(
            tardo >= PLAZO || linea.is_empty(),
            "408 antes del plazo: {tardo:?}"
        );
        respondidas += usize::from(!linea.is_empty());
    }
    assert!(respondidas > 0, "ninguna recibió su 408");
    // And after them, as before.
    let r = cliente
        .post(nodo.url("/api/login"))
        .json(&json!({"usuario": "cocina1", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
