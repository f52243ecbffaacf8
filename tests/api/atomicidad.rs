//! A workflow's row and its event are committed together or not at all:
//! when the event can't be written, no row, no move, no idempotency answer
//! and no frame is left behind.

use comanda::modelo::{
    EstadoPedido, EstadoVoucher, Monto, NuevoEvento, NuevoPedido, NuevoRefill, NuevoVoucher,
    OrigenPedido, PedidoId, Prioridad, UsuarioId, VoucherId,
};
use comanda::store::{FiltroPedidos, Idempotencia, NuevaAlerta, Revision, StoreError};
use time::OffsetDateTime;

use crate::fixtures::{
    Cadena, crear_pedido, crear_voucher, entrar, evento_imposible, id, nada_publicado, pantalla,
};
use crate::helpers::{en_ambos_stores, spawn_app};

en_ambos_stores! {
    async fn si_el_evento_no_se_puede_escribir_tampoco_se_escribe_la_fila(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let atencion1 = entrar(app, "atencion1").await;
        let pedido = crear_pedido(app, &atencion1, "Mesa 14").await;
        let pedido_id = PedidoId(id(&pedido));
        let voucher = crear_voucher(app, &atencion1, "OP-ATOMICO", Some(&pedido)).await;
        let voucher_id = VoucherId(id(&voucher));
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let mut en_cocina1 = pantalla(app, &entrar(app, "cocina1").await).await;
        let mut en_admin1 = pantalla(app, &entrar(app, "admin1").await).await;
        let antes = app.store.ultimo_evento_id().await.unwrap();
        let pedidos_antes = app
            .store
            .pedidos(&FiltroPedidos {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        let idem = |clave: &str| Idempotencia {
            usuario_id: UsuarioId(atencion1.id),
            clave: clave.into(),
            ruta: "POST /prueba".into(),
            estado: 201,
        };
        let falla_por_el_evento = |r: Result<(), StoreError>, que: &str| match r {
            Err(StoreError::ReferenciaInexistente(_)) => {}
            otro => {
                panic!("{que}: se esperaba el error de la clave foránea del evento, no {otro:?}")
            }
        };

        let alerta = NuevaAlerta {
            pedido_id: Some(pedido_id),
            usuario_envia: UsuarioId(atencion1.id),
            sucursal_id: s1,
            mensaje: "nunca llega".into(),
            prioridad: Prioridad::Urgente,
            fecha_envio: OffsetDateTime::now_utc(),
        };
        let r = app
            .store
            .crear_alerta(
                &alerta,
                evento_imposible("alerta_cocina", &atencion1, ("ALERTA", 0)),
                Some(&idem("a")),
            )
            .await;
        falla_por_el_evento(r.map(drop), "alerta");
        assert!(
            app.store.alertas(None, None, 100).await.unwrap().is_empty(),
            "no alert row"
        );

        let nuevo = NuevoPedido {
            sucursal_id: None,
            cliente: "nunca".into(),
            detalle: "nada".into(),
            total: Monto(100),
        };
        let r = app
            .store
            .crear_pedido(
                s1,
                OrigenPedido::Tienda,
                &nuevo,
                evento_imposible("pedido_nuevo", &atencion1, ("PEDIDO", 0)),
                Some(&idem("p")),
            )
            .await;
        falla_por_el_evento(r.map(drop), "pedido");
        let r = app
            .store
            .cambiar_estado_pedido(
                pedido_id,
                EstadoPedido::Pendiente,
                EstadoPedido::Cancelado,
                evento_imposible("pedido_estado", &atencion1, ("PEDIDO", pedido_id.0)),
                None,
            )
            .await;
        falla_por_el_evento(r.map(drop), "cancelar el pedido");
        let pedidos = app
            .store
            .pedidos(&FiltroPedidos {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(pedidos, pedidos_antes, "no new order, none moved");

        let refill = NuevoRefill {
            sucursal_id: None,
            producto: "nunca".into(),
            cantidad: 1,
            nota: None,
        };
        let r = app
            .store
            .crear_refill(
                s1,
                UsuarioId(atencion1.id),
                &refill,
                evento_imposible("refill_solicitado", &atencion1, ("REFILL", 0)),
                None,
            )
            .await;
        falla_por_el_evento(r.map(drop), "refill");
        assert!(
            app.store.refills(None, None, 100).await.unwrap().is_empty(),
            "no refill row"
        );

        let otro = NuevoVoucher {
            sucursal_id: None,
            pedido_id: None,
            monto: Monto(100),
            numero_operacion: "OP-ATOMICO".into(),
            imagen_url: None,
            telefono: None,
        };
        let r = app
            .store
            .crear_voucher(
                s1,
                &otro,
                evento_imposible("voucher_nuevo", &atencion1, ("VOUCHER", 0)),
                None,
            )
            .await;
        falla_por_el_evento(r.map(drop), "voucher");
        let revision = Revision {
            estado: EstadoVoucher::Aprobado,
            motivo: None,
            revisor: UsuarioId(atencion1.id),
        };
        let r = app
            .store
            .revisar_voucher(
                voucher_id,
                &revision,
                evento_imposible("voucher_aprobado", &atencion1, ("VOUCHER", voucher_id.0)),
                Some(evento_imposible(
                    "pedido_aprobado",
                    &atencion1,
                    ("PEDIDO", pedido_id.0),
                )),
                None,
            )
            .await;
        falla_por_el_evento(r.map(drop), "aprobar el voucher");
        let vouchers = app.store.vouchers(None, None, 100).await.unwrap();
        assert_eq!(vouchers.len(), 1, "no new voucher");
        assert_eq!(vouchers[0].estado, EstadoVoucher::Pendiente);
        assert!(
            !vouchers[0].posible_duplicado,
            "the failed duplicate left no trace"
        );
        assert_eq!(
            app.store.pedido(pedido_id).await.unwrap().unwrap().estado,
            EstadoPedido::Pendiente
        );

        for clave in ["a", "p"] {
            assert!(
                app.store
                    .respuesta_idempotente(UsuarioId(atencion1.id), clave)
                    .await
                    .unwrap()
                    .is_none()
            );
        }
        nada_publicado(
            app,
            antes,
            vec![&mut en_atencion1, &mut en_cocina1, &mut en_admin1],
        )
        .await;

        // The same calls with a real event do write: the failure was the event's.
        let (hecha, evento) = app
            .store
            .crear_alerta(
                &alerta,
                NuevoEvento {
                    sucursal_id: Some(s1),
                    ..evento_imposible("alerta_cocina", &atencion1, ("ALERTA", 0))
                },
                None,
            )
            .await
            .expect("with a valid event the alert is written");
        assert_eq!(evento.entidad_id, Some(hecha.id.0));
        assert_eq!(
            app.store.alertas(None, None, 100).await.unwrap(),
            vec![hecha]
        );
        assert_eq!(en_cocina1.evento().await["id"], evento.id.0);
    }
}
