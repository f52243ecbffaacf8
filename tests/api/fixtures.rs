//! The seed's cast on a running comanda and the moves the tests share: a
//! chain of two sucursales and their staff (`Cadena`), seed-style events and
//! the Monitor's figures, a logged-in `Sesion` and its live screen, the
//! workflows' requests, and the checks on what the audit log and the sockets saw.

use std::time::Duration;

use comanda::modelo::{
    Audiencia, Destinos, Entidad, EventoId, NuevoEvento, Rol, SucursalId, UsuarioId,
};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::helpers::{PASSWORD, TestApp};
use crate::socket::{Cliente, PLAZO, nadie_recibe_nada};

/// Two sucursales with a desk, a kitchen and an admin each, a superadmin and
/// a WhatsApp bot per sucursal.
pub struct Cadena {
    pub app: TestApp,
    pub s1: SucursalId,
    pub s2: SucursalId,
}

impl Cadena {
    pub async fn nueva(app: TestApp) -> Self {
        let s1 = app.crear_sucursal("Centro").await;
        let s2 = app.crear_sucursal("Norte").await;
        for (n, s) in [(1, s1), (2, s2)] {
            app.crear_usuario(&format!("atencion{n}"), Rol::Atencion, Some(s))
                .await;
            app.crear_usuario(&format!("cocina{n}"), Rol::Cocina, Some(s))
                .await;
            app.crear_usuario(&format!("admin{n}"), Rol::Admin, Some(s))
                .await;
            app.crear_usuario(&format!("bot{n}"), Rol::Servicio, Some(s))
                .await;
        }
        app.crear_usuario("jefa", Rol::Superadmin, None).await;
        Cadena { app, s1, s2 }
    }

    /// Publishes a seed-style kitchen alert as the sucursal's bot; answers its id.
    pub async fn alerta(&self, bot: &str, sucursal: SucursalId, mensaje: &str) -> i64 {
        let token = self.app.token(bot).await;
        self.publicar(&token, alerta(sucursal, 1, mensaje)).await
    }

    /// Publishes `eventos` from `publicadores` logins of `usuario` at once,
    /// each its share in turn; answers the ids, sorted.
    pub async fn publicar_en_paralelo(
        &self,
        usuario: &str,
        publicadores: usize,
        eventos: Vec<Value>,
    ) -> Vec<i64> {
        let mut partes: Vec<(String, Vec<Value>)> = Vec::new();
        for _ in 0..publicadores {
            partes.push((self.app.token(usuario).await, Vec::new()));
        }
        for (n, evento) in eventos.into_iter().enumerate() {
            partes[n % publicadores].1.push(evento);
        }
        let ids = join_all(partes.iter().map(|(token, eventos)| async move {
            let mut ids = Vec::with_capacity(eventos.len());
            for evento in eventos {
                ids.push(self.publicar(token, evento.clone()).await);
            }
            ids
        }))
        .await;
        let mut ids: Vec<i64> = ids.into_iter().flatten().collect();
        ids.sort_unstable();
        ids
    }

    /// Publishes a flat event through `POST /api/eventos`; answers its id.
    pub async fn publicar(&self, token: &str, evento: Value) -> i64 {
        let r = self.app.post("/api/eventos", token, &evento).await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        let v: Value = r.json().await.unwrap();
        v["id"].as_i64().unwrap()
    }
}

/// A kitchen alert as the seed's `notify()` sends it.
pub fn alerta(sucursal: SucursalId, alerta_id: i64, mensaje: &str) -> Value {
    json!({"tipo":"alerta_cocina","alerta_id":alerta_id,"mensaje":mensaje,
           "prioridad":"alta","sucursal_id":sucursal.0})
}

/// `n` kitchen alerts of about 15 KiB each: enough of them fill the socket
/// buffers of a reader that stopped. (Under 16 KiB: past it, each Postgres
/// insert stalls 40 ms, as sqlx 0.9.0 does not set TCP_NODELAY,
/// transact-rs/sqlx#4335.)
pub fn alertas_con_relleno(sucursal: SucursalId, n: usize) -> Vec<Value> {
    let relleno = "x".repeat(15 * 1024);
    (0..n)
        .map(|i| {
            let mut evento = alerta(sucursal, i as i64, "con relleno");
            evento["relleno"] = json!(relleno);
            evento
        })
        .collect()
}

pub async fn estadisticas(app: &TestApp, token: &str) -> Value {
    let r = app.get("/api/estadisticas", token).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Polls `GET /api/estadisticas` until `listo` holds; panics with the last
/// answer after [`PLAZO`].
pub async fn estadisticas_cuando(
    app: &TestApp,
    token: &str,
    listo: impl Fn(&Value) -> bool,
) -> Value {
    let fin = tokio::time::Instant::now() + PLAZO;
    loop {
        let e = estadisticas(app, token).await;
        if listo(&e) {
            return e;
        }
        assert!(
            tokio::time::Instant::now() < fin,
            "las estadísticas no llegaron a lo esperado: {e}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn sesiones_total(e: &Value) -> u64 {
    e["sesiones_total"].as_u64().unwrap()
}

// ── The workflows, as a screen drives them ─────────────────────────────────

/// A logged-in user: the bearer token and the user's id.
pub struct Sesion {
    pub token: String,
    pub id: i64,
}

pub async fn entrar(app: &TestApp, usuario: &str) -> Sesion {
    let body = respuesta(app.login(usuario, PASSWORD).await, StatusCode::OK).await;
    Sesion {
        token: body["token"].as_str().expect("token").to_owned(),
        id: body["usuario"]["id"].as_i64().expect("usuario.id"),
    }
}

/// A screen of `sesion`, live at once: it resumes from its `hola`.
pub async fn pantalla(app: &TestApp, sesion: &Sesion) -> Cliente {
    let mut cliente = app.socket(&sesion.token).await;
    let desde = cliente.hola["ultimo_id"].as_i64().expect("hola.ultimo_id");
    cliente.reanudar(desde).await;
    cliente
}

/// Asserts the status (showing the body if it differs) and answers the JSON body.
pub async fn respuesta(r: reqwest::Response, status: StatusCode) -> Value {
    let real = r.status();
    let texto = r.text().await.expect("body");
    assert_eq!(real, status, "{texto}");
    serde_json::from_str(&texto).expect("JSON body")
}

pub async fn post_ok(
    app: &TestApp,
    path: &str,
    sesion: &Sesion,
    body: Value,
    status: StatusCode,
) -> Value {
    respuesta(app.post(path, &sesion.token, &body).await, status).await
}

pub async fn get_ok(app: &TestApp, path: &str, sesion: &Sesion) -> Value {
    respuesta(app.get(path, &sesion.token).await, StatusCode::OK).await
}

pub async fn crear_pedido(app: &TestApp, sesion: &Sesion, cliente: &str) -> Value {
    let body = json!({"cliente": cliente, "detalle": "2 salchipapas clásicas", "total": 25.5});
    post_ok(app, "/api/pedidos", sesion, body, StatusCode::CREATED).await
}

pub async fn aprobar_pedido(app: &TestApp, sesion: &Sesion, pedido: &Value) -> Value {
    let path = format!("/api/pedidos/{}/aprobar", pedido["id"]);
    post_ok(app, &path, sesion, json!({}), StatusCode::OK).await
}

pub async fn mover_pedido(app: &TestApp, sesion: &Sesion, pedido: &Value, estado: &str) -> Value {
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

pub async fn crear_alerta(
    app: &TestApp,
    sesion: &Sesion,
    pedido: &Value,
    mensaje: &str,
    prioridad: &str,
) -> Value {
    let body = json!({"pedido_id": pedido["id"], "mensaje": mensaje, "prioridad": prioridad});
    post_ok(app, "/api/alertas", sesion, body, StatusCode::CREATED).await
}

pub async fn crear_refill(app: &TestApp, sesion: &Sesion, producto: &str) -> Value {
    let body = json!({"producto": producto, "cantidad": 3, "nota": "para la hora punta"});
    post_ok(app, "/api/refills", sesion, body, StatusCode::CREATED).await
}

pub async fn crear_voucher(
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
pub async fn auditoria(app: &TestApp, jefa: &Sesion, tipo: &str) -> Vec<Value> {
    let body = get_ok(app, &format!("/api/eventos?tipo={tipo}&limit=1000"), jefa).await;
    let mut items = body["items"].as_array().expect("items").clone();
    items.reverse();
    items
}

/// Asserts who wrote an audited event, in which sucursal, about which row.
pub fn auditado(e: &Value, autor: &Sesion, sucursal: SucursalId, entidad: (&str, &Value)) {
    assert_eq!(e["usuario_id"], autor.id, "{e}");
    assert_eq!(e["sucursal_id"], sucursal.0, "{e}");
    assert_eq!(e["entidad_tipo"], entidad.0, "{e}");
    assert_eq!(&e["entidad_id"], entidad.1, "{e}");
}

/// Asserts a socket frame's type and row.
pub fn es(e: &Value, tipo: &str, entidad: (&str, &Value)) {
    assert_eq!(e["type"], "evento", "{e}");
    assert_eq!(e["tipo"], tipo, "{e}");
    assert_eq!(
        e["entidad"],
        json!({"tipo": entidad.0, "id": entidad.1}),
        "{e}"
    );
}

pub fn tipos(eventos: &[Value]) -> Vec<&str> {
    eventos
        .iter()
        .map(|e| e["tipo"].as_str().expect("tipo"))
        .collect()
}

pub fn id(fila: &Value) -> i64 {
    fila["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("sin id: {fila}"))
}

pub fn ids(filas: &[Value]) -> Vec<i64> {
    filas.iter().map(id).collect()
}

/// Asserts that nothing was published since `antes`: the log ends where it
/// did and no screen gets an event.
pub async fn nada_publicado(app: &TestApp, antes: EventoId, pantallas: Vec<&mut Cliente>) {
    assert_eq!(app.store.ultimo_evento_id().await.unwrap(), antes);
    nadie_recibe_nada(pantallas).await;
}

/// A POST with an `Idempotency-Key`: status, whether it was a replay, and the raw body.
pub async fn post_con_clave(
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
pub fn evento_imposible(tipo: &str, autor: &Sesion, entidad: (&str, i64)) -> NuevoEvento {
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
