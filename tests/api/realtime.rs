//! The realtime core over real sockets: routing by sucursal and role, auth,
//! resume without loss, slow consumers, bad frames, heartbeat, shutdown.

use comanda::modelo::{Rol, SucursalId};
use serde_json::json;

use crate::helpers::{TestApp, en_ambos_stores, spawn_app};

/// Two sucursales with a desk, a kitchen and an admin each, a superadmin and
/// a WhatsApp bot per sucursal.
pub struct Cadena {
    pub app: TestApp,
    pub s1: SucursalId,
    pub s2: SucursalId,
}

impl Cadena {
    pub async fn nueva(app: TestApp) -> Self {
        let s1 = app.crear_sucursal("Centro").await;
        let s2 = app.crear_sucursal("Norte").await;
        for (n, s) in [(1, s1), (2, s2)] {
            app.crear_usuario(&format!("atencion{n}"), Rol::Atencion, Some(s)).await;
            app.crear_usuario(&format!("cocina{n}"), Rol::Cocina, Some(s)).await;
            app.crear_usuario(&format!("admin{n}"), Rol::Admin, Some(s)).await;
            app.crear_usuario(&format!("bot{n}"), Rol::Servicio, Some(s)).await;
        }
        app.crear_usuario("jefa", Rol::Superadmin, None).await;
        Cadena { app, s1, s2 }
    }

    /// Publishes a seed-style kitchen alert as the sucursal's bot; answers its id.
    pub async fn alerta(&self, bot: &str, sucursal: SucursalId, mensaje: &str) -> i64 {
        let token = self.app.token(bot).await;
        let r = self
            .app
            .post(
                "/api/eventos",
                &token,
                &json!({"tipo":"alerta_cocina","alerta_id":1,"mensaje":mensaje,
                        "prioridad":"alta","sucursal_id":sucursal.0}),
            )
            .await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        let v: serde_json::Value = r.json().await.unwrap();
        v["id"].as_i64().unwrap()
    }
}

en_ambos_stores! {
    async fn cocina_de_la_sucursal_recibe_su_alerta(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let mut cocina1 = app.socket(&app.token("cocina1").await).await;
        assert_eq!(cocina1.hola["usuario"]["rol"], "cocina");
        assert_eq!(cocina1.hola["sucursal_id"], cadena.s1.0);
        let id = cadena.alerta("bot1", cadena.s1, "Pedido 50 urgente").await;
        let e = cocina1.evento().await;
        assert_eq!(e["id"], id);
        assert_eq!(e["tipo"], "alerta_cocina");
        assert_eq!(e["prioridad"], "alta");
        assert_eq!(e["sucursal_id"], cadena.s1.0);
        assert_eq!(e["entidad"], json!({"tipo":"ALERTA","id":1}));
        assert_eq!(e["payload"]["mensaje"], "Pedido 50 urgente");
    }
}
