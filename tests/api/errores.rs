//! Bad requests: each gets the right status in the `{"error":{…}}` shape, and
//! none of them hurts the server.

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, codigo_de_error, en_ambos_stores, spawn_app, superadmin};

/// A POST with a raw body and, if given, a content type.
async fn post_crudo(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut req = app.client.post(app.url(path)).body(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(ct) = content_type {
        req = req.header(CONTENT_TYPE, ct);
    }
    req.send().await.expect("the server answers")
}

/// The server still does real work: a login goes through.
async fn sigue_sirviendo(app: &TestApp) {
    let r = app.login("jefa", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK, "el servidor sigue atendiendo");
}

en_ambos_stores! {
    async fn cuerpos_que_no_son_un_usuario_valido_dan_400(backend) {
        let app = spawn_app(backend).await;
        let jefa = superadmin(&app).await;
        let json = Some("application/json");

        let casos: [(&str, String); 6] = [
            ("JSON mal formado", r#"{"usuario": "carla", "password":"#.into()),
            ("no es JSON", "usuario=carla".into()),
            ("faltan campos", json!({"usuario": "carla"}).to_string()),
            ("tipo equivocado", json!({"usuario": 5, "password": PASSWORD, "rol": "admin"}).to_string()),
            ("rol desconocido", json!({"usuario": "carla", "password": PASSWORD, "rol": "jefe"}).to_string()),
            (
                "campo desconocido",
                json!({"usuario": "carla", "password": PASSWORD, "rol": "admin", "es_admin": true}).to_string(),
            ),
        ];
        for (caso, cuerpo) in casos {
            let r = post_crudo(&app, "/api/usuarios", Some(&jefa), json, cuerpo).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{caso}");
            assert_eq!(codigo_de_error(r, StatusCode::BAD_REQUEST).await, "peticion_invalida", "{caso}");
        }
        assert!(app.store.credenciales("carla").await.unwrap().is_none());

        let r = post_crudo(&app, "/api/login", None, json, r#"{"usuario": "jefa""#).await;
        assert_eq!(codigo_de_error(r, StatusCode::BAD_REQUEST).await, "peticion_invalida");
        let r = post_crudo(&app, "/api/login", None, json, json!({"usuario": "jefa"}).to_string()).await;
        assert_eq!(codigo_de_error(r, StatusCode::BAD_REQUEST).await, "peticion_invalida");

        sigue_sirviendo(&app).await;
    }

    async fn un_cuerpo_de_un_mib_da_413(backend) {
        let app = spawn_app(backend).await;
        let jefa = superadmin(&app).await;
        let relleno = "x".repeat(1024 * 1024);
        let cuerpo = json!({"usuario": "jefa", "password": relleno}).to_string();
        assert!(cuerpo.len() > 1024 * 1024);

        let r = post_crudo(&app, "/api/login", None, Some("application/json"), cuerpo.clone()).await;
        assert_eq!(codigo_de_error(r, StatusCode::PAYLOAD_TOO_LARGE).await, "demasiado_grande");
        let r = post_crudo(&app, "/api/usuarios", Some(&jefa), Some("application/json"), cuerpo).await;
        assert_eq!(codigo_de_error(r, StatusCode::PAYLOAD_TOO_LARGE).await, "demasiado_grande");

        sigue_sirviendo(&app).await;
    }

    async fn un_cuerpo_que_no_es_application_json_da_415(backend) {
        let app = spawn_app(backend).await;
        let jefa = superadmin(&app).await;
        let cuerpo = json!({"usuario": "jefa", "password": PASSWORD}).to_string();

        let r = post_crudo(&app, "/api/login", None, None, cuerpo.clone()).await;
        assert_eq!(codigo_de_error(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await, "tipo_no_soportado");
        let r = post_crudo(&app, "/api/login", None, Some("text/plain"), cuerpo.clone()).await;
        assert_eq!(codigo_de_error(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await, "tipo_no_soportado");
        let r = post_crudo(
            &app,
            "/api/sucursales",
            Some(&jefa),
            Some("application/x-www-form-urlencoded"),
            "nombre=Norte",
        )
        .await;
        assert_eq!(codigo_de_error(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await, "tipo_no_soportado");
        assert!(app.store.sucursales(None).await.unwrap().is_empty());

        // The same body with the right type is accepted.
        let r = post_crudo(&app, "/api/login", None, Some("application/json; charset=utf-8"), cuerpo).await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    async fn una_ruta_desconocida_de_la_api_da_404(backend) {
        let app = spawn_app(backend).await;
        let jefa = superadmin(&app).await;

        let r = app.get("/api/no-existe", &jefa).await;
        assert_eq!(codigo_de_error(r, StatusCode::NOT_FOUND).await, "no_encontrado");
        let r = app.client.get(app.url("/api/no-existe")).send().await.unwrap();
        assert_eq!(codigo_de_error(r, StatusCode::NOT_FOUND).await, "no_encontrado");
        let r = app.post("/api/usuarios/1/borrar", &jefa, &json!({})).await;
        assert_eq!(codigo_de_error(r, StatusCode::NOT_FOUND).await, "no_encontrado");

        sigue_sirviendo(&app).await;
    }

    async fn paginas_api_y_errores_llevan_las_cabeceras_de_seguridad(backend) {
        let app = spawn_app(backend).await;
        let jefa = superadmin(&app).await;

        let respuestas = [
            ("/", app.client.get(app.url("/")).send().await.unwrap()),
            ("/cocina.html", app.client.get(app.url("/cocina.html")).send().await.unwrap()),
            ("/js/tiempo-real.js", app.client.get(app.url("/js/tiempo-real.js")).send().await.unwrap()),
            ("/api/me", app.get("/api/me", &jefa).await),
            ("/api/me sin sesión", app.client.get(app.url("/api/me")).send().await.unwrap()),
            ("/api/no-existe", app.get("/api/no-existe", &jefa).await),
        ];
        for (ruta, r) in respuestas {
            let h = r.headers();
            let csp = h
                .get("content-security-policy")
                .unwrap_or_else(|| panic!("{ruta}: sin Content-Security-Policy"))
                .to_str()
                .unwrap();
            for directiva in ["script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"] {
                assert!(csp.contains(directiva), "{ruta}: la CSP {csp:?} no dice {directiva:?}");
            }
            assert!(!csp.contains("unsafe-inline"), "{ruta}: la CSP permite script en línea");
            assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff", "{ruta}");
            assert_eq!(h.get("x-frame-options").unwrap(), "DENY", "{ruta}");
        }
    }

    async fn tras_una_racha_de_peticiones_malas_el_servidor_sigue_sirviendo(backend) {
        let app = spawn_app(backend).await;
        let jefa = superadmin(&app).await;
        let json = Some("application/json");
        let grande = json!({"nombre": "x".repeat(1024 * 1024)}).to_string();

        for _ in 0..3 {
            let r = post_crudo(&app, "/api/sucursales", Some(&jefa), json, "{").await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            let r = post_crudo(&app, "/api/sucursales", Some(&jefa), json, r#"{"nombre": 5}"#).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            let r = post_crudo(&app, "/api/sucursales", Some(&jefa), json, grande.clone()).await;
            assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
            let r = post_crudo(&app, "/api/sucursales", Some(&jefa), None, r#"{"nombre":"Norte"}"#).await;
            assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
            let r = app.get("/api/nada", &jefa).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND);
        }

        sigue_sirviendo(&app).await;
        let r = app.post("/api/sucursales", &jefa, &json!({"nombre": "Norte"})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
}
