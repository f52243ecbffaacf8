//! The `comanda` binary as an operator runs it: `migrate`, `usuario crear`,
//! and the first start in an empty folder.

use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use comanda::config::{Settings, StoreSettings};
use comanda::modelo::Rol;
use comanda::store::{Backend, Preparacion, Store};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestDb, en_ambos_stores, spawn_app_with, test_settings};
use crate::proceso::{Proceso, puerto_libre};

const BINARIO: &str = env!("CARGO_BIN_EXE_comanda");
const PLAZO: Duration = Duration::from_secs(60);

/// `comanda` with an environment that can't leak into the test.
fn comanda() -> Command {
    let mut cmd = Command::new(BINARIO);
    for var in ["DATABASE_URL", "COMANDA_BIND", "COMANDA_DEMO", "RUST_LOG"] {
        cmd.env_remove(var);
    }
    cmd
}

/// Waits for `proceso` to exit (up to [`PLAZO`]); answers its status,
/// stdout and stderr.
async fn esperar(mut proceso: Proceso) -> (ExitStatus, String, String) {
    let status = proceso.esperar_fin(PLAZO).await;
    (status, proceso.stdout(), proceso.stderr())
}

async fn ejecutar(args: &[&str], entrada: Option<&str>) -> (ExitStatus, String, String) {
    let mut cmd = comanda();
    cmd.args(args);
    esperar(Proceso::lanzar_con(cmd, entrada)).await
}

fn store_settings(url: &str) -> StoreSettings {
    StoreSettings {
        database_url: url.to_owned(),
        ..Settings::defaults().store
    }
}

/// Polls `/readyz` until it answers 200, while the process is alive.
async fn esperar_listo(proceso: &mut Proceso, base: &str) {
    let cliente = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let limite = Instant::now() + PLAZO;
    loop {
        if let Ok(r) = cliente.get(format!("{base}/readyz")).send().await
            && r.status() == StatusCode::OK
        {
            return;
        }
        if let Some(status) = proceso.termino() {
            panic!(
                "comanda terminó antes de estar listo ({status}); stderr:\n{}",
                proceso.stderr()
            );
        }
        assert!(
            Instant::now() < limite,
            "/readyz no respondió 200 en {PLAZO:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The password printed on first start: the first non-empty line after
/// "con la contraseña".
fn password_impresa(stdout: &str) -> Option<String> {
    let mut lineas = stdout.lines();
    lineas.find(|l| l.contains("con la contraseña"))?;
    lineas
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

/// Starts `comanda` in `carpeta` with no `DATABASE_URL`, waits until it is
/// ready, and answers the running process and its address.
async fn arrancar_en(carpeta: &Path) -> (Proceso, String) {
    let puerto = puerto_libre();
    let mut cmd = comanda();
    cmd.current_dir(carpeta)
        .args(["--bind", &format!("127.0.0.1:{puerto}")]);
    let mut proceso = Proceso::lanzar(cmd);
    let base = format!("http://127.0.0.1:{puerto}");
    esperar_listo(&mut proceso, &base).await;
    (proceso, base)
}

async fn login_superadmin(base: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/login"))
        .json(&json!({"usuario": "superadmin", "password": password}))
        .send()
        .await
        .expect("login answers")
}

async fn detener(proceso: Proceso) -> String {
    proceso.terminar();
    let (status, stdout, stderr) = esperar(proceso).await;
    assert!(
        status.success(),
        "tras SIGTERM sale con 0, no {status}; stderr:\n{stderr}"
    );
    stdout
}

en_ambos_stores! {
    async fn migrate_prepara_una_base_vacia(backend) {
        let db = TestDb::new(backend).await;
        let (status, stdout, stderr) = ejecutar(&["migrate", "--database-url", &db.url], None).await;
        assert!(status.success(), "migrate falló ({status}): {stderr}");
        assert!(stdout.contains("Migraciones aplicadas"), "{stdout}");

        let store = Store::connect(&store_settings(&db.url)).await.unwrap();
        assert_eq!(store.preparacion().await.unwrap(), Preparacion::Lista);
        store.close().await;

        // A second run finds nothing to do and still succeeds.
        let (status, _, stderr) = ejecutar(&["migrate", "--database-url", &db.url], None).await;
        assert!(status.success(), "segundo migrate falló ({status}): {stderr}");
    }

    async fn usuario_crear_lee_la_password_de_stdin_y_ese_usuario_puede_entrar(backend) {
        let db = TestDb::new(backend).await;
        let store = Store::open(&store_settings(&db.url)).await.unwrap();
        let sucursal = store.crear_sucursal("Centro").await.unwrap().id;
        store.close().await;

        let sucursal = sucursal.to_string();
        let (status, stdout, stderr) = ejecutar(
            &["usuario", "crear", "--usuario", "ana", "--rol", "cocina", "--sucursal", &sucursal,
              "--database-url", &db.url],
            Some("cocina-de-ana-1\n"),
        )
        .await;
        assert!(status.success(), "usuario crear falló ({status}): {stderr}");
        assert!(stdout.contains("ana"), "{stdout}");
        assert!(!stdout.contains("cocina-de-ana-1") && !stderr.contains("cocina-de-ana-1"));

        let url = db.url.clone();
        let app = spawn_app_with(backend, move |s| s.store.database_url = url).await;
        let r = app.login("ana", "cocina-de-ana-1").await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["usuario"]["rol"], Rol::Cocina.as_str());
        assert_eq!(body["usuario"]["sucursal_id"].to_string(), sucursal);
        // The line ending was not part of the password.
        let r = app.login("ana", "cocina-de-ana-1\n").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }

    async fn usuario_crear_con_un_rol_desconocido_falla_nombrando_los_roles(backend) {
        let db = TestDb::new(backend).await;
        let (status, _, stderr) = ejecutar(
            &["usuario", "crear", "--usuario", "ana", "--rol", "jefe", "--database-url", &db.url],
            Some("cocina-de-ana-1\n"),
        )
        .await;
        assert!(!status.success());
        for rol in Rol::TODOS {
            assert!(stderr.contains(rol.as_str()), "{rol} no aparece en: {stderr}");
        }
        assert!(stderr.contains("jefe"), "{stderr}");
    }

    async fn usuario_crear_con_una_password_corta_falla_sin_crearlo(backend) {
        let db = TestDb::new(backend).await;
        let store = Store::open(&test_settings(&db).store).await.unwrap();
        let (status, _, stderr) = ejecutar(
            &["usuario", "crear", "--usuario", "ana", "--rol", "admin", "--database-url", &db.url],
            Some("corta\n"),
        )
        .await;
        assert!(!status.success());
        assert!(stderr.contains("8 caracteres"), "{stderr}");
        assert!(store.credenciales("ana").await.unwrap().is_none());
        store.close().await;
    }
}

#[actix_web::test]
async fn una_base_en_memoria_no_deja_archivos_en_la_carpeta() {
    let dir = tempfile::tempdir().unwrap();
    let puerto = puerto_libre();
    let mut cmd = comanda();
    cmd.current_dir(dir.path()).args([
        "--database-url",
        "sqlite::memory:",
        "--bind",
        &format!("127.0.0.1:{puerto}"),
    ]);
    let mut proceso = Proceso::lanzar(cmd);
    esperar_listo(&mut proceso, &format!("http://127.0.0.1:{puerto}")).await;
    detener(proceso).await;
    let archivos: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(archivos.is_empty(), "quedaron {archivos:?}");
}

#[actix_web::test]
async fn migrate_crea_el_archivo_sqlite_indicado() {
    let dir = tempfile::tempdir().unwrap();
    let archivo = dir.path().join("x.db");
    let url = format!("sqlite://{}", archivo.display());
    assert!(!archivo.exists());

    let (status, _, stderr) = ejecutar(&["migrate", "--database-url", &url], None).await;
    assert!(status.success(), "migrate falló ({status}): {stderr}");
    assert!(archivo.is_file());

    let store = Store::open(&store_settings(&url)).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert_eq!(store.preparacion().await.unwrap(), Preparacion::Lista);
    store.close().await;
}

#[actix_web::test]
async fn el_primer_arranque_sin_database_url_crea_comanda_db_y_muestra_la_password_una_vez() {
    let carpeta = tempfile::tempdir().unwrap();

    let (proceso, base) = arrancar_en(carpeta.path()).await;
    assert!(carpeta.path().join("comanda.db").is_file());

    // The banner is printed right after startup; wait for it, with a deadline.
    let limite = Instant::now() + PLAZO;
    let password = loop {
        if let Some(p) = password_impresa(&proceso.stdout()) {
            break p;
        }
        assert!(
            Instant::now() < limite,
            "no se imprimió la contraseña inicial"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        password.len() >= 16,
        "contraseña inicial demasiado corta: {password:?}"
    );

    let r = login_superadmin(&base, &password).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["usuario"]["rol"], "superadmin");
    let r = login_superadmin(&base, &format!("{password}x")).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let stdout = detener(proceso).await;
    assert_eq!(stdout.matches(&password).count(), 1, "{stdout}");

    // Second start in the same folder: same database, no new password.
    let (proceso, base) = arrancar_en(carpeta.path()).await;
    let r = login_superadmin(&base, &password).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "la contraseña de la primera vez sigue valiendo"
    );
    let stdout = detener(proceso).await;
    assert!(!stdout.contains(&password), "{stdout}");
    assert!(!stdout.contains("contraseña"), "{stdout}");
}
