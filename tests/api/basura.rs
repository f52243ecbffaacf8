//! Junk in every field of the workflows: SQL and odd text are kept as sent,
//! a NUL, an over-long message or a negative amount is a 400, an unknown
//! sucursal, order or id a 404; none of them writes or publishes anything.

use comanda::modelo::PedidoId;
use comanda::store::FiltroPedidos;
use reqwest::StatusCode;
use serde_json::json;

use crate::fixtures::{
    Cadena, crear_pedido, crear_voucher, entrar, get_ok, id, nada_publicado, pantalla, post_ok,
    tipos,
};
use crate::helpers::{codigo_de_error, en_ambos_stores, spawn_app};

/// What every text field receives in the junk tests.
const SQL: &str = "'); DROP TABLE pedidos; --";

en_ambos_stores! {
    async fn el_sql_en_los_campos_de_texto_se_guarda_y_se_devuelve_tal_cual(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let (atencion1, bot1, cocina1) = (
            entrar(app, "atencion1").await,
            entrar(app, "bot1").await,
            entrar(app, "cocina1").await,
        );
        let mut en_cocina1 = pantalla(app, &cocina1).await;
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let url = format!("https://x.example/{SQL}");
        let raro = "Ñandú \"comillas\" \\ barra; -- 😀 fin";

        let pedido = post_ok(
            app,
            "/api/pedidos",
            &atencion1,
            json!({"cliente": SQL, "detalle": raro, "total": 1}),
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(
            (pedido["cliente"].as_str(), pedido["detalle"].as_str()),
            (Some(SQL), Some(raro))
        );
        let alerta = post_ok(
            app,
            "/api/alertas",
            &atencion1,
            json!({"pedido_id": pedido["id"], "mensaje": SQL}),
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(alerta["mensaje"], SQL);
        assert_eq!(alerta["prioridad"], "normal");
        let refill = post_ok(
            app,
            "/api/refills",
            &atencion1,
            json!({"producto": SQL, "cantidad": 1, "nota": SQL}),
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(
            (refill["producto"].as_str(), refill["nota"].as_str()),
            (Some(SQL), Some(SQL))
        );
        let voucher = post_ok(
            app,
            "/api/vouchers",
            &bot1,
            json!({"monto": 1, "numero_operacion": SQL, "imagen_url": url, "telefono": SQL, "pedido_id": pedido["id"]}),
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(
            (
                voucher["numero_operacion"].as_str(),
                voucher["telefono"].as_str()
            ),
            (Some(SQL), Some(SQL))
        );
        assert_eq!(voucher["imagen_url"], url.as_str());
        let rechazado = post_ok(
            app,
            &format!("/api/vouchers/{}/rechazar", voucher["id"]),
            &atencion1,
            json!({"motivo": SQL}),
            StatusCode::OK,
        )
        .await;
        assert_eq!(rechazado["motivo"], SQL);

        // Read back: every table is still there and holds the text as sent.
        let pedidos = get_ok(app, "/api/pedidos", &atencion1).await;
        assert_eq!(pedidos["items"][0]["cliente"], SQL);
        assert_eq!(pedidos["items"][0]["detalle"], raro);
        assert_eq!(
            get_ok(app, "/api/alertas", &atencion1).await["items"][0]["mensaje"],
            SQL
        );
        let refills = get_ok(app, "/api/refills", &atencion1).await;
        assert_eq!(
            (
                refills["items"][0]["producto"].as_str(),
                refills["items"][0]["nota"].as_str()
            ),
            (Some(SQL), Some(SQL))
        );
        let vouchers = get_ok(app, "/api/vouchers", &atencion1).await;
        assert_eq!(vouchers["items"][0]["numero_operacion"], SQL);
        assert_eq!(vouchers["items"][0]["telefono"], SQL);
        assert_eq!(vouchers["items"][0]["motivo"], SQL);
        assert_eq!(vouchers["items"][0]["imagen_url"], url.as_str());
        let fila = app
            .store
            .pedido(PedidoId(id(&pedido)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((fila.cliente.as_str(), fila.detalle.as_str()), (SQL, raro));

        // And so do the events.
        let de_cocina = en_cocina1.eventos(2).await;
        assert_eq!(de_cocina[0]["payload"]["mensaje"], SQL);
        assert_eq!(de_cocina[1]["payload"]["producto"], SQL);
        let de_atencion = en_atencion1.eventos(3).await;
        assert_eq!(
            tipos(&de_atencion),
            ["pedido_nuevo", "voucher_nuevo", "voucher_rechazado"]
        );
        assert_eq!(de_atencion[0]["payload"]["cliente"], SQL);
        assert_eq!(de_atencion[1]["payload"]["numero_operacion"], SQL);
        assert_eq!(de_atencion[2]["payload"]["motivo"], SQL);
    }

    async fn un_caracter_nulo_en_un_texto_se_rechaza_con_400_en_ambos_stores(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let (atencion1, bot1) = (entrar(app, "atencion1").await, entrar(app, "bot1").await);
        let mut en_admin1 = pantalla(app, &entrar(app, "admin1").await).await;
        let antes = app.store.ultimo_evento_id().await.unwrap();
        let nulo = "Ana\u{0}; DROP TABLE pedidos";

        let casos = [
            (
                "/api/pedidos",
                &atencion1,
                json!({"cliente": nulo, "detalle": "1 papa", "total": 5}),
            ),
            (
                "/api/pedidos",
                &atencion1,
                json!({"cliente": "Ana", "detalle": nulo, "total": 5}),
            ),
            ("/api/alertas", &atencion1, json!({"mensaje": nulo})),
            (
                "/api/refills",
                &atencion1,
                json!({"producto": nulo, "cantidad": 1}),
            ),
            (
                "/api/refills",
                &atencion1,
                json!({"producto": "Papas", "cantidad": 1, "nota": nulo}),
            ),
            (
                "/api/vouchers",
                &bot1,
                json!({"monto": 5, "numero_operacion": nulo}),
            ),
            (
                "/api/vouchers",
                &bot1,
                json!({"monto": 5, "numero_operacion": "OP-1", "telefono": nulo}),
            ),
        ];
        for (path, sesion, body) in &casos {
            let r = app.post(path, &sesion.token, body).await;
            assert_eq!(
                codigo_de_error(r, StatusCode::BAD_REQUEST).await,
                "peticion_invalida",
                "{path} {body}"
            );
        }
        let voucher = crear_voucher(app, &bot1, "OP-2", None).await;
        let antes_del_rechazo = app.store.ultimo_evento_id().await.unwrap();
        let r = app
            .post(
                &format!("/api/vouchers/{}/rechazar", voucher["id"]),
                &atencion1.token,
                &json!({"motivo": nulo}),
            )
            .await;
        assert_eq!(
            codigo_de_error(r, StatusCode::BAD_REQUEST).await,
            "peticion_invalida"
        );

        assert!(
            app.store
                .pedidos(&FiltroPedidos {
                    limit: 100,
                    ..Default::default()
                })
                .await
                .unwrap()
                .is_empty()
        );
        assert!(app.store.alertas(None, None, 100).await.unwrap().is_empty());
        assert!(app.store.refills(None, None, 100).await.unwrap().is_empty());
        assert_eq!(app.store.vouchers(None, None, 100).await.unwrap().len(), 1);
        assert_ne!(antes, antes_del_rechazo);
        assert_eq!(en_admin1.evento().await["entidad"]["id"], voucher["id"]);
        nada_publicado(app, antes_del_rechazo, vec![&mut en_admin1]).await;
    }

    async fn un_mensaje_de_mas_de_500_caracteres_da_400(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let atencion1 = entrar(app, "atencion1").await;
        let mut en_cocina1 = pantalla(app, &entrar(app, "cocina1").await).await;
        let antes = app.store.ultimo_evento_id().await.unwrap();

        for largo in [
            "x".repeat(501),
            "ñ".repeat(501),
            format!("  {}  ", "x".repeat(501)),
        ] {
            let r = app
                .post("/api/alertas", &atencion1.token, &json!({"mensaje": largo}))
                .await;
            assert_eq!(
                codigo_de_error(r, StatusCode::BAD_REQUEST).await,
                "peticion_invalida"
            );
        }
        for vacio in ["", "   "] {
            let r = app
                .post("/api/alertas", &atencion1.token, &json!({"mensaje": vacio}))
                .await;
            assert_eq!(
                codigo_de_error(r, StatusCode::BAD_REQUEST).await,
                "peticion_invalida"
            );
        }
        assert!(app.store.alertas(None, None, 100).await.unwrap().is_empty());
        nada_publicado(app, antes, vec![&mut en_cocina1]).await;

        // 500 characters, of two bytes each, are fine.
        let justo = "ñ".repeat(500);
        let alerta = post_ok(
            app,
            "/api/alertas",
            &atencion1,
            json!({"mensaje": justo}),
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(alerta["mensaje"], justo.as_str());
        assert_eq!(
            en_cocina1.evento().await["payload"]["mensaje"],
            justo.as_str()
        );
    }

    async fn montos_y_totales_negativos_dan_400(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let (atencion1, bot1) = (entrar(app, "atencion1").await, entrar(app, "bot1").await);
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let antes = app.store.ultimo_evento_id().await.unwrap();

        for total in [
            json!(-1),
            json!(-0.01),
            json!("diez"),
            json!(null),
            json!(1e12),
        ] {
            let r = app
                .post(
                    "/api/pedidos",
                    &atencion1.token,
                    &json!({"cliente": "Ana", "detalle": "1 papa", "total": total}),
                )
                .await;
            assert_eq!(
                codigo_de_error(r, StatusCode::BAD_REQUEST).await,
                "peticion_invalida",
                "total {total}"
            );
        }
        for monto in [json!(-1), json!(-0.01), json!(-1e9)] {
            let r = app
                .post(
                    "/api/vouchers",
                    &bot1.token,
                    &json!({"monto": monto, "numero_operacion": "OP-NEG"}),
                )
                .await;
            assert_eq!(
                codigo_de_error(r, StatusCode::BAD_REQUEST).await,
                "peticion_invalida",
                "monto {monto}"
            );
        }
        let r = app
            .post(
                "/api/refills",
                &atencion1.token,
                &json!({"producto": "Papas", "cantidad": -3}),
            )
            .await;
        assert_eq!(
            codigo_de_error(r, StatusCode::BAD_REQUEST).await,
            "peticion_invalida"
        );

        let todos = FiltroPedidos {
            limit: 100,
            ..Default::default()
        };
        assert!(app.store.pedidos(&todos).await.unwrap().is_empty());
        assert!(
            app.store
                .vouchers(None, None, 100)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(app.store.refills(None, None, 100).await.unwrap().is_empty());
        nada_publicado(app, antes, vec![&mut en_atencion1]).await;
    }

    async fn una_sucursal_desconocida_da_404(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let jefa = entrar(app, "jefa").await;
        let mut en_jefa = pantalla(app, &jefa).await;
        let antes = app.store.ultimo_evento_id().await.unwrap();

        let casos = [
            (
                "/api/pedidos",
                json!({"sucursal_id": 999_999, "cliente": "Ana", "detalle": "1 papa", "total": 5}),
            ),
            (
                "/api/alertas",
                json!({"sucursal_id": 999_999, "mensaje": "hola"}),
            ),
            (
                "/api/refills",
                json!({"sucursal_id": 999_999, "producto": "Papas", "cantidad": 1}),
            ),
            (
                "/api/vouchers",
                json!({"sucursal_id": 999_999, "monto": 5, "numero_operacion": "OP-X"}),
            ),
        ];
        for (path, body) in &casos {
            let r = app.post(path, &jefa.token, body).await;
            assert_eq!(
                codigo_de_error(r, StatusCode::NOT_FOUND).await,
                "no_encontrado",
                "{path}"
            );
        }
        // Someone of one sucursal asking for another gets 403, not a hint.
        let atencion1 = entrar(app, "atencion1").await;
        let r = app
            .post(
                "/api/alertas",
                &atencion1.token,
                &json!({"sucursal_id": cadena.s2.0, "mensaje": "hola"}),
            )
            .await;
        assert_eq!(codigo_de_error(r, StatusCode::FORBIDDEN).await, "prohibido");

        let todos = FiltroPedidos {
            limit: 100,
            ..Default::default()
        };
        assert!(app.store.pedidos(&todos).await.unwrap().is_empty());
        assert!(app.store.alertas(None, None, 100).await.unwrap().is_empty());
        nada_publicado(app, antes, vec![&mut en_jefa]).await;
    }

    async fn un_pedido_desconocido_en_una_alerta_o_un_voucher_da_404(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let (atencion1, bot1) = (entrar(app, "atencion1").await, entrar(app, "bot1").await);
        // An order of the other sucursal does not exist for this one either.
        let de_s2 = crear_pedido(app, &entrar(app, "atencion2").await, "Norte 2").await;
        let mut en_admin1 = pantalla(app, &entrar(app, "admin1").await).await;
        let antes = app.store.ultimo_evento_id().await.unwrap();

        for pedido_id in [json!(999_999), de_s2["id"].clone()] {
            let r = app
                .post(
                    "/api/alertas",
                    &atencion1.token,
                    &json!({"pedido_id": pedido_id, "mensaje": "¿y mi pedido?"}),
                )
                .await;
            assert_eq!(
                codigo_de_error(r, StatusCode::NOT_FOUND).await,
                "no_encontrado",
                "alerta, pedido {pedido_id}"
            );
            let r = app
                .post(
                    "/api/vouchers",
                    &bot1.token,
                    &json!({"pedido_id": pedido_id, "monto": 5, "numero_operacion": "OP-Y"}),
                )
                .await;
            assert_eq!(
                codigo_de_error(r, StatusCode::NOT_FOUND).await,
                "no_encontrado",
                "voucher, pedido {pedido_id}"
            );
        }

        assert!(app.store.alertas(None, None, 100).await.unwrap().is_empty());
        assert!(
            app.store
                .vouchers(None, None, 100)
                .await
                .unwrap()
                .is_empty()
        );
        nada_publicado(app, antes, vec![&mut en_admin1]).await;
    }

    async fn un_id_desconocido_en_la_ruta_da_404(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let jefa = entrar(app, "jefa").await;
        let mut en_jefa = pantalla(app, &jefa).await;
        let antes = app.store.ultimo_evento_id().await.unwrap();

        let casos = [
            ("/api/pedidos/999999/aprobar", json!({})),
            ("/api/pedidos/999999/estado", json!({"estado": "LISTO"})),
            ("/api/alertas/999999/leida", json!({})),
            (
                "/api/refills/999999/estado",
                json!({"estado": "completado"}),
            ),
            ("/api/vouchers/999999/aprobar", json!({})),
            (
                "/api/vouchers/999999/rechazar",
                json!({"motivo": "no existe"}),
            ),
        ];
        for (path, body) in &casos {
            let r = app.post(path, &jefa.token, body).await;
            assert_eq!(
                codigo_de_error(r, StatusCode::NOT_FOUND).await,
                "no_encontrado",
                "{path}"
            );
        }
        for path in ["/api/pedidos/uno/aprobar", "/api/alertas/-/leida"] {
            let r = app.post(path, &jefa.token, &json!({})).await;
            assert_eq!(
                codigo_de_error(r, StatusCode::BAD_REQUEST).await,
                "peticion_invalida",
                "{path}"
            );
        }
        nada_publicado(app, antes, vec![&mut en_jefa]).await;
    }
}
