//! A login that ends ends its sockets too: logout closes them with 4001, a
//! change to the account closes every socket of the user with 4003.

use std::time::Duration;

use comanda::modelo::Rol;
use serde_json::json;

use crate::helpers::{en_ambos_stores, spawn_app};
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
}
