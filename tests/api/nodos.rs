//! Two nodes in one process on one Postgres database (design §10): what one
//! node's screens learn of the other's — events, screens online, rules, who
//! is up. The process-level cluster (three `comanda` processes, faults) is
//! `tests/nodos`.

use std::time::Duration;

use comanda::app::ArranqueError;
use comanda::config::Settings;
use comanda::modelo::SucursalId;
use comanda::store::{Backend, StoreError};
use serde_json::{Value, json};

use crate::fixtures::{Cadena, estadisticas, estadisticas_cuando};
use crate::helpers::{TestApp, TestDb, spawn_app_on, spawn_app_with};
use crate::socket::PLAZO;

/// Short heartbeats, so that a node that stops is forgotten quickly.
fn nodo(nombre: &'static str) -> impl FnOnce(&mut Settings) {
    move |s| {
        s.nodo.id = nombre.into();
        s.nodo.latido = Duration::from_millis(200);
    }
}

/// Node "a" with the chain of [`Cadena`], and node "b" on its database.
async fn dos_nodos() -> (Cadena, TestApp) {
    let cadena = Cadena::nueva(spawn_app_with(Backend::Postgres, nodo("a")).await).await;
    let b = spawn_app_on(cadena.app.db.compartida(), nodo("b"))
        .await
        .expect("node b starts");
    (cadena, b)
}

fn nodos(e: &Value) -> Vec<(String, bool)> {
    e["nodos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_owned(),
                n["propio"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn cocinas_en_linea(presencia: &Value, s: SucursalId) -> u64 {
    assert_eq!(presencia["sucursal_id"], s.0, "{presencia}");
    presencia["en_linea"]["cocina"].as_u64().unwrap()
}

#[actix_web::test]
async fn un_evento_publicado_en_un_nodo_llega_a_los_sockets_del_otro_segun_su_alcance() {
    let (cadena, b) = dos_nodos().await;
    let (a, s1) = (&cadena.app, cadena.s1);
    let mut cocina1 = b.socket(&b.token("cocina1").await).await;
    let mut cocina2 = b.socket(&b.token("cocina2").await).await;
    let mut jefa = b.socket(&b.token("jefa").await).await;
    for c in [&mut cocina1, &mut cocina2, &mut jefa] {
        let desde = c.hola["ultimo_id"].as_i64().unwrap();
        c.reanudar(desde).await;
    }

    let id = cadena.alerta("bot1", s1, "sin papas").await;

    for (quien, c) in [("cocina1", &mut cocina1), ("jefa", &mut jefa)] {
        let e = c.evento().await;
        assert_eq!(e["id"], id, "{quien} en el nodo b: {e}");
        assert_eq!(e["payload"]["mensaje"], "sin papas");
    }
    cocina2.ningun_evento_en(Duration::from_millis(300)).await;

    // The other way round, and a client that resumes on the other node.
    let mut cocina1_en_a = a.socket(&a.token("cocina1").await).await;
    cocina1_en_a.reanudar(id - 1).await;
    assert_eq!(cocina1_en_a.evento().await["id"], id, "replayed on node a");
    let bot_b = b.token("bot1").await;
    let r = b
        .post("/api/eventos", &bot_b, &json!({"tipo":"alerta_cocina","alerta_id":2,"mensaje":"desde b","prioridad":"alta","sucursal_id":s1.0}))
        .await;
    assert_eq!(r.status(), 201);
    let otro = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    assert_eq!(cocina1_en_a.evento().await["id"], otro, "live on node a");
    assert_eq!(cocina1.evento().await["id"], otro, "live on node b");
}

#[actix_web::test]
async fn la_atencion_de_un_nodo_ve_la_cocina_conectada_al_otro() {
    let (cadena, b) = dos_nodos().await;
    let (a, s1) = (&cadena.app, cadena.s1);
    let mut atencion = a.socket(&a.token("atencion1").await).await;
    assert_eq!(
        cocinas_en_linea(&atencion.esperar("presencia").await, s1),
        0
    );

    let cocina = b.socket(&b.token("cocina1").await).await;
    while cocinas_en_linea(&atencion.esperar("presencia").await, s1) < 1 {}
    let jefa = a.token("jefa").await;
    let e = estadisticas(a, &jefa).await;
    let en_s1 = e["presencia"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["sucursal_id"] == s1.0)
        .unwrap()
        .clone();
    assert_eq!(
        en_s1["en_linea"]["cocina"], 1,
        "node a counts node b's kitchen: {e}"
    );

    cocina.cerrar().await;
    while cocinas_en_linea(&atencion.esperar("presencia").await, s1) != 0 {}
}

#[actix_web::test]
async fn una_regla_guardada_en_un_nodo_decide_tambien_en_el_otro() {
    let (cadena, b) = dos_nodos().await;
    let a = &cadena.app;
    let admin = a.token("admin1").await;
    let r = a
        .client
        .put(a.url("/api/reglas/prioridad"))
        .bearer_auth(&admin)
        .json(&json!({"fuente": "fn prioridad(alerta) { \"alta\" }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Node b adopts the version in force as soon as its event arrives.
    let atencion_b = b.token("atencion1").await;
    let fin = tokio::time::Instant::now() + PLAZO;
    loop {
        let r = b
            .post(
                "/api/alertas",
                &atencion_b,
                &json!({"mensaje": "es urgente", "prioridad": "normal"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let alerta: Value = r.json().await.unwrap();
        if alerta["prioridad"] == "alta" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < fin,
            "node b still decides {alerta}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let en_disco = std::fs::read_to_string(b.reglas.path().join("prioridad.rhai")).unwrap();
    assert!(
        en_disco.contains("\"alta\""),
        "node b's file follows: {en_disco}"
    );
    let versiones: Value = b
        .get("/api/reglas/prioridad/versiones", &admin)
        .await
        .json()
        .await
        .unwrap();
    let activas = versiones["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["activa"] == true)
        .count();
    assert_eq!(activas, 1, "adopting records no version: {versiones}");
}

#[actix_web::test]
async fn las_estadisticas_listan_los_nodos_vivos_y_olvidan_al_que_para() {
    let (cadena, b) = dos_nodos().await;
    let a = &cadena.app;
    let jefa = a.token("jefa").await;
    let _socket = b.socket(&b.token("cocina1").await).await;

    let e = estadisticas_cuando(&b, &jefa, |e| {
        e["nodos"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == "b" && n["sesiones"] == 1)
    })
    .await;
    assert_eq!(e["nodo"], "b");
    let direcciones: Vec<&str> = e["nodos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["direccion"].as_str().unwrap())
        .collect();
    assert_eq!(
        direcciones,
        [
            format!("127.0.0.1:{}", a.port),
            format!("127.0.0.1:{}", b.port)
        ],
        "{e}"
    );
    assert_eq!(
        nodos(&e),
        [("a".to_owned(), false), ("b".to_owned(), true)],
        "{e}"
    );
    assert_eq!(
        nodos(&estadisticas(a, &jefa).await),
        [("a".to_owned(), true), ("b".to_owned(), false)]
    );

    a.parada.parar().await;
    estadisticas_cuando(&b, &jefa, |e| nodos(e) == [("b".to_owned(), true)]).await;
}

#[actix_web::test]
async fn sqlite_sirve_a_un_solo_nodo_y_rechaza_el_segundo_y_el_modo_cluster() {
    let primero = spawn_app_with(Backend::Sqlite, nodo("a")).await;
    match spawn_app_on(primero.db.compartida(), nodo("b")).await {
        Err(ArranqueError::Store(StoreError::OtroNodo(mensaje))) => {
            assert!(mensaje.contains("SQLite sirve a un solo nodo"), "{mensaje}")
        }
        Err(otro) => panic!("another error: {otro}"),
        Ok(_) => panic!("a second node started on the same SQLite file"),
    }
    // The first one keeps serving.
    assert_eq!(
        primero
            .client
            .get(primero.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let otro = TestDb::new(Backend::Sqlite).await;
    let ruta = otro.url.trim_start_matches("sqlite://").to_owned();
    match spawn_app_on(otro, |s| s.nodo.cluster = true).await {
        Err(e @ ArranqueError::ClusterEnSqlite) => {
            assert!(e.to_string().contains("Postgres"), "{e}")
        }
        Err(otro) => panic!("another error: {otro}"),
        Ok(_) => panic!("--cluster started on SQLite"),
    }
    assert!(
        !std::path::Path::new(&ruta).exists(),
        "refused before creating the file"
    );
}
