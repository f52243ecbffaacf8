//! The harness. A test is
//!
//! ```ignore
//! #[actix_web::test]
//! async fn algo_se_ve() {
//!     correr("algo_se_ve", async |escena| {
//!         let servidor = escena.servidor().await;
//!         let cocina = escena.navegador(&servidor, "cocina1").await;
//!         cocina.entrar("cocina1", "/cocina.html").await;
//!         …
//!     })
//!     .await;
//! }
//! ```
//!
//! [`correr`] takes the binary's turn (browser tests run one at a time: they
//! measure latencies, and a few Chromiums already fill a small machine), runs
//! the body, and whatever happened — a panic included — closes every browser
//! the body opened, stops every server and removes their folders before the
//! next test starts.

pub mod chromedriver;
pub mod navegador;
#[path = "../../comun/reglas.rs"]
pub mod reglas;
pub mod servidor;

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fantoccini::Client;
use futures_util::FutureExt;

pub use navegador::{Navegador, PLAZO};
pub use servidor::Servidor;

/// `target/tmp/navegador/`: chromedriver's log and the failures' screenshots.
pub fn dir_de_diagnostico() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("navegador");
    std::fs::create_dir_all(&dir).expect("target/tmp/navegador");
    dir
}

/// What a test opened, to be closed after it, in this order.
#[derive(Default)]
struct Registro {
    navegadores: RefCell<Vec<(Client, tempfile::TempDir)>>,
    servidores: RefCell<Vec<Rc<RefCell<Option<servidor::EnMarcha>>>>>,
    carpetas: RefCell<Vec<servidor::Carpetas>>,
}

pub struct Escena {
    pub prueba: &'static str,
    registro: Rc<Registro>,
}

impl Escena {
    /// A fresh comanda with the demo accounts.
    pub async fn servidor(&self) -> Servidor {
        let (servidor, carpetas) = Servidor::arrancar().await;
        self.registro
            .servidores
            .borrow_mut()
            .push(servidor.en_marcha.clone());
        self.registro.carpetas.borrow_mut().push(carpetas);
        servidor
    }

    /// A new Chromium with a profile of its own, not logged in yet. `quien`
    /// names it in failure messages.
    pub async fn navegador(&self, servidor: &Servidor, quien: &str) -> Navegador {
        let perfil = tempfile::Builder::new()
            .prefix("comanda-chromium-")
            .tempdir()
            .expect("carpeta de perfil");
        let nav = Navegador::abrir(self.prueba, quien, &servidor.origen, perfil.path()).await;
        self.registro
            .navegadores
            .borrow_mut()
            .push((nav.cliente.clone(), perfil));
        nav
    }
}

/// Runs one browser test in the binary's turn and cleans up after it.
pub async fn correr(prueba: &'static str, cuerpo: impl AsyncFnOnce(Escena)) {
    let _turno = Turno::tomar();
    let inicio = Instant::now();
    let registro = Rc::new(Registro::default());
    let escena = Escena {
        prueba,
        registro: registro.clone(),
    };
    let mut resultado = AssertUnwindSafe(cuerpo(escena)).catch_unwind().await;
    if resultado.is_ok() {
        resultado = AssertUnwindSafe(sin_errores_en_consola(&registro))
            .catch_unwind()
            .await;
    }

    let navegadores: Vec<_> = registro.navegadores.borrow_mut().drain(..).collect();
    for (cliente, perfil) in navegadores {
        let _ = actix_web::rt::time::timeout(Duration::from_secs(10), cliente.close()).await;
        drop(perfil);
    }
    let servidores: Vec<_> = registro.servidores.borrow_mut().drain(..).collect();
    for en_marcha in servidores {
        let en_marcha = en_marcha.borrow_mut().take();
        if let Some(en_marcha) = en_marcha
            && !en_marcha.parar().await
        {
            eprintln!("{prueba}: un servidor no terminó 15 s después de pararlo");
        }
    }
    registro.carpetas.borrow_mut().clear();
    eprintln!("{prueba}: {:.1?}", inicio.elapsed());

    if let Err(panico) = resultado {
        std::panic::resume_unwind(panico);
    }
}

/// The contract forbids inline scripts and styles (the server's CSP blocks
/// them) and a page must not throw: any CSP violation or uncaught error in a
/// browser's console fails the test that passed otherwise.
async fn sin_errores_en_consola(registro: &Registro) {
    let clientes: Vec<Client> = registro
        .navegadores
        .borrow()
        .iter()
        .map(|(c, _)| c.clone())
        .collect();
    let mut errores = Vec::new();
    for cliente in &clientes {
        let pagina = cliente
            .current_url()
            .await
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        for linea in navegador::consola(cliente).await {
            if linea.contains("Content Security Policy") || linea.contains("Uncaught") {
                errores.push(format!("{pagina}: {linea}"));
            }
        }
    }
    assert!(
        errores.is_empty(),
        "errores en la consola de las páginas:\n  {}",
        errores.join("\n  ")
    );
}

/// One browser test at a time in this binary. Not a `MutexGuard` held across
/// `.await`s: a flag behind a condition variable.
struct Turno;

static OCUPADO: Mutex<bool> = Mutex::new(false);
static LIBERADO: Condvar = Condvar::new();

impl Turno {
    fn tomar() -> Turno {
        let mut ocupado = OCUPADO.lock().unwrap_or_else(PoisonError::into_inner);
        while *ocupado {
            ocupado = LIBERADO
                .wait(ocupado)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *ocupado = true;
        Turno
    }
}

impl Drop for Turno {
    fn drop(&mut self) {
        *OCUPADO.lock().unwrap_or_else(PoisonError::into_inner) = false;
        LIBERADO.notify_one();
    }
}
