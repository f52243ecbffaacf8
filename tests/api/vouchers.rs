//! The voucher workflow end to end: a WhatsApp voucher reaches the desk and
//! admin screens, a repeated operation number is flagged within its sucursal,
//! approving it approves its pending order, rejecting it keeps the reason;
//! the kitchen may do neither, and a rejection needs a reason.

use comanda::modelo::{EstadoPedido, EstadoVoucher, Monto, PedidoId, UsuarioId, VoucherId};
use reqwest::StatusCode;
use serde_json::json;

use crate::fixtures::{
    Cadena, auditado, auditoria, crear_pedido, crear_voucher, entrar, es, get_ok, id, ids,
    nada_publicado, pantalla, post_ok,
};
use crate::helpers::{codigo_de_error, en_ambos_stores, spawn_app};
use crate::socket::nadie_recibe_nada;

en_ambos_stores! {
    async fn un_voucher_de_whatsapp_llega_a_atencion_y_admin_pero_no_a_cocina(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let (bot1, jefa) = (entrar(app, "bot1").await, entrar(app, "jefa").await);
        let pedido = crear_pedido(app, &bot1, "+51 988 777 666").await;
        let mut en_atencion1 = pantalla(app, &entrar(app, "atencion1").await).await;
        let mut en_admin1 = pantalla(app, &entrar(app, "admin1").await).await;
        let mut en_cocina1 = pantalla(app, &entrar(app, "cocina1").await).await;
        let mut en_atencion2 = pantalla(app, &entrar(app, "atencion2").await).await;

        let voucher = crear_voucher(app, &bot1, "OP-123456", Some(&pedido)).await;
        assert_eq!(voucher["estado"], "pendiente");
        assert_eq!(voucher["monto"], 25.5);
        assert_eq!(voucher["pedido_id"], pedido["id"]);
        assert_eq!(voucher["telefono"], "+51 999 111 222");
        assert_eq!(voucher["imagen_url"], "https://wa.example/voucher.jpg");
        assert_eq!(voucher["posible_duplicado"], false);
        assert_eq!(voucher["sucursal_id"], s1.0);

        for pantalla in [&mut en_atencion1, &mut en_admin1] {
            let e = pantalla.evento().await;
            es(&e, "voucher_nuevo", ("VOUCHER", &voucher["id"]));
            assert_eq!(e["subtipo"], "whatsapp");
            assert_eq!(e["usuario_id"], bot1.id);
            assert_eq!(e["payload"]["numero_operacion"], "OP-123456");
            assert_eq!(e["payload"]["monto"], 25.5);
            assert_eq!(e["payload"]["pedido_id"], pedido["id"]);
            assert_eq!(e["payload"]["posible_duplicado"], false);
        }
        nadie_recibe_nada(vec![
            &mut en_atencion1,
            &mut en_admin1,
            &mut en_cocina1,
            &mut en_atencion2,
        ])
        .await;

        let auditados = auditoria(app, &jefa, "voucher_nuevo").await;
        assert_eq!(auditados.len(), 1);
        auditado(&auditados[0], &bot1, s1, ("VOUCHER", &voucher["id"]));
        assert_eq!(auditados[0]["subtipo"], "whatsapp");
        let fila = app
            .store
            .voucher(VoucherId(id(&voucher)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fila.estado, EstadoVoucher::Pendiente);
        assert_eq!(fila.monto, Monto(2550));
        assert_eq!(fila.pedido_id, Some(PedidoId(id(&pedido))));
    }

    async fn un_numero_de_operacion_repetido_en_la_sucursal_es_posible_duplicado_y_en_otra_no(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let (app, s2) = (&cadena.app, cadena.s2);
        let (bot1, bot2) = (entrar(app, "bot1").await, entrar(app, "bot2").await);
        let (atencion1, atencion2) = (
            entrar(app, "atencion1").await,
            entrar(app, "atencion2").await,
        );
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let mut en_atencion2 = pantalla(app, &atencion2).await;

        let primero = crear_voucher(app, &bot1, "OP-777", None).await;
        assert_eq!(primero["posible_duplicado"], false);
        let segundo = crear_voucher(app, &bot1, "OP-777", None).await;
        assert_eq!(segundo["posible_duplicado"], true);
        let de_otra = crear_voucher(app, &bot2, "OP-777", None).await;
        assert_eq!(de_otra["posible_duplicado"], false);
        assert_eq!(de_otra["sucursal_id"], s2.0);

        let eventos = en_atencion1.eventos(2).await;
        assert_eq!(eventos[0]["payload"]["posible_duplicado"], false);
        es(&eventos[1], "voucher_nuevo", ("VOUCHER", &segundo["id"]));
        assert_eq!(eventos[1]["payload"]["posible_duplicado"], true);
        let e = en_atencion2.evento().await;
        es(&e, "voucher_nuevo", ("VOUCHER", &de_otra["id"]));
        assert_eq!(e["payload"]["posible_duplicado"], false);
        nadie_recibe_nada(vec![&mut en_atencion1, &mut en_atencion2]).await;

        let lista = get_ok(app, "/api/vouchers", &atencion1).await;
        let items = lista["items"].as_array().unwrap();
        assert_eq!(ids(items), [id(&segundo), id(&primero)]);
        assert!(
            items.iter().all(|v| v["posible_duplicado"] == true),
            "{lista}"
        );
        let lista = get_ok(app, "/api/vouchers", &atencion2).await;
        let items = lista["items"].as_array().unwrap();
        assert_eq!(ids(items), [id(&de_otra)]);
        assert_eq!(items[0]["posible_duplicado"], false);
    }

    async fn aprobar_el_voucher_de_un_pedido_pendiente_tambien_aprueba_el_pedido(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let (bot1, atencion1, jefa) = (
            entrar(app, "bot1").await,
            entrar(app, "atencion1").await,
            entrar(app, "jefa").await,
        );
        let pedido = crear_pedido(app, &bot1, "+51 977 555 444").await;
        let voucher = crear_voucher(app, &bot1, "OP-2024-01", Some(&pedido)).await;
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let mut en_admin1 = pantalla(app, &entrar(app, "admin1").await).await;
        let mut en_cocina1 = pantalla(app, &entrar(app, "cocina1").await).await;

        let aprobado = post_ok(
            app,
            &format!("/api/vouchers/{}/aprobar", voucher["id"]),
            &atencion1,
            json!({}),
            StatusCode::OK,
        )
        .await;
        assert_eq!(aprobado["estado"], "aprobado");
        assert_eq!(aprobado["revisado_por"], atencion1.id);
        assert!(aprobado["revisado"].is_string(), "{aprobado}");

        for pantalla in [&mut en_atencion1, &mut en_admin1] {
            let eventos = pantalla.eventos(2).await;
            es(&eventos[0], "voucher_aprobado", ("VOUCHER", &voucher["id"]));
            assert_eq!(eventos[0]["usuario_id"], atencion1.id);
            assert_eq!(eventos[0]["payload"]["revisado_por"], atencion1.id);
            assert_eq!(eventos[0]["payload"]["pedido_id"], pedido["id"]);
            es(&eventos[1], "pedido_aprobado", ("PEDIDO", &pedido["id"]));
            assert_eq!(eventos[1]["usuario_id"], atencion1.id);
            assert_eq!(eventos[1]["payload"]["estado"], "EN_PREPARACION");
            assert_eq!(eventos[1]["payload"]["por_voucher"], voucher["id"]);
            assert_eq!(eventos[1]["payload"]["pendientes"], 0);
        }
        nadie_recibe_nada(vec![&mut en_atencion1, &mut en_admin1, &mut en_cocina1]).await;

        let fila = app
            .store
            .pedido(PedidoId(id(&pedido)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fila.estado, EstadoPedido::EnPreparacion);
        assert_eq!(
            get_ok(app, "/api/pedidos", &atencion1).await["pendientes"],
            0
        );
        let aprobados = auditoria(app, &jefa, "voucher_aprobado").await;
        assert_eq!(aprobados.len(), 1);
        auditado(&aprobados[0], &atencion1, s1, ("VOUCHER", &voucher["id"]));
        let pedidos = auditoria(app, &jefa, "pedido_aprobado").await;
        assert_eq!(pedidos.len(), 1);
        auditado(&pedidos[0], &atencion1, s1, ("PEDIDO", &pedido["id"]));
        assert_eq!(id(&pedidos[0]), id(&aprobados[0]) + 1);
    }

    async fn rechazar_un_voucher_guarda_el_motivo_y_quien_lo_reviso_y_no_toca_el_pedido(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let (bot1, atencion1, jefa) = (
            entrar(app, "bot1").await,
            entrar(app, "atencion1").await,
            entrar(app, "jefa").await,
        );
        let pedido = crear_pedido(app, &bot1, "+51 966 333 222").await;
        let voucher = crear_voucher(app, &bot1, "OP-FALSO", Some(&pedido)).await;
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let mut en_admin1 = pantalla(app, &entrar(app, "admin1").await).await;

        let rechazado = post_ok(
            app,
            &format!("/api/vouchers/{}/rechazar", voucher["id"]),
            &atencion1,
            json!({"motivo": "El monto no coincide con el pedido"}),
            StatusCode::OK,
        )
        .await;
        assert_eq!(rechazado["estado"], "rechazado");
        assert_eq!(rechazado["motivo"], "El monto no coincide con el pedido");
        assert_eq!(rechazado["revisado_por"], atencion1.id);

        for pantalla in [&mut en_atencion1, &mut en_admin1] {
            let e = pantalla.evento().await;
            es(&e, "voucher_rechazado", ("VOUCHER", &voucher["id"]));
            assert_eq!(e["payload"]["motivo"], "El monto no coincide con el pedido");
            assert_eq!(e["payload"]["revisado_por"], atencion1.id);
            assert_eq!(e["payload"]["revisado_por_nombre"], "atencion1");
        }
        nadie_recibe_nada(vec![&mut en_atencion1, &mut en_admin1]).await;

        let fila = app
            .store
            .pedido(PedidoId(id(&pedido)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fila.estado, EstadoPedido::Pendiente);
        let fila = app
            .store
            .voucher(VoucherId(id(&voucher)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fila.estado, EstadoVoucher::Rechazado);
        assert_eq!(
            fila.motivo.as_deref(),
            Some("El monto no coincide con el pedido")
        );
        assert_eq!(fila.revisado_por, Some(UsuarioId(atencion1.id)));
        let rechazados = auditoria(app, &jefa, "voucher_rechazado").await;
        assert_eq!(rechazados.len(), 1);
        auditado(&rechazados[0], &atencion1, s1, ("VOUCHER", &voucher["id"]));
        assert!(auditoria(app, &jefa, "pedido_aprobado").await.is_empty());
        let lista = get_ok(app, "/api/vouchers?estado=rechazado", &atencion1).await;
        assert_eq!(ids(lista["items"].as_array().unwrap()), [id(&voucher)]);
    }

    // ── Movimientos ilegales ────────────────────────────────────────────────

    async fn cocina_no_puede_aprobar_un_voucher(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let bot1 = entrar(app, "bot1").await;
        let pedido = crear_pedido(app, &bot1, "+51 955 444 333").await;
        let voucher = crear_voucher(app, &bot1, "OP-COCINA", Some(&pedido)).await;
        let cocina1 = entrar(app, "cocina1").await;
        let mut en_cocina1 = pantalla(app, &cocina1).await;
        let mut en_admin1 = pantalla(app, &entrar(app, "admin1").await).await;
        let antes = app.store.ultimo_evento_id().await.unwrap();

        let r = app
            .post(
                &format!("/api/vouchers/{}/aprobar", voucher["id"]),
                &cocina1.token,
                &json!({}),
            )
            .await;
        assert_eq!(codigo_de_error(r, StatusCode::FORBIDDEN).await, "prohibido");
        let r = app
            .post(
                &format!("/api/vouchers/{}/rechazar", voucher["id"]),
                &cocina1.token,
                &json!({"motivo": "no"}),
            )
            .await;
        assert_eq!(codigo_de_error(r, StatusCode::FORBIDDEN).await, "prohibido");

        let fila = app
            .store
            .voucher(VoucherId(id(&voucher)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (fila.estado, fila.revisado_por),
            (EstadoVoucher::Pendiente, None)
        );
        let pedido = app
            .store
            .pedido(PedidoId(id(&pedido)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(pedido.estado, EstadoPedido::Pendiente);
        nada_publicado(app, antes, vec![&mut en_cocina1, &mut en_admin1]).await;
    }

    async fn rechazar_un_voucher_sin_motivo_da_400(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let (bot1, atencion1) = (entrar(app, "bot1").await, entrar(app, "atencion1").await);
        let voucher = crear_voucher(app, &bot1, "OP-SIN-MOTIVO", None).await;
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let antes = app.store.ultimo_evento_id().await.unwrap();

        let path = format!("/api/vouchers/{}/rechazar", voucher["id"]);
        for sin_motivo in [
            json!({}),
            json!({"motivo": ""}),
            json!({"motivo": "   "}),
            json!({"motivo": "x".repeat(501)}),
        ] {
            let r = app.post(&path, &atencion1.token, &sin_motivo).await;
            assert_eq!(
                codigo_de_error(r, StatusCode::BAD_REQUEST).await,
                "peticion_invalida",
                "{sin_motivo}"
            );
        }

        let fila = app
            .store
            .voucher(VoucherId(id(&voucher)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (fila.estado, fila.motivo, fila.revisado_por),
            (EstadoVoucher::Pendiente, None, None)
        );
        nada_publicado(app, antes, vec![&mut en_atencion1]).await;
    }
}
