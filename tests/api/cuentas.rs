//! Accounts: logging in and out, sessions, the lockout after too many failed
//! logins, the pace and the cap of an account's logins, who may administer
//! users and sucursales, and what `POST`/`PATCH /api/usuarios` accept.

use comanda::auth::Token;
use comanda::modelo::{Rol, SucursalId};
use futures_util::future::join_all;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, RETRY_AFTER, SET_COOKIE};
use serde_json::{Value, json};
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration as StdDuration;
use time::{Duration, OffsetDateTime};

use crate::helpers::{
    PASSWORD, TestApp, codigo_de_error, en_ambos_stores, spawn_app, spawn_app_with, superadmin,
};

/// The `comanda_sesion` cookie a login answer sets, whole.
fn cookie_de_sesion(r: &reqwest::Response) -> String {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("comanda_sesion="))
        .expect("Set-Cookie: comanda_sesion")
        .to_owned()
}

/// A login that arrives with `X-Forwarded-For: {reenviado}`.
async fn login_desde(
    app: &TestApp,
    usuario: &str,
    password: &str,
    reenviado: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/login"))
        .header("X-Forwarded-For", reenviado)
        .json(&json!({"usuario": usuario, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn me_con_cookie(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/me"))
        .header(COOKIE, format!("comanda_sesion={token}"))
        .send()
        .await
        .unwrap()
}

/// A list answer: `{"ultimo_id":N,"items":[…]}`; answers the items.
fn items_de_lista(body: &Value) -> Vec<Value> {
    assert!(body["ultimo_id"].is_i64(), "ultimo_id numérico en {body}");
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "solo ultimo_id e items: {body}"
    );
    body["items"].as_array().expect("items").clone()
}

en_ambos_stores! {
    async fn la_password_correcta_da_un_token_que_sirve_por_bearer_y_por_cookie(backend) {
        let app = spawn_app(backend).await;
        let s1 = app.crear_sucursal("Centro").await;
        let ana = app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;

        let r = app.login("ana", PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK);
        let cookie = cookie_de_sesion(&r);
        let body: Value = r.json().await.unwrap();
        let token = body["token"].as_str().unwrap().to_owned();
        assert_eq!(body["usuario"]["id"], ana.id.0);
        assert_eq!(body["usuario"]["rol"], "atencion");
        assert_eq!(body["usuario"]["sucursal_id"], s1.0);
        assert_eq!(body["usuario"]["nombre"], "ana");
        let expira = OffsetDateTime::parse(
            body["expira"].as_str().expect("expira"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("expira en RFC 3339");
        assert!(expira > OffsetDateTime::now_utc());

        let atributos: Vec<&str> = cookie.split(';').map(str::trim).collect();
        assert_eq!(atributos[0], format!("comanda_sesion={token}"));
        assert!(atributos.contains(&"HttpOnly"), "{cookie}");
        assert!(atributos.contains(&"SameSite=Strict"), "{cookie}");
        assert!(atributos.contains(&"Path=/"), "{cookie}");

        let r = app.get("/api/me", &token).await;
        assert_eq!(r.status(), StatusCode::OK);
        let me: Value = r.json().await.unwrap();
        assert_eq!(me["id"], ana.id.0);
        assert_eq!(me["usuario"], "ana");

        let r = me_con_cookie(&app, &token).await;
        assert_eq!(r.status(), StatusCode::OK);
        let me: Value = r.json().await.unwrap();
        assert_eq!(me["id"], ana.id.0);
    }

    async fn password_incorrecta_usuario_desconocido_e_inactivo_dan_el_mismo_401(backend) {
        let app = spawn_app(backend).await;
        let jefa = superadmin(&app).await;
        let s1 = app.crear_sucursal("Centro").await;
        let bea = app.crear_usuario("bea", Rol::Cocina, Some(s1)).await;
        let token_de_bea = app.token("bea").await;

        let r = app
            .patch(&format!("/api/usuarios/{}", bea.id), &jefa, &json!({"activo": false}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["activo"], false);

        let mut cuerpos = Vec::new();
        for (usuario, password) in [
            ("bea", "otra-contraseña"),
            ("nadie", PASSWORD),
            ("bea", PASSWORD),
        ] {
            let r = app.login(usuario, password).await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{usuario}/{password}");
            assert!(r.headers().get(SET_COOKIE).is_none());
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["codigo"], "credenciales_invalidas");
            cuerpos.push(body);
        }
        assert_eq!(cuerpos[0], cuerpos[1]);
        assert_eq!(cuerpos[1], cuerpos[2]);

        // Deactivating also ended the session bea already had.
        let r = app.get("/api/me", &token_de_bea).await;
        assert_eq!(codigo_de_error(r, StatusCode::UNAUTHORIZED).await, "no_autenticado");
    }

    async fn un_token_expirado_da_401(backend) {
        let app = spawn_app(backend).await;
        let s1 = app.crear_sucursal("Centro").await;
        let ana = app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;
        let ahora = OffsetDateTime::now_utc();

        // A valid session made the same way: only the expiry tells them apart.
        let vigente = Token::generar();
        app.store
            .crear_sesion(vigente.hash().as_str(), ana.id, ahora - Duration::hours(3), ahora + Duration::hours(1))
            .await
            .unwrap();
        let vencido = Token::generar();
        app.store
            .crear_sesion(vencido.hash().as_str(), ana.id, ahora - Duration::hours(3), ahora - Duration::hours(1))
            .await
            .unwrap();
        // The expired row is really there: the 401 comes from its expiry, not its absence.
        let guardadas = app.store.sesiones_de(ana.id).await.unwrap();
        assert!(guardadas.iter().any(|h| h == vencido.hash().as_str()), "{guardadas:?}");

        let r = app.get("/api/me", vigente.as_str()).await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = app.get("/api/me", vencido.as_str()).await;
        assert_eq!(codigo_de_error(r, StatusCode::UNAUTHORIZED).await, "no_autenticado");
        let r = me_con_cookie(&app, vencido.as_str()).await;
        assert_eq!(codigo_de_error(r, StatusCode::UNAUTHORIZED).await, "no_autenticado");
    }

    async fn logout_invalida_el_token_y_solo_ese(backend) {
        let app = spawn_app(backend).await;
        let s1 = app.crear_sucursal("Centro").await;
        app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;
        let token = app.token("ana").await;
        let otro = app.token("ana").await;
        assert_ne!(token, otro);

        assert_eq!(app.get("/api/me", &token).await.status(), StatusCode::OK);
        let r = app.post("/api/logout", &token, &json!({})).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let borrada = cookie_de_sesion(&r);
        assert!(borrada.starts_with("comanda_sesion=;"), "{borrada}");
        assert!(borrada.contains("Max-Age=0"), "{borrada}");

        let r = app.get("/api/me", &token).await;
        assert_eq!(codigo_de_error(r, StatusCode::UNAUTHORIZED).await, "no_autenticado");
        let r = me_con_cookie(&app, &token).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = app.post("/api/logout", &token, &json!({})).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

        // The other session of the same user goes on.
        assert_eq!(app.get("/api/me", &otro).await.status(), StatusCode::OK);
    }

    async fn el_token_nunca_se_guarda_en_claro(backend) {
        let app = spawn_app(backend).await;
        let s1 = app.crear_sucursal("Centro").await;
        let ana = app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;
        let token = app.token("ana").await;

        let guardadas = app.store.sesiones_de(ana.id).await.unwrap();
        assert_eq!(guardadas.len(), 1);
        let hash = Token::parse(&token).unwrap().hash();
        assert_eq!(guardadas[0], hash.as_str());
        assert_eq!(hash.as_str().len(), 64);
        assert!(hash.as_str().bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(guardadas.iter().all(|g| !g.contains(&token)));
    }

    async fn sin_token_me_da_401(backend) {
        let app = spawn_app(backend).await;
        let r = app.client.get(app.url("/api/me")).send().await.unwrap();
        assert_eq!(codigo_de_error(r, StatusCode::UNAUTHORIZED).await, "no_autenticado");

        // A token that was never issued, well formed or not.
        let r = app.get("/api/me", Token::generar().as_str()).await;
        assert_eq!(codigo_de_error(r, StatusCode::UNAUTHORIZED).await, "no_autenticado");
        let r = app.get("/api/me", "basura").await;
        assert_eq!(codigo_de_error(r, StatusCode::UNAUTHORIZED).await, "no_autenticado");
    }

    async fn atencion_no_puede_administrar_usuarios_ni_sucursales(backend) {
        let app = spawn_app(backend).await;
        let s1 = app.crear_sucursal("Centro").await;
        let ana = app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;
        let token = app.token("ana").await;
        let usuarios_antes = app.store.usuarios().await.unwrap();

        let r = app.get("/api/usuarios", &token).await;
        assert_eq!(codigo_de_error(r, StatusCode::FORBIDDEN).await, "prohibido");

        let nuevo = json!({"usuario": "intrusa", "password": PASSWORD, "rol": "superadmin"});
        let r = app.post("/api/usuarios", &token, &nuevo).await;
        assert_eq!(codigo_de_error(r, StatusCode::FORBIDDEN).await, "prohibido");

        let r = app.post("/api/sucursales", &token, &json!({"nombre": "Pirata"})).await;
        assert_eq!(codigo_de_error(r, StatusCode::FORBIDDEN).await, "prohibido");

        let ascenso = json!({"rol": "admin"});
        let r = app.patch(&format!("/api/usuarios/{}", ana.id), &token, &ascenso).await;
        assert_eq!(codigo_de_error(r, StatusCode::FORBIDDEN).await, "prohibido");

        // Nothing changed behind the 403s.
        assert_eq!(app.store.usuarios().await.unwrap(), usuarios_antes);
        assert_eq!(app.store.sucursales(None).await.unwrap().len(), 1);
    }

    async fn superadmin_administra_usuarios_y_sucursales_y_el_creado_puede_entrar(backend) {
        let app = spawn_app(backend).await;
        let jefa = superadmin(&app).await;

        let r = app.post("/api/sucursales", &jefa, &json!({"nombre": "  Norte  "})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let sucursal: Value = r.json().await.unwrap();
        assert_eq!(sucursal["nombre"], "Norte");
        assert_eq!(sucursal["activa"], true);
        let sucursal_id = sucursal["id"].as_i64().expect("id");

        let nuevo = json!({
            "usuario": "Carla", "nombre": "Carla Q.", "password": "cocina-norte-1",
            "rol": "cocina", "sucursal_id": sucursal_id
        });
        let r = app.post("/api/usuarios", &jefa, &nuevo).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let carla: Value = r.json().await.unwrap();
        assert_eq!(carla["usuario"], "carla");
        assert_eq!(carla["nombre"], "Carla Q.");
        assert_eq!(carla["rol"], "cocina");
        assert_eq!(carla["sucursal_id"], sucursal_id);
        assert_eq!(carla["activo"], true);
        assert!(carla.get("password_hash").is_none() && carla.get("password").is_none());
        let carla_id = carla["id"].as_i64().expect("id");

        let r = app.get("/api/usuarios", &jefa).await;
        assert_eq!(r.status(), StatusCode::OK);
        let lista: Value = r.json().await.unwrap();
        let items = items_de_lista(&lista);
        let logins: Vec<&str> = items.iter().map(|u| u["usuario"].as_str().unwrap()).collect();
        assert!(logins.contains(&"carla") && logins.contains(&"jefa"), "{logins:?}");
        assert!(items.iter().all(|u| u.get("password_hash").is_none()));

        let r = app
            .patch(&format!("/api/usuarios/{carla_id}"), &jefa, &json!({"nombre": "Carla Quispe"}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let cambiada: Value = r.json().await.unwrap();
        assert_eq!(cambiada["nombre"], "Carla Quispe");
        assert_eq!(cambiada["rol"], "cocina");

        let r = app.login("carla", "cocina-norte-1").await;
        assert_eq!(r.status(), StatusCode::OK);
        let sesion: Value = r.json().await.unwrap();
        assert_eq!(sesion["usuario"]["id"], carla_id);
        assert_eq!(sesion["usuario"]["nombre"], "Carla Quispe");
        assert_eq!(sesion["usuario"]["sucursal_id"], sucursal_id);
    }

    async fn cada_uno_ve_solo_las_sucursales_de_su_alcance(backend) {
        let app = spawn_app(backend).await;
        let s1 = app.crear_sucursal("Centro").await;
        let s2 = app.crear_sucursal("Norte").await;
        app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;
        let jefa = superadmin(&app).await;
        let ana = app.token("ana").await;

        let ids = |body: &Value| -> Vec<SucursalId> {
            items_de_lista(body)
                .iter()
                .map(|s| SucursalId(s["id"].as_i64().unwrap()))
                .collect()
        };

        let r = app.get("/api/sucursales", &ana).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(ids(&r.json().await.unwrap()), vec![s1]);

        let r = app.get("/api/sucursales", &jefa).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(ids(&r.json().await.unwrap()), vec![s1, s2]);
    }

    async fn cocina_sin_sucursal_da_400(backend) {
        let app = spawn_app(backend).await;
        let jefa = superadmin(&app).await;
        let r = app
            .post("/api/usuarios", &jefa, &json!({"usuario": "carla", "password": PASSWORD, "rol": "cocina"}))
            .await;
        assert_eq!(codigo_de_error(r, StatusCode::BAD_REQUEST).await, "peticion_invalida");
        assert!(app.store.credenciales("carla").await.unwrap().is_none());
    }

    async fn una_sucursal_inexistente_da_404(backend) {
        let app = spawn_app(backend).await;
        let jefa = superadmin(&app).await;
        let cuerpo = json!({"usuario": "carla", "password": PASSWORD, "rol": "cocina", "sucursal_id": 999});
        let r = app.post("/api/usuarios", &jefa, &cuerpo).await;
        assert_eq!(codigo_de_error(r, StatusCode::NOT_FOUND).await, "no_encontrado");
        assert!(app.store.credenciales("carla").await.unwrap().is_none());
    }

    async fn un_usuario_duplicado_da_409(backend) {
        let app = spawn_app(backend).await;
        let jefa = superadmin(&app).await;
        let s1 = app.crear_sucursal("Centro").await;
        let cuerpo = json!({"usuario": "carla", "password": PASSWORD, "rol": "cocina", "sucursal_id": s1});
        assert_eq!(app.post("/api/usuarios", &jefa, &cuerpo).await.status(), StatusCode::CREATED);

        let r = app.post("/api/usuarios", &jefa, &cuerpo).await;
        assert_eq!(codigo_de_error(r, StatusCode::CONFLICT).await, "conflicto");
        // Login names are compared as they are stored: trimmed and lower case.
        let mayusculas = json!({"usuario": " CARLA ", "password": "otra-contraseña", "rol": "admin"});
        let r = app.post("/api/usuarios", &jefa, &mayusculas).await;
        assert_eq!(codigo_de_error(r, StatusCode::CONFLICT).await, "conflicto");

        // The first one keeps its password.
        assert_eq!(app.login("carla", PASSWORD).await.status(), StatusCode::OK);
    }

    async fn una_password_corta_da_400(backend) {
        let app = spawn_app(backend).await;
        let jefa = superadmin(&app).await;
        let cuerpo = json!({"usuario": "carla", "password": "corta", "rol": "admin"});
        let r = app.post("/api/usuarios", &jefa, &cuerpo).await;
        assert_eq!(codigo_de_error(r, StatusCode::BAD_REQUEST).await, "peticion_invalida");
        assert!(app.store.credenciales("carla").await.unwrap().is_none());
    }

    async fn cambiar_la_password_cierra_las_sesiones_de_ese_usuario(backend) {
        let app = spawn_app(backend).await;
        let jefa = superadmin(&app).await;
        let s1 = app.crear_sucursal("Centro").await;
        let ana = app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;
        let viejo = app.token("ana").await;

        let r = app
            .patch(&format!("/api/usuarios/{}", ana.id), &jefa, &json!({"password": "nueva-contraseña-1"}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);

        let r = app.get("/api/me", &viejo).await;
        assert_eq!(codigo_de_error(r, StatusCode::UNAUTHORIZED).await, "no_autenticado");
        assert!(app.store.sesiones_de(ana.id).await.unwrap().is_empty());
        let r = app.login("ana", PASSWORD).await;
        assert_eq!(codigo_de_error(r, StatusCode::UNAUTHORIZED).await, "credenciales_invalidas");
        let r = app.login("ana", "nueva-contraseña-1").await;
        assert_eq!(r.status(), StatusCode::OK);

        // The superadmin who made the change keeps its own session.
        assert_eq!(app.get("/api/me", &jefa).await.status(), StatusCode::OK);
    }

    async fn tras_los_fallos_de_un_usuario_ni_la_password_correcta_entra_y_el_429_dice_cuando_volver(backend) {
        let app = spawn_app_with(backend, |s| {
            s.login.fallos_por_usuario = 3;
            s.login.bloqueo = StdDuration::from_secs(3600);
        })
        .await;
        let s1 = app.crear_sucursal("Centro").await;
        let ana = app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;
        app.crear_usuario("bea", Rol::Cocina, Some(s1)).await;

        for _ in 0..3 {
            let r = app.login("ana", "no-es-la-buena").await;
            assert_eq!(codigo_de_error(r, StatusCode::UNAUTHORIZED).await, "credenciales_invalidas");
        }
        for password in [PASSWORD, "no-es-la-buena"] {
            let r = app.login(" ANA ", password).await;
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{password}");
            assert!(r.headers().get(SET_COOKIE).is_none());
            let espera: u64 = r.headers().get(RETRY_AFTER).expect("Retry-After")
                .to_str().unwrap().parse().expect("Retry-After en segundos");
            assert!((3500..=3600).contains(&espera), "Retry-After: {espera}");
            assert_eq!(codigo_de_error(r, StatusCode::TOO_MANY_REQUESTS).await, "demasiados_intentos");
        }
        assert!(app.store.sesiones_de(ana.id).await.unwrap().is_empty());

        // Another user from the same address is not affected.
        assert_eq!(app.login("bea", PASSWORD).await.status(), StatusCode::OK);
        // A name that does not exist locks the same way: the 429 tells nobody
        // which accounts exist.
        for _ in 0..3 {
            let r = app.login("nadie", "no-es-la-buena").await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        }
        let r = app.login("nadie", PASSWORD).await;
        assert_eq!(codigo_de_error(r, StatusCode::TOO_MANY_REQUESTS).await, "demasiados_intentos");
    }

    async fn un_login_correcto_borra_los_fallos_de_ese_usuario(backend) {
        let app = spawn_app_with(backend, |s| s.login.fallos_por_usuario = 3).await;
        let s1 = app.crear_sucursal("Centro").await;
        app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;

        for _ in 0..3 {
            for _ in 0..2 {
                assert_eq!(app.login("ana", "no-es-la-buena").await.status(), StatusCode::UNAUTHORIZED);
            }
            assert_eq!(app.login("ana", PASSWORD).await.status(), StatusCode::OK);
        }
        // Without a success in between, the third failure locks.
        for _ in 0..3 {
            assert_eq!(app.login("ana", "no-es-la-buena").await.status(), StatusCode::UNAUTHORIZED);
        }
        assert_eq!(app.login("ana", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
    }

    async fn tras_los_fallos_de_una_direccion_nadie_entra_desde_ella(backend) {
        let app = spawn_app_with(backend, |s| {
            s.login.fallos_por_usuario = 100;
            s.login.fallos_por_direccion = 4;
        })
        .await;
        let s1 = app.crear_sucursal("Centro").await;
        app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;
        app.crear_usuario("bea", Rol::Cocina, Some(s1)).await;

        // Successes do not count against an address: only failures do.
        for _ in 0..5 {
            assert_eq!(app.login("bea", PASSWORD).await.status(), StatusCode::OK);
        }
        for usuario in ["ana", "carla", "dora", "ana"] {
            assert_eq!(app.login(usuario, "no-es-la-buena").await.status(), StatusCode::UNAUTHORIZED);
        }
        let r = app.login("bea", PASSWORD).await;
        assert!(r.headers().get(RETRY_AFTER).is_some());
        assert_eq!(codigo_de_error(r, StatusCode::TOO_MANY_REQUESTS).await, "demasiados_intentos");
        // Without a trusted proxy, X-Forwarded-For is the client's word: ignored.
        let r = login_desde(&app, "bea", PASSWORD, "203.0.113.50").await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    }

    async fn detras_de_un_proxy_de_confianza_cuenta_la_direccion_que_el_proxy_anota(backend) {
        let app = spawn_app_with(backend, |s| {
            s.login.fallos_por_usuario = 100;
            s.login.fallos_por_direccion = 2;
            s.login.proxies_de_confianza = vec!["127.0.0.1".parse().unwrap()];
        })
        .await;
        let s1 = app.crear_sucursal("Centro").await;
        app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;

        for _ in 0..2 {
            let r = login_desde(&app, "ana", "no-es-la-buena", "203.0.113.7").await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        }
        let r = login_desde(&app, "ana", PASSWORD, "203.0.113.7").await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        // What the client wrote at the left does not hide what the proxy appended.
        let r = login_desde(&app, "ana", PASSWORD, "198.51.100.1, 203.0.113.7").await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        // Another client behind the same proxy logs in.
        let r = login_desde(&app, "ana", PASSWORD, "203.0.113.8").await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    async fn el_bloqueo_se_levanta_solo(backend) {
        let app = spawn_app_with(backend, |s| {
            s.login.fallos_por_usuario = 2;
            s.login.bloqueo = StdDuration::from_millis(1500);
        })
        .await;
        let s1 = app.crear_sucursal("Centro").await;
        app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;
        for _ in 0..2 {
            assert_eq!(app.login("ana", "no-es-la-buena").await.status(), StatusCode::UNAUTHORIZED);
        }
        let bloqueado_desde = std::time::Instant::now();
        let r = app.login("ana", PASSWORD).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let espera = r.headers()[RETRY_AFTER].to_str().unwrap().to_owned();
        assert!(espera == "1" || espera == "2", "Retry-After: {espera}");
        // Attempts while locked out are refused without counting: polling is harmless.
        let fin = bloqueado_desde + StdDuration::from_secs(10);
        loop {
            let r = app.login("ana", PASSWORD).await;
            if r.status() == StatusCode::OK {
                break;
            }
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
            assert!(std::time::Instant::now() < fin, "el bloqueo no se levantó");
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
        assert!(bloqueado_desde.elapsed() >= StdDuration::from_millis(1000));
    }

    async fn un_usuario_desconocido_cuesta_lo_mismo_que_una_password_incorrecta(backend) {
        let app = spawn_app_with(backend, |s| {
            s.login.fallos_por_usuario = 1000;
            s.login.fallos_por_direccion = 1000;
        })
        .await;
        let s1 = app.crear_sucursal("Centro").await;
        app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;

        // Interleaved, so that a busy machine slows both alike.
        let (mut conocido, mut desconocido) = (Vec::new(), Vec::new());
        for n in 0..9 {
            for (usuario, tiempos) in [("ana".to_owned(), &mut conocido), (format!("nadie{n}"), &mut desconocido)] {
                let t = std::time::Instant::now();
                let r = app.login(&usuario, "no-es-la-buena").await;
                tiempos.push(t.elapsed());
                assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            }
        }
        // The fastest of each: what a login costs when nothing else runs
        // (the other tests share the cores, and a median still moved 3×).
        let minimo = |v: &[StdDuration]| v.iter().copied().min().unwrap();
        let (conocido, desconocido) = (minimo(&conocido), minimo(&desconocido));
        // An argon2 verification is the bulk of both; without the decoy hash
        // an unknown user answers about ten times faster (20 ms against
        // 1.7 ms in a debug build, checked with the decoy removed).
        assert!(
            desconocido * 4 >= conocido && conocido * 4 >= desconocido,
            "usuario existente {conocido:?}, desconocido {desconocido:?}"
        );
    }

    async fn una_rafaga_de_logins_de_una_cuenta_deja_el_tope_de_sesiones_y_el_resto_espera(backend) {
        let app = spawn_app_with(backend, |s| {
            s.login.sesiones_por_cuenta = NonZeroUsize::new(3).unwrap();
            s.login.exitos_rafaga = NonZeroU32::new(5).unwrap();
            s.login.exitos_por_minuto = NonZeroU32::new(1).unwrap();
        })
        .await;
        let s1 = app.crear_sucursal("Centro").await;
        let cocina = app.crear_usuario("cocina", Rol::Cocina, Some(s1)).await;
        app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;
        let primero = app.token("cocina").await;
        let mut socket = app.socket(&primero).await;

        // 200 logins of the account in all, the last 199 at once.
        let respuestas = join_all((0..199).map(|_| app.login("cocina", PASSWORD))).await;
        let mut entraron = 0;
        for r in respuestas {
            if r.status() == StatusCode::OK {
                entraron += 1;
                continue;
            }
            let espera: u64 = r.headers().get(RETRY_AFTER).expect("Retry-After")
                .to_str().unwrap().parse().expect("Retry-After en segundos");
            assert!((1..=60).contains(&espera), "Retry-After: {espera}");
            assert!(r.headers().get(SET_COOKIE).is_none());
            assert_eq!(codigo_de_error(r, StatusCode::TOO_MANY_REQUESTS).await, "demasiados_inicios");
        }
        assert_eq!(entraron, 4, "the burst is 5 logins, the first one included");

        let filas = app.store.sesiones_de(cocina.id).await.unwrap();
        assert_eq!(filas.len(), 3, "{filas:?}");
        let hash_del_primero = Token::parse(&primero).unwrap().hash();
        assert!(!filas.iter().any(|h| h == hash_del_primero.as_str()), "the oldest one ended");
        assert_eq!(socket.cierre().await, 4001);
        let r = app.get("/api/me", &primero).await;
        assert_eq!(codigo_de_error(r, StatusCode::UNAUTHORIZED).await, "no_autenticado");

        // Another account logs in as ever.
        assert_eq!(app.login("ana", PASSWORD).await.status(), StatusCode::OK);
    }

    async fn los_logins_fallidos_no_gastan_los_de_la_cuenta(backend) {
        let app = spawn_app_with(backend, |s| {
            s.login.exitos_rafaga = NonZeroU32::new(2).unwrap();
            s.login.exitos_por_minuto = NonZeroU32::new(1).unwrap();
            s.login.fallos_por_usuario = 100;
        })
        .await;
        let s1 = app.crear_sucursal("Centro").await;
        app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;
        for _ in 0..5 {
            let r = app.login("ana", "no-es-la-buena").await;
            assert_eq!(codigo_de_error(r, StatusCode::UNAUTHORIZED).await, "credenciales_invalidas");
        }
        for _ in 0..2 {
            assert_eq!(app.login("ana", PASSWORD).await.status(), StatusCode::OK);
        }
        // Past the burst, even a wrong password gets the 429: it is not verified.
        for password in [PASSWORD, "no-es-la-buena"] {
            let r = app.login("ana", password).await;
            assert_eq!(codigo_de_error(r, StatusCode::TOO_MANY_REQUESTS).await, "demasiados_inicios", "{password}");
        }
    }

    async fn logins_que_cierran_sesiones_mientras_la_cuenta_publica_no_se_traban(backend) {
        let app = spawn_app_with(backend, |s| {
            s.login.sesiones_por_cuenta = NonZeroUsize::new(2).unwrap();
            s.login.exitos_rafaga = NonZeroU32::new(1000).unwrap();
            s.realtime.servicio_rafaga = NonZeroU32::new(1000).unwrap();
        })
        .await;
        let s1 = app.crear_sucursal("Centro").await;
        let bot = app.crear_usuario("bot", Rol::Servicio, Some(s1)).await;
        // The newest login of the account, so that no other one ends it.
        let publica = Token::generar();
        let ahora = OffsetDateTime::now_utc();
        app.store
            .crear_sesion(publica.hash().as_str(), bot.id, ahora + Duration::days(1), ahora + Duration::days(2))
            .await
            .unwrap();

        // Each login past the cap publishes a sesion_cerrada of the account
        // in its transaction, as each publication of the account does.
        const VECES: usize = 40;
        let logins = join_all((0..VECES).map(|_| app.login("bot", PASSWORD)));
        let (app, publica) = (&app, publica.as_str());
        let publicaciones = join_all((0..VECES).map(|n| async move {
            let evento = json!({"tipo": "aviso", "mensaje": format!("aviso {n}")});
            app.post("/api/eventos", publica, &evento).await
        }));
        let (logins, publicaciones) = tokio::time::timeout(
            StdDuration::from_secs(20),
            futures_util::future::join(logins, publicaciones),
        )
        .await
        .expect("logins and publications of one account at once all finish");
        assert!(logins.iter().all(|r| r.status() == StatusCode::OK));
        assert!(publicaciones.iter().all(|r| r.status() == StatusCode::CREATED));
        assert_eq!(app.store.sesiones_de(bot.id).await.unwrap().len(), 2);
    }

    async fn ninguna_respuesta_sobre_usuarios_lleva_un_hash_de_password(backend) {
        let app = spawn_app(backend).await;
        let jefa = superadmin(&app).await;
        let s1 = app.crear_sucursal("Centro").await;

        let mut respuestas = Vec::new();
        let nuevo = json!({"usuario": "carla", "password": PASSWORD, "rol": "cocina", "sucursal_id": s1});
        let r = app.post("/api/usuarios", &jefa, &nuevo).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let carla: Value = r.json().await.unwrap();
        respuestas.push(carla.to_string());
        let cambio = json!({"password": "otra-contraseña-1", "nombre": "Carla Q."});
        let r = app.patch(&format!("/api/usuarios/{}", carla["id"]), &jefa, &cambio).await;
        assert_eq!(r.status(), StatusCode::OK);
        respuestas.push(r.text().await.unwrap());
        let r = app.get("/api/usuarios", &jefa).await;
        assert_eq!(r.status(), StatusCode::OK);
        respuestas.push(r.text().await.unwrap());
        let r = app.login("carla", "otra-contraseña-1").await;
        assert_eq!(r.status(), StatusCode::OK);
        let sesion: Value = r.json().await.unwrap();
        respuestas.push(sesion.to_string());
        let r = app.get("/api/me", sesion["token"].as_str().unwrap()).await;
        respuestas.push(r.text().await.unwrap());

        // The hashes are really there, in the store.
        let (_, hash) = app.store.credenciales("carla").await.unwrap().unwrap();
        assert!(hash.starts_with("$argon2id$"));
        for respuesta in &respuestas {
            assert!(respuesta.contains("carla"), "{respuesta}");
            assert!(!respuesta.contains("$argon2") && !respuesta.contains("password"), "{respuesta}");
        }
    }
}
