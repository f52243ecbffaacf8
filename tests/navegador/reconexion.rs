//! La cocina pierde el servidor: lo dice a toda pantalla; lo publicado
//! mientras no estaba le llega al volver, cada alerta una sola vez.

use std::io::Read;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::arnes::{PLAZO, correr};

#[actix_web::test]
async fn sin_servidor_la_cocina_lo_avisa_y_al_volver_muestra_cada_alerta_perdida_una_vez() {
    correr("sin_conexion", async |escena| {
        let servidor = escena.servidor().await;
        // Sessions live in the database: these tokens outlive the restart.
        let atencion = servidor.token("atencion1").await;
        let admin = servidor.token("admin1").await;
        let cocina = escena.navegador(&servidor, "cocina1").await;
        cocina.entrar("cocina1", "/cocina.html").await;
        assert!(cocina.items("#alertas li.alerta").await.is_empty());
        // One seen live before the outage: a resume from too far back would
        // bring it again.
        let antes = "Antes del corte: mesa 5 sin servilletas";
        servidor.alertar(&atencion, antes, "normal").await;
        cocina
            .esperar(PLAZO, "la alerta en vivo antes del corte", async || {
                let lista = cocina.items("#alertas li.alerta").await;
                lista.iter().any(|i| i.texto.contains(antes)).then_some(())
            })
            .await;

        servidor.parar().await;
        let banner = cocina
            .esperar(PLAZO, "#conexion sin-conexion", async || {
                let c = cocina.item("#conexion").await?;
                (c.dato("estado") == Some("sin-conexion")).then_some(c)
            })
            .await;
        assert!(banner.visible, "el aviso se ve: {banner:?}");
        assert!(banner.texto.contains("Sin conexión"), "{banner:?}");
        let caja = cocina.caja("#conexion").await.expect("#conexion");
        let ancho = caja["ancho"].as_f64().unwrap();
        let ventana = caja["ancho_ventana"].as_f64().unwrap();
        assert!(
            ancho >= 0.9 * ventana,
            "el aviso ocupa todo el ancho: {ancho} de {ventana}"
        );
        assert!(es_rojo(&caja["fondos"]), "el aviso es rojo: {caja}");
        cocina.captura("sin-conexion").await;

        // A stand-in holds the port: it takes the page's reconnection
        // attempts and hangs up. Right after one, the page's backoff leaves
        // time to start the server again and publish before the next one.
        let impostor = Impostor::escuchar(servidor.port);
        let intentos = impostor.esperar_intentos(2, Duration::from_secs(20)).await;
        impostor.soltar();
        servidor.arrancar_de_nuevo().await;
        let desde_el_ultimo = intentos.last().unwrap().elapsed();
        let mensajes = [
            "Corte 1: se acabaron las papas fritas",
            "Corte 2: falta gaseosa de 1 litro",
            "Corte 3: la mesa 7 pide la cuenta",
        ];
        for m in mensajes {
            servidor.alertar(&atencion, m, "alta").await;
        }
        let publicadas = intentos.last().unwrap().elapsed();
        let estadisticas = servidor.get("/api/estadisticas", &admin).await;
        assert_eq!(
            sesiones_de_cocina(&estadisticas),
            0,
            "la página volvió antes de que se publicaran las alertas (intentos: {:?}, \
             publicadas {publicadas:?} tras el último): la prueba no probaría la reanudación",
            separaciones(&intentos)
        );
        eprintln!(
            "intentos de la página contra el impostor, separados por {:?}; \
             servidor de nuevo {desde_el_ultimo:?} y alertas publicadas {publicadas:?} tras el último",
            separaciones(&intentos)
        );

        cocina
            .esperar(
                Duration::from_secs(15),
                "la página se reconecta sola (#conexion en-linea)",
                async || {
                    let c = cocina.item("#conexion").await?;
                    (c.dato("estado") == Some("en-linea")).then_some(())
                },
            )
            .await;
        cocina
            .esperar(PLAZO, "las 3 alertas publicadas sin conexión", async || {
                let textos: Vec<_> = cocina
                    .items("#alertas li.alerta")
                    .await
                    .into_iter()
                    .map(|i| i.texto)
                    .collect();
                mensajes
                    .iter()
                    .all(|m| textos.iter().any(|t| t.contains(m)))
                    .then_some(())
            })
            .await;

        // A live alert after the replay: frames arrive in order, so once it
        // shows, a duplicate of the replayed ones would already be there.
        let ultima = "Después del corte: todo en orden";
        servidor.alertar(&atencion, ultima, "normal").await;
        let lista = cocina
            .esperar(PLAZO, "la alerta en vivo tras la reanudación", async || {
                let lista = cocina.items("#alertas li.alerta").await;
                lista
                    .iter()
                    .any(|i| i.texto.contains(ultima))
                    .then_some(lista)
            })
            .await;
        let mut ids: Vec<_> = lista.iter().map(|i| i.id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), lista.len(), "cada data-id una vez: {lista:#?}");
        assert_eq!(lista.len(), 5, "{lista:#?}");
        for m in mensajes.iter().chain([&antes, &ultima]) {
            let veces = lista.iter().filter(|i| i.texto.contains(m)).count();
            assert_eq!(veces, 1, "«{m}» {veces} veces: {lista:#?}");
        }
        cocina.captura("cocina-reanudada").await;
    })
    .await;
}

/// Every colour of the background, opaque and clearly red.
fn es_rojo(fondos: &Value) -> bool {
    let fondos = fondos.as_array().map(Vec::as_slice).unwrap_or_default();
    !fondos.is_empty()
        && fondos.iter().all(|c| {
            let c: Vec<f64> = c
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default();
            matches!(c[..], [r, g, b, a] if a > 0.5 && r >= 150.0 && r > g + 60.0 && r > b + 60.0)
        })
}

fn sesiones_de_cocina(estadisticas: &Value) -> u64 {
    estadisticas["sesiones"]
        .as_array()
        .expect("estadisticas.sesiones")
        .iter()
        .filter(|s| s["rol"] == "cocina")
        .map(|s| s["sesiones"].as_u64().unwrap_or(0))
        .sum()
}

fn separaciones(intentos: &[Instant]) -> Vec<Duration> {
    intentos.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Holds a port while the server is down: accepts each connection, reads its
/// request line and hangs up, noting when a `GET /ws` came.
struct Impostor {
    parar: Arc<AtomicBool>,
    intentos: Arc<Mutex<Vec<Instant>>>,
    hilo: JoinHandle<()>,
}

impl Impostor {
    fn escuchar(port: u16) -> Impostor {
        // The stopped server's accept loop lets go of the port a moment later.
        let limite = Instant::now() + Duration::from_secs(10);
        let socket = loop {
            match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
                Ok(s) => break s,
                Err(e) if Instant::now() > limite => panic!("el puerto {port} no se libera: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        socket.set_nonblocking(true).unwrap();
        let parar = Arc::new(AtomicBool::new(false));
        let intentos = Arc::new(Mutex::new(Vec::new()));
        let hilo = {
            let parar = parar.clone();
            let intentos = intentos.clone();
            std::thread::spawn(move || {
                while !parar.load(Ordering::Relaxed) {
                    match socket.accept() {
                        Ok((conexion, _)) => {
                            let cuando = Instant::now();
                            if pide_el_socket(conexion) {
                                intentos.lock().unwrap().push(cuando);
                            }
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        Impostor {
            parar,
            intentos,
            hilo,
        }
    }

    /// Waits until the page tried to open its socket `n` times; answers when
    /// each attempt came.
    async fn esperar_intentos(&self, n: usize, plazo: Duration) -> Vec<Instant> {
        let limite = Instant::now() + plazo;
        loop {
            let intentos = self.intentos.lock().unwrap().clone();
            if intentos.len() >= n {
                return intentos;
            }
            assert!(
                Instant::now() < limite,
                "la página sin conexión no intentó abrir su socket {n} veces en {plazo:?} ({} intentos)",
                intentos.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Closes the port (when this returns, nothing listens on it).
    fn soltar(self) {
        self.parar.store(true, Ordering::Relaxed);
        self.hilo.join().expect("hilo del impostor");
    }
}

/// Whether the connection's request is the socket's `GET /ws` (the page
/// may also ask `GET /api/me` when its socket fails).
fn pide_el_socket(mut conexion: TcpStream) -> bool {
    let mut inicio = [0u8; 16];
    let _ = conexion.set_nonblocking(false);
    let _ = conexion.set_read_timeout(Some(Duration::from_millis(200)));
    let n = conexion.read(&mut inicio).unwrap_or(0);
    inicio[..n].starts_with(b"GET /ws ")
}
