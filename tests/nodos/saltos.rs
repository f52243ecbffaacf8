//! Many publishers on every node, screens that hop between nodes: each
//! screen ends with exactly the events it may see, once, in id order.

use std::time::Duration;

use crate::arnes::{Ajustes, AlFallar, Cluster, Perfil, UnPublicador, UnaPantalla, correr};

const POR_PUBLICADOR: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cada_pantalla_recibe_lo_suyo_una_vez_y_en_orden_aunque_salte_entre_tres_nodos() {
    let cluster = Cluster::levantar(Ajustes::default()).await;
    use Perfil::*;
    let pantallas = [
        UnaPantalla::fija("monitor fijo en nodo-a", Superadmin, 0),
        UnaPantalla::fija("monitor fijo en nodo-b", Superadmin, 1),
        UnaPantalla::fija("monitor fijo en nodo-c", Superadmin, 2),
        UnaPantalla::fija("cocina1 fija en nodo-c", Cocina(1), 2),
        UnaPantalla::que_salta("cocina1 que salta (1)", Cocina(1), 0),
        UnaPantalla::que_salta("cocina1 que salta (2)", Cocina(1), 1),
        UnaPantalla::que_salta("cocina2 que salta", Cocina(2), 2),
        UnaPantalla::que_salta("atencion1 que salta", Atencion(1), 1),
        UnaPantalla::que_salta("admin1 que salta", Admin(1), 2),
        UnaPantalla::que_salta("monitor que salta", Superadmin, 0),
    ];
    let publicador = |sucursal, nodo| UnPublicador {
        sucursal,
        nodo,
        cantidad: POR_PUBLICADOR,
        al_fallar: AlFallar::Seguir,
        pausa: Duration::ZERO,
    };
    // Five per node: in sucursal 1, in sucursal 2, and chain-wide.
    let publicadores: Vec<UnPublicador> = (0..3)
        .flat_map(|nodo| {
            [Some(1), Some(2), None, Some(1), Some(2)].map(|sucursal| publicador(sucursal, nodo))
        })
        .collect();

    let informe = correr(&cluster, &pantallas, &publicadores, async |_| {}).await;

    assert_eq!(
        informe.fallos(),
        Vec::<&str>::new(),
        "publicaciones rechazadas"
    );
    assert_eq!(
        informe.confirmados().len(),
        publicadores.len() * POR_PUBLICADOR
    );
    assert_eq!(
        informe.registros.len(),
        publicadores.len() * POR_PUBLICADOR,
        "eventos en la base además de los publicados"
    );
}
