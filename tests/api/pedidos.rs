//! The order workflow end to end: a new order reaches the desk and admin
//! screens of its sucursal with the PENDIENTE count, each approval and move is
//! published and audited, and a move the states forbid writes and publishes
//! nothing.

use comanda::modelo::{EstadoPedido, Monto, OrigenPedido, PedidoId};
use reqwest::StatusCode;
use serde_json::json;

use crate::fixtures::{
    Cadena, aprobar_pedido, auditado, auditoria, crear_pedido, entrar, es, get_ok, id, ids,
    mover_pedido, nada_publicado, pantalla, tipos,
};
use crate::helpers::{codigo_de_error, en_ambos_stores, spawn_app};
use crate::socket::nadie_recibe_nada;

en_ambos_stores! {
    async fn un_pedido_nuevo_llega_con_los_pendientes_a_atencion_y_admin_y_a_nadie_mas(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let (atencion1, bot1, jefa) = (
            entrar(app, "atencion1").await,
            entrar(app, "bot1").await,
            entrar(app, "jefa").await,
        );
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let mut en_admin1 = pantalla(app, &entrar(app, "admin1").await).await;
        let mut en_cocina1 = pantalla(app, &entrar(app, "cocina1").await).await;
        let mut en_atencion2 = pantalla(app, &entrar(app, "atencion2").await).await;

        let tienda = crear_pedido(app, &atencion1, "Rosa Quispe").await;
        assert_eq!(tienda["origen"], "tienda");
        assert_eq!(tienda["estado"], "PENDIENTE");
        assert_eq!(tienda["sucursal_id"], s1.0);
        assert_eq!(tienda["cliente"], "Rosa Quispe");
        assert_eq!(tienda["total"], 25.5);
        let whatsapp = crear_pedido(app, &bot1, "+51 999 000 111").await;
        assert_eq!(whatsapp["origen"], "whatsapp");
        assert_eq!(whatsapp["estado"], "PENDIENTE");

        for pantalla in [&mut en_atencion1, &mut en_admin1] {
            let eventos = pantalla.eventos(2).await;
            es(&eventos[0], "pedido_nuevo", ("PEDIDO", &tienda["id"]));
            assert_eq!(eventos[0]["subtipo"], "tienda");
            assert_eq!(eventos[0]["usuario_id"], atencion1.id);
            assert_eq!(eventos[0]["sucursal_id"], s1.0);
            assert_eq!(eventos[0]["payload"]["pendientes"], 1);
            assert_eq!(eventos[0]["payload"]["cliente"], "Rosa Quispe");
            es(&eventos[1], "pedido_nuevo", ("PEDIDO", &whatsapp["id"]));
            assert_eq!(eventos[1]["subtipo"], "whatsapp");
            assert_eq!(eventos[1]["usuario_id"], bot1.id);
            assert_eq!(eventos[1]["payload"]["pendientes"], 2);
            assert_eq!(eventos[1]["payload"]["origen"], "whatsapp");
        }
        nadie_recibe_nada(vec![
            &mut en_atencion1,
            &mut en_admin1,
            &mut en_cocina1,
            &mut en_atencion2,
        ])
        .await;

        let auditados = auditoria(app, &jefa, "pedido_nuevo").await;
        assert_eq!(auditados.len(), 2);
        auditado(&auditados[0], &atencion1, s1, ("PEDIDO", &tienda["id"]));
        auditado(&auditados[1], &bot1, s1, ("PEDIDO", &whatsapp["id"]));
        assert_eq!(auditados[1]["subtipo"], "whatsapp");
        assert_eq!(auditados[1]["destinos"], json!(["atencion", "admin"]));

        let lista = get_ok(app, "/api/pedidos", &atencion1).await;
        assert_eq!(lista["pendientes"], 2);
        assert_eq!(
            ids(lista["items"].as_array().unwrap()),
            [id(&whatsapp), id(&tienda)]
        );
        assert_eq!(lista["ultimo_id"], auditados[1]["id"]);
        let lista2 = get_ok(app, "/api/pedidos", &entrar(app, "atencion2").await).await;
        assert_eq!(lista2["pendientes"], 0);
        assert!(lista2["items"].as_array().unwrap().is_empty());

        let fila = app
            .store
            .pedido(PedidoId(id(&whatsapp)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (fila.origen, fila.estado, fila.sucursal_id),
            (OrigenPedido::Whatsapp, EstadoPedido::Pendiente, s1)
        );
        assert_eq!(fila.total, Monto(2550));
    }

    async fn aprobar_y_avanzar_un_pedido_publica_cada_paso_y_los_pendientes_bajan(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let (atencion1, cocina1, jefa) = (
            entrar(app, "atencion1").await,
            entrar(app, "cocina1").await,
            entrar(app, "jefa").await,
        );
        let pedido = crear_pedido(app, &atencion1, "Mesa 3").await;
        let otro = crear_pedido(app, &atencion1, "Mesa 7").await;
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let mut en_admin1 = pantalla(app, &entrar(app, "admin1").await).await;
        let mut en_cocina1 = pantalla(app, &cocina1).await;
        let mut en_atencion2 = pantalla(app, &entrar(app, "atencion2").await).await;

        let aprobado = aprobar_pedido(app, &atencion1, &pedido).await;
        assert_eq!(aprobado["estado"], "EN_PREPARACION");
        assert_eq!(aprobado["id"], pedido["id"]);
        assert_eq!(
            get_ok(app, "/api/pedidos", &atencion1).await["pendientes"],
            1
        );
        assert_eq!(
            mover_pedido(app, &cocina1, &pedido, "LISTO").await["estado"],
            "LISTO"
        );
        assert_eq!(
            mover_pedido(app, &atencion1, &pedido, "ENTREGADO").await["estado"],
            "ENTREGADO"
        );

        for pantalla in [&mut en_atencion1, &mut en_admin1] {
            let eventos = pantalla.eventos(3).await;
            assert_eq!(
                tipos(&eventos),
                ["pedido_aprobado", "pedido_estado", "pedido_estado"]
            );
            for e in &eventos {
                es(e, e["tipo"].as_str().unwrap(), ("PEDIDO", &pedido["id"]));
                assert_eq!(e["payload"]["pendientes"], 1, "{e}");
            }
            assert_eq!(eventos[0]["payload"]["desde"], "PENDIENTE");
            assert_eq!(eventos[0]["payload"]["estado"], "EN_PREPARACION");
            assert_eq!(eventos[1]["payload"]["desde"], "EN_PREPARACION");
            assert_eq!(eventos[1]["payload"]["estado"], "LISTO");
            assert_eq!(eventos[1]["usuario_id"], cocina1.id);
            assert_eq!(eventos[2]["payload"]["desde"], "LISTO");
            assert_eq!(eventos[2]["payload"]["estado"], "ENTREGADO");
        }
        nadie_recibe_nada(vec![
            &mut en_atencion1,
            &mut en_admin1,
            &mut en_cocina1,
            &mut en_atencion2,
        ])
        .await;

        let aprobados = auditoria(app, &jefa, "pedido_aprobado").await;
        assert_eq!(aprobados.len(), 1);
        auditado(&aprobados[0], &atencion1, s1, ("PEDIDO", &pedido["id"]));
        let estados = auditoria(app, &jefa, "pedido_estado").await;
        assert_eq!(estados.len(), 2);
        auditado(&estados[0], &cocina1, s1, ("PEDIDO", &pedido["id"]));
        auditado(&estados[1], &atencion1, s1, ("PEDIDO", &pedido["id"]));

        let fila = app
            .store
            .pedido(PedidoId(id(&pedido)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fila.estado, EstadoPedido::Entregado);
        let fila = app
            .store
            .pedido(PedidoId(id(&otro)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fila.estado, EstadoPedido::Pendiente);
        assert_eq!(app.store.pedidos_pendientes(Some(s1)).await.unwrap(), 1);
    }

    // ── Movimientos ilegales ────────────────────────────────────────────────

    async fn aprobar_un_pedido_entregado_da_409_y_no_escribe_ni_publica_nada(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let atencion1 = entrar(app, "atencion1").await;
        let pedido = crear_pedido(app, &atencion1, "Mesa 2").await;
        aprobar_pedido(app, &atencion1, &pedido).await;
        mover_pedido(app, &atencion1, &pedido, "LISTO").await;
        mover_pedido(app, &atencion1, &pedido, "ENTREGADO").await;
        let pedido_id = PedidoId(id(&pedido));
        let fila = app.store.pedido(pedido_id).await.unwrap().unwrap();
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let mut en_admin1 = pantalla(app, &entrar(app, "admin1").await).await;
        let antes = app.store.ultimo_evento_id().await.unwrap();

        let r = app
            .post(
                &format!("/api/pedidos/{}/aprobar", pedido_id),
                &atencion1.token,
                &json!({}),
            )
            .await;
        assert_eq!(codigo_de_error(r, StatusCode::CONFLICT).await, "conflicto");

        assert_eq!(
            app.store.pedido(pedido_id).await.unwrap().unwrap(),
            fila,
            "the row is untouched"
        );
        nada_publicado(app, antes, vec![&mut en_atencion1, &mut en_admin1]).await;
    }

    async fn un_pedido_listo_no_vuelve_a_pendiente(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let (atencion1, cocina1) = (entrar(app, "atencion1").await, entrar(app, "cocina1").await);
        let pedido = crear_pedido(app, &atencion1, "Mesa 5").await;
        aprobar_pedido(app, &atencion1, &pedido).await;
        mover_pedido(app, &cocina1, &pedido, "LISTO").await;
        let pedido_id = PedidoId(id(&pedido));
        let fila = app.store.pedido(pedido_id).await.unwrap().unwrap();
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let mut en_admin1 = pantalla(app, &entrar(app, "admin1").await).await;
        let antes = app.store.ultimo_evento_id().await.unwrap();

        let path = format!("/api/pedidos/{}/estado", pedido_id);
        for estado in ["PENDIENTE", "EN_PREPARACION", "LISTO"] {
            let r = app
                .post(&path, &cocina1.token, &json!({"estado": estado}))
                .await;
            assert_eq!(
                codigo_de_error(r, StatusCode::CONFLICT).await,
                "conflicto",
                "LISTO → {estado}"
            );
        }

        assert_eq!(app.store.pedido(pedido_id).await.unwrap().unwrap(), fila);
        nada_publicado(app, antes, vec![&mut en_atencion1, &mut en_admin1]).await;
    }
}
