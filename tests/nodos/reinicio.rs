//! Postgres restarts mid-stream: the nodes recover by themselves and no
//! acknowledged event is lost to any screen.

use std::time::Duration;

use tokio::time::Instant;

use crate::arnes::{
    Ajustes, AlFallar, BaseDeDatos, Cluster, NOMBRES, Perfil, PostgresPropio, UnPublicador,
    UnaPantalla, correr, esperar_progreso,
};

const POR_PUBLICADOR: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reiniciar_postgres_a_mitad_del_flujo_no_hace_perder_a_nadie_un_evento_confirmado() {
    // A server of this test's own: the machine's is shared with other tests.
    let postgres = PostgresPropio::iniciar().await;
    let base = BaseDeDatos::nueva_en(&postgres.url_admin()).await;
    let cluster = Cluster::levantar_en(base, Ajustes::default()).await;
    use Perfil::*;
    let pantallas = [
        UnaPantalla::fija("monitor fijo en nodo-a", Superadmin, 0),
        UnaPantalla::fija("monitor fijo en nodo-b", Superadmin, 1),
        UnaPantalla::fija("monitor fijo en nodo-c", Superadmin, 2),
        UnaPantalla::fija("cocina1 fija en nodo-c", Cocina(1), 2),
        UnaPantalla::que_salta("cocina1 que salta", Cocina(1), 0),
        UnaPantalla::que_salta("admin2 que salta", Admin(2), 1),
    ];
    // Publishes during the outage fail; the publishers go on until each
    // has its acknowledged ones.
    let publicador = |sucursal, nodo| UnPublicador {
        sucursal,
        nodo,
        cantidad: POR_PUBLICADOR,
        al_fallar: AlFallar::Reintentar,
        pausa: Duration::from_millis(5),
    };
    let publicadores = [
        publicador(Some(1), 0),
        publicador(Some(2), 1),
        publicador(None, 2),
    ];
    let total = publicadores.len() * POR_PUBLICADOR;

    let informe = correr(&cluster, &pantallas, &publicadores, async |progreso| {
        esperar_progreso(
            progreso,
            total / 3,
            Instant::now() + Duration::from_secs(60),
        )
        .await;
        // Down for longer than a node waits for a connection (5 s): its
        // queries, catch-up included, fail instead of just waiting.
        postgres.reiniciar(Duration::from_secs(6)).await;
    })
    .await;
    println!(
        "reinicio de Postgres: {} publicaciones fallidas, p. ej. {:?}",
        informe.fallos().len(),
        informe.fallos().first()
    );
    assert_eq!(informe.confirmados().len(), total);

    // The heartbeats are back too: every node sees the three.
    let token = cluster.nodos[0].token("superadmin").await;
    for nodo in &cluster.nodos {
        let limite = Instant::now() + Duration::from_secs(20);
        loop {
            let e = nodo.estadisticas(&token).await;
            let ids: Vec<&str> = e["nodos"]
                .as_array()
                .map(|n| n.iter().filter_map(|n| n["id"].as_str()).collect())
                .unwrap_or_default();
            if ids == NOMBRES {
                break;
            }
            assert!(
                Instant::now() < limite,
                "tras el reinicio, {} lista los nodos {ids:?}",
                nodo.id
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
