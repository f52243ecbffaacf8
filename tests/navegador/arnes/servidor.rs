//! A real comanda in this process: `127.0.0.1:0`, a fresh SQLite file, a copy
//! of the shipped rules, the repo's `static/`, and the demo accounts.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix_web::rt::task::JoinHandle;
use comanda::app::{Application, ArranqueError, Parada};
use comanda::config::Settings;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::reglas::copia_de_las_reglas;

pub use comanda::cuentas::DEMO_PASSWORD;

const PAGINAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/static");

/// What outlives a restart: the database and the rules folder. Owned by the
/// scene, so they are removed only after the browsers and servers are gone.
pub struct Carpetas {
    pub db: tempfile::TempDir,
    pub reglas: tempfile::TempDir,
}

pub struct Servidor {
    pub port: u16,
    /// `http://127.0.0.1:PORT` — the origin the browsers use (the server
    /// allows cookie sockets from it).
    pub origen: String,
    pub http: reqwest::Client,
    settings: Settings,
    pub(super) en_marcha: Rc<RefCell<Option<EnMarcha>>>,
}

/// A running comanda: how to stop it, and its task, which ends once the
/// server has stopped and the store is closed.
pub struct EnMarcha {
    parada: Parada,
    tarea: JoinHandle<std::io::Result<()>>,
}

impl EnMarcha {
    fn lanzar(app: Application) -> EnMarcha {
        EnMarcha {
            parada: app.parada(),
            tarea: actix_web::rt::spawn(app.run_until_stopped()),
        }
    }

    /// Stops the server the way a signal does and waits (up to 15 s) until
    /// it let go of the port and closed the store; answers whether it did.
    pub async fn parar(self) -> bool {
        self.parada.parar().await;
        actix_web::rt::time::timeout(Duration::from_secs(15), self.tarea)
            .await
            .is_ok()
    }
}

impl Servidor {
    pub(super) async fn arrancar() -> (Servidor, Carpetas) {
        if std::env::var_os("TEST_LOG").is_some() {
            comanda::telemetry::init(Default::default());
        }
        let carpetas = Carpetas {
            db: tempfile::tempdir().expect("carpeta temporal"),
            reglas: copia_de_las_reglas(),
        };
        let mut settings = Settings::defaults();
        settings.bind = "127.0.0.1:0".parse().unwrap();
        settings.store.database_url = format!(
            "sqlite://{}",
            carpetas.db.path().join("comanda.db").display()
        );
        settings.store.db_max_connections = 5;
        settings.workers = 1;
        // `Application::build` runs `comanda::cuentas::demo(&store)` before the
        // first-start superadmin, so every demo account has DEMO_PASSWORD.
        settings.demo = true;
        settings.rules_dir = carpetas.reglas.path().to_owned();
        settings.static_dir = PAGINAS.into();
        let app = Application::build(settings.clone())
            .await
            .expect("comanda arranca");
        let demo = app.arranque.demo.as_ref().expect("datos de demo");
        assert_eq!(demo.0.len(), 2, "dos sucursales de demo");
        let port = app.port();
        settings.bind = format!("127.0.0.1:{port}").parse().unwrap();
        let en_marcha = Rc::new(RefCell::new(Some(EnMarcha::lanzar(app))));
        let servidor = Servidor {
            port,
            origen: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            settings,
            en_marcha,
        };
        (servidor, carpetas)
    }

    pub fn url(&self, ruta: &str) -> String {
        format!("{}{}", self.origen, ruta)
    }

    /// Stops the server the way a signal does: sockets get 1001, in-flight
    /// requests finish, the port is released, the store closed.
    pub async fn parar(&self) {
        let en_marcha = self.en_marcha.borrow_mut().take();
        if let Some(en_marcha) = en_marcha {
            assert!(
                en_marcha.parar().await,
                "comanda no terminó 15 s después de pararlo"
            );
        }
    }

    /// Starts a new comanda on the same port, database and rules.
    pub async fn arrancar_de_nuevo(&self) {
        assert!(
            self.en_marcha.borrow().is_none(),
            "el servidor sigue en marcha"
        );
        // The port may still be held a moment (the impostor of a test, a
        // socket closing): retry the bind for a while.
        let limite = Instant::now() + Duration::from_secs(10);
        let app = loop {
            match Application::build(self.settings.clone()).await {
                Ok(app) => break app,
                Err(ArranqueError::Bind { .. }) if Instant::now() < limite => {
                    actix_web::rt::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("comanda no vuelve a arrancar en {}: {e}", self.port),
            }
        };
        assert_eq!(app.port(), self.port);
        *self.en_marcha.borrow_mut() = Some(EnMarcha::lanzar(app));
    }

    /// Logs in through the API and answers the bearer token.
    pub async fn token(&self, usuario: &str) -> String {
        let r = self
            .http
            .post(self.url("/api/login"))
            .json(&json!({"usuario": usuario, "password": DEMO_PASSWORD}))
            .send()
            .await
            .expect("login responde");
        assert_eq!(r.status(), StatusCode::OK, "login de {usuario} por la API");
        let cuerpo: Value = r.json().await.unwrap();
        cuerpo["token"].as_str().expect("token").to_owned()
    }

    /// `GET` that must answer 200; answers the JSON body.
    pub async fn get(&self, ruta: &str, token: &str) -> Value {
        let r = self
            .http
            .get(self.url(ruta))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {ruta}: {e}"));
        let estado = r.status();
        let cuerpo = r.text().await.unwrap_or_default();
        assert_eq!(estado, StatusCode::OK, "GET {ruta}: {cuerpo}");
        serde_json::from_str(&cuerpo).unwrap_or_else(|e| panic!("GET {ruta}: {e}: {cuerpo}"))
    }

    /// `POST` that must answer 2xx; answers the JSON body.
    pub async fn post(&self, ruta: &str, token: &str, body: &Value) -> Value {
        let r = self
            .http
            .post(self.url(ruta))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {ruta}: {e}"));
        let estado = r.status();
        let cuerpo = r.text().await.unwrap_or_default();
        assert!(estado.is_success(), "POST {ruta} → {estado}: {cuerpo}");
        serde_json::from_str(&cuerpo).unwrap_or_else(|e| panic!("POST {ruta}: {e}: {cuerpo}"))
    }

    /// An alert from the desk, as `POST /api/alertas`; answers the row.
    pub async fn alertar(&self, token: &str, mensaje: &str, prioridad: &str) -> Value {
        self.post(
            "/api/alertas",
            token,
            &json!({"mensaje": mensaje, "prioridad": prioridad}),
        )
        .await
    }
}
