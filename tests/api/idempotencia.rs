//! `Idempotency-Key` on the workflows: a retry or a double tap does the work
//! once and gets the first answer; the same key on another route is a 409
//! that does nothing.

use comanda::modelo::{EstadoPedido, PedidoId};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::{
    Cadena, auditoria, crear_pedido, entrar, es, id, ids, nada_publicado, pantalla, post_con_clave,
};
use crate::helpers::{en_ambos_stores, spawn_app};
use crate::socket::CORTO;

en_ambos_stores! {
    async fn la_misma_clave_crea_una_sola_alerta_aunque_lleguen_a_la_vez(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let (atencion1, jefa) = (entrar(app, "atencion1").await, entrar(app, "jefa").await);
        let pedido = crear_pedido(app, &atencion1, "Mesa 8").await;
        let mut en_cocina1 = pantalla(app, &entrar(app, "cocina1").await).await;
        let body = json!({"pedido_id": pedido["id"], "mensaje": "Mesa 8: otra porción", "prioridad": "normal"});

        // A retry after the answer was lost.
        let primera = post_con_clave(app, "/api/alertas", &atencion1, "alerta-1", &body).await;
        let segunda = post_con_clave(app, "/api/alertas", &atencion1, "alerta-1", &body).await;
        assert_eq!(primera.0, StatusCode::CREATED, "{}", primera.2);
        assert!(!primera.1 && segunda.1, "only the retry is a replay");
        assert_eq!((segunda.0, &segunda.2), (primera.0, &primera.2));

        // A double tap: both at once.
        let (a, b) = tokio::join!(
            post_con_clave(app, "/api/alertas", &atencion1, "alerta-2", &body),
            post_con_clave(app, "/api/alertas", &atencion1, "alerta-2", &body),
        );
        assert_eq!(a.0, StatusCode::CREATED, "{}", a.2);
        assert_eq!((b.0, &b.2), (a.0, &a.2));
        // Many taps at once.
        let muchas = join_all(
            (0..4).map(|_| post_con_clave(app, "/api/alertas", &atencion1, "alerta-2", &body)),
        )
        .await;
        assert!(
            muchas.iter().all(|m| (m.0, &m.2) == (a.0, &a.2)),
            "{muchas:?}"
        );
        assert_ne!(a.2, primera.2, "another key, another alert");

        let filas = app.store.alertas(None, None, 100).await.unwrap();
        assert_eq!(filas.len(), 2);
        let creadas: Vec<Value> = [&primera.2, &a.2]
            .iter()
            .map(|t| serde_json::from_str(t).unwrap())
            .collect();
        assert_eq!(
            filas.iter().rev().map(|a| a.id.0).collect::<Vec<_>>(),
            ids(&creadas)
        );
        assert_eq!(auditoria(app, &jefa, "alerta_cocina").await.len(), 2);
        let eventos = en_cocina1.eventos(2).await;
        for (e, alerta) in eventos.iter().zip(&creadas) {
            es(e, "alerta_cocina", ("ALERTA", &alerta["id"]));
        }
        en_cocina1.ningun_evento_en(CORTO).await;
    }

    async fn la_misma_clave_aprueba_el_pedido_una_sola_vez_aunque_lleguen_a_la_vez(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let (atencion1, jefa) = (entrar(app, "atencion1").await, entrar(app, "jefa").await);
        let uno = crear_pedido(app, &atencion1, "Mesa 10").await;
        let dos = crear_pedido(app, &atencion1, "Mesa 11").await;
        let tres = crear_pedido(app, &atencion1, "Mesa 15").await;
        let mut en_atencion1 = pantalla(app, &atencion1).await;

        let path = format!("/api/pedidos/{}/aprobar", uno["id"]);
        let primera = post_con_clave(app, &path, &atencion1, "aprobar-uno", &json!({})).await;
        let segunda = post_con_clave(app, &path, &atencion1, "aprobar-uno", &json!({})).await;
        assert_eq!(primera.0, StatusCode::OK, "{}", primera.2);
        assert!(segunda.1, "the retry is a replay, not a 409");
        assert_eq!((segunda.0, &segunda.2), (primera.0, &primera.2));

        let path = format!("/api/pedidos/{}/aprobar", dos["id"]);
        let vacio = json!({});
        let (a, b) = tokio::join!(
            post_con_clave(app, &path, &atencion1, "aprobar-dos", &vacio),
            post_con_clave(app, &path, &atencion1, "aprobar-dos", &vacio),
        );
        assert_eq!(a.0, StatusCode::OK, "{}", a.2);
        assert_eq!((b.0, &b.2), (a.0, &a.2), "both taps get the same answer");
        let path = format!("/api/pedidos/{}/aprobar", tres["id"]);
        let muchas = join_all(
            (0..4).map(|_| post_con_clave(app, &path, &atencion1, "aprobar-tres", &vacio)),
        )
        .await;
        assert_eq!(muchas[0].0, StatusCode::OK, "{}", muchas[0].2);
        assert!(
            muchas
                .iter()
                .all(|m| (m.0, &m.2) == (muchas[0].0, &muchas[0].2)),
            "{muchas:?}"
        );
        let aprobado: Value = serde_json::from_str(&a.2).unwrap();
        assert_eq!(aprobado["estado"], "EN_PREPARACION");

        let auditados = auditoria(app, &jefa, "pedido_aprobado").await;
        assert_eq!(auditados.len(), 3);
        assert_eq!(auditados[0]["entidad_id"], uno["id"]);
        assert_eq!(auditados[1]["entidad_id"], dos["id"]);
        assert_eq!(auditados[2]["entidad_id"], tres["id"]);
        let eventos = en_atencion1.eventos(3).await;
        es(&eventos[0], "pedido_aprobado", ("PEDIDO", &uno["id"]));
        es(&eventos[1], "pedido_aprobado", ("PEDIDO", &dos["id"]));
        es(&eventos[2], "pedido_aprobado", ("PEDIDO", &tres["id"]));
        en_atencion1.ningun_evento_en(CORTO).await;
        assert_eq!(app.store.pedidos_pendientes(None).await.unwrap(), 0);
    }

    async fn la_misma_clave_en_otra_ruta_da_409_sin_hacer_nada(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let atencion1 = entrar(app, "atencion1").await;
        let uno = crear_pedido(app, &atencion1, "Mesa 12").await;
        let dos = crear_pedido(app, &atencion1, "Mesa 13").await;
        let alerta =
            json!({"pedido_id": uno["id"], "mensaje": "Mesa 12: rápido", "prioridad": "normal"});
        let hecha = post_con_clave(app, "/api/alertas", &atencion1, "clave-unica", &alerta).await;
        assert_eq!(hecha.0, StatusCode::CREATED);
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let mut en_cocina1 = pantalla(app, &entrar(app, "cocina1").await).await;
        let antes = app.store.ultimo_evento_id().await.unwrap();

        let refill = json!({"producto": "Gaseosa", "cantidad": 2});
        let otra_ruta =
            post_con_clave(app, "/api/refills", &atencion1, "clave-unica", &refill).await;
        assert_eq!(otra_ruta.0, StatusCode::CONFLICT, "{}", otra_ruta.2);
        let error: Value = serde_json::from_str(&otra_ruta.2).unwrap();
        assert_eq!(error["error"]["codigo"], "conflicto");
        let otro_pedido = post_con_clave(
            app,
            &format!("/api/pedidos/{}/aprobar", dos["id"]),
            &atencion1,
            "clave-unica",
            &json!({}),
        )
        .await;
        assert_eq!(otro_pedido.0, StatusCode::CONFLICT, "{}", otro_pedido.2);

        assert!(app.store.refills(None, None, 100).await.unwrap().is_empty());
        let dos = app.store.pedido(PedidoId(id(&dos))).await.unwrap().unwrap();
        assert_eq!(dos.estado, EstadoPedido::Pendiente);
        assert_eq!(app.store.alertas(None, None, 100).await.unwrap().len(), 1);
        nada_publicado(app, antes, vec![&mut en_atencion1, &mut en_cocina1]).await;
    }
}
