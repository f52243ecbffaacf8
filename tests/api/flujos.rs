//! The seed's workflows end to end — orders, kitchen alerts, refills and
//! vouchers: the HTTP answer, the row, the audit event and the socket frame
//! at the right screens only; illegal moves that write and publish nothing;
//! `Idempotency-Key`; a row and its event committed together or not at all;
//! junk in every field.

use std::time::Duration;

use comanda::modelo::{
    AlertaId, Audiencia, Destinos, Entidad, EstadoPedido, EstadoRefill, EstadoVoucher, EventoId,
    Monto, NuevoEvento, NuevoPedido, NuevoRefill, NuevoVoucher, OrigenPedido, PedidoId, Prioridad,
    RefillId, SucursalId, UsuarioId, VoucherId,
};
use comanda::store::{FiltroPedidos, Idempotencia, NuevaAlerta, Revision, StoreError};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::helpers::{PASSWORD, TestApp, codigo_de_error, en_ambos_stores, spawn_app};
use crate::realtime::Cadena;
use crate::socket::Cliente;

/// The window in which an event that should not come would have come.
const CORTO: Duration = Duration::from_millis(300);

/// What every text field receives in the junk tests.
const SQL: &str = "'); DROP TABLE pedidos; --";

/// A logged-in user: the bearer token and the user's id.
struct Sesion {
    token: String,
    id: i64,
}

async fn entrar(app: &TestApp, usuario: &str) -> Sesion {
    let body = respuesta(app.login(usuario, PASSWORD).await, StatusCode::OK).await;
    Sesion {
        token: body["token"].as_str().expect("token").to_owned(),
        id: body["usuario"]["id"].as_i64().expect("usuario.id"),
    }
}

/// A screen of `sesion`, live at once: it resumes from its `hola`.
async fn pantalla(app: &TestApp, sesion: &Sesion) -> Cliente {
    let mut cliente = app.socket(&sesion.token).await;
    let desde = cliente.hola["ultimo_id"].as_i64().expect("hola.ultimo_id");
    cliente.reanudar(desde).await;
    cliente
}

/// Asserts the status (showing the body if it differs) and answers the JSON body.
async fn respuesta(r: reqwest::Response, status: StatusCode) -> Value {
    let real = r.status();
    let texto = r.text().await.expect("body");
    assert_eq!(real, status, "{texto}");
    serde_json::from_str(&texto).expect("JSON body")
}

async fn post_ok(
    app: &TestApp,
    path: &str,
    sesion: &Sesion,
    body: Value,
    status: StatusCode,
) -> Value {
    respuesta(app.post(path, &sesion.token, &body).await, status).await
}

async fn get_ok(app: &TestApp, path: &str, sesion: &Sesion) -> Value {
    respuesta(app.get(path, &sesion.token).await, StatusCode::OK).await
}

async fn crear_pedido(app: &TestApp, sesion: &Sesion, cliente: &str) -> Value {
    let body = json!({"cliente": cliente, "detalle": "2 salchipapas clásicas", "total": 25.5});
    post_ok(app, "/api/pedidos", sesion, body, StatusCode::CREATED).await
}

async fn aprobar_pedido(app: &TestApp, sesion: &Sesion, pedido: &Value) -> Value {
    let path = format!("/api/pedidos/{}/aprobar", pedido["id"]);
    post_ok(app, &path, sesion, json!({}), StatusCode::OK).await
}

async fn mover_pedido(app: &TestApp, sesion: &Sesion, pedido: &Value, estado: &str) -> Value {
    let path = format!("/api/pedidos/{}/estado", pedido["id"]);
    post_ok(
        app,
        &path,
        sesion,
        json!({"estado": estado}),
        StatusCode::OK,
    )
    .await
}

async fn crear_alerta(
    app: &TestApp,
    sesion: &Sesion,
    pedido: &Value,
    mensaje: &str,
    prioridad: &str,
) -> Value {
    let body = json!({"pedido_id": pedido["id"], "mensaje": mensaje, "prioridad": prioridad});
    post_ok(app, "/api/alertas", sesion, body, StatusCode::CREATED).await
}

async fn crear_refill(app: &TestApp, sesion: &Sesion, producto: &str) -> Value {
    let body = json!({"producto": producto, "cantidad": 3, "nota": "para la hora punta"});
    post_ok(app, "/api/refills", sesion, body, StatusCode::CREATED).await
}

async fn crear_voucher(
    app: &TestApp,
    sesion: &Sesion,
    numero_operacion: &str,
    pedido: Option<&Value>,
) -> Value {
    let body = json!({"monto": 25.5, "numero_operacion": numero_operacion,
                      "imagen_url": "https://wa.example/voucher.jpg", "telefono": "+51 999 111 222",
                      "pedido_id": pedido.map(|p| p["id"].clone())});
    post_ok(app, "/api/vouchers", sesion, body, StatusCode::CREATED).await
}

/// The audit log of `tipo`, oldest first, as the superadmin reads it.
async fn auditoria(app: &TestApp, jefa: &Sesion, tipo: &str) -> Vec<Value> {
    let body = get_ok(app, &format!("/api/eventos?tipo={tipo}&limit=1000"), jefa).await;
    let mut items = body["items"].as_array().expect("items").clone();
    items.reverse();
    items
}

/// Asserts who wrote an audited event, in which sucursal, about which row.
fn auditado(e: &Value, autor: &Sesion, sucursal: SucursalId, entidad: (&str, &Value)) {
    assert_eq!(e["usuario_id"], autor.id, "{e}");
    assert_eq!(e["sucursal_id"], sucursal.0, "{e}");
    assert_eq!(e["entidad_tipo"], entidad.0, "{e}");
    assert_eq!(&e["entidad_id"], entidad.1, "{e}");
}

/// Asserts a socket frame's type and row.
fn es(e: &Value, tipo: &str, entidad: (&str, &Value)) {
    assert_eq!(e["type"], "evento", "{e}");
    assert_eq!(e["tipo"], tipo, "{e}");
    assert_eq!(
        e["entidad"],
        json!({"tipo": entidad.0, "id": entidad.1}),
        "{e}"
    );
}

fn tipos(eventos: &[Value]) -> Vec<&str> {
    eventos
        .iter()
        .map(|e| e["tipo"].as_str().expect("tipo"))
        .collect()
}

fn id(fila: &Value) -> i64 {
    fila["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("sin id: {fila}"))
}

fn ids(filas: &[Value]) -> Vec<i64> {
    filas.iter().map(id).collect()
}

/// Asserts, for all of them at once, that no event arrives within [`CORTO`].
async fn nadie_recibe_nada(pantallas: Vec<&mut Cliente>) {
    join_all(pantallas.into_iter().map(|c| c.ningun_evento_en(CORTO))).await;
}

/// Asserts that nothing was published since `antes`: the log ends where it
/// did and no screen gets an event.
async fn nada_publicado(app: &TestApp, antes: EventoId, pantallas: Vec<&mut Cliente>) {
    assert_eq!(app.store.ultimo_evento_id().await.unwrap(), antes);
    nadie_recibe_nada(pantallas).await;
}

/// A POST with an `Idempotency-Key`: status, whether it was a replay, and the raw body.
async fn post_con_clave(
    app: &TestApp,
    path: &str,
    sesion: &Sesion,
    clave: &str,
    body: &Value,
) -> (StatusCode, bool, String) {
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(&sesion.token)
        .header("Idempotency-Key", clave)
        .json(body)
        .send()
        .await
        .expect("POST answers");
    let repetida = r
        .headers()
        .get("Idempotency-Replayed")
        .is_some_and(|v| v == "true");
    (r.status(), repetida, r.text().await.expect("body"))
}

/// An event that names a sucursal that does not exist: its insert fails on
/// the foreign key, whatever row it reports.
fn evento_imposible(tipo: &str, autor: &Sesion, entidad: (&str, i64)) -> NuevoEvento {
    NuevoEvento {
        tipo: tipo.into(),
        subtipo: None,
        payload: Map::new(),
        usuario_id: Some(UsuarioId(autor.id)),
        sucursal_id: Some(SucursalId(999_999)),
        entidad: Some(Entidad {
            tipo: entidad.0.into(),
            id: entidad.1,
        }),
        prioridad: None,
        destinos: Destinos::de(&[Audiencia::Atencion, Audiencia::Cocina, Audiencia::Admin]),
    }
}

en_ambos_stores! {
    // ── Pedidos ─────────────────────────────────────────────────────────────

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

    // ── Alertas de cocina ───────────────────────────────────────────────────

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

    // ── Refills ─────────────────────────────────────────────────────────────

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

    // ── Vouchers ────────────────────────────────────────────────────────────

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

    // ── Compatibilidad con el seed ──────────────────────────────────────────

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

    // ── Listas y reanudación ────────────────────────────────────────────────

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

    // ── Idempotency-Key ─────────────────────────────────────────────────────

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

    // ── Atomicidad ──────────────────────────────────────────────────────────

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

    // ── Basura ──────────────────────────────────────────────────────────────

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
