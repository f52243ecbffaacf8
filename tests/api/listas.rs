//! The workflows' lists and resume: each list answers the last event id it
//! reflects, and a screen that resumes from it gets exactly what came after.

use comanda::modelo::EventoId;
use serde_json::{Value, json};

use crate::fixtures::{
    Cadena, crear_alerta, crear_pedido, crear_refill, crear_voucher, entrar, get_ok, id, ids,
};
use crate::helpers::{en_ambos_stores, spawn_app};
use crate::socket::CORTO;

en_ambos_stores! {
    async fn cada_lista_da_su_ultimo_id_y_reanudar_desde_el_entrega_exactamente_lo_posterior(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let (app, s1) = (&cadena.app, cadena.s1);
        let (atencion1, bot1, admin1, cocina1, jefa) = (
            entrar(app, "atencion1").await,
            entrar(app, "bot1").await,
            entrar(app, "admin1").await,
            entrar(app, "cocina1").await,
            entrar(app, "jefa").await,
        );
        let bot2 = entrar(app, "bot2").await;

        // One of each, then a list; another round, the next list; and so on.
        let mut puntos = Vec::new();
        for (n, lista) in [
            "/api/pedidos",
            "/api/alertas",
            "/api/refills",
            "/api/vouchers",
        ]
        .into_iter()
        .enumerate()
        {
            let pedido = crear_pedido(app, &atencion1, &format!("Cliente {n}")).await;
            let alerta =
                crear_alerta(app, &atencion1, &pedido, &format!("alerta {n}"), "normal").await;
            let refill = crear_refill(app, &atencion1, &format!("producto {n}")).await;
            let voucher = crear_voucher(app, &bot1, &format!("OP-{n}"), Some(&pedido)).await;
            crear_voucher(app, &bot2, &format!("OP-{n}"), None).await;
            let nuevo = match lista {
                "/api/pedidos" => pedido,
                "/api/alertas" => alerta,
                "/api/refills" => refill,
                _ => voucher,
            };

            let body = get_ok(app, lista, &admin1).await;
            let ultimo = body["ultimo_id"]
                .as_i64()
                .unwrap_or_else(|| panic!("{lista}: {body}"));
            assert_eq!(
                EventoId(ultimo),
                app.store.ultimo_evento_id().await.unwrap(),
                "{lista}"
            );
            let items = body["items"]
                .as_array()
                .unwrap_or_else(|| panic!("{lista}: {body}"));
            assert_eq!(items.len(), n + 1, "{lista}: {body}");
            assert_eq!(items[0]["id"], nuevo["id"], "{lista}: newest first");
            let mut claves: Vec<&str> = body
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            claves.sort_unstable();
            let esperadas: &[&str] = if lista == "/api/pedidos" {
                &["items", "pendientes", "ultimo_id"]
            } else {
                &["items", "ultimo_id"]
            };
            assert_eq!(claves, esperadas, "{lista}");
            puntos.push((lista, ultimo));
        }
        // Something after the last list too.
        crear_alerta(
            app,
            &atencion1,
            &crear_pedido(app, &atencion1, "Último").await,
            "la última",
            "normal",
        )
        .await;

        let todo = get_ok(
            app,
            &format!("/api/eventos?limit=1000&sucursal_id={}", s1.0),
            &jefa,
        )
        .await;
        let mut de_s1: Vec<Value> = todo["items"].as_array().unwrap().clone();
        de_s1.reverse();
        for (lista, desde) in puntos {
            let despues: Vec<&Value> = de_s1.iter().filter(|e| id(e) > desde).collect();
            let para_admin: Vec<i64> = despues.iter().copied().map(id).collect();
            let para_cocina: Vec<i64> = despues
                .iter()
                .copied()
                .filter(|e| e["destinos"].as_array().unwrap().contains(&json!("cocina")))
                .map(id)
                .collect();
            assert!(!para_cocina.is_empty() && para_cocina.len() < para_admin.len());

            for (sesion, esperados) in [(&admin1, para_admin), (&cocina1, para_cocina)] {
                let mut cliente = app.socket(&sesion.token).await;
                cliente.reanudar(desde).await;
                assert_eq!(
                    ids(&cliente.eventos(esperados.len()).await),
                    esperados,
                    "{lista} desde {desde}"
                );
                cliente.ningun_evento_en(CORTO).await;
            }
        }
    }
}
