//! The kitchen alert workflow end to end: the rules decide an alert's
//! priority and only its sucursal's kitchen gets it; the desk learns who read
//! it and when; reading another sucursal's alert, or one already read, writes
//! and publishes nothing.

use comanda::modelo::{AlertaId, Prioridad, UsuarioId};
use reqwest::StatusCode;
use serde_json::json;

use crate::fixtures::{
    Cadena, auditado, auditoria, crear_alerta, crear_pedido, entrar, es, get_ok, id,
    nada_publicado, pantalla, post_ok,
};
use crate::helpers::{codigo_de_error, en_ambos_stores, spawn_app};
use crate::socket::nadie_recibe_nada;

en_ambos_stores! {
    async fn las_reglas_deciden_la_prioridad_de_la_alerta_y_solo_la_recibe_su_cocina(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let (atencion1, jefa) = (entrar(app, "atencion1").await, entrar(app, "jefa").await);
        let pedido = crear_pedido(app, &atencion1, "Mesa 4").await;
        let mut en_cocina1 = pantalla(app, &entrar(app, "cocina1").await).await;
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let mut en_cocina2 = pantalla(app, &entrar(app, "cocina2").await).await;

        let normal = crear_alerta(app, &atencion1, &pedido, "Mesa 4 sin cebolla", "normal").await;
        assert_eq!(normal["prioridad"], "normal");
        assert_eq!(normal["leida"], false);
        assert_eq!(normal["usuario_envia"], atencion1.id);
        assert_eq!(normal["pedido_id"], pedido["id"]);
        let urgente = crear_alerta(
            app,
            &atencion1,
            &pedido,
            "Es URGENTE: el cliente se va",
            "normal",
        )
        .await;
        assert_eq!(
            urgente["prioridad"], "urgente",
            "the message says urgente: the rules win"
        );
        let alta = crear_alerta(app, &atencion1, &pedido, "Mesa 4 pide más ají", "alta").await;
        assert_eq!(alta["prioridad"], "alta");

        let eventos = en_cocina1.eventos(3).await;
        for (e, alerta, pedida) in [
            (&eventos[0], &normal, "normal"),
            (&eventos[1], &urgente, "normal"),
            (&eventos[2], &alta, "alta"),
        ] {
            es(e, "alerta_cocina", ("ALERTA", &alerta["id"]));
            assert_eq!(e["prioridad"], alerta["prioridad"], "{e}");
            assert_eq!(e["sucursal_id"], s1.0);
            assert_eq!(e["usuario_id"], atencion1.id);
            assert_eq!(e["payload"]["mensaje"], alerta["mensaje"]);
            assert_eq!(e["payload"]["pedido_id"], pedido["id"]);
            assert_eq!(e["payload"]["prioridad_pedida"], pedida);
        }
        nadie_recibe_nada(vec![&mut en_cocina1, &mut en_atencion1, &mut en_cocina2]).await;

        let auditados = auditoria(app, &jefa, "alerta_cocina").await;
        assert_eq!(auditados.len(), 3);
        auditado(&auditados[1], &atencion1, s1, ("ALERTA", &urgente["id"]));
        assert_eq!(auditados[1]["prioridad"], "urgente");
        assert_eq!(auditados[1]["destinos"], json!(["cocina"]));

        let fila = app
            .store
            .alerta(AlertaId(id(&urgente)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fila.prioridad, Prioridad::Urgente);
        assert!(!fila.leida);
        assert_eq!(fila.mensaje, "Es URGENTE: el cliente se va");
    }

    async fn cuando_cocina_lee_la_alerta_atencion_sabe_quien_y_cuando(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let (atencion1, cocina1, jefa) = (
            entrar(app, "atencion1").await,
            entrar(app, "cocina1").await,
            entrar(app, "jefa").await,
        );
        let pedido = crear_pedido(app, &atencion1, "Mesa 9").await;
        let alerta = crear_alerta(
            app,
            &atencion1,
            &pedido,
            "Mesa 9: falta la gaseosa",
            "normal",
        )
        .await;
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let mut en_cocina1 = pantalla(app, &cocina1).await;
        let mut en_atencion2 = pantalla(app, &entrar(app, "atencion2").await).await;

        let leida = post_ok(
            app,
            &format!("/api/alertas/{}/leida", alerta["id"]),
            &cocina1,
            json!({}),
            StatusCode::OK,
        )
        .await;
        assert_eq!(leida["id"], alerta["id"]);
        assert_eq!(leida["leida"], true);
        assert_eq!(leida["leida_por"], cocina1.id);
        let fecha_lectura = leida["fecha_lectura"]
            .as_str()
            .expect("fecha_lectura")
            .to_owned();

        let e = en_atencion1.evento().await;
        es(&e, "alerta_leida", ("ALERTA", &alerta["id"]));
        assert_eq!(e["usuario_id"], cocina1.id);
        assert_eq!(e["payload"]["leida_por"], cocina1.id);
        assert_eq!(e["payload"]["leida_por_nombre"], "cocina1");
        assert_eq!(e["payload"]["fecha_lectura"], fecha_lectura.as_str());
        assert_eq!(e["payload"]["mensaje"], "Mesa 9: falta la gaseosa");
        // Every kitchen screen of the sucursal drops it too, not only the one that tapped.
        assert_eq!(en_cocina1.evento().await["id"], e["id"]);
        nadie_recibe_nada(vec![&mut en_atencion1, &mut en_cocina1, &mut en_atencion2]).await;

        let lista = get_ok(app, "/api/alertas", &atencion1).await;
        let items = lista["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["leida"], true);
        assert_eq!(items[0]["leida_por"], cocina1.id);
        assert_eq!(items[0]["fecha_lectura"], fecha_lectura.as_str());
        assert_eq!(lista["ultimo_id"], e["id"]);
        let sin_leer = get_ok(app, "/api/alertas?leida=false", &atencion1).await;
        assert!(sin_leer["items"].as_array().unwrap().is_empty());

        let auditados = auditoria(app, &jefa, "alerta_leida").await;
        assert_eq!(auditados.len(), 1);
        auditado(&auditados[0], &cocina1, s1, ("ALERTA", &alerta["id"]));
        assert_eq!(auditados[0]["destinos"], json!(["atencion", "cocina"]));
        let fila = app
            .store
            .alerta(AlertaId(id(&alerta)))
            .await
            .unwrap()
            .unwrap();
        assert!(fila.leida);
        assert_eq!(fila.leida_por, Some(UsuarioId(cocina1.id)));
    }

    // ── Movimientos ilegales ────────────────────────────────────────────────

    async fn cocina_no_puede_leer_una_alerta_de_otra_sucursal(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let atencion2 = entrar(app, "atencion2").await;
        let pedido = crear_pedido(app, &atencion2, "Norte 1").await;
        let alerta = crear_alerta(app, &atencion2, &pedido, "Norte: sin papas", "normal").await;
        let mut en_atencion2 = pantalla(app, &atencion2).await;
        let mut en_admin2 = pantalla(app, &entrar(app, "admin2").await).await;
        let antes = app.store.ultimo_evento_id().await.unwrap();

        let cocina1 = entrar(app, "cocina1").await;
        let r = app
            .post(
                &format!("/api/alertas/{}/leida", alerta["id"]),
                &cocina1.token,
                &json!({}),
            )
            .await;
        assert_eq!(codigo_de_error(r, StatusCode::FORBIDDEN).await, "prohibido");
        let r = app
            .get(
                &format!("/api/alertas?sucursal_id={}", cadena.s2.0),
                &cocina1.token,
            )
            .await;
        assert_eq!(codigo_de_error(r, StatusCode::FORBIDDEN).await, "prohibido");

        let fila = app
            .store
            .alerta(AlertaId(id(&alerta)))
            .await
            .unwrap()
            .unwrap();
        assert!(!fila.leida && fila.leida_por.is_none() && fila.fecha_lectura.is_none());
        nada_publicado(app, antes, vec![&mut en_atencion2, &mut en_admin2]).await;
    }

    async fn una_alerta_ya_leida_no_se_lee_otra_vez(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let (atencion1, cocina1) = (entrar(app, "atencion1").await, entrar(app, "cocina1").await);
        let pedido = crear_pedido(app, &atencion1, "Mesa 6").await;
        let alerta = crear_alerta(app, &atencion1, &pedido, "Mesa 6: sin sal", "normal").await;
        let path = format!("/api/alertas/{}/leida", alerta["id"]);
        post_ok(app, &path, &cocina1, json!({}), StatusCode::OK).await;
        let alerta_id = AlertaId(id(&alerta));
        let fila = app.store.alerta(alerta_id).await.unwrap().unwrap();
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let mut en_cocina1 = pantalla(app, &cocina1).await;
        let antes = app.store.ultimo_evento_id().await.unwrap();

        let r = app.post(&path, &cocina1.token, &json!({})).await;
        assert_eq!(codigo_de_error(r, StatusCode::CONFLICT).await, "conflicto");
        let admin1 = entrar(app, "admin1").await;
        let r = app.post(&path, &admin1.token, &json!({})).await;
        assert_eq!(codigo_de_error(r, StatusCode::CONFLICT).await, "conflicto");

        assert_eq!(
            app.store.alerta(alerta_id).await.unwrap().unwrap(),
            fila,
            "who read it and when stay"
        );
        nada_publicado(app, antes, vec![&mut en_atencion1, &mut en_cocina1]).await;
    }
}
