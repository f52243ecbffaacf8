//! The seed's flat events (`POST /api/eventos`) and the workflows' own: the
//! same rules decide them, they reach the same screens and are audited alike.

use reqwest::StatusCode;
use serde_json::json;

use crate::fixtures::{
    Cadena, auditoria, crear_alerta, crear_pedido, crear_voucher, entrar, es, pantalla, post_ok,
    tipos,
};
use crate::helpers::{en_ambos_stores, spawn_app};
use crate::socket::nadie_recibe_nada;

en_ambos_stores! {
    async fn los_eventos_planos_del_seed_llegan_a_las_mismas_pantallas_que_los_flujos(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let (bot1, atencion1, jefa) = (
            entrar(app, "bot1").await,
            entrar(app, "atencion1").await,
            entrar(app, "jefa").await,
        );
        let mut en_atencion1 = pantalla(app, &atencion1).await;
        let mut en_admin1 = pantalla(app, &entrar(app, "admin1").await).await;
        let mut en_cocina1 = pantalla(app, &entrar(app, "cocina1").await).await;
        let mut en_atencion2 = pantalla(app, &entrar(app, "atencion2").await).await;
        let mut en_cocina2 = pantalla(app, &entrar(app, "cocina2").await).await;

        let voucher_plano = post_ok(
            app,
            "/api/eventos",
            &bot1,
            json!({"tipo":"voucher_nuevo","subtipo":"whatsapp","voucher_id":123,"usuario_id":456}),
            StatusCode::CREATED,
        )
        .await;
        let alerta_plana = post_ok(
            app,
            "/api/eventos",
            &bot1,
            json!({"tipo":"alerta_cocina","alerta_id":10,"pedido_id":50,"prioridad":"alta","mensaje":"Pedido urgente"}),
            StatusCode::CREATED,
        )
        .await;
        let pedido = crear_pedido(app, &atencion1, "Mesa 1").await;
        let voucher = crear_voucher(app, &bot1, "OP-1", None).await;
        let alerta = crear_alerta(app, &atencion1, &pedido, "Pedido urgente", "alta").await;

        let de_atencion = en_atencion1.eventos(3).await;
        assert_eq!(de_atencion[0]["id"], voucher_plano["id"]);
        assert_eq!(
            tipos(&de_atencion),
            ["voucher_nuevo", "pedido_nuevo", "voucher_nuevo"]
        );
        es(&de_atencion[0], "voucher_nuevo", ("VOUCHER", &json!(123)));
        assert_eq!(de_atencion[0]["subtipo"], "whatsapp");
        assert_eq!(de_atencion[0]["sucursal_id"], s1.0);
        assert_eq!(
            de_atencion[0]["usuario_id"], bot1.id,
            "the envelope names the publisher"
        );
        assert_eq!(
            de_atencion[0]["payload"]["usuario_id"], 456,
            "the seed's own field stays in the payload"
        );
        es(
            &de_atencion[2],
            "voucher_nuevo",
            ("VOUCHER", &voucher["id"]),
        );
        assert_eq!(de_atencion[2]["subtipo"], de_atencion[0]["subtipo"]);

        let de_cocina = en_cocina1.eventos(2).await;
        assert_eq!(de_cocina[0]["id"], alerta_plana["id"]);
        es(&de_cocina[0], "alerta_cocina", ("ALERTA", &json!(10)));
        assert_eq!(de_cocina[0]["payload"]["mensaje"], "Pedido urgente");
        assert_eq!(de_cocina[0]["payload"]["pedido_id"], 50);
        es(&de_cocina[1], "alerta_cocina", ("ALERTA", &alerta["id"]));
        // The same rules decide both: the message says "urgente".
        assert_eq!(de_cocina[0]["prioridad"], "urgente");
        assert_eq!(de_cocina[1]["prioridad"], "urgente");

        let del_monitor = en_admin1.eventos(5).await;
        assert_eq!(
            tipos(&del_monitor),
            [
                "voucher_nuevo",
                "alerta_cocina",
                "pedido_nuevo",
                "voucher_nuevo",
                "alerta_cocina"
            ]
        );
        nadie_recibe_nada(vec![
            &mut en_atencion1,
            &mut en_admin1,
            &mut en_cocina1,
            &mut en_atencion2,
            &mut en_cocina2,
        ])
        .await;

        for tipo in ["voucher_nuevo", "alerta_cocina"] {
            let auditados = auditoria(app, &jefa, tipo).await;
            assert_eq!(auditados.len(), 2, "{tipo}");
            assert_eq!(
                auditados[0]["destinos"], auditados[1]["destinos"],
                "{tipo}: plano y flujo, el mismo reparto"
            );
            assert_eq!(
                auditados[0]["sucursal_id"], auditados[1]["sucursal_id"],
                "{tipo}"
            );
        }
    }
}
