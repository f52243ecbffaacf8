//! One headless Chromium, and what a test does with it: log in through the
//! form, wait for DOM states with a deadline, read lists by the contract's
//! selectors, take screenshots.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde::Deserialize;
use serde_json::{Value, json};

use super::chromedriver::{CHROMIUM, chromedriver};
use super::servidor::DEMO_PASSWORD;

/// fantoccini reaches chromedriver through hyper-rustls, and rustls needs one
/// process-wide crypto provider; this build links two (sqlx brings `ring`,
/// hyper-rustls `aws-lc-rs`), so the tests choose `ring` before the first client.
fn elegir_proveedor_tls() {
    // Err only means another test already installed it.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// How often the waits look at the page.
const CADA: Duration = Duration::from_millis(20);
/// The default deadline for a DOM state that needs a round trip or two.
pub const PLAZO: Duration = Duration::from_secs(5);

pub struct Navegador {
    pub cliente: Client,
    /// Who this browser is, for the failure messages ("cocina1").
    pub quien: String,
    origen: String,
    prueba: &'static str,
}

/// One element of a list, as the page shows it.
#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    /// `data-id`, if any.
    pub id: Option<String>,
    /// Every `data-*` attribute, by its `dataset` name (`data-leida-por` → `leidaPor`).
    pub datos: BTreeMap<String, String>,
    /// `textContent`, whitespace collapsed.
    pub texto: String,
    pub visible: bool,
}

impl Item {
    pub fn dato(&self, nombre: &str) -> Option<&str> {
        self.datos.get(nombre).map(String::as_str)
    }
}

impl Navegador {
    pub(super) async fn abrir(
        prueba: &'static str,
        quien: &str,
        origen: &str,
        perfil: &std::path::Path,
    ) -> Navegador {
        let mut capacidades = fantoccini::wd::Capabilities::new();
        capacidades.insert("browserName".into(), json!("chrome"));
        capacidades.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--autoplay-policy=no-user-gesture-required",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", perfil.display()),
                ],
            }),
        );
        // The page's console, for the failure messages.
        capacidades.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        // A confirm() is answered like a person who meant the click.
        capacidades.insert("unhandledPromptBehavior".into(), json!("accept"));
        let driver = &chromedriver().url;
        elegir_proveedor_tls();
        let mut constructor = ClientBuilder::rustls().expect("rustls sin certificados raíz");
        let cliente = constructor
            .capabilities(capacidades)
            .connect(driver)
            .await
            .unwrap_or_else(|e| panic!("chromedriver ({driver}) no abre Chromium: {e}"));
        Navegador {
            cliente,
            quien: quien.to_owned(),
            origen: origen.to_owned(),
            prueba,
        }
    }

    pub async fn ir(&self, ruta: &str) {
        let url = format!("{}{}", self.origen, ruta);
        self.cliente
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("[{}] no abre {url}: {e}", self.quien));
    }

    /// The path of the page shown (`/cocina.html`).
    pub async fn ruta(&self) -> String {
        self.cliente
            .current_url()
            .await
            .map(|u| u.path().to_owned())
            .unwrap_or_default()
    }

    /// Opens `/`, logs in through `#login` like a person, and waits until the
    /// role's page is shown and its socket is `en-linea`.
    pub async fn entrar(&self, usuario: &str, pagina: &str) {
        self.ir("/").await;
        self.llenar_login(usuario, DEMO_PASSWORD).await;
        self.esperar(PLAZO, &format!("ir a {pagina} tras entrar"), async || {
            (self.ruta().await == pagina).then_some(())
        })
        .await;
        self.esperar_en_linea().await;
    }

    /// Fills `#login` and presses its submit button.
    pub async fn llenar_login(&self, usuario: &str, password: &str) {
        let form = self.esperar_css("form#login", PLAZO).await;
        self.esperar(PLAZO, "se ve el formulario #login", async || {
            let usuario = self.item("form#login input[name=usuario]").await?;
            usuario.visible.then_some(())
        })
        .await;
        for (nombre, valor) in [("usuario", usuario), ("password", password)] {
            let campo = form
                .find(Locator::Css(&format!("input[name={nombre}]")))
                .await
                .unwrap_or_else(|e| panic!("#login sin input[name={nombre}]: {e}"));
            campo.clear().await.unwrap();
            campo.send_keys(valor).await.unwrap();
        }
        self.boton_de_envio("#login").await.click().await.unwrap();
    }

    /// The submit button of a form (`button` with no type, `[type=submit]`).
    pub async fn boton_de_envio(&self, form: &str) -> Element {
        self.cliente
            .find(Locator::Css(&format!(
                "{form} button[type=submit], {form} button:not([type]), {form} input[type=submit]"
            )))
            .await
            .unwrap_or_else(|e| panic!("[{}] {form} no tiene botón de envío: {e}", self.quien))
    }

    /// Waits for `#conexion[data-estado="en-linea"]`.
    pub async fn esperar_en_linea(&self) {
        self.esperar_css(r#"#conexion[data-estado="en-linea"]"#, PLAZO)
            .await;
    }

    /// Waits until `css` matches an element.
    pub async fn esperar_css(&self, css: &str, plazo: Duration) -> Element {
        match self
            .cliente
            .wait()
            .at_most(plazo)
            .every(CADA)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => {
                self.fallar(&format!("no aparece {css} en {plazo:?} ({e})"))
                    .await
            }
        }
    }

    /// Polls `condicion` until it answers `Some`, or fails the test with what
    /// the page shows after `plazo`.
    pub async fn esperar<T>(
        &self,
        plazo: Duration,
        que: &str,
        mut condicion: impl AsyncFnMut() -> Option<T>,
    ) -> T {
        let limite = Instant::now() + plazo;
        loop {
            if let Some(valor) = condicion().await {
                return valor;
            }
            if Instant::now() > limite {
                self.fallar(&format!("en {plazo:?} no se cumplió: {que}"))
                    .await
            }
            actix_web::rt::time::sleep(CADA).await;
        }
    }

    /// Every element matching `css`, in document order.
    pub async fn items(&self, css: &str) -> Vec<Item> {
        const LEER: &str = r#"
            return Array.from(document.querySelectorAll(arguments[0])).map(e => ({
                id: e.dataset.id ?? null,
                datos: Object.assign({}, e.dataset),
                texto: (e.textContent ?? "").replace(/\s+/g, " ").trim(),
                visible: !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length),
            }));
        "#;
        let valor = self
            .cliente
            .execute(LEER, vec![json!(css)])
            .await
            .unwrap_or_else(|e| panic!("[{}] no se puede leer {css}: {e}", self.quien));
        serde_json::from_value(valor).expect("lista de items")
    }

    /// The single element matching `css`, read as an [`Item`], if there is one.
    pub async fn item(&self, css: &str) -> Option<Item> {
        self.items(css).await.into_iter().next()
    }

    /// The `value` of a form field.
    pub async fn valor(&self, css: &str) -> Option<String> {
        self.cliente
            .execute(
                "const e = document.querySelector(arguments[0]); return e ? String(e.value) : null;",
                vec![json!(css)],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
    }

    /// An attribute of the first element matching `css`.
    pub async fn atributo(&self, css: &str, nombre: &str) -> Option<String> {
        let e = self.cliente.find(Locator::Css(css)).await.ok()?;
        e.attr(nombre).await.ok().flatten()
    }

    /// The box and colours of the first element matching `css`, as the page
    /// draws them: `{ancho, alto, ancho_ventana, fondos, color}` where
    /// `fondos` are the `[r,g,b,a]` of its background colour (if not
    /// transparent) and of every colour stop of its background image.
    pub async fn caja(&self, css: &str) -> Option<Value> {
        const CAJA: &str = r#"
            const e = document.querySelector(arguments[0]);
            if (!e) return null;
            const r = e.getBoundingClientRect();
            const s = getComputedStyle(e);
            const colores = (texto) => (texto.match(/rgba?\([^)]*\)/g) || [])
                .map((c) => (c.match(/[\d.]+/g) || []).map(Number).concat([1]).slice(0, 4));
            const fondos = colores(s.backgroundColor).filter((c) => c[3] > 0)
                .concat(colores(s.backgroundImage));
            return {ancho: r.width, alto: r.height, ancho_ventana: document.documentElement.clientWidth,
                    fondos, color: colores(s.color)[0]};
        "#;
        self.cliente
            .execute(CAJA, vec![json!(css)])
            .await
            .ok()
            .filter(|v| !v.is_null())
    }

    pub async fn clic(&self, css: &str) {
        let e = self.esperar_css(css, PLAZO).await;
        if let Err(err) = e.click().await {
            self.fallar(&format!("no se puede hacer clic en {css}: {err}"))
                .await
        }
    }

    /// Clears a field and types `texto` into it.
    pub async fn escribir(&self, css: &str, texto: &str) {
        let e = self.esperar_css(css, PLAZO).await;
        e.clear().await.unwrap();
        if let Err(err) = e.send_keys(texto).await {
            self.fallar(&format!("no se puede escribir en {css}: {err}"))
                .await
        }
    }

    pub async fn elegir(&self, css_select: &str, valor: &str) {
        let e = self.esperar_css(css_select, PLAZO).await;
        if let Err(err) = e.select_by_value(valor).await {
            self.fallar(&format!("{css_select} no tiene la opción {valor:?}: {err}"))
                .await
        }
    }

    /// Saves a screenshot of the page as `{nombre}.png` under
    /// `target/tmp/capturas/`, or under `COMANDA_CAPTURAS` when set (the
    /// README's pictures: `COMANDA_CAPTURAS=docs/capturas cargo test --test navegador`).
    pub async fn captura(&self, nombre: &str) {
        let png = self.cliente.screenshot().await.expect("captura");
        let dir = match std::env::var_os("COMANDA_CAPTURAS") {
            Some(dir) => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir),
            None => PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("capturas"),
        };
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{nombre}.png")), png).unwrap();
    }

    /// The page's console since the last call.
    pub async fn consola(&self) -> Vec<String> {
        consola(&self.cliente).await
    }

    /// Fails the test saying what the page shows: where it is, its banner,
    /// its text and console; the screenshot goes to `target/tmp/navegador/`.
    pub async fn fallar(&self, motivo: &str) -> ! {
        let ruta = self
            .cliente
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_else(|e| format!("({e})"));
        let conexion = self
            .cliente
            .execute(
                "const c = document.getElementById('conexion'); \
                 return c ? c.outerHTML : '(sin #conexion)';",
                vec![],
            )
            .await
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        let mut texto = self
            .cliente
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        if texto.chars().count() > 1500 {
            texto = texto.chars().take(1500).collect::<String>() + "…";
        }
        let consola = self.consola().await.join("\n  ");
        let captura =
            super::dir_de_diagnostico().join(format!("{}-{}.png", self.prueba, self.quien));
        if let Ok(png) = self.cliente.screenshot().await {
            let _ = std::fs::write(&captura, png);
        }
        panic!(
            "[{quien}] {motivo}\n  página: {ruta}\n  {conexion}\n  texto:\n{texto}\n  consola:\n  {consola}\n  captura: {}",
            captura.display(),
            quien = self.quien,
        )
    }
}

/// A browser's console since the last call: chromedriver's
/// `POST /session/{id}/se/log {"type":"browser"}`.
pub async fn consola(cliente: &Client) -> Vec<String> {
    let sesion = match cliente.session_id().await {
        Ok(Some(s)) => s,
        _ => return vec!["(sin sesión)".into()],
    };
    let url = format!("{}/session/{sesion}/se/log", chromedriver().url);
    let respuesta = async {
        reqwest::Client::new()
            .post(&url)
            .json(&json!({"type": "browser"}))
            .send()
            .await?
            .json::<Value>()
            .await
    };
    match respuesta.await {
        Ok(v) => match v["value"].as_array() {
            Some(entradas) => entradas
                .iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e["level"].as_str().unwrap_or("?"),
                        e["message"].as_str().unwrap_or("")
                    )
                })
                .collect(),
            None => vec![format!("(log inesperado: {v})")],
        },
        Err(e) => vec![format!("(sin log del navegador: {e})")],
    }
}
