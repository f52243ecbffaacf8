//! A login that ends ends its sockets too: logout closes them with 4001, a
//! change to the account closes every socket of the user with 4003, and a
//! login that expires closes its sockets with 4001 when it does. Both are
//! audited as events that only the monitors see.

use std::time::Duration;

use comanda::auth::Token;
use comanda::modelo::Rol;
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::fixtures::Cadena;
use crate::helpers::{PASSWORD, en_ambos_stores, spawn_app, spawn_app_with};

/// The events of this `tipo` in the audit log, as `jefa` reads it.
async fn auditados(cadena: &Cadena, tipo: &str) -> Vec<Value> {
    let jefa = cadena.app.token("jefa").await;
    let r = cadena
        .app
        .get(&format!("/api/eventos?tipo={tipo}"), &jefa)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    body["items"].as_array().expect("items").clone()
}

en_ambos_stores! {
    async fn cerrar_sesion_cierra_su_socket_con_4001_y_no_los_demas(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let token = app.token("cocina1").await;
        let otro_token = app.token("cocina1").await;
        let mut socket = app.socket(&token).await;
        let mut otro = app.socket(&otro_token).await;
        otro.reanudar(otro.hola["ultimo_id"].as_i64().unwrap()).await;

        let r = app.client.post(app.url("/api/logout")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(socket.cierre().await, 4001);

        let id = cadena.alerta("bot1", cadena.s1, "sigue viva la otra").await;
        assert_eq!(otro.evento().await["id"], id, "el otro login sigue recibiendo");
    }

    async fn cambiar_el_rol_de_un_usuario_cierra_sus_sockets_con_4003(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let atencion = app.store.credenciales("atencion1").await.unwrap().unwrap().0;
        let mut socket = app.socket(&app.token("atencion1").await).await;
        let mut cocina = app.socket(&app.token("cocina1").await).await;

        let jefa = app.token("jefa").await;
        let r = app
            .patch(&format!("/api/usuarios/{}", atencion.id), &jefa, &json!({"rol": Rol::Cocina}))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(socket.cierre().await, 4003);
        cocina.ningun_evento_en(Duration::from_millis(200)).await;
    }

    async fn un_socket_se_cierra_con_4001_cuando_su_sesion_expira_y_no_recibe_nada_despues(backend) {
        let app = spawn_app_with(backend, |s| s.session_ttl = Duration::from_secs(2)).await;
        let cadena = Cadena::nueva(app).await;
        let app = &cadena.app;
        let r = app.login("cocina1", PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK);
        let sesion: Value = r.json().await.unwrap();
        let token = sesion["token"].as_str().unwrap();
        let expira = OffsetDateTime::parse(sesion["expira"].as_str().unwrap(), &Rfc3339).unwrap();
        let mut socket = app.socket(token).await;
        socket.reanudar(socket.hola["ultimo_id"].as_i64().unwrap()).await;
        socket.ping().await;

        // The login expires: the REST side says so first.
        let limite = std::time::Instant::now() + Duration::from_secs(10);
        while app.get("/api/me", token).await.status() == StatusCode::OK {
            assert!(std::time::Instant::now() < limite, "la sesión no expiró");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let id = cadena.alerta("bot1", cadena.s1, "después de expirar").await;

        let codigo = loop {
            match socket.siguiente_o_cierre(Duration::from_secs(10)).await {
                Ok(v) if v["type"] == "evento" => {
                    panic!("el socket recibió el evento {id} tras expirar su sesión: {v}")
                }
                Ok(_) => continue,
                Err(codigo) => break codigo,
            }
        };
        assert_eq!(codigo, 4001);
        // At its expiry, not at some later timeout of the socket's.
        let tarde = OffsetDateTime::now_utc() - expira;
        assert!(tarde < time::Duration::seconds(3), "se cerró {tarde} después de expirar");
    }

    async fn los_cierres_de_sesion_y_los_cambios_de_cuenta_se_auditan_sin_secretos_y_solo_los_ven_los_monitores(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let mut monitor = app.socket(&app.token("admin1").await).await;
        monitor.reanudar(monitor.hola["ultimo_id"].as_i64().unwrap()).await;
        let mut cocina = app.socket(&app.token("cocina1").await).await;
        cocina.reanudar(cocina.hola["ultimo_id"].as_i64().unwrap()).await;
        let atencion = app.store.credenciales("atencion1").await.unwrap().unwrap().0;

        let token = app.token("atencion1").await;
        let r = app.post("/api/logout", &token, &json!({})).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let jefa = app.token("jefa").await;
        let cambio = json!({"password": "otra-contraseña-1", "nombre": "Ana"});
        let r = app.patch(&format!("/api/usuarios/{}", atencion.id), &jefa, &cambio).await;
        assert_eq!(r.status(), StatusCode::OK);

        let vistos = monitor.eventos(2).await;
        assert_eq!(vistos[0]["tipo"], "sesion_cerrada");
        assert_eq!(vistos[1]["tipo"], "usuario_actualizado");
        for v in &vistos {
            assert_eq!(v["sucursal_id"], cadena.s1.0);
            assert_eq!(v["entidad"], json!({"tipo": "USUARIO", "id": atencion.id.0}));
        }
        cocina.ningun_evento_en(Duration::from_millis(200)).await;

        let cerradas = auditados(&cadena, "sesion_cerrada").await;
        assert_eq!(cerradas.len(), 1, "{cerradas:?}");
        let payload = &cerradas[0]["payload"];
        assert_eq!(payload["usuario_id"], atencion.id.0);
        assert_eq!(payload["motivo"], "logout");
        let huella = payload["sesion"].as_str().expect("sesion");
        assert_eq!(huella, Token::parse(&token).unwrap().hash().huella().as_str());
        let hash = Token::parse(&token).unwrap().hash();
        let texto = cerradas[0].to_string();
        assert!(!texto.contains(&token) && !texto.contains(hash.as_str()), "{texto}");

        let cambios = auditados(&cadena, "usuario_actualizado").await;
        assert_eq!(cambios.len(), 1, "{cambios:?}");
        assert_eq!(
            cambios[0]["payload"],
            json!({"usuario_id": atencion.id.0, "cambios": ["nombre", "password"], "sesiones_revocadas": true})
        );
        assert!(!cambios[0].to_string().contains("otra-contraseña-1"));
    }
}
