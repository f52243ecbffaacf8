//! A node dies with SIGKILL: its screens resume on the others with nothing
//! lost, and the survivors stop listing it.

use std::time::Duration;

use tokio::time::Instant;

use crate::arnes::{
    Ajustes, AlFallar, Cluster, NOMBRES, Nodo, Perfil, UnPublicador, UnaPantalla, correr,
    esperar_progreso,
};

const POR_PUBLICADOR: usize = 150;

/// Waits until `nodo` lists exactly the nodes `ids` as alive, up to
/// `plazo`.
async fn esperar_lista(nodo: &Nodo, token: &str, ids: &[&str], plazo: Duration) -> Duration {
    let inicio = Instant::now();
    let limite = inicio + plazo;
    loop {
        let e = nodo.estadisticas(token).await;
        let vistos: Vec<&str> = e["nodos"]
            .as_array()
            .map(|n| n.iter().filter_map(|n| n["id"].as_str()).collect())
            .unwrap_or_default();
        if vistos == ids {
            return inicio.elapsed();
        }
        assert!(
            Instant::now() < limite,
            "{} lista los nodos {vistos:?} tras {plazo:?}, se esperaba {ids:?}",
            nodo.id
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn un_nodo_muerto_con_sigkill_no_hace_perder_eventos_a_sus_pantallas_que_siguen_en_otro() {
    let cluster = Cluster::levantar(Ajustes::default()).await;
    let [a, b, c] = &cluster.nodos[..] else {
        unreachable!()
    };
    let superadmin = a.token("superadmin").await;
    use Perfil::*;
    // Four screens live on node C; when it dies they move to another node.
    let pantallas = [
        UnaPantalla::fija("cocina1 en nodo-c", Cocina(1), 2),
        UnaPantalla::fija("cocina2 en nodo-c", Cocina(2), 2),
        UnaPantalla::fija("admin1 en nodo-c", Admin(1), 2),
        UnaPantalla::fija("monitor en nodo-c", Superadmin, 2),
        UnaPantalla::fija("monitor fijo en nodo-a", Superadmin, 0),
        UnaPantalla::fija("cocina1 fija en nodo-b", Cocina(1), 1),
        UnaPantalla::que_salta("cocina1 que salta", Cocina(1), 1),
    ];
    let publicador = |sucursal, nodo, al_fallar| UnPublicador {
        sucursal,
        nodo,
        cantidad: POR_PUBLICADOR,
        al_fallar,
        pausa: Duration::from_millis(5),
    };
    let publicadores = [
        publicador(Some(1), 0, AlFallar::Seguir),
        publicador(Some(2), 1, AlFallar::Seguir),
        publicador(None, 0, AlFallar::Seguir),
        // Publishes on C until C dies.
        publicador(Some(1), 2, AlFallar::Parar),
    ];

    let informe = correr(&cluster, &pantallas, &publicadores, async |progreso| {
        esperar_lista(a, &superadmin, &NOMBRES, Duration::from_secs(20)).await;
        esperar_progreso(
            progreso,
            POR_PUBLICADOR,
            Instant::now() + Duration::from_secs(60),
        )
        .await;
        c.matar();
        let muerte = Instant::now();
        // A node not seen for five heartbeats (5 × 200 ms) is gone: well
        // within 5 s, and long before its row is forgotten (100 heartbeats).
        for nodo in [a, b] {
            let plazo = Duration::from_secs(5).saturating_sub(muerte.elapsed());
            let tardo = esperar_lista(nodo, &superadmin, &NOMBRES[..2], plazo).await;
            println!("{} dejó de listar nodo-c en {tardo:.1?}", nodo.id);
        }
    })
    .await;

    // Only the publisher on C may have failed, once: when C died.
    let [p0, p1, p2, en_c] = &informe.publicaciones[..] else {
        unreachable!()
    };
    for p in [p0, p1, p2] {
        assert_eq!(
            p.fallos,
            Vec::<String>::new(),
            "publicaciones rechazadas en A o B"
        );
        assert_eq!(p.confirmados.len(), POR_PUBLICADOR);
    }
    assert!(en_c.fallos.len() <= 1, "{:?}", en_c.fallos);
    assert!(
        en_c.confirmados.len() < POR_PUBLICADOR,
        "nodo-c murió antes de terminar de publicar"
    );
}
