//! An admin's rule that sleeps, or whose every operation is slow, on a real
//! node (issue 16): the alerts it decides get the default, and everyone else
//! — another sucursal's deliveries, new sockets, `/healthz` — is served as if
//! nothing happened; `/readyz` says whether writes can succeed, and SIGTERM
//! ends the process within its grace.
//!
//! Before rules ran on threads of their own, `sleep(3.0)` in `prioridad`
//! held the write transaction (every sucursal's writes waited 3 s each), and
//! an escalation rule ran on the Dispatcher's thread: no delivery and no
//! handshake anywhere while it ran, and a SIGTERM nobody heard.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::time::Instant;

use crate::almacen::Almacen;
use crate::arnes::nodo::serve;
use crate::arnes::reglas::copia_de_las_reglas;
use crate::arnes::{Ajustes, Conexion, Frame, Nodo, conectar};

/// `prioridad` that blocks its thread.
const PRIORIDAD_DORMILONA: &str = r#"fn prioridad(a) { sleep(3.0); "normal" }"#;

/// `escalar` that blocks its thread, then fails.
const ESCALADO_DORMILON: &str = r#"fn escalar(a, m) { sleep(40.0); throw "despierto" }"#;

/// A search for an 8 KiB needle in a 16 KiB string, over and over: each
/// operation takes tens of microseconds, so its 50,000 operations take
/// most of a second — within the operations budget.
const BUSQUEDA_LENTA: &str = r#"
    let s = "";
    s.pad(16000, "x");
    let aguja = "";
    aguja.pad(8000, "x");
    aguja += "y";
    let n = 0;
    loop { if s.contains(aguja) { n += 1; } }
"#;

fn prioridad_lenta() -> String {
    format!("fn prioridad(a) {{ {BUSQUEDA_LENTA} }}")
}

fn escalado_lento() -> String {
    format!("fn escalar(a, m) {{ {BUSQUEDA_LENTA} }}")
}

/// What "as if nothing happened" means: at least 9 of every 10 samples.
const RAPIDO: Duration = Duration::from_millis(100);
/// Samples of each kind.
const MUESTRAS: usize = 15;
/// Unread alerts the escalation reviews.
const SIN_LEER: usize = 200;
/// `--shutdown-timeout` of these nodes.
const GRACIA: Duration = Duration::from_secs(5);

/// A `--demo` node on `almacen` whose rules folder holds the shipped rules
/// with `prioridad` or `escalado` replaced.
async fn nodo_con_regla(almacen: &Almacen, regla: &str, fuente: &str) -> (Nodo, tempfile::TempDir) {
    let reglas = copia_de_las_reglas();
    std::fs::write(reglas.path().join(regla), fuente).expect("escribir la regla");
    let mut cmd = serve(almacen.url(), reglas.path(), "hostil", Ajustes::default());
    cmd.arg("--demo")
        .args(["--escalado-intervalo", "200ms"])
        .args(["--shutdown-timeout", &format!("{}s", GRACIA.as_secs())]);
    (Nodo::arrancar("hostil", cmd).await, reglas)
}

/// How long things take in sucursal 2 while sucursal 1 suffers: a refill
/// from its desk until its kitchen's socket has it (a socket opened now),
/// and `/healthz`.
struct Medidas {
    entregas: Vec<Duration>,
    healthz: Vec<Duration>,
}

impl Medidas {
    async fn tomar(nodo: &Nodo) -> Medidas {
        let atencion2 = nodo.token("atencion2").await;
        let mut cocina2 = match conectar(nodo.puerto, &nodo.token("cocina2").await).await {
            Conexion::Abierta(s) => s,
            otra => panic!("la cocina 2 no pudo abrir su socket: {otra:?}"),
        };
        let desde = cocina2.hola["ultimo_id"].as_i64().unwrap();
        assert!(cocina2.reanudar(desde).await);
        let mut entregas = Vec::new();
        let mut healthz = Vec::new();
        for n in 0..MUESTRAS {
            let inicio = Instant::now();
            let r = nodo
                .post(
                    "/api/refills",
                    &atencion2,
                    &json!({"producto": format!("papas {n}"), "cantidad": 1}),
                )
                .await
                .expect("POST /api/refills");
            assert_eq!(r.status(), StatusCode::CREATED, "refill {n}");
            loop {
                match cocina2.siguiente(inicio + Duration::from_secs(10)).await {
                    Frame::Evento(e) if e["tipo"] == "refill_solicitado" => break,
                    Frame::Evento(_) | Frame::Otro(_) => continue,
                    otro => panic!("la cocina 2 no recibió el refill {n}: {otro:?}"),
                }
            }
            entregas.push(inicio.elapsed());

            let inicio = Instant::now();
            let r = reqwest::get(nodo.url("/healthz")).await.expect("healthz");
            assert_eq!(r.status(), StatusCode::OK);
            healthz.push(inicio.elapsed());
        }
        Medidas { entregas, healthz }
    }

    fn afirmar_rapidas(&self, contexto: &str) {
        for (que, muestras) in [
            ("refill publicado → cocina 2", &self.entregas),
            ("/healthz", &self.healthz),
        ] {
            let mut orden = muestras.clone();
            orden.sort();
            let p90 = orden[orden.len() * 9 / 10 - 1];
            assert!(
                p90 < RAPIDO,
                "{contexto}: {que} tardó {p90:?} (p90) con la regla hostil; muestras {muestras:?}"
            );
        }
    }
}

/// Sucursal 1's desk alerts its kitchen over and over, until `parar`: every
/// alert is answered 201 (the default decided its priority) and within a
/// second.
fn alertar_sin_parar(
    nodo: &Nodo,
    token: String,
    parar: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<usize> {
    let url = nodo.url("/api/alertas");
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut hechas = 0;
        while !parar.load(Ordering::Relaxed) {
            let inicio = Instant::now();
            let r = http
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({"mensaje": format!("alerta {hechas}"), "prioridad": "alta"}))
                .send()
                .await
                .expect("POST /api/alertas");
            assert!(
                inicio.elapsed() < Duration::from_secs(1),
                "alerta {hechas} tardó {:?}",
                inicio.elapsed()
            );
            assert_eq!(r.status(), StatusCode::CREATED, "alerta {hechas}");
            let alerta: serde_json::Value = r.json().await.unwrap();
            assert_eq!(
                alerta["prioridad"], "alta",
                "the default: the priority asked"
            );
            hechas += 1;
        }
        hechas
    })
}

async fn una_prioridad_hostil(almacen: Almacen, fuente: &str, contexto: &str) {
    let (nodo, _reglas) = nodo_con_regla(&almacen, "prioridad.rhai", fuente).await;
    let parar = Arc::new(AtomicBool::new(false));
    let ataque = alertar_sin_parar(&nodo, nodo.token("atencion1").await, parar.clone());
    let medidas = Medidas::tomar(&nodo).await;
    parar.store(true, Ordering::Relaxed);
    let hechas = ataque.await.expect("las alertas de la sucursal 1");
    assert!(hechas > 0, "{contexto}: no alert was answered");
    medidas.afirmar_rapidas(contexto);
}

async fn un_escalado_hostil(almacen: Almacen, fuente: &str, contexto: &str) {
    let (mut nodo, _reglas) = nodo_con_regla(&almacen, "escalado.rhai", fuente).await;
    let atencion1 = nodo.token("atencion1").await;
    for n in 0..SIN_LEER {
        let r = nodo
            .post(
                "/api/alertas",
                &atencion1,
                &json!({"mensaje": format!("sin leer {n}")}),
            )
            .await
            .expect("POST /api/alertas");
        assert_eq!(r.status(), StatusCode::CREATED, "{contexto}: alerta {n}");
    }
    // The kitchen reviews its 200 unread alerts every 200 ms meanwhile.
    let medidas = Medidas::tomar(&nodo).await;
    medidas.afirmar_rapidas(contexto);

    // Sucursal 1 itself still writes, and the node says it can.
    let r = nodo
        .post("/api/alertas", &atencion1, &json!({"mensaje": "todavía"}))
        .await
        .expect("POST /api/alertas");
    assert_eq!(r.status(), StatusCode::CREATED, "{contexto}");
    let r = reqwest::get(nodo.url("/readyz")).await.expect("readyz");
    assert_eq!(r.status(), StatusCode::OK, "{contexto}: /readyz");

    nodo.terminar();
    let senal = Instant::now();
    let fin = nodo.esperar_fin(GRACIA + Duration::from_secs(5)).await;
    assert!(
        senal.elapsed() < GRACIA + Duration::from_secs(3),
        "{contexto}: SIGTERM took {:?}",
        senal.elapsed()
    );
    assert!(
        fin.code().is_some(),
        "{contexto}: ended by itself, not by a signal: {fin}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn una_prioridad_que_duerme_no_frena_a_ninguna_sucursal_en_sqlite() {
    una_prioridad_hostil(Almacen::sqlite(), PRIORIDAD_DORMILONA, "sleep, SQLite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn una_prioridad_que_duerme_no_frena_a_ninguna_sucursal_en_postgres() {
    una_prioridad_hostil(
        Almacen::postgres().await,
        PRIORIDAD_DORMILONA,
        "sleep, Postgres",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn una_prioridad_de_operaciones_lentas_no_frena_a_ninguna_sucursal() {
    una_prioridad_hostil(
        Almacen::sqlite(),
        &prioridad_lenta(),
        "búsqueda lenta, SQLite",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn un_escalado_que_duerme_sobre_200_alertas_no_frena_a_nadie_y_sigterm_lo_para() {
    un_escalado_hostil(
        Almacen::sqlite(),
        ESCALADO_DORMILON,
        "escalado sleep, SQLite",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn un_escalado_de_operaciones_lentas_sobre_200_alertas_no_frena_a_nadie_y_sigterm_lo_para() {
    let contexto = "escalado lento, Postgres";
    un_escalado_hostil(Almacen::postgres().await, &escalado_lento(), contexto).await;
    let contexto = "escalado lento, SQLite";
    un_escalado_hostil(Almacen::sqlite(), &escalado_lento(), contexto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruebas_lentas_a_la_vez_no_frenan_a_nadie() {
    let almacen = Almacen::sqlite();
    let (nodo, _reglas) = nodo_con_regla(&almacen, "prioridad.rhai", PRIORIDAD_DORMILONA).await;
    let superadmin = nodo.token("superadmin").await;
    let parar = Arc::new(AtomicBool::new(false));
    let pruebas = Arc::new(AtomicUsize::new(0));
    let cuerpo = json!({"nombre": "prioridad", "fuente": prioridad_lenta(),
                        "muestra": {"mensaje": "x", "prioridad_pedida": "alta"}});
    let probadores: Vec<_> = (0..4)
        .map(|_| {
            let (url, token, cuerpo) = (
                nodo.url("/api/reglas/probar"),
                superadmin.clone(),
                cuerpo.clone(),
            );
            let (parar, pruebas) = (parar.clone(), pruebas.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                while !parar.load(Ordering::Relaxed) {
                    let r = http
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&cuerpo)
                        .send()
                        .await
                        .expect("probar");
                    assert_eq!(r.status(), StatusCode::OK);
                    let prueba: serde_json::Value = r.json().await.unwrap();
                    assert!(
                        prueba["fallo"].is_string(),
                        "la prueba lenta falla: {prueba}"
                    );
                    pruebas.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let medidas = Medidas::tomar(&nodo).await;
    parar.store(true, Ordering::Relaxed);
    for p in probadores {
        p.await.expect("probar");
    }
    assert!(pruebas.load(Ordering::Relaxed) >= 4);
    medidas.afirmar_rapidas("cuatro probar a la vez");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_para_el_nodo_mientras_una_regla_de_escalado_duerme() {
    let almacen = Almacen::sqlite();
    let (mut nodo, _reglas) = nodo_con_regla(&almacen, "escalado.rhai", ESCALADO_DORMILON).await;
    let atencion1 = nodo.token("atencion1").await;
    let r = nodo
        .post("/api/alertas", &atencion1, &json!({"mensaje": "sin leer"}))
        .await
        .expect("POST /api/alertas");
    assert_eq!(r.status(), StatusCode::CREATED);
    esperar_una_revision(&nodo).await;
    nodo.terminar();
    let senal = Instant::now();
    let fin = nodo.esperar_fin(GRACIA + Duration::from_secs(30)).await;
    assert!(
        senal.elapsed() < GRACIA + Duration::from_secs(3),
        "SIGTERM took {:?}: {fin}",
        senal.elapsed()
    );
}

/// Waits until the escalation rule has been run at least once.
async fn esperar_una_revision(nodo: &Nodo) {
    let superadmin = nodo.token("superadmin").await;
    let limite = Instant::now() + Duration::from_secs(10);
    loop {
        let r = nodo
            .get("/api/reglas", &superadmin)
            .await
            .expect("GET /api/reglas");
        let reglas: serde_json::Value = r.json().await.expect("JSON");
        let evaluaciones = reglas["items"]
            .as_array()
            .and_then(|items| items.iter().find(|r| r["nombre"] == "escalado"))
            .and_then(|r| r["contadores"]["evaluaciones"].as_u64())
            .unwrap_or(0);
        if evaluaciones > 0 {
            return;
        }
        assert!(Instant::now() < limite, "la regla de escalado no se evaluó");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
