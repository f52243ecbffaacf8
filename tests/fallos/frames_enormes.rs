//! A logged-in client declares a frame far over the 64 KiB limit, or sends
//! a message in fragments that add up past it: the server closes with 1009
//! as soon as a header says so, and its memory does not grow with what the
//! client keeps streaming. Measured on a real `comanda serve`, whose
//! resident memory is its own (the in-process harness shares it with the
//! test).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::almacen::Almacen;
use crate::arnes::nodo::serve;
use crate::arnes::reglas::copia_de_las_reglas;
use crate::arnes::{Ajustes, Nodo};
use crate::trama::{
    BINARIO, CIERRE, CONTINUACION, MASCARA, PING, PONG, TEXTO, cabecera, fin_de_cabecera, frame,
    upgrade,
};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
/// Each write of the stream.
const ESCRITURA: usize = 64 * KIB;
/// How much resident memory the server may gain from the frame to its close.
const CRECIMIENTO: usize = 2 * MIB;
/// How long the server has to answer.
const PLAZO: Duration = Duration::from_secs(10);
/// How long the client looks for the close after each write of the stream.
const MIRADA: Duration = Duration::from_millis(10);

/// The server's resident memory (`VmRSS`), in bytes.
fn memoria(nodo: &Nodo) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{}/status", nodo.pid()))
        .expect("/proc/<pid>/status del servidor");
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS en /proc/<pid>/status");
    kib * KIB
}

/// The server's resident memory once it stops moving, after the login's
/// argon2 hash (19 MiB, given back a moment after it).
async fn memoria_quieta(nodo: &Nodo) -> usize {
    let limite = Instant::now() + PLAZO;
    let mut antes = memoria(nodo);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ahora = memoria(nodo);
        if ahora.abs_diff(antes) < 64 * KIB {
            return ahora;
        }
        assert!(
            Instant::now() < limite,
            "la memoria del servidor no se quedó quieta en {PLAZO:?}: {} → {}",
            mib(antes as isize),
            mib(ahora as isize)
        );
        antes = ahora;
    }
}

fn mib(bytes: isize) -> String {
    format!("{:.2} MiB", bytes as f64 / MIB as f64)
}

/// A raw socket to `/ws`, upgraded and greeted.
struct Crudo {
    io: TcpStream,
    leido: Vec<u8>,
}

impl Crudo {
    async fn abrir(nodo: &Nodo, usuario: &str) -> Crudo {
        let token = nodo.token(usuario).await;
        let mut io = TcpStream::connect(("127.0.0.1", nodo.puerto))
            .await
            .unwrap();
        io.write_all(upgrade(&token).as_bytes()).await.unwrap();
        let mut c = Crudo {
            io,
            leido: Vec::new(),
        };
        let limite = Instant::now() + PLAZO;
        let fin = loop {
            if let Some(fin) = fin_de_cabecera(&c.leido) {
                break fin;
            }
            assert!(c.leer_hasta(limite).await, "sin respuesta al upgrade");
        };
        assert!(
            c.leido.starts_with(b"HTTP/1.1 101"),
            "{:?}",
            String::from_utf8_lossy(&c.leido)
        );
        c.leido.drain(..fin);
        // `hola`, and a ping answered: the session is up and has read a frame.
        c.io.write_all(&frame(PING, true, b"listo")).await.unwrap();
        loop {
            match c.frame_hasta(limite).await {
                Some((PONG, _)) => return c,
                Some((CIERRE, datos)) => panic!("cerrado al abrir: {datos:?}"),
                Some(_) => {}
                None => panic!("sin pong en {PLAZO:?}"),
            }
        }
    }

    /// Reads what comes until `limite`; false if nothing did (or the
    /// connection ended).
    async fn leer_hasta(&mut self, limite: Instant) -> bool {
        let mut bloque = [0u8; 8 * KIB];
        match tokio::time::timeout_at(limite, self.io.read(&mut bloque)).await {
            Ok(Ok(n)) if n > 0 => {
                self.leido.extend_from_slice(&bloque[..n]);
                true
            }
            _ => false,
        }
    }

    /// The server's next frame (opcode, payload), if it comes by `limite`.
    async fn frame_hasta(&mut self, limite: Instant) -> Option<(u8, Vec<u8>)> {
        loop {
            if let Some(frame) = self.sacar_frame() {
                return Some(frame);
            }
            if !self.leer_hasta(limite).await {
                return None;
            }
        }
    }

    /// The close frame's code, if it comes by `limite`; other frames are skipped.
    async fn cierre_hasta(&mut self, limite: Instant) -> Option<u16> {
        loop {
            let (op, datos) = self.frame_hasta(limite).await?;
            if op == CIERRE {
                return Some(
                    datos
                        .get(..2)
                        .map_or(1005, |c| u16::from_be_bytes([c[0], c[1]])),
                );
            }
        }
    }

    fn sacar_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        let b = &self.leido;
        if b.len() < 2 {
            return None;
        }
        let (largo, cabeza) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 if b.len() >= 10 => (
                u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                10,
            ),
            126 | 127 => return None,
            n => (n as usize, 2),
        };
        if b.len() < cabeza + largo {
            return None;
        }
        let frame = (b[0] & 0x0f, b[cabeza..cabeza + largo].to_vec());
        self.leido.drain(..cabeza + largo);
        Some(frame)
    }

    /// Waits until everything the client wrote has been read by the
    /// server: nothing in flight either way in the kernel's queues
    /// (`/proc/net/tcp`), or the server's socket gone. Then the server's
    /// memory holds whatever it kept of it.
    async fn leido_por_el_servidor(&self) {
        let cliente = self.io.local_addr().unwrap().port();
        let servidor = self.io.peer_addr().unwrap().port();
        let limite = Instant::now() + PLAZO;
        loop {
            let tcp = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
            let colas = |local: u16, remoto: u16| {
                tcp.lines().skip(1).find_map(|l| {
                    let c: Vec<&str> = l.split_whitespace().collect();
                    let puerto = |dir: &str| u16::from_str_radix(dir.split(':').nth(1)?, 16).ok();
                    let (tx, rx) = c.get(4)?.split_once(':')?;
                    (puerto(c.get(1)?)? == local && puerto(c.get(2)?)? == remoto).then(|| {
                        (
                            usize::from_str_radix(tx, 16).unwrap(),
                            usize::from_str_radix(rx, 16).unwrap(),
                        )
                    })
                })
            };
            let enviando = colas(cliente, servidor).map_or(0, |(tx, _)| tx);
            let sin_leer = colas(servidor, cliente).map_or(0, |(_, rx)| rx);
            if enviando == 0 && sin_leer == 0 {
                return;
            }
            assert!(
                Instant::now() < limite,
                "el servidor no leyó lo enviado en {PLAZO:?}: {enviando} bytes por enviar, \
                 {sin_leer} sin leer"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Writes `bytes`, then looks for the close for a moment.
    async fn escribir_y_mirar(&mut self, bytes: &[u8]) -> Option<u16> {
        self.io
            .write_all(bytes)
            .await
            .expect("el servidor lee lo que llega hasta cerrar");
        self.cierre_hasta(Instant::now() + MIRADA).await
    }
}

async fn nodo_solo() -> (Nodo, Almacen, tempfile::TempDir) {
    let almacen = Almacen::sqlite();
    let reglas = copia_de_las_reglas();
    let mut cmd = serve(almacen.url(), reglas.path(), "solo", Ajustes::default());
    cmd.arg("--demo");
    (Nodo::arrancar("solo", cmd).await, almacen, reglas)
}

/// What the client streams after the header. More than the allocator can
/// give back meanwhile (what the process's argon2 hashes used, 19 MiB each,
/// is returned at moments of its own): a server that kept it could not hide
/// it.
const FLUJO: usize = 64 * MIB;

/// Writes `bytes` while the server reads; false once it stopped (its
/// moment of reading after the close is over, and it dropped the socket).
async fn seguir(c: &mut Crudo, bytes: &[u8]) -> bool {
    c.io.write_all(bytes).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn un_frame_que_declara_1_gib_se_cierra_con_1009_en_la_cabecera_y_la_memoria_no_crece() {
    let (nodo, _almacen, _reglas) = nodo_solo().await;
    let mut c = Crudo::abrir(&nodo, "cocina1").await;
    let antes = memoria_quieta(&nodo).await;

    c.io.write_all(&cabecera(BINARIO, true, 1 << 30))
        .await
        .unwrap();
    let bloque = vec![0x5a; ESCRITURA];
    let mut enviados = 0;
    let mut cierre = None;
    while enviados < FLUJO {
        enviados += ESCRITURA;
        match cierre {
            None => {
                cierre = c
                    .escribir_y_mirar(&bloque)
                    .await
                    .map(|codigo| (codigo, enviados))
            }
            // The client does not listen and goes on: the server reads it
            // only to drop it.
            Some(_) if seguir(&mut c, &bloque).await => {}
            Some(_) => break,
        }
    }
    c.leido_por_el_servidor().await;
    let Some((codigo, al_cierre)) = cierre else {
        panic!(
            "sin cierre tras {} del frame de 1 GiB, todos leídos por el servidor; su memoria: \
             {} más",
            mib(enviados as isize),
            mib(memoria(&nodo) as isize - antes as isize)
        );
    };
    let despues = memoria(&nodo);
    let crecimiento = despues as isize - antes as isize;
    println!(
        "frame de 1 GiB: {codigo} tras {} enviados, y {} más; VmRSS {} → {} ({})",
        mib(al_cierre as isize),
        mib((enviados - al_cierre) as isize),
        mib(antes as isize),
        mib(despues as isize),
        mib(crecimiento)
    );
    assert_eq!(codigo, 1009);
    assert!(
        crecimiento < CRECIMIENTO as isize,
        "la memoria del servidor creció {} con el frame de 1 GiB",
        mib(crecimiento)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragmentos_de_60_kib_se_cierran_con_1009_en_la_cabecera_que_pasa_de_64_kib() {
    const FRAGMENTO: usize = 60 * KIB;
    let (nodo, _almacen, _reglas) = nodo_solo().await;
    let mut c = Crudo::abrir(&nodo, "cocina1").await;
    let antes = memoria_quieta(&nodo).await;

    // The first fragment fits; the second one's header alone takes the
    // message past the limit: the close needs none of its payload.
    let relleno: Vec<u8> = (0..FRAGMENTO).map(|i| b' ' ^ MASCARA[i % 4]).collect();
    let mut bytes = cabecera(TEXTO, false, FRAGMENTO as u64);
    bytes.extend(&relleno);
    bytes.extend(cabecera(CONTINUACION, false, FRAGMENTO as u64));
    c.io.write_all(&bytes).await.unwrap();
    let codigo = c
        .cierre_hasta(Instant::now() + PLAZO)
        .await
        .unwrap_or_else(|| {
            panic!(
                "sin cierre en {PLAZO:?} tras la cabecera del segundo fragmento (60 + 60 KiB); \
             memoria del servidor: {} más",
                mib(memoria(&nodo) as isize - antes as isize)
            )
        });
    assert_eq!(codigo, 1009);

    // The client does not listen and streams many more fragments of the
    // message: the server reads them only to drop them.
    let mut fragmento = relleno.clone();
    fragmento.extend(cabecera(CONTINUACION, false, FRAGMENTO as u64));
    let mut fragmentos = 0;
    while fragmentos < FLUJO / FRAGMENTO && seguir(&mut c, &fragmento).await {
        fragmentos += 1;
    }
    c.leido_por_el_servidor().await;
    let despues = memoria(&nodo);
    let crecimiento = despues as isize - antes as isize;
    println!(
        "fragmentos: {codigo} en la cabecera del segundo, y {fragmentos} más; VmRSS {} → {} ({})",
        mib(antes as isize),
        mib(despues as isize),
        mib(crecimiento)
    );
    assert!(
        crecimiento < CRECIMIENTO as isize,
        "la memoria del servidor creció {} con los fragmentos",
        mib(crecimiento)
    );
}
