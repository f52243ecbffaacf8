//! Postgres stops for a few seconds under a steady stream of desk writes:
//! writes answer 503 meanwhile — promptly, once the node knows — `/readyz`
//! says so, and once it is back the node serves again by itself with nothing
//! acknowledged lost or doubled.
//!
//! The outage does not depend on timing: Postgres stays down until `/readyz`
//! has said so and writes have met it (answered 503), however slow the
//! machine; the test then checks how the node behaved meanwhile.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::almacen::{Almacen, cada_confirmada_una_vez};
use crate::arnes::nodo::serve;
use crate::arnes::pantalla::{Modo, Pantalla, verificar_todas};
use crate::arnes::reglas::copia_de_las_reglas;
use crate::arnes::{Ajustes, BaseDeDatos, Nodo, Perfil, PostgresPropio};
use crate::escritor::{Escritor, Mezcla, verificar_escrituras};
use crate::sondeo::{LIMITE_DEL_SONDEO, Sondeo, cronologia};

/// 20 writes a second for 12 s.
const ESCRITURAS: usize = 240;
const CADA: Duration = Duration::from_millis(50);
/// Writing before Postgres stops.
const ANTES: Duration = Duration::from_millis(1500);
/// Down at least this long: longer than a request waits for a connection
/// (5 s), so writes caught waiting when it stopped are refused too.
const APAGADO: Duration = Duration::from_secs(7);
/// And until at least this many write attempts were answered 503...
const RECHAZOS: usize = 10;
/// ...unless that takes this long after it stopped (then the test fails).
const APAGADO_MAXIMO: Duration = Duration::from_secs(25);
/// How soon after Postgres stops `/readyz` must say so.
const AVISO: Duration = Duration::from_secs(5);
/// A write sent once `/readyz` says the database is down is refused within
/// this: no waiting for the pool's 5 s (let alone twice).
const PRONTO: Duration = Duration::from_secs(2);
/// The longest any 503 may take: a write already waiting for a connection
/// when Postgres stopped waits at most the pool's 5 s.
const LIMITE_503: Duration = Duration::from_secs(7);
/// Once Postgres is up, how soon `/readyz` must say so.
const RECUPERACION: Duration = Duration::from_secs(10);

/// The moments of the outage.
struct Corte {
    pide_parar: Instant,
    parado: Instant,
    /// The first `/readyz` sent after it stopped that answered 503.
    avisado: Option<Instant>,
    pide_arrancar: Instant,
    arrancado: Instant,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn con_postgres_parado_las_escrituras_dan_503_readyz_lo_dice_y_al_volver_nada_confirmado_se_pierde()
 {
    // A server of this test's own: the machine's is shared with other tests.
    let postgres = PostgresPropio::iniciar().await;
    let almacen = Almacen::Postgres(BaseDeDatos::nueva_en(&postgres.url_admin()).await);
    let reglas = copia_de_las_reglas();
    let mut cmd = serve(almacen.url(), reglas.path(), "solo", Ajustes::default());
    cmd.arg("--demo");
    let nodo = Nodo::arrancar("solo", cmd).await;
    let nodos = [(nodo.id.clone(), nodo.puerto)];

    let desde = almacen.ultimo_id().await;
    let cocina = nodo.token("cocina1").await;
    let mut pantallas = [
        Pantalla::nueva("cocina1 fija", Perfil::Cocina(1), cocina.clone(), desde),
        Pantalla::nueva("cocina1 que reconecta", Perfil::Cocina(1), cocina, desde),
    ];
    let escritor = Escritor::nuevo(
        nodo.puerto,
        nodo.token("atencion1").await,
        "con postgres parado",
        Mezcla::Alertas,
    );
    let sondeo = Sondeo::empezar(nodo.puerto);
    let origen = Instant::now();
    let limite = origen + Duration::from_secs(45);

    let (aviso, objetivo) = watch::channel(None);
    let ver = futures_util::future::join_all(
        pantallas
            .iter_mut()
            .zip([Modo::Quedarse, Modo::Saltar])
            .map(|(p, modo)| p.vivir(&nodos, 0, modo, objetivo.clone())),
    );
    let trabajar = async {
        let cortar = async {
            tokio::time::sleep(ANTES).await;
            let pide_parar = Instant::now();
            postgres.parar().await;
            let parado = Instant::now();
            // Down until the node said so and writes met it, so that the
            // checks below always have an outage to look at.
            let mut avisado = None;
            loop {
                if avisado.is_none() {
                    avisado = sondeo
                        .muestras()
                        .iter()
                        .find(|m| m.inicio >= parado && m.status() == Some(503))
                        .map(|m| m.inicio);
                }
                let ahora = Instant::now();
                let basta = ahora >= parado + APAGADO
                    && avisado.is_some()
                    && escritor.no_disponibles() >= RECHAZOS;
                if basta || ahora >= parado + APAGADO_MAXIMO {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let pide_arrancar = Instant::now();
            postgres.arrancar().await;
            Corte {
                pide_parar,
                parado,
                avisado,
                pide_arrancar,
                arrancado: Instant::now(),
            }
        };
        let (escrituras, corte) = tokio::join!(escritor.a_ritmo(ESCRITURAS, CADA, limite), cortar);
        let registros = almacen.eventos_desde(desde).await;
        let _ = aviso.send(Some(Arc::new(registros.clone())));
        (escrituras, corte, registros)
    };
    let ((escrituras, corte, registros), _) = tokio::join!(trabajar, ver);
    // The probe goes on a little after the writes, to see `/readyz` stay up.
    let hasta = Instant::now().max(corte.arrancado + RECUPERACION);
    tokio::time::sleep_until(hasta + Duration::from_millis(500)).await;
    let muestras = sondeo.muestras();
    drop(sondeo);

    let contexto = format!(
        "Postgres: parar +{:.1?}…+{:.1?}, /readyz 503 desde +{:.1?}, arrancar +{:.1?}…+{:.1?}\n── registro ──\n{}",
        corte.pide_parar - origen,
        corte.parado - origen,
        corte.avisado.map(|a| a - origen),
        corte.pide_arrancar - origen,
        corte.arrancado - origen,
        nodo.registro(25)
    );
    let resumen = verificar_escrituras(&escrituras, &contexto);
    println!(
        "{} escrituras: {resumen:?}; {} eventos; Postgres caído {:.1?}; {} intentos con el corte anunciado",
        escrituras.len(),
        registros.len(),
        corte.arrancado - corte.pide_parar,
        escrituras
            .iter()
            .flat_map(|e| &e.intentos)
            .filter(|i| i.inicio >= corte.avisado.unwrap_or(corte.arrancado)
                && i.inicio <= corte.pide_arrancar)
            .count()
    );
    let avisado = corte.avisado.unwrap_or_else(|| {
        panic!(
            "/readyz no dijo 503 con Postgres parado {:.1?}\n{contexto}",
            corte.pide_arrancar - corte.parado
        )
    });
    assert!(
        avisado - corte.parado <= AVISO,
        "/readyz tardó {:.1?} en decir 503\n{contexto}",
        avisado - corte.parado
    );
    assert!(
        resumen.no_disponible >= RECHAZOS,
        "solo {} intentos recibieron 503 en {:.1?} de corte ({resumen:?})\n{contexto}",
        resumen.no_disponible,
        corte.pide_arrancar - corte.parado
    );
    assert!(
        resumen.mas_lento_503 <= LIMITE_503,
        "un 503 tardó {:.1?} ({resumen:?})\n{contexto}",
        resumen.mas_lento_503
    );
    // Sent once the node knew, answered before Postgres came back: each
    // refused, promptly.
    let durante: Vec<_> = escrituras
        .iter()
        .flat_map(|e| e.intentos.iter().map(move |i| (e.n, i)))
        .filter(|(_, i)| i.inicio >= avisado && i.inicio + PRONTO <= corte.pide_arrancar)
        .collect();
    assert!(
        !durante.is_empty(),
        "ninguna escritura se intentó con el corte anunciado\n{contexto}"
    );
    for (n, i) in &durante {
        let rechazo = matches!(&i.resultado, Ok((status, _)) if status.as_u16() == 503);
        assert!(
            rechazo && i.tardo <= PRONTO,
            "#{n}, enviada +{:.1?} con el corte anunciado: {:?} en {:.1?} (se espera 503 en {PRONTO:?})\n{contexto}",
            i.inicio - origen,
            i.resultado.as_ref().map(|(s, _)| s),
            i.tardo
        );
    }
    cada_confirmada_una_vez(&almacen, &escritor, &escrituras, desde).await;
    for p in &pantallas {
        println!("  {}", p.resumen());
    }
    verificar_todas(&pantallas, &registros, &contexto);

    // `/readyz` told the truth all along, and always answered in time.
    let cronologia = cronologia(&muestras, origen);
    let sin_respuesta: Vec<_> = muestras.iter().filter(|m| m.resultado.is_err()).collect();
    assert!(
        sin_respuesta.is_empty(),
        "/readyz no respondió en {LIMITE_DEL_SONDEO:?}: {sin_respuesta:?}\n{cronologia}"
    );
    for m in muestras.iter().filter(|m| m.fin < corte.pide_parar) {
        assert_eq!(m.status(), Some(200), "antes del corte\n{cronologia}");
    }
    // Answered while Postgres was down: each must say so.
    let caidas: Vec<_> = muestras
        .iter()
        .filter(|m| m.fin >= corte.parado && m.fin <= corte.pide_arrancar)
        .collect();
    // `/readyz` waits up to 2 s for the store, and answers at once once the
    // node knows: at least 3 answers in 7 s.
    assert!(
        caidas.len() >= 3,
        "pocas muestras con Postgres parado\n{cronologia}"
    );
    for m in &caidas {
        let Ok((status, cuerpo)) = &m.resultado else {
            unreachable!()
        };
        assert!(
            *status == 503 && cuerpo["estado"] == "sin_base_de_datos",
            "/readyz con Postgres parado respondió {status} {cuerpo}\n{cronologia}"
        );
    }
    let vuelta = muestras
        .iter()
        .find(|m| m.inicio >= corte.arrancado && m.status() == Some(200))
        .unwrap_or_else(|| panic!("/readyz no volvió a 200 tras arrancar Postgres\n{cronologia}"));
    assert!(
        vuelta.fin - corte.arrancado <= RECUPERACION,
        "/readyz tardó {:.1?} en volver a 200\n{cronologia}",
        vuelta.fin - corte.arrancado
    );
    for m in muestras.iter().filter(|m| m.inicio > vuelta.fin) {
        assert_eq!(m.status(), Some(200), "tras volver\n{cronologia}");
    }
    println!(
        "/readyz: {} muestras, {} con Postgres parado (503), de nuevo 200 a los {:.1?}",
        muestras.len(),
        caidas.len(),
        vuelta.fin - corte.arrancado
    );
}
