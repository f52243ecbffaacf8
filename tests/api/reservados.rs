//! The events whose effects a workflow owns (a kitchen drops an alert on
//! `alerta_leida`, a desk moves an order on `pedido_estado`…) are emitted
//! only by their workflows: a flat publication of one, by REST or over a
//! socket, is refused with 422 `evento_reservado` and writes nothing.

use comanda::modelo::Rol;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, en_ambos_stores, spawn_app};

/// Every reserved `tipo`, and a piece of what the refusal names instead.
const RESERVADOS: [(&str, &str); 11] = [
    ("alerta_leida", "POST /api/alertas/{id}/leida"),
    ("alerta_escalada", "cocina"),
    ("pedido_aprobado", "POST /api/pedidos/{id}/aprobar"),
    ("pedido_estado", "POST /api/pedidos/{id}/estado"),
    ("voucher_aprobado", "POST /api/vouchers/{id}/aprobar"),
    ("voucher_rechazado", "POST /api/vouchers/{id}/rechazar"),
    ("refill_estado", "POST /api/refills/{id}/estado"),
    ("regla_actualizada", "PUT /api/reglas/{nombre}"),
    ("regla_fallida", "reglas"),
    ("sesion_cerrada", "POST /api/logout"),
    ("usuario_actualizado", "PATCH /api/usuarios/{id}"),
];

/// A sucursal with a bot and a desk, and one real unread alert of the desk:
/// what a forged `alerta_leida` would hide from the kitchen.
async fn con_una_alerta_sin_leer(app: &TestApp) -> (String, String, Value) {
    let s1 = app.crear_sucursal("Centro").await;
    app.crear_usuario("bot", Rol::Servicio, Some(s1)).await;
    app.crear_usuario("ana", Rol::Atencion, Some(s1)).await;
    let ana = app.token("ana").await;
    let r = app
        .post("/api/alertas", &ana, &json!({"mensaje": "sin papas"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let alerta: Value = r.json().await.unwrap();
    (app.token("bot").await, ana, alerta)
}

/// The alert is still unread, by the list the kitchen loads.
async fn sigue_sin_leer(app: &TestApp, token: &str, alerta: &Value) {
    let lista: Value = app
        .get("/api/alertas?leida=false", token)
        .await
        .json()
        .await
        .unwrap();
    let items = lista["items"].as_array().unwrap();
    assert!(
        items.iter().any(|a| a["id"] == alerta["id"]),
        "la alerta sigue sin leer: {lista}"
    );
}

en_ambos_stores! {
    async fn un_servicio_no_publica_por_rest_los_eventos_de_los_flujos(backend) {
        let app = spawn_app(backend).await;
        let (bot, ana, alerta) = con_una_alerta_sin_leer(&app).await;
        let antes = app.store.ultimo_evento_id().await.unwrap();

        for (tipo, en_su_lugar) in RESERVADOS {
            let r = app
                .post("/api/eventos", &bot, &json!({"tipo": tipo, "alerta_id": alerta["id"]}))
                .await;
            assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{tipo}");
            let cuerpo: Value = r.json().await.unwrap();
            assert_eq!(cuerpo["error"]["codigo"], "evento_reservado", "{tipo}: {cuerpo}");
            let mensaje = cuerpo["error"]["mensaje"].as_str().unwrap();
            assert!(
                mensaje.contains(tipo) && mensaje.contains(en_su_lugar),
                "{tipo}: {mensaje}"
            );
        }

        assert_eq!(
            app.store.ultimo_evento_id().await.unwrap(),
            antes,
            "nada se escribió en eventos_realtime"
        );
        sigue_sin_leer(&app, &ana, &alerta).await;
    }

    async fn un_servicio_no_publica_por_el_socket_los_eventos_de_los_flujos(backend) {
        let app = spawn_app(backend).await;
        let (bot, ana, alerta) = con_una_alerta_sin_leer(&app).await;
        let antes = app.store.ultimo_evento_id().await.unwrap();

        let mut socket = app.socket(&bot).await;
        socket
            .enviar(&json!({"tipo": "alerta_leida", "alerta_id": alerta["id"]}))
            .await;
        let error = socket.esperar("error").await;
        assert_eq!(error["codigo"], "evento_reservado", "{error}");
        assert!(
            error["mensaje"].as_str().unwrap().contains("/api/alertas/{id}/leida"),
            "{error}"
        );

        assert_eq!(app.store.ultimo_evento_id().await.unwrap(), antes);
        sigue_sin_leer(&app, &ana, &alerta).await;
    }

    async fn los_eventos_informativos_se_siguen_publicando(backend) {
        let app = spawn_app(backend).await;
        let (bot, _, alerta) = con_una_alerta_sin_leer(&app).await;

        for plano in [
            json!({"tipo": "alerta_cocina", "alerta_id": alerta["id"], "mensaje": "Pedido urgente"}),
            json!({"tipo": "voucher_whatsapp", "voucher_id": 7}),
            json!({"tipo": "voucher_nuevo", "voucher_id": 8}),
            json!({"tipo": "pedido_nuevo", "pedido_id": 50}),
            json!({"tipo": "refill_solicitado", "producto": "papas"}),
            json!({"tipo": "cliente_en_camino", "telefono": "999"}),
        ] {
            let r = app.post("/api/eventos", &bot, &plano).await;
            assert_eq!(r.status(), StatusCode::CREATED, "{plano}");
        }
        let mut socket = app.socket(&bot).await;
        socket.enviar(&json!({"tipo": "cliente_en_camino"})).await;
        socket.esperar("publicado").await;
    }
}
