//! A login that ends ends its sockets too: logout closes them with 4001, a
//! change to the account closes every socket of the user with 4003, and a
//! login that expires closes its sockets with 4001 when it does.

use std::time::Duration;

use comanda::modelo::Rol;
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::{PASSWORD, en_ambos_stores, spawn_app, spawn_app_with};
use crate::realtime::Cadena;

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
}
