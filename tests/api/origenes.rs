//! Cross-site request forgery: a write that the browser authenticates on its
//! own (the session cookie) counts only from one of comanda's origins, with
//! or without a body; a Bearer token is unaffected; a login from a foreign
//! page is refused.

use comanda::modelo::Rol;
use reqwest::header::{COOKIE, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, codigo_de_error, en_ambos_stores, spawn_app};

/// A desk, a kitchen, and one pending order with its voucher and an unread
/// alert: what a forged request would approve or hide.
struct Mostrador {
    atencion: String,
    cocina: String,
    pedido: i64,
    voucher: i64,
    alerta: i64,
}

impl Mostrador {
    async fn nuevo(app: &TestApp) -> Self {
        let s1 = app.crear_sucursal("Centro").await;
        app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;
        app.crear_usuario("coco", Rol::Cocina, Some(s1)).await;
        let atencion = app.token("ana").await;
        let cocina = app.token("coco").await;
        let creado = |r: reqwest::Response| async move {
            assert_eq!(r.status(), StatusCode::CREATED);
            r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
        };
        let pedido = creado(
            app.post(
                "/api/pedidos",
                &atencion,
                &json!({"cliente": "Rosa", "detalle": "1/4 pollo", "total": 25.5}),
            )
            .await,
        )
        .await;
        let voucher = creado(
            app.post(
                "/api/vouchers",
                &atencion,
                &json!({"monto": 25.5, "numero_operacion": "OP-1", "pedido_id": pedido}),
            )
            .await,
        )
        .await;
        let alerta = creado(
            app.post("/api/alertas", &atencion, &json!({"mensaje": "sin papas"}))
                .await,
        )
        .await;
        Mostrador {
            atencion,
            cocina,
            pedido,
            voucher,
            alerta,
        }
    }

    /// The three writes without a body a forged page aims at, each with the
    /// token of the role that may make it.
    fn escrituras(&self) -> [(String, &str); 3] {
        [
            // The order first: approving its voucher approves it too.
            (
                format!("/api/pedidos/{}/aprobar", self.pedido),
                &self.atencion,
            ),
            (
                format!("/api/vouchers/{}/aprobar", self.voucher),
                &self.atencion,
            ),
            (format!("/api/alertas/{}/leida", self.alerta), &self.cocina),
        ]
    }

    /// Nothing of the three was changed, by the API.
    async fn nada_cambio(&self, app: &TestApp) {
        let estado = |lista: Value, id: i64, campo: &str| {
            lista["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["id"] == id)
                .unwrap_or_else(|| panic!("{id} en {lista}"))[campo]
                .clone()
        };
        let vouchers: Value = app
            .get("/api/vouchers", &self.atencion)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(estado(vouchers, self.voucher, "estado"), "pendiente");
        let pedidos: Value = app
            .get("/api/pedidos", &self.atencion)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(estado(pedidos, self.pedido, "estado"), "PENDIENTE");
        let alertas: Value = app
            .get("/api/alertas", &self.cocina)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(estado(alertas, self.alerta, "leida"), false);
    }
}

/// A request carrying `token` as the session cookie, and `origen` if any.
async fn con_cookie(
    app: &TestApp,
    metodo: Method,
    ruta: &str,
    token: &str,
    origen: Option<&str>,
    cuerpo: Option<Value>,
) -> reqwest::Response {
    let mut req = app
        .client
        .request(metodo, app.url(ruta))
        .header(COOKIE, format!("comanda_sesion={token}"));
    if let Some(origen) = origen {
        req = req.header(ORIGIN, origen);
    }
    if let Some(cuerpo) = cuerpo {
        req = req.json(&cuerpo);
    }
    req.send().await.expect("the server answers")
}

/// Another port of the same host: same-site for the browser, so
/// `SameSite=Strict` lets the cookie go.
fn ajeno(app: &TestApp) -> String {
    format!("http://127.0.0.1:{}", app.port.wrapping_add(1))
}

en_ambos_stores! {
    async fn una_escritura_con_cookie_desde_otro_origen_o_sin_origen_da_403(backend) {
        let app = spawn_app(backend).await;
        let m = Mostrador::nuevo(&app).await;
        let ajeno = ajeno(&app);
        let localhost = format!("http://localhost:{}", app.port + 1);

        for origen in [Some(ajeno.as_str()), Some(localhost.as_str()), Some("null"), None] {
            for (ruta, token) in m.escrituras() {
                let r = con_cookie(&app, Method::POST, &ruta, token, origen, None).await;
                assert_eq!(
                    codigo_de_error(r, StatusCode::FORBIDDEN).await,
                    "origen_no_permitido",
                    "{ruta} desde {origen:?}"
                );
            }
            // With a body, and on the other methods, the same.
            let alerta = Some(json!({"mensaje": "falsa"}));
            let r = con_cookie(&app, Method::POST, "/api/alertas", &m.atencion, origen, alerta).await;
            assert_eq!(codigo_de_error(r, StatusCode::FORBIDDEN).await, "origen_no_permitido");
            let r = con_cookie(&app, Method::PATCH, "/api/usuarios/1", &m.atencion, origen, None).await;
            assert_eq!(codigo_de_error(r, StatusCode::FORBIDDEN).await, "origen_no_permitido");
            // Logging the desk out from another page is a write too.
            let r = con_cookie(&app, Method::POST, "/api/logout", &m.atencion, origen, None).await;
            assert_eq!(codigo_de_error(r, StatusCode::FORBIDDEN).await, "origen_no_permitido");
        }

        m.nada_cambio(&app).await;
        // Reading with the cookie needs no Origin (a page's own GETs have none).
        let r = con_cookie(&app, Method::GET, "/api/me", &m.atencion, None, None).await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    async fn una_escritura_con_cookie_desde_un_origen_permitido_pasa(backend) {
        let app = spawn_app(backend).await;
        let m = Mostrador::nuevo(&app).await;
        let propios = [app.address.clone(), format!("http://localhost:{}", app.port)];

        for ((ruta, token), origen) in m.escrituras().into_iter().zip(propios.iter().cycle()) {
            let r = con_cookie(&app, Method::POST, &ruta, token, Some(origen), None).await;
            assert_eq!(r.status(), StatusCode::OK, "{ruta} desde {origen}");
        }
        let r = con_cookie(&app, Method::POST, "/api/logout", &m.atencion, Some(&app.address), None).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }

    async fn una_escritura_con_bearer_no_necesita_origen(backend) {
        let app = spawn_app(backend).await;
        let m = Mostrador::nuevo(&app).await;

        for (ruta, token) in m.escrituras() {
            let r = app.post(&ruta, token, &json!({})).await;
            assert_eq!(r.status(), StatusCode::OK, "{ruta}");
        }
        // Authorization wins over a cookie sent alongside: not a cookie request.
        let r = app
            .client
            .post(app.url("/api/alertas"))
            .bearer_auth(&m.atencion)
            .header(COOKIE, format!("comanda_sesion={}", m.cocina))
            .header(ORIGIN, ajeno(&app))
            .json(&json!({"mensaje": "desde el bot"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }

    async fn un_login_desde_otro_origen_se_rechaza(backend) {
        let app = spawn_app(backend).await;
        let s1 = app.crear_sucursal("Centro").await;
        app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;
        let login = |origen: Option<String>| {
            let mut req = app
                .client
                .post(app.url("/api/login"))
                .json(&json!({"usuario": "ana", "password": PASSWORD}));
            if let Some(origen) = origen {
                req = req.header(ORIGIN, origen);
            }
            req.send()
        };

        let r = login(Some(ajeno(&app))).await.unwrap();
        assert!(r.headers().get("set-cookie").is_none(), "sin cookie");
        assert_eq!(codigo_de_error(r, StatusCode::FORBIDDEN).await, "origen_no_permitido");
        // The page's own login, and a script's (no Origin), go through.
        assert_eq!(login(Some(app.address.clone())).await.unwrap().status(), StatusCode::OK);
        assert_eq!(login(None).await.unwrap().status(), StatusCode::OK);
    }
}
