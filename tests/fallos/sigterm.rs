//! SIGTERM with writes in flight and screens connected: the screens are
//! closed with 1001 at once, the writes finish with their real answer, and
//! the process exits 0 — long before its shutdown timeout.

use std::time::Duration;

use reqwest::StatusCode;
use sqlx::{Connection, PgConnection};
use tokio::time::Instant;

use crate::almacen::{Almacen, cada_confirmada_una_vez};
use crate::arnes::nodo::serve;
use crate::arnes::reglas::copia_de_las_reglas;
use crate::arnes::{Ajustes, Conexion, Frame, Nodo, conectar};
use crate::escritor::{Escritor, Escritura, Mezcla};

/// The cluster-wide publication turn, `CLAVE_DEL_TURNO` in
/// `src/store/eventos.rs`: a write that holds it keeps every other write of
/// every node waiting right before its commit.
const CLAVE_DEL_TURNO: i64 = 0x0063_6f6d_616e_6461;
/// Writes in flight when the signal comes (fewer than the node's 4
/// connections: each holds one while it waits).
const EN_VUELO: usize = 3;
/// `--shutdown-timeout`.
const APAGADO: Duration = Duration::from_secs(10);
/// How soon after SIGTERM the screens must be closed.
const CIERRE: Duration = Duration::from_secs(2);

/// Waits until the node's writes wait for the turn held by `conn`: one for
/// the advisory lock, the others idle in their transactions (they wait for
/// the node's half of the turn).
async fn esperar_en_vuelo(conn: &mut PgConnection, limite: Instant) {
    loop {
        let (esperan_el_cerrojo, en_transaccion): (i64, i64) = sqlx::query_as(
            "SELECT
                 (SELECT count(*) FROM pg_locks
                  WHERE locktype = 'advisory' AND NOT granted),
                 (SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND pid <> pg_backend_pid()
                    AND state = 'idle in transaction')",
        )
        .fetch_one(&mut *conn)
        .await
        .expect("pg_locks");
        if esperan_el_cerrojo == 1 && en_transaccion as usize == EN_VUELO - 1 {
            return;
        }
        assert!(
            Instant::now() < limite,
            "las escrituras no llegaron a esperar el turno: {esperan_el_cerrojo} esperan el \
             cerrojo, {en_transaccion} en transacción"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cierra_los_sockets_con_1001_deja_terminar_las_escrituras_en_curso_y_sale_con_0() {
    let almacen = Almacen::postgres().await;
    let reglas = copia_de_las_reglas();
    let mut cmd = serve(almacen.url(), reglas.path(), "solo", Ajustes::default());
    cmd.arg("--demo")
        .args(["--shutdown-timeout", &humantime_secs(APAGADO)]);
    let mut nodo = Nodo::arrancar("solo", cmd).await;
    let desde = almacen.ultimo_id().await;

    let mut sockets = Vec::new();
    for usuario in ["cocina1", "atencion1", "admin1"] {
        let token = nodo.token(usuario).await;
        match conectar(nodo.puerto, &token).await {
            Conexion::Abierta(s) => sockets.push((usuario, s)),
            otra => panic!("{usuario}: {otra:?}"),
        }
    }
    let escritor = std::sync::Arc::new(Escritor::nuevo(
        nodo.puerto,
        nodo.token("atencion1").await,
        "en vuelo al apagar",
        Mezcla::Alertas,
    ));

    // Hold the turn, and send the writes: they go as far as they can.
    let Almacen::Postgres(base) = &almacen else {
        unreachable!()
    };
    let mut turno = PgConnection::connect(&base.url).await.expect("conexión");
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(CLAVE_DEL_TURNO)
        .execute(&mut turno)
        .await
        .expect("pg_advisory_lock");
    let escrituras: Vec<_> = (0..EN_VUELO)
        .map(|n| {
            let escritor = escritor.clone();
            tokio::spawn(async move {
                let clave = format!("en-vuelo-{n}");
                let intento = escritor.intentar(n, &clave).await;
                Escritura {
                    n,
                    clave,
                    clase: escritor.clase(n),
                    intentos: vec![intento],
                }
            })
        })
        .collect();
    esperar_en_vuelo(&mut turno, Instant::now() + Duration::from_secs(10)).await;

    nodo.terminar();
    let senal = Instant::now();
    for (usuario, socket) in &mut sockets {
        let cierre = loop {
            match socket.siguiente(senal + CIERRE).await {
                Frame::Cerrado(codigo) => break codigo,
                Frame::Nada => panic!("{usuario}: sin cierre {CIERRE:?} después de SIGTERM"),
                _ => continue,
            }
        };
        assert_eq!(cierre, 1001, "{usuario} se cerró con {cierre}");
    }
    let cerrados = senal.elapsed();
    assert!(
        escrituras.iter().all(|e| !e.is_finished()),
        "las escrituras debían seguir en curso mientras se cerraban los sockets"
    );

    // The writes go on: they commit and get their real answer.
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(CLAVE_DEL_TURNO)
        .execute(&mut turno)
        .await
        .expect("pg_advisory_unlock");
    let liberado = Instant::now();
    let mut hechas = Vec::new();
    for e in escrituras {
        let e = e.await.expect("escritura");
        let intento = &e.intentos[0];
        let Ok((status, cuerpo)) = &intento.resultado else {
            panic!(
                "#{} sin respuesta: {:?}\n{}",
                e.n,
                intento.resultado,
                nodo.salida()
            );
        };
        assert_eq!(*status, StatusCode::CREATED, "#{}: {cuerpo}", e.n);
        assert_eq!(cuerpo["mensaje"], escritor.texto(e.n), "#{}: {cuerpo}", e.n);
        hechas.push(e);
    }
    let status = nodo.esperar_fin(APAGADO + Duration::from_secs(5)).await;
    let salida = senal.elapsed();
    assert!(status.success(), "salió con {status}:\n{}", nodo.salida());
    // Done when its requests were: it did not sit out the timeout.
    assert!(
        liberado.elapsed() < APAGADO / 2,
        "tardó {:.1?} en salir tras terminar sus peticiones (--shutdown-timeout {APAGADO:?})",
        liberado.elapsed()
    );
    println!(
        "SIGTERM: sockets cerrados con 1001 en {cerrados:.2?}; {EN_VUELO} escrituras en curso \
         respondidas 201; salió con 0 a los {salida:.2?} (liberadas a los {:.2?})",
        liberado - senal
    );
    cada_confirmada_una_vez(&almacen, &escritor, &hechas, desde).await;
}

fn humantime_secs(d: Duration) -> String {
    format!("{}s", d.as_secs())
}
