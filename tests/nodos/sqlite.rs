//! SQLite serves one node, and says so clearly when asked for more.

use std::time::Duration;

use reqwest::StatusCode;

use crate::arnes::nodo::serve;
use crate::arnes::proceso::Proceso;
use crate::arnes::reglas::copia_de_las_reglas;
use crate::arnes::{Ajustes, Nodo};

const FIN: Duration = Duration::from_secs(60);

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("comanda.db").display())
}

#[tokio::test]
async fn un_segundo_nodo_sobre_el_mismo_archivo_sqlite_no_arranca_y_dice_por_que() {
    let dir = tempfile::tempdir().unwrap();
    let reglas = copia_de_las_reglas();
    let url = sqlite_url(&dir);
    let primero = Nodo::arrancar(
        "solo",
        serve(&url, reglas.path(), "solo", Ajustes::default()),
    )
    .await;

    let mut segundo = Proceso::lanzar(serve(&url, reglas.path(), "otro", Ajustes::default()));
    let status = segundo.esperar_fin(FIN).await;
    let salida = segundo.salida();
    assert!(
        !status.success(),
        "el segundo nodo arrancó ({status}):\n{salida}"
    );
    let minusculas = salida.to_lowercase();
    assert!(
        minusculas.contains("sqlite") && minusculas.contains("nodo"),
        "el mensaje debe nombrar SQLite y que sirve a un solo nodo:\n{salida}"
    );
    assert!(!salida.contains("comanda escuchando"), "{salida}");

    // The first one goes on serving.
    let r = reqwest::get(primero.url("/readyz")).await.expect("readyz");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn pedir_cluster_con_sqlite_no_arranca_y_dice_que_hace_falta_postgres() {
    let reglas = copia_de_las_reglas();
    // With the flag, and with the environment variable.
    for (como, poner) in [
        (
            "--cluster",
            (|cmd| {
                cmd.arg("--cluster");
            }) as fn(&mut std::process::Command),
        ),
        ("COMANDA_CLUSTER=true", |cmd| {
            cmd.env("COMANDA_CLUSTER", "true");
        }),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = serve(&sqlite_url(&dir), reglas.path(), "uno", Ajustes::default());
        poner(&mut cmd);
        let mut proceso = Proceso::lanzar(cmd);
        let status = proceso.esperar_fin(FIN).await;
        let salida = proceso.salida();
        assert!(
            !status.success(),
            "{como} con SQLite arrancó ({status}):\n{salida}"
        );
        let minusculas = salida.to_lowercase();
        for palabra in ["sqlite", "cluster", "postgres"] {
            assert!(
                minusculas.contains(palabra),
                "{como} con SQLite: el mensaje no nombra «{palabra}»:\n{salida}"
            );
        }
        assert!(!salida.contains("comanda escuchando"), "{salida}");
    }
}
