//! `/readyz` tells the truth when writes can't succeed (issue 16): a node
//! whose every write waits behind a held lock — the cluster's publication
//! turn on Postgres, the file's write lock on SQLite — answers reads, but a
//! load balancer must send writers elsewhere. Before, `/readyz` only read
//! and said `listo`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::{Connection, PgConnection, SqliteConnection};
use tokio::time::Instant;

use crate::almacen::Almacen;
use crate::arnes::nodo::serve;
use crate::arnes::reglas::copia_de_las_reglas;
use crate::arnes::{Ajustes, Nodo};

/// `CLAVE_DEL_TURNO` in `src/store/eventos.rs`.
const CLAVE_DEL_TURNO: i64 = 0x0063_6f6d_616e_6461;

async fn nodo(almacen: &Almacen) -> (Nodo, tempfile::TempDir) {
    let reglas = copia_de_las_reglas();
    let cmd = serve(almacen.url(), reglas.path(), "sonda", Ajustes::default());
    (Nodo::arrancar("sonda", cmd).await, reglas)
}

/// `/readyz`'s status and `estado`, once it answers `esperado` (or the last
/// answer after 10 s).
async fn readyz_hasta(nodo: &Nodo, esperado: StatusCode) -> (StatusCode, Value) {
    let limite = Instant::now() + Duration::from_secs(10);
    loop {
        let r = reqwest::get(nodo.url("/readyz")).await.expect("readyz");
        let estado = r.status();
        let cuerpo: Value = r.json().await.expect("JSON");
        if estado == esperado || Instant::now() > limite {
            return (estado, cuerpo);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_dice_escrituras_bloqueadas_mientras_otro_retiene_el_turno_de_publicacion() {
    let almacen = Almacen::postgres().await;
    let (nodo, _reglas) = nodo(&almacen).await;
    let Almacen::Postgres(base) = &almacen else {
        unreachable!()
    };
    let mut turno = PgConnection::connect(&base.url).await.expect("conexión");
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(CLAVE_DEL_TURNO)
        .execute(&mut turno)
        .await
        .expect("pg_advisory_lock");
    let (estado, cuerpo) = readyz_hasta(&nodo, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(estado, StatusCode::SERVICE_UNAVAILABLE, "{cuerpo}");
    assert_eq!(cuerpo["estado"], "escrituras_bloqueadas");
    // Reads still work meanwhile.
    let r = reqwest::get(nodo.url("/healthz")).await.expect("healthz");
    assert_eq!(r.status(), StatusCode::OK);

    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(CLAVE_DEL_TURNO)
        .execute(&mut turno)
        .await
        .expect("pg_advisory_unlock");
    let (estado, cuerpo) = readyz_hasta(&nodo, StatusCode::OK).await;
    assert_eq!(estado, StatusCode::OK, "{cuerpo}");
    assert_eq!(cuerpo["estado"], "listo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_dice_escrituras_bloqueadas_mientras_otro_retiene_el_archivo_sqlite() {
    let almacen = Almacen::sqlite();
    let (nodo, _reglas) = nodo(&almacen).await;
    let mut otro = SqliteConnection::connect(almacen.url())
        .await
        .expect("abrir el archivo");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut otro)
        .await
        .expect("BEGIN IMMEDIATE");
    let (estado, cuerpo) = readyz_hasta(&nodo, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(estado, StatusCode::SERVICE_UNAVAILABLE, "{cuerpo}");
    assert_eq!(cuerpo["estado"], "escrituras_bloqueadas");

    sqlx::query("ROLLBACK")
        .execute(&mut otro)
        .await
        .expect("ROLLBACK");
    let (estado, cuerpo) = readyz_hasta(&nodo, StatusCode::OK).await;
    assert_eq!(estado, StatusCode::OK, "{cuerpo}");
}
