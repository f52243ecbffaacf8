//! The refill workflow end to end: a request reaches its sucursal's kitchen,
//! and so does each change of its state, audited with who attended it.

use comanda::modelo::{EstadoRefill, RefillId, UsuarioId};
use reqwest::StatusCode;
use serde_json::json;

use crate::fixtures::{
    Cadena, auditado, auditoria, crear_refill, entrar, es, get_ok, id, pantalla, post_ok,
};
use crate::helpers::{en_ambos_stores, spawn_app};
use crate::socket::nadie_recibe_nada;

en_ambos_stores! {
    async fn un_refill_llega_a_cocina_y_cada_cambio_de_estado_tambien(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let (atencion1, cocina1, jefa) = (
            entrar(app, "atencion1").await,
            entrar(app, "cocina1").await,
            entrar(app, "jefa").await,
        );
        let mut en_cocina1 = pantalla(app, &cocina1).await;
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let mut en_cocina2 = pantalla(app, &entrar(app, "cocina2").await).await;

        let refill = crear_refill(app, &atencion1, "Papas nativas").await;
        assert_eq!(refill["estado"], "pendiente");
        assert_eq!(refill["cantidad"], 3);
        assert_eq!(refill["nota"], "para la hora punta");
        assert_eq!(refill["usuario_id"], atencion1.id);
        assert_eq!(refill["sucursal_id"], s1.0);

        let e = en_cocina1.evento().await;
        es(&e, "refill_solicitado", ("REFILL", &refill["id"]));
        assert_eq!(e["usuario_id"], atencion1.id);
        assert_eq!(e["payload"]["producto"], "Papas nativas");
        assert_eq!(e["payload"]["cantidad"], 3);
        assert_eq!(e["payload"]["nota"], "para la hora punta");
        assert_eq!(e["payload"]["pedido_por"], "atencion1");

        let path = format!("/api/refills/{}/estado", refill["id"]);
        let en_proceso = post_ok(
            app,
            &path,
            &cocina1,
            json!({"estado": "en_proceso"}),
            StatusCode::OK,
        )
        .await;
        assert_eq!(en_proceso["estado"], "en_proceso");
        assert_eq!(en_proceso["atendido_por"], cocina1.id);
        let completado = post_ok(
            app,
            &path,
            &cocina1,
            json!({"estado": "completado"}),
            StatusCode::OK,
        )
        .await;
        assert_eq!(completado["estado"], "completado");

        let eventos = en_cocina1.eventos(2).await;
        for (e, desde, estado) in [
            (&eventos[0], "pendiente", "en_proceso"),
            (&eventos[1], "en_proceso", "completado"),
        ] {
            es(e, "refill_estado", ("REFILL", &refill["id"]));
            assert_eq!(e["usuario_id"], cocina1.id);
            assert_eq!(e["payload"]["desde"], desde);
            assert_eq!(e["payload"]["estado"], estado);
            assert_eq!(e["payload"]["atendido_por_nombre"], "cocina1");
        }
        nadie_recibe_nada(vec![&mut en_cocina1, &mut en_atencion1, &mut en_cocina2]).await;

        let lista = get_ok(app, "/api/refills", &cocina1).await;
        let items = lista["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["estado"], "completado");
        assert_eq!(items[0]["atendido_por"], cocina1.id);
        assert_eq!(lista["ultimo_id"], eventos[1]["id"]);

        let solicitados = auditoria(app, &jefa, "refill_solicitado").await;
        assert_eq!(solicitados.len(), 1);
        auditado(&solicitados[0], &atencion1, s1, ("REFILL", &refill["id"]));
        let cambios = auditoria(app, &jefa, "refill_estado").await;
        assert_eq!(cambios.len(), 2);
        for c in &cambios {
            auditado(c, &cocina1, s1, ("REFILL", &refill["id"]));
        }
        let fila = app
            .store
            .refill(RefillId(id(&refill)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fila.estado, EstadoRefill::Completado);
        assert_eq!(fila.atendido_por, Some(UsuarioId(cocina1.id)));
    }
}
