//! The embedded store's file stops taking writes under a running node:
//! writes are refused with 503 `no_disponible` and nothing half-done, reads go
//! on, and once the file is writable again writes succeed — no restart —
//! and the file is intact.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::almacen::{Almacen, cada_confirmada_una_vez};
use crate::arnes::nodo::serve;
use crate::arnes::pantalla::{Modo, Pantalla, verificar_todas};
use crate::arnes::reglas::copia_de_las_reglas;
use crate::arnes::{Ajustes, Conexion, Nodo, Perfil, conectar};
use crate::escritor::{Escritor, Mezcla, verificar_escrituras};

/// How soon a refused write must be answered: an I/O error is not a busy
/// database, nothing to wait for.
const RECHAZO: Duration = Duration::from_secs(2);
/// Writes once the file takes writes again (the first two were refused before).
const DESPUES: usize = 10;

/// Files no one may write, not even root, until dropped (`chattr +i`).
///
/// Why not `chmod a-w`: permissions are checked when a file is opened, and
/// the node keeps its database and its WAL open; root ignores them anyway.
/// Linux checks the immutable flag on every write, through descriptors
/// already open too, and for root as well — the way a file system that went
/// read-only under the process behaves. Setting it takes
/// `CAP_LINUX_IMMUTABLE` (root) and a file system that has the flag (ext4,
/// xfs, btrfs; not tmpfs).
struct Inmutables(Vec<PathBuf>);

fn chattr(signo: &str, archivos: &[PathBuf]) -> std::process::Output {
    Command::new("chattr")
        .arg(signo)
        .args(archivos)
        .output()
        .unwrap_or_else(|e| panic!("no se pudo ejecutar chattr (instala e2fsprogs): {e}"))
}

impl Inmutables {
    fn poner(archivos: &[&Path]) -> Self {
        let archivos: Vec<PathBuf> = archivos.iter().map(|a| a.to_path_buf()).collect();
        let salida = chattr("+i", &archivos);
        assert!(
            salida.status.success(),
            "chattr +i {archivos:?} falló: {}\nEste test necesita CAP_LINUX_IMMUTABLE (root) \
             y un sistema de archivos con el atributo inmutable: chmod no impide escribir a \
             quien ya tiene el archivo abierto.",
            String::from_utf8_lossy(&salida.stderr)
        );
        Inmutables(archivos)
    }
}

impl Drop for Inmutables {
    fn drop(&mut self) {
        // Also when the test failed: the temporary folder must be removable.
        let salida = chattr("-i", &self.0);
        assert!(salida.status.success(), "chattr -i {:?}", self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn si_el_archivo_sqlite_no_se_puede_escribir_las_escrituras_dan_503_las_lecturas_siguen_y_al_volver_todo_sigue()
 {
    let almacen = Almacen::sqlite();
    let reglas = copia_de_las_reglas();
    let mut cmd = serve(almacen.url(), reglas.path(), "solo", Ajustes::default());
    cmd.arg("--demo");
    let mut nodo = Nodo::arrancar("solo", cmd).await;
    let nodos = [(nodo.id.clone(), nodo.puerto)];
    let archivo = almacen.archivo();
    let wal = archivo.with_extension("db-wal");
    assert!(
        wal.is_file(),
        "la base SQLite va en modo WAL: falta {wal:?}"
    );

    let desde = almacen.ultimo_id().await;
    let cocina = nodo.token("cocina1").await;
    let atencion = nodo.token("atencion1").await;
    let mut pantalla = Pantalla::nueva("cocina1", Perfil::Cocina(1), cocina.clone(), desde);
    let escritor = Escritor::nuevo(
        nodo.puerto,
        atencion.clone(),
        "sin escritura",
        Mezcla::Alertas,
    );
    let limite = Instant::now() + Duration::from_secs(30);

    let (aviso, objetivo) = watch::channel(None);
    let trabajar = async {
        let antes = escritor.escribir(0, limite).await;
        let confirmada = antes.confirmada().expect("la primera alerta se guarda");

        let inmutables = Inmutables::poner(&[&archivo, &wal]);
        // Two writes, tried twice each: as many failed commits as the
        // node has connections (`--db-max-connections 4`).
        let mut rechazos = Vec::new();
        for n in [1, 2, 1, 2] {
            let r = escritor.intentar(n, &escritor.clave(n)).await;
            let Ok((status, cuerpo)) = &r.resultado else {
                panic!("sin respuesta: {:?}", r.resultado)
            };
            assert_eq!(
                (*status, &cuerpo["error"]["codigo"]),
                (StatusCode::SERVICE_UNAVAILABLE, &"no_disponible".into()),
                "una escritura sobre un archivo de solo lectura: {cuerpo}\n{}",
                nodo.registro(10)
            );
            assert!(r.tardo < RECHAZO, "el rechazo tardó {:.1?}", r.tardo);
            rechazos.push((n, r));
        }
        // Reads go on: the list, the probe, a new socket.
        let lista = nodo
            .get("/api/alertas", &atencion)
            .await
            .expect("GET /api/alertas");
        assert_eq!(lista.status(), StatusCode::OK);
        let lista: serde_json::Value = lista.json().await.unwrap();
        assert!(
            lista["items"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["id"] == confirmada)),
            "la alerta guardada antes no está en la lista: {lista}"
        );
        // Reads are served, but a load balancer must hear that writes
        // can't succeed here (issue 16: `/readyz` tells the truth).
        let listo = reqwest::get(nodo.url("/readyz")).await.expect("readyz");
        assert_eq!(listo.status(), StatusCode::SERVICE_UNAVAILABLE);
        let listo: serde_json::Value = listo.json().await.unwrap();
        assert_eq!(listo["estado"], "escrituras_bloqueadas");
        match conectar(nodo.puerto, &cocina).await {
            Conexion::Abierta(s) => s.cerrar().await,
            otra => panic!("un socket nuevo con el archivo de solo lectura: {otra:?}"),
        }

        drop(inmutables);
        // The same keys, retried: done now, once; then more writes than the
        // node has connections, each of which saw a failed commit.
        let mut escrituras = vec![antes];
        for n in 1..=DESPUES {
            let mut e = escritor.escribir(n, limite).await;
            // At once: no connection is left spoiled by the fault.
            assert_eq!(
                e.intentos.len(),
                1,
                "#{n} con el archivo escribible de nuevo: {:?}\n{}",
                e.intentos.len(),
                nodo.registro(80)
            );
            let previos = rechazos
                .iter()
                .filter(|(m, _)| *m == n)
                .map(|(_, r)| r.clone());
            e.intentos.splice(0..0, previos);
            escrituras.push(e);
        }
        let listo = reqwest::get(nodo.url("/readyz")).await.expect("readyz");
        assert_eq!(listo.status(), StatusCode::OK, "writable again: ready");
        let registros = almacen.eventos_desde(desde).await;
        let _ = aviso.send(Some(Arc::new(registros.clone())));
        (escrituras, registros)
    };
    let ((escrituras, registros), ()) = tokio::join!(
        trabajar,
        pantalla.vivir(&nodos, 0, Modo::Quedarse, objetivo)
    );
    let contexto = nodo.registro(20);
    let resumen = verificar_escrituras(&escrituras, &contexto);
    println!("{resumen:?}");
    cada_confirmada_una_vez(&almacen, &escritor, &escrituras, desde).await;
    verificar_todas(std::slice::from_ref(&pantalla), &registros, &contexto);

    nodo.terminar();
    let status = nodo.esperar_fin(Duration::from_secs(15)).await;
    assert!(status.success(), "salió con {status}:\n{}", nodo.salida());
    let mut conn = SqliteConnection::connect(almacen.url()).await.unwrap();
    let integridad: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .expect("integrity_check");
    assert_eq!(integridad, ["ok"]);
}
