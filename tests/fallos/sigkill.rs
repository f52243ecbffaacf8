//! The node is killed with SIGKILL mid-stream and started again on the same
//! store and port: the desk's retried writes are done once, and kitchen and
//! desk screens resume from their last id with nothing lost or repeated.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::almacen::{Almacen, cada_confirmada_una_vez};
use crate::arnes::nodo::serve_en;
use crate::arnes::pantalla::{Modo, Pantalla, verificar_todas};
use crate::arnes::proceso::puerto_libre;
use crate::arnes::reglas::copia_de_las_reglas;
use crate::arnes::{Ajustes, Nodo, Perfil};
use crate::escritor::{Escritor, Mezcla, verificar_escrituras};

/// 20 writes a second for 8 s.
const ESCRITURAS: usize = 160;
const CADA: Duration = Duration::from_millis(50);
/// Writing before the kill.
const ANTES: Duration = Duration::from_secs(2);

async fn matar_y_volver_a_arrancar_no_pierde_ni_repite_nada(almacen: Almacen) {
    let reglas = copia_de_las_reglas();
    let bind = format!("127.0.0.1:{}", puerto_libre());
    let lanzar = |demo: bool| {
        let mut cmd = serve_en(
            &bind,
            almacen.url(),
            reglas.path(),
            "solo",
            Ajustes::default(),
        );
        if demo {
            cmd.arg("--demo");
        }
        Nodo::arrancar("solo", cmd)
    };
    let primero = lanzar(true).await;
    let puerto = primero.puerto;
    let nodos = [(primero.id.clone(), puerto)];

    let desde = almacen.ultimo_id().await;
    let cocina = primero.token("cocina1").await;
    let atencion = primero.token("atencion1").await;
    use Perfil::*;
    let mut pantallas = [
        Pantalla::nueva("cocina1 fija", Cocina(1), cocina.clone(), desde),
        Pantalla::nueva("atencion1 fija", Atencion(1), atencion.clone(), desde),
        Pantalla::nueva("cocina1 que reconecta", Cocina(1), cocina, desde),
    ];
    let modos = [Modo::Quedarse, Modo::Quedarse, Modo::Saltar];
    let escritor = Escritor::nuevo(puerto, atencion, "tras sigkill", Mezcla::AlertasYPedidos);
    let limite = Instant::now() + Duration::from_secs(45);

    let (aviso, objetivo) = watch::channel(None);
    let ver = futures_util::future::join_all(
        pantallas
            .iter_mut()
            .zip(modos)
            .map(|(p, modo)| p.vivir(&nodos, 0, modo, objetivo.clone())),
    );
    let trabajar = async {
        let matar = async {
            tokio::time::sleep(ANTES).await;
            primero.matar();
            // Reaped: its port is free again.
            drop(primero);
            let muerte = Instant::now();
            let segundo = lanzar(false).await;
            println!("de vuelta en el mismo puerto en {:.1?}", muerte.elapsed());
            segundo
        };
        let (escrituras, segundo) = tokio::join!(escritor.a_ritmo(ESCRITURAS, CADA, limite), matar);
        let registros = almacen.eventos_desde(desde).await;
        let _ = aviso.send(Some(Arc::new(registros.clone())));
        (escrituras, segundo, registros)
    };
    let ((escrituras, segundo, registros), _) = tokio::join!(trabajar, ver);
    assert_eq!(segundo.puerto, puerto);

    let contexto = format!("── registro tras el reinicio ──\n{}", segundo.registro(25));
    let resumen = verificar_escrituras(&escrituras, &contexto);
    println!(
        "{} escrituras: {resumen:?}; {} eventos",
        escrituras.len(),
        registros.len()
    );
    assert!(
        resumen.sin_conexion > 0,
        "ninguna escritura notó la muerte del nodo ({resumen:?})"
    );
    cada_confirmada_una_vez(&almacen, &escritor, &escrituras, desde).await;
    for p in &pantallas {
        println!("  {}", p.resumen());
    }
    verificar_todas(&pantallas, &registros, &contexto);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn en_postgres_un_nodo_muerto_con_sigkill_y_vuelto_a_arrancar_no_pierde_ni_repite_nada() {
    matar_y_volver_a_arrancar_no_pierde_ni_repite_nada(Almacen::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn en_sqlite_un_nodo_muerto_con_sigkill_y_vuelto_a_arrancar_no_pierde_ni_repite_nada() {
    matar_y_volver_a_arrancar_no_pierde_ni_repite_nada(Almacen::sqlite()).await;
}
