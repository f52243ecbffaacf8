//! The test harness: a real comanda on `127.0.0.1:0` over a real store — a
//! fresh SQLite file or a fresh Postgres database per test — and an HTTP client.

use std::time::Duration;

use comanda::app::Application;
use comanda::config::Settings;
use comanda::modelo::{NuevoUsuario, Password, Rol, SucursalId, Usuario};
use comanda::store::{Backend, Store};

use crate::postgres::BaseDeDatos;
use crate::reglas_de_fabrica::REGLAS_DE_FABRICA;
use crate::reglas_de_fabrica::copia_de_las_reglas;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Runs each test body twice: once on SQLite, once on Postgres.
///
/// ```ignore
/// en_ambos_stores! {
///     async fn nombre_que_se_lee_como_una_frase(backend) { let app = spawn_app(backend).await; … }
/// }
/// ```
macro_rules! en_ambos_stores {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[actix_web::test]
                async fn $name() {
                    let $backend = comanda::store::Backend::Sqlite;
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[actix_web::test]
                async fn $name() {
                    let $backend = comanda::store::Backend::Postgres;
                    $body
                }
            )*
        }
    };
}
pub(crate) use en_ambos_stores;

/// A database of its own for one test; a Postgres one is dropped with it.
pub struct TestDb {
    pub url: String,
    _postgres: Option<BaseDeDatos>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("comanda.db").display());
                TestDb {
                    url,
                    _postgres: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let base = BaseDeDatos::nueva().await;
                TestDb {
                    url: base.url.clone(),
                    _postgres: Some(base),
                    _dir: None,
                }
            }
        }
    }

    /// The same database for another node of the same test; the original
    /// keeps ownership (and drops it), so it must outlive this one.
    pub fn compartida(&self) -> Self {
        TestDb {
            url: self.url.clone(),
            _postgres: None,
            _dir: None,
        }
    }
}

/// A running comanda and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub store: Store,
    pub client: reqwest::Client,
    /// Stops the server like a signal does (sockets get 1001).
    pub parada: comanda::app::Parada,
    pub db: TestDb,
    /// This test's own copy of the shipped rules: saving a rule writes here.
    pub reglas: tempfile::TempDir,
}

/// The settings every test starts from: port 0, one worker, the given database.
pub fn test_settings(db: &TestDb) -> Settings {
    let mut settings = Settings::defaults();
    settings.bind = "127.0.0.1:0".parse().unwrap();
    settings.store.database_url = db.url.clone();
    settings.store.db_max_connections = 5;
    settings.workers = 1;
    settings.demo = false;
    settings.rules_dir = REGLAS_DE_FABRICA.into();
    settings.static_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/static").into();
    settings
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts comanda with test settings adjusted by `ajustar`.
pub async fn spawn_app_with(backend: Backend, ajustar: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(TestDb::new(backend).await, ajustar)
        .await
        .expect("comanda starts")
}

/// Starts comanda on `db` (a new one, or another node's
/// [`TestDb::compartida`]), each node with its own copy of the rules.
pub async fn spawn_app_on(
    db: TestDb,
    ajustar: impl FnOnce(&mut Settings),
) -> Result<TestApp, comanda::app::ArranqueError> {
    if std::env::var_os("TEST_LOG").is_some() {
        comanda::telemetry::init(Default::default());
    }
    let reglas = copia_de_las_reglas();
    let mut settings = test_settings(&db);
    settings.rules_dir = reglas.path().to_owned();
    ajustar(&mut settings);
    let app = Application::build(settings).await?;
    let port = app.port();
    let store = app.store().clone();
    let parada = app.parada();
    actix_web::rt::spawn(app.run_until_stopped());
    Ok(TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        store,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        parada,
        db,
        reglas,
    })
}

pub const PASSWORD: &str = "contraseña-de-prueba";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Creates a user straight through the domain (no HTTP), password [`PASSWORD`].
    pub async fn crear_usuario(
        &self,
        usuario: &str,
        rol: Rol,
        sucursal: Option<SucursalId>,
    ) -> Usuario {
        comanda::cuentas::crear_usuario(
            &self.store,
            NuevoUsuario {
                usuario: usuario.into(),
                nombre: None,
                password: Password::parse(PASSWORD.into()).unwrap(),
                rol,
                sucursal_id: sucursal,
            },
        )
        .await
        .expect("usuario creado")
    }

    pub async fn crear_sucursal(&self, nombre: &str) -> SucursalId {
        self.store
            .crear_sucursal(nombre)
            .await
            .expect("sucursal")
            .id
    }

    pub async fn login(&self, usuario: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/login"))
            .json(&json!({"usuario": usuario, "password": password}))
            .send()
            .await
            .expect("login answers")
    }

    /// Logs in with [`PASSWORD`] and answers the bearer token.
    pub async fn token(&self, usuario: &str) -> String {
        let r = self.login(usuario, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK, "login de {usuario}");
        let body: Value = r.json().await.unwrap();
        body["token"].as_str().expect("token").to_owned()
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET answers")
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("POST answers")
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("PATCH answers")
    }
}

/// A superadmin of the test's own, `jefa` (the first-start one has a random
/// password); answers its token.
pub async fn superadmin(app: &TestApp) -> String {
    app.crear_usuario("jefa", Rol::Superadmin, None).await;
    app.token("jefa").await
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let parada = self.parada.clone();
        actix_web::rt::spawn(async move { parada.parar().await });
    }
}

/// Asserts the `{"error":{"codigo","mensaje"}}` shape and answers the código.
pub async fn codigo_de_error(r: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(r.status(), status);
    let body: Value = r.json().await.expect("error body is JSON");
    let mensaje = body["error"]["mensaje"].as_str().expect("error.mensaje");
    assert!(!mensaje.is_empty());
    body["error"]["codigo"]
        .as_str()
        .expect("error.codigo")
        .to_owned()
}
