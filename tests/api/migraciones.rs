//! Migrations: they apply from empty on both stores, applying them again
//! changes nothing, readiness tells a migrated store from one that is not, and
//! a running app answers its probes.

use comanda::store::{Preparacion, Store};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestDb, en_ambos_stores, spawn_app, test_settings};

en_ambos_stores! {
    async fn las_migraciones_se_aplican_desde_una_base_vacia(backend) {
        let db = TestDb::new(backend).await;
        let store = Store::open(&test_settings(&db).store).await.expect("migraciones aplicadas");
        assert_eq!(store.backend(), backend);
        assert_eq!(store.preparacion().await.unwrap(), Preparacion::Lista);

        // The schema is really there: the tables of design §3 answer.
        assert_eq!(store.contar_usuarios().await.unwrap(), 0);
        assert!(store.sucursales(None).await.unwrap().is_empty());
        store.close().await;
    }

    async fn antes_de_migrar_la_preparacion_dice_migraciones_pendientes(backend) {
        let db = TestDb::new(backend).await;
        let settings = test_settings(&db).store;
        let store = Store::connect(&settings).await.expect("conecta sin migrar");
        assert_eq!(
            store.preparacion().await.unwrap(),
            Preparacion::MigracionesPendientes
        );
        store.migrate().await.expect("migra");
        assert_eq!(store.preparacion().await.unwrap(), Preparacion::Lista);
        store.close().await;
    }

    async fn migrar_otra_vez_no_cambia_nada(backend) {
        let db = TestDb::new(backend).await;
        let settings = test_settings(&db).store;
        let store = Store::open(&settings).await.expect("primera vez");
        let sucursal = store.crear_sucursal("Cony Chips Centro").await.unwrap();

        store.migrate().await.expect("segunda vez");
        store.migrate().await.expect("tercera vez");
        assert_eq!(store.preparacion().await.unwrap(), Preparacion::Lista);

        let otra = Store::open(&settings).await.expect("abrir otra vez");
        assert_eq!(otra.preparacion().await.unwrap(), Preparacion::Lista);
        // Nothing was recreated: the row written before is still there.
        assert_eq!(otra.sucursales(None).await.unwrap(), vec![sucursal]);

        otra.close().await;
        store.close().await;
    }

    async fn healthz_y_readyz_responden_200_con_la_app_en_marcha(backend) {
        let app = spawn_app(backend).await;

        let r = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["estado"], "ok");

        let r = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["estado"], "listo");
    }

    async fn la_app_migra_su_base_al_arrancar(backend) {
        let app = spawn_app(backend).await;
        // Seen from outside, through a connection of its own: the app's
        // database is migrated, and holds the first-start superadmin.
        let store = Store::connect(&test_settings(&app.db).store).await.unwrap();
        assert_eq!(store.preparacion().await.unwrap(), Preparacion::Lista);
        assert!(store.credenciales("superadmin").await.unwrap().is_some());
        store.close().await;
    }
}
