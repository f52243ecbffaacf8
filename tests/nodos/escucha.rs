//! Postgres cuts the nodes' LISTEN connections mid-stream: each node
//! listens again and catches up, and no screen misses or repeats an event.

use std::collections::BTreeSet;
use std::time::Duration;

use sqlx::PgConnection;
use tokio::time::Instant;

use crate::arnes::{
    Ajustes, AlFallar, BaseDeDatos, Cluster, Perfil, UnPublicador, UnaPantalla, correr,
    esperar_progreso,
};

const POR_PUBLICADOR: usize = 250;

/// The pids of the nodes' LISTEN connections to this test's database.
async fn escuchas(conn: &mut PgConnection, base: &BaseDeDatos) -> BTreeSet<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity
         WHERE datname = $1 AND application_name = 'comanda-escucha'",
    )
    .bind(&base.nombre)
    .fetch_all(conn)
    .await
    .expect("pg_stat_activity")
    .into_iter()
    .collect()
}

/// Waits until there are `n` LISTEN connections, none of them in `viejas`.
async fn esperar_escuchas(
    conn: &mut PgConnection,
    base: &BaseDeDatos,
    n: usize,
    viejas: &BTreeSet<i32>,
) -> BTreeSet<i32> {
    let limite = Instant::now() + Duration::from_secs(20);
    loop {
        let pids = escuchas(conn, base).await;
        if pids.len() == n && pids.is_disjoint(viejas) {
            return pids;
        }
        assert!(
            Instant::now() < limite,
            "se esperaban {n} conexiones 'comanda-escucha' nuevas (cortadas: {viejas:?}); hay {pids:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cortar_la_escucha_de_los_nodos_desde_postgres_no_pierde_ni_repite_eventos() {
    // A catch-up every ten minutes: after a cut, only listening again (and
    // the catch-up that must follow it) brings the other nodes' events.
    let cluster = Cluster::levantar(Ajustes {
        latido: "200ms",
        ponerse_al_dia: "10m",
    })
    .await;
    use Perfil::*;
    // Nobody publishes on node C: everything its screens get came to it
    // through LISTEN.
    let pantallas = [
        UnaPantalla::fija("monitor fijo en nodo-a", Superadmin, 0),
        UnaPantalla::fija("monitor fijo en nodo-b", Superadmin, 1),
        UnaPantalla::fija("monitor fijo en nodo-c", Superadmin, 2),
        UnaPantalla::fija("cocina1 fija en nodo-c", Cocina(1), 2),
        UnaPantalla::fija("cocina2 fija en nodo-c", Cocina(2), 2),
        UnaPantalla::fija("cocina1 fija en nodo-b", Cocina(1), 1),
        UnaPantalla::que_salta("cocina1 que salta", Cocina(1), 0),
        UnaPantalla::que_salta("admin1 que salta", Admin(1), 1),
    ];
    let publicador = |sucursal, nodo| UnPublicador {
        sucursal,
        nodo,
        cantidad: POR_PUBLICADOR,
        al_fallar: AlFallar::Seguir,
        pausa: Duration::from_millis(5),
    };
    let publicadores = [
        publicador(Some(1), 0),
        publicador(None, 0),
        publicador(Some(2), 1),
    ];
    let total = publicadores.len() * POR_PUBLICADOR;

    let mut conn = cluster.base.conectar().await;
    let base = &cluster.base;
    let informe = correr(&cluster, &pantallas, &publicadores, async |progreso| {
        let mut escuchando = esperar_escuchas(&mut conn, base, 3, &BTreeSet::new()).await;
        // Twice, at a third and at two thirds of the stream.
        for corte in [total / 3, 2 * total / 3] {
            esperar_progreso(progreso, corte, Instant::now() + Duration::from_secs(60)).await;
            let cortadas: Vec<bool> = sqlx::query_scalar(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = $1 AND application_name = 'comanda-escucha'",
            )
            .bind(&base.nombre)
            .fetch_all(&mut conn)
            .await
            .expect("pg_terminate_backend");
            assert_eq!(
                cortadas,
                [true, true, true],
                "se cortan las tres conexiones LISTEN ({escuchando:?})"
            );
            // Each node listens again, on a new connection.
            escuchando = esperar_escuchas(&mut conn, base, 3, &escuchando).await;
        }
    })
    .await;

    assert_eq!(
        informe.fallos(),
        Vec::<&str>::new(),
        "publicaciones rechazadas"
    );
    assert_eq!(informe.confirmados().len(), total);
}
