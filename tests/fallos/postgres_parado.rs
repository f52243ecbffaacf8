//! Postgres stops for a few seconds under a steady stream of desk writes:
//! writes answer 503 meanwhile, `/readyz` says so, and once it is back the
//! node serves again by itself with nothing acknowledged lost or doubled.

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
/// Down for longer than a request waits for a connection (5 s): some
/// writes must be refused, not just slowed.
const APAGADO: Duration = Duration::from_secs(7);
/// Once Postgres is up, how soon `/readyz` must say so.
const RECUPERACION: Duration = Duration::from_secs(10);

/// The moments of the outage.
struct Corte {
    pide_parar: Instant,
    parado: Instant,
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
            tokio::time::sleep(APAGADO).await;
            let pide_arrancar = Instant::now();
            postgres.arrancar().await;
            Corte {
                pide_parar,
                parado,
                pide_arrancar,
                arrancado: Instant::now(),
            }
        };
        let (escrituras, corte) =
            futures_util::join!(escritor.a_ritmo(ESCRITURAS, CADA, limite), cortar);
        let registros = almacen.eventos_desde(desde).await;
        let _ = aviso.send(Some(Arc::new(registros.clone())));
        (escrituras, corte, registros)
    };
    let ((escrituras, corte, registros), _) = futures_util::join!(trabajar, ver);
    // The probe goes on a little after the writes, to see `/readyz` stay up.
    let hasta = Instant::now().max(corte.arrancado + RECUPERACION);
    tokio::time::sleep_until(hasta + Duration::from_millis(500)).await;
    let muestras = sondeo.muestras();
    drop(sondeo);

    let contexto = format!(
        "Postgres: parar +{:.1?}…+{:.1?}, arrancar +{:.1?}…+{:.1?}\n── registro ──\n{}",
        corte.pide_parar - origen,
        corte.parado - origen,
        corte.pide_arrancar - origen,
        corte.arrancado - origen,
        nodo.registro(25)
    );
    let resumen = verificar_escrituras(&escrituras, &contexto);
    println!(
        "{} escrituras: {resumen:?}; {} eventos; Postgres caído {:.1?}",
        escrituras.len(),
        registros.len(),
        corte.arrancado - corte.pide_parar
    );
    assert!(
        resumen.no_disponible > 0,
        "ninguna escritura recibió 503 durante el corte ({resumen:?})\n{contexto}"
    );
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
    // `/readyz` waits up to 2 s for the store: 3 or 4 answers in 7 s.
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
