//! Who may do what: one table, [`MATRIZ`], is the documentation of every
//! endpoint's answer for every role, in its own sucursal and in another,
//! without a token and with a bad one (design §2 and §7; where the design is
//! silent, the row's comment is the rule). A companion table, [`REPARTO`],
//! says which screens a published event reaches. Both are run against a real
//! server over HTTP and WebSocket, on both stores.

use std::collections::BTreeSet;
use std::time::Duration;

use comanda::auth::Token;
use comanda::modelo::{NombreRegla, Rol, SucursalId};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, en_ambos_stores, spawn_app_with};
use crate::socket::{Cliente, Conexion};

/// Who asks. "Propia" is sucursal 1, the one `admin1`, `atencion1`,
/// `cocina1` and `bot1` belong to; "otra" is sucursal 2. The chain-wide
/// accounts (superadmin, an admin and a bot without a sucursal) have both in
/// their scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quien {
    Superadmin,
    AdminDeCadena,
    Admin,
    Atencion,
    Cocina,
    ServicioDeCadena,
    Servicio,
}

/// The columns of [`MATRIZ`], in order.
const QUIENES: [Quien; 7] = [
    Quien::Superadmin,
    Quien::AdminDeCadena,
    Quien::Admin,
    Quien::Atencion,
    Quien::Cocina,
    Quien::ServicioDeCadena,
    Quien::Servicio,
];

impl Quien {
    fn login(self) -> &'static str {
        match self {
            Quien::Superadmin => "jefa",
            Quien::AdminDeCadena => "gerente",
            Quien::Admin => "admin1",
            Quien::Atencion => "atencion1",
            Quien::Cocina => "cocina1",
            Quien::ServicioDeCadena => "bot",
            Quien::Servicio => "bot1",
        }
    }

    /// Whether its scope is the whole chain.
    fn de_cadena(self) -> bool {
        matches!(
            self,
            Quien::Superadmin | Quien::AdminDeCadena | Quien::ServicioDeCadena
        )
    }
}

/// What the API answers in one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum R {
    /// Done: the row's success status.
    S,
    /// 403 `prohibido`, and nothing changed.
    X,
    /// 401 `no_autenticado`, and nothing changed.
    A,
    /// 404 `no_encontrado`.
    N,
}
use R::{A, N, S, X};

/// What a cell acts on, made fresh for that cell (by the superadmin, in the
/// cell's sucursal) so that one cell's success can't change the next one's
/// answer: the id goes into `{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Objeto {
    Nada,
    /// A login of its own, for `logout` to end (the caller's token).
    SesionPropia,
    Usuario,
    PedidoPendiente,
    PedidoEnPreparacion,
    AlertaSinLeer,
    RefillPendiente,
    VoucherPendiente,
    /// A saved version of `prioridad`.
    VersionDeRegla,
}

/// One endpoint. In `peticion` and `cuerpo`: `{s}` is the cell's sucursal,
/// `{id}` its [`Objeto`], `{n}` a number never used before, `{usuario}` the
/// caller's login, `{fuente}` the shipped `prioridad.rhai` as a JSON string.
struct Fila {
    peticion: &'static str,
    cuerpo: Option<&'static str>,
    objeto: Objeto,
    exito: u16,
    /// By [`QUIENES`], in the own sucursal — or with no sucursal in the
    /// request when `otra` is `None`.
    propia: [R; 7],
    /// By [`QUIENES`], with the other sucursal in the request.
    otra: Option<[R; 7]>,
    /// Without a token, and with a well-formed token that was never issued.
    anonimo: [R; 2],
    /// For a list: the field of each item that names its sucursal. Every
    /// item must be in the caller's scope (and the sucursal asked for), and
    /// the list must not be empty (both sucursales have rows of every kind).
    sucursal_de_items: Option<&'static str>,
}

/// Every logged-in user.
const TODOS: [R; 7] = [S, S, S, S, S, S, S];
/// Only the superadmin.
const SOLO_SUPERADMIN: [R; 7] = [S, X, X, X, X, X, X];
/// The monitors: superadmin and admins (design §2: "the monitor of its scope, edit rules").
const MONITORES: [R; 7] = [S, S, S, X, X, X, X];
/// A logged-in user is required.
const CON_SESION: [R; 2] = [A, A];

#[rustfmt::skip]
const MATRIZ: &[Fila] = &[
    //                                                       superadmin  admin de cadena  admin  atención  cocina  servicio de cadena  servicio
    // Anyone logs in with their own password; a stale token sent along is ignored.
    Fila { peticion: "POST /api/login", cuerpo: Some(r#"{"usuario":"{usuario}","password":"{password}"}"#),
        objeto: Objeto::Nada, exito: 200, propia: TODOS, otra: None, anonimo: [S, S], sucursal_de_items: None },
    // Logout ends the caller's own session.
    Fila { peticion: "POST /api/logout", cuerpo: None,
        objeto: Objeto::SesionPropia, exito: 204, propia: TODOS, otra: None, anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "GET /api/me", cuerpo: None,
        objeto: Objeto::Nada, exito: 200, propia: TODOS, otra: None, anonimo: CON_SESION, sucursal_de_items: None },
    // Everyone lists the sucursales of their scope: the list is filtered, never refused.
    Fila { peticion: "GET /api/sucursales", cuerpo: None,
        objeto: Objeto::Nada, exito: 200, propia: TODOS, otra: None, anonimo: CON_SESION, sucursal_de_items: Some("id") },
    // Sucursales and users are the superadmin's (design §2).
    Fila { peticion: "POST /api/sucursales", cuerpo: Some(r#"{"nombre":"Sucursal {n}"}"#),
        objeto: Objeto::Nada, exito: 201, propia: SOLO_SUPERADMIN, otra: None, anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "GET /api/usuarios", cuerpo: None,
        objeto: Objeto::Nada, exito: 200, propia: SOLO_SUPERADMIN, otra: None, anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "POST /api/usuarios", cuerpo: Some(r#"{"usuario":"nuevo{n}","password":"{password}","rol":"cocina","sucursal_id":{s}}"#),
        objeto: Objeto::Nada, exito: 201, propia: SOLO_SUPERADMIN, otra: Some(SOLO_SUPERADMIN), anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "PATCH /api/usuarios/{id}", cuerpo: Some(r#"{"nombre":"Renombrado {n}"}"#),
        objeto: Objeto::Usuario, exito: 200, propia: SOLO_SUPERADMIN, otra: Some(SOLO_SUPERADMIN), anonimo: CON_SESION, sucursal_de_items: None },
    // Publishing an arbitrary event is the integrations' (servicio, in its
    // scope) and the superadmin's (design §2, §7a); admins, desk and kitchen
    // act through the workflows, whose events have a row behind them.
    Fila { peticion: "POST /api/eventos", cuerpo: Some(r#"{"tipo":"integracion_prueba","sucursal_id":{s},"dato":{n}}"#),
        objeto: Objeto::Nada, exito: 201, propia: [S, X, X, X, X, S, S], otra: Some([S, X, X, X, X, S, X]), anonimo: CON_SESION, sucursal_de_items: None },
    // The audit log and the counters are the monitor's, in its scope.
    Fila { peticion: "GET /api/eventos?sucursal_id={s}", cuerpo: None,
        objeto: Objeto::Nada, exito: 200, propia: MONITORES, otra: Some([S, S, X, X, X, X, X]), anonimo: CON_SESION, sucursal_de_items: Some("sucursal_id") },
    Fila { peticion: "GET /api/estadisticas", cuerpo: None,
        objeto: Objeto::Nada, exito: 200, propia: MONITORES, otra: None, anonimo: CON_SESION, sucursal_de_items: None },
    // The in-memory live log is the superadmin's (design §7).
    Fila { peticion: "GET /api/eventos/vivo", cuerpo: None,
        objeto: Objeto::Nada, exito: 200, propia: SOLO_SUPERADMIN, otra: None, anonimo: CON_SESION, sucursal_de_items: None },
    // The rules are the chain's, edited by any admin (design §2).
    Fila { peticion: "GET /api/reglas", cuerpo: None,
        objeto: Objeto::Nada, exito: 200, propia: MONITORES, otra: None, anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "GET /api/reglas/prioridad", cuerpo: None,
        objeto: Objeto::Nada, exito: 200, propia: MONITORES, otra: None, anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "PUT /api/reglas/prioridad", cuerpo: Some(r#"{"fuente":{fuente}}"#),
        objeto: Objeto::Nada, exito: 200, propia: MONITORES, otra: None, anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "POST /api/reglas/prioridad/validar", cuerpo: Some(r#"{"fuente":{fuente}}"#),
        objeto: Objeto::Nada, exito: 200, propia: MONITORES, otra: None, anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "POST /api/reglas/probar", cuerpo: Some(r#"{"nombre":"prioridad","muestra":{"mensaje":"urgente {n}"}}"#),
        objeto: Objeto::Nada, exito: 200, propia: MONITORES, otra: None, anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "GET /api/reglas/prioridad/versiones", cuerpo: None,
        objeto: Objeto::Nada, exito: 200, propia: MONITORES, otra: None, anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "POST /api/reglas/prioridad/restaurar", cuerpo: Some(r#"{"version":{id}}"#),
        objeto: Objeto::VersionDeRegla, exito: 200, propia: MONITORES, otra: None, anonimo: CON_SESION, sucursal_de_items: None },
    // Orders: the desk, the managers, and the bot (origen whatsapp) register
    // them; the desk and the managers approve; the kitchen sees them and
    // moves them along (EN_PREPARACION is its work: the design is silent,
    // the seed's kitchen marks them LISTO).
    Fila { peticion: "GET /api/pedidos?sucursal_id={s}", cuerpo: None,
        objeto: Objeto::Nada, exito: 200, propia: [S, S, S, S, S, X, X], otra: Some([S, S, X, X, X, X, X]), anonimo: CON_SESION, sucursal_de_items: Some("sucursal_id") },
    Fila { peticion: "POST /api/pedidos", cuerpo: Some(r#"{"cliente":"Mesa {n}","detalle":"papas","total":12.5,"sucursal_id":{s}}"#),
        objeto: Objeto::Nada, exito: 201, propia: [S, S, S, S, X, S, S], otra: Some([S, S, X, X, X, S, X]), anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "POST /api/pedidos/{id}/aprobar", cuerpo: None,
        objeto: Objeto::PedidoPendiente, exito: 200, propia: [S, S, S, S, X, X, X], otra: Some([S, S, X, X, X, X, X]), anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "POST /api/pedidos/{id}/estado", cuerpo: Some(r#"{"estado":"LISTO"}"#),
        objeto: Objeto::PedidoEnPreparacion, exito: 200, propia: [S, S, S, S, S, X, X], otra: Some([S, S, X, X, X, X, X]), anonimo: CON_SESION, sucursal_de_items: None },
    // Kitchen alerts and refills: the desk and the managers ask; the kitchen
    // and the managers attend (a manager covers the kitchen: the design is
    // silent); desk, kitchen and managers see the lists; the bot does neither.
    Fila { peticion: "GET /api/alertas?sucursal_id={s}", cuerpo: None,
        objeto: Objeto::Nada, exito: 200, propia: [S, S, S, S, S, X, X], otra: Some([S, S, X, X, X, X, X]), anonimo: CON_SESION, sucursal_de_items: Some("sucursal_id") },
    Fila { peticion: "POST /api/alertas", cuerpo: Some(r#"{"mensaje":"Mesa {n}","sucursal_id":{s}}"#),
        objeto: Objeto::Nada, exito: 201, propia: [S, S, S, S, X, X, X], otra: Some([S, S, X, X, X, X, X]), anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "POST /api/alertas/{id}/leida", cuerpo: None,
        objeto: Objeto::AlertaSinLeer, exito: 200, propia: [S, S, S, X, S, X, X], otra: Some([S, S, X, X, X, X, X]), anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "GET /api/refills?sucursal_id={s}", cuerpo: None,
        objeto: Objeto::Nada, exito: 200, propia: [S, S, S, S, S, X, X], otra: Some([S, S, X, X, X, X, X]), anonimo: CON_SESION, sucursal_de_items: Some("sucursal_id") },
    Fila { peticion: "POST /api/refills", cuerpo: Some(r#"{"producto":"papas {n}","cantidad":2,"sucursal_id":{s}}"#),
        objeto: Objeto::Nada, exito: 201, propia: [S, S, S, S, X, X, X], otra: Some([S, S, X, X, X, X, X]), anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "POST /api/refills/{id}/estado", cuerpo: Some(r#"{"estado":"en_proceso"}"#),
        objeto: Objeto::RefillPendiente, exito: 200, propia: [S, S, S, X, S, X, X], otra: Some([S, S, X, X, X, X, X]), anonimo: CON_SESION, sucursal_de_items: None },
    // Vouchers: the bot, the desk and the managers register them; the desk
    // and the managers review them (the kitchen never handles money).
    Fila { peticion: "GET /api/vouchers?sucursal_id={s}", cuerpo: None,
        objeto: Objeto::Nada, exito: 200, propia: [S, S, S, S, X, X, X], otra: Some([S, S, X, X, X, X, X]), anonimo: CON_SESION, sucursal_de_items: Some("sucursal_id") },
    Fila { peticion: "POST /api/vouchers", cuerpo: Some(r#"{"monto":25.5,"numero_operacion":"OP-{n}","sucursal_id":{s}}"#),
        objeto: Objeto::Nada, exito: 201, propia: [S, S, S, S, X, S, S], otra: Some([S, S, X, X, X, S, X]), anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "POST /api/vouchers/{id}/aprobar", cuerpo: None,
        objeto: Objeto::VoucherPendiente, exito: 200, propia: [S, S, S, S, X, X, X], otra: Some([S, S, X, X, X, X, X]), anonimo: CON_SESION, sucursal_de_items: None },
    Fila { peticion: "POST /api/vouchers/{id}/rechazar", cuerpo: Some(r#"{"motivo":"ilegible"}"#),
        objeto: Objeto::VoucherPendiente, exito: 200, propia: [S, S, S, S, X, X, X], otra: Some([S, S, X, X, X, X, X]), anonimo: CON_SESION, sucursal_de_items: None },
    // An unknown API path is a 404 for everybody, before any authentication.
    Fila { peticion: "GET /api/no-existe", cuerpo: None,
        objeto: Objeto::Nada, exito: 404, propia: [N, N, N, N, N, N, N], otra: None, anonimo: [N, N], sucursal_de_items: None },
    // The probes answer anyone: a load balancer has no account.
    Fila { peticion: "GET /healthz", cuerpo: None,
        objeto: Objeto::Nada, exito: 200, propia: TODOS, otra: None, anonimo: [S, S], sucursal_de_items: None },
    Fila { peticion: "GET /readyz", cuerpo: None,
        objeto: Objeto::Nada, exito: 200, propia: TODOS, otra: None, anonimo: [S, S], sucursal_de_items: None },
];

/// The screens of [`REPARTO`], in its column order: login, and whether it
/// may publish a flat event over its socket (the same rule as `POST /api/eventos`).
const PANTALLAS: [(&str, bool); 10] = [
    ("jefa", true),
    ("gerente", false),
    ("admin1", false),
    ("admin2", false),
    ("atencion1", false),
    ("atencion2", false),
    ("cocina1", false),
    ("cocina2", false),
    ("bot1", true),
    ("bot", true),
];

/// Where an event is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Donde {
    S1,
    S2,
    /// No sucursal: a chain-wide event.
    Cadena,
}

/// Receives.
const SI: bool = true;
/// Does not receive.
const NO: bool = false;

/// Which screens receive an event addressed (by the rules' `destinos`) to
/// these audiences, in this sucursal. Design §2 and §4: a desk or kitchen
/// screen gets its own sucursal's events addressed to its role; an admin or
/// superadmin screen is a monitor and gets every event of its scope —
/// chain-wide events only with the whole chain in scope; a servicio socket
/// (the bot) gets nothing; nobody gets another sucursal's events.
#[rustfmt::skip]
const REPARTO: &[(&[&str], Donde, [bool; 10])] = &[
    //                                                 jefa  gerente  admin1  admin2  atencion1  atencion2  cocina1  cocina2  bot1  bot
    (&[],                              Donde::S1,     [SI,   SI,      SI,     NO,     NO,        NO,        NO,      NO,      NO,   NO]),
    (&["atencion"],                    Donde::S1,     [SI,   SI,      SI,     NO,     SI,        NO,        NO,      NO,      NO,   NO]),
    (&["cocina"],                      Donde::S1,     [SI,   SI,      SI,     NO,     NO,        NO,        SI,      NO,      NO,   NO]),
    (&["admin"],                       Donde::S1,     [SI,   SI,      SI,     NO,     NO,        NO,        NO,      NO,      NO,   NO]),
    (&["atencion", "cocina"],          Donde::S1,     [SI,   SI,      SI,     NO,     SI,        NO,        SI,      NO,      NO,   NO]),
    (&["atencion", "admin"],           Donde::S1,     [SI,   SI,      SI,     NO,     SI,        NO,        NO,      NO,      NO,   NO]),
    (&["cocina", "admin"],             Donde::S1,     [SI,   SI,      SI,     NO,     NO,        NO,        SI,      NO,      NO,   NO]),
    (&["atencion", "cocina", "admin"], Donde::S1,     [SI,   SI,      SI,     NO,     SI,        NO,        SI,      NO,      NO,   NO]),
    (&[],                              Donde::S2,     [SI,   SI,      NO,     SI,     NO,        NO,        NO,      NO,      NO,   NO]),
    (&["atencion"],                    Donde::S2,     [SI,   SI,      NO,     SI,     NO,        SI,        NO,      NO,      NO,   NO]),
    (&["cocina"],                      Donde::S2,     [SI,   SI,      NO,     SI,     NO,        NO,        NO,      SI,      NO,   NO]),
    (&["admin"],                       Donde::S2,     [SI,   SI,      NO,     SI,     NO,        NO,        NO,      NO,      NO,   NO]),
    (&["atencion", "cocina"],          Donde::S2,     [SI,   SI,      NO,     SI,     NO,        SI,        NO,      SI,      NO,   NO]),
    (&["atencion", "admin"],           Donde::S2,     [SI,   SI,      NO,     SI,     NO,        SI,        NO,      NO,      NO,   NO]),
    (&["cocina", "admin"],             Donde::S2,     [SI,   SI,      NO,     SI,     NO,        NO,        NO,      SI,      NO,   NO]),
    (&["atencion", "cocina", "admin"], Donde::S2,     [SI,   SI,      NO,     SI,     NO,        SI,        NO,      SI,      NO,   NO]),
    (&[],                              Donde::Cadena, [SI,   SI,      NO,     NO,     NO,        NO,        NO,      NO,      NO,   NO]),
    (&["atencion"],                    Donde::Cadena, [SI,   SI,      NO,     NO,     NO,        NO,        NO,      NO,      NO,   NO]),
    (&["cocina"],                      Donde::Cadena, [SI,   SI,      NO,     NO,     NO,        NO,        NO,      NO,      NO,   NO]),
    (&["admin"],                       Donde::Cadena, [SI,   SI,      NO,     NO,     NO,        NO,        NO,      NO,      NO,   NO]),
    (&["atencion", "cocina"],          Donde::Cadena, [SI,   SI,      NO,     NO,     NO,        NO,        NO,      NO,      NO,   NO]),
    (&["atencion", "admin"],           Donde::Cadena, [SI,   SI,      NO,     NO,     NO,        NO,        NO,      NO,      NO,   NO]),
    (&["cocina", "admin"],             Donde::Cadena, [SI,   SI,      NO,     NO,     NO,        NO,        NO,      NO,      NO,   NO]),
    (&["atencion", "cocina", "admin"], Donde::Cadena, [SI,   SI,      NO,     NO,     NO,        NO,        NO,      NO,      NO,   NO]),
];

/// Two sucursales, the accounts of [`QUIENES`] and [`PANTALLAS`], and one
/// row of every kind in each sucursal, so that no list is empty.
struct Escena {
    app: TestApp,
    s1: SucursalId,
    s2: SucursalId,
    /// The superadmin's token: it prepares every cell's [`Objeto`].
    jefa: String,
    fuente_prioridad: String,
    contador: u64,
}

impl Escena {
    async fn nueva(backend: comanda::store::Backend) -> Self {
        let app = spawn_app_with(backend, |s| {
            // No escalation may publish anything while a cell is measured.
            s.realtime.escalado_intervalo = Duration::from_secs(3600);
        })
        .await;
        let s1 = app.crear_sucursal("Centro").await;
        let s2 = app.crear_sucursal("Norte").await;
        let cuentas: [(&str, Rol, Option<SucursalId>); 11] = [
            ("jefa", Rol::Superadmin, None),
            ("gerente", Rol::Admin, None),
            ("bot", Rol::Servicio, None),
            ("admin1", Rol::Admin, Some(s1)),
            ("atencion1", Rol::Atencion, Some(s1)),
            ("cocina1", Rol::Cocina, Some(s1)),
            ("bot1", Rol::Servicio, Some(s1)),
            ("admin2", Rol::Admin, Some(s2)),
            ("atencion2", Rol::Atencion, Some(s2)),
            ("cocina2", Rol::Cocina, Some(s2)),
            ("bot2", Rol::Servicio, Some(s2)),
        ];
        for (login, rol, sucursal) in cuentas {
            app.crear_usuario(login, rol, sucursal).await;
        }
        let jefa = app.token("jefa").await;
        let fuente_prioridad =
            std::fs::read_to_string(app.reglas.path().join("prioridad.rhai")).unwrap();
        let mut escena = Escena {
            app,
            s1,
            s2,
            jefa,
            fuente_prioridad,
            contador: 0,
        };
        for s in [s1, s2] {
            for objeto in [
                Objeto::PedidoPendiente,
                Objeto::AlertaSinLeer,
                Objeto::RefillPendiente,
                Objeto::VoucherPendiente,
            ] {
                escena.preparar(objeto, s, "jefa").await;
            }
        }
        escena
    }

    fn siguiente(&mut self) -> u64 {
        self.contador += 1;
        self.contador
    }

    /// A request as the superadmin that must succeed; answers its body.
    async fn como_jefa(&self, metodo: Method, ruta: &str, cuerpo: Value) -> Value {
        let (status, body) = pedir(&self.app, metodo, ruta, Some(&self.jefa), Some(cuerpo)).await;
        assert!((200..300).contains(&status), "{ruta}: {status} {body}");
        body
    }

    /// Makes the cell's object in sucursal `s`; answers what replaces `{id}`
    /// and, for [`Objeto::SesionPropia`], the token to use instead.
    async fn preparar(
        &mut self,
        objeto: Objeto,
        s: SucursalId,
        login: &str,
    ) -> (i64, Option<String>) {
        let n = self.siguiente();
        let post = Method::POST;
        let id = |v: Value| v["id"].as_i64().expect("id");
        match objeto {
            Objeto::Nada => (0, None),
            Objeto::SesionPropia => (0, Some(self.app.token(login).await)),
            Objeto::Usuario => {
                let u = self
                    .app
                    .crear_usuario(&format!("objeto{n}"), Rol::Cocina, Some(s))
                    .await;
                (u.id.0, None)
            }
            Objeto::PedidoPendiente | Objeto::PedidoEnPreparacion => {
                let cuerpo = json!({"cliente": format!("Objeto {n}"), "detalle": "papas", "total": 10, "sucursal_id": s.0});
                let pedido = id(self.como_jefa(post.clone(), "/api/pedidos", cuerpo).await);
                if objeto == Objeto::PedidoEnPreparacion {
                    self.como_jefa(post, &format!("/api/pedidos/{pedido}/aprobar"), json!({}))
                        .await;
                }
                (pedido, None)
            }
            Objeto::AlertaSinLeer => {
                let cuerpo = json!({"mensaje": format!("Objeto {n}"), "sucursal_id": s.0});
                (id(self.como_jefa(post, "/api/alertas", cuerpo).await), None)
            }
            Objeto::RefillPendiente => {
                let cuerpo =
                    json!({"producto": format!("Objeto {n}"), "cantidad": 1, "sucursal_id": s.0});
                (id(self.como_jefa(post, "/api/refills", cuerpo).await), None)
            }
            Objeto::VoucherPendiente => {
                let cuerpo = json!({"monto": 10, "numero_operacion": format!("OBJ-{n}"), "sucursal_id": s.0});
                (
                    id(self.como_jefa(post, "/api/vouchers", cuerpo).await),
                    None,
                )
            }
            Objeto::VersionDeRegla => {
                let versiones = self
                    .app
                    .store
                    .versiones(NombreRegla::Prioridad)
                    .await
                    .unwrap();
                (
                    versiones.first().expect("una versión de prioridad").id,
                    None,
                )
            }
        }
    }

    /// What must not change when a request is refused: the event log (every
    /// write of a workflow, a rule or an event publishes one), the accounts
    /// and the sucursales.
    async fn huella(&self) -> (i64, Vec<comanda::modelo::Usuario>, usize) {
        let store = &self.app.store;
        (
            store.ultimo_evento_id().await.unwrap().0,
            store.usuarios().await.unwrap(),
            store.sucursales(None).await.unwrap().len(),
        )
    }
}

/// Sends one request; answers the status and the body (`null` when empty).
async fn pedir(
    app: &TestApp,
    metodo: Method,
    ruta: &str,
    token: Option<&str>,
    cuerpo: Option<Value>,
) -> (u16, Value) {
    let mut req = app.client.request(metodo, app.url(ruta));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(c) = cuerpo {
        req = req.json(&c);
    }
    let r = req.send().await.expect("the server answers");
    let status = r.status().as_u16();
    let texto = r.text().await.unwrap();
    let body = if texto.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&texto).unwrap_or(Value::String(texto))
    };
    (status, body)
}

/// One cell: who, where, and what must come of it.
struct Celda {
    quien: Option<Quien>,
    token: Option<String>,
    sucursal: SucursalId,
    /// `Some` when the request names a sucursal.
    pedida: Option<SucursalId>,
    esperado: R,
}

/// Runs one cell; answers a line describing the mismatch, if any.
async fn probar_celda(escena: &mut Escena, fila: &Fila, celda: Celda) -> Option<String> {
    let login = celda.quien.map_or("atencion1", Quien::login);
    let (id, token_propio) = escena.preparar(fila.objeto, celda.sucursal, login).await;
    let token = token_propio
        .filter(|_| celda.quien.is_some())
        .or(celda.token);
    let n = escena.siguiente();
    let rellenar = |plantilla: &str| {
        plantilla
            .replace("{s}", &celda.sucursal.0.to_string())
            .replace("{id}", &id.to_string())
            .replace("{n}", &n.to_string())
            .replace("{usuario}", login)
            .replace("{password}", PASSWORD)
            .replace(
                "{fuente}",
                &Value::from(escena.fuente_prioridad.as_str()).to_string(),
            )
    };
    let (metodo, ruta) = fila.peticion.split_once(' ').unwrap();
    let metodo = Method::from_bytes(metodo.as_bytes()).unwrap();
    let ruta = rellenar(ruta);
    let cuerpo = fila.cuerpo.map(|c| {
        serde_json::from_str::<Value>(&rellenar(c))
            .unwrap_or_else(|e| panic!("{}: {e}", fila.peticion))
    });
    let antes = escena.huella().await;
    let (status, body) = pedir(&escena.app, metodo, &ruta, token.as_deref(), cuerpo).await;
    let quien = celda
        .quien
        .map_or_else(|| "sin sesión".to_owned(), |q| format!("{q:?}"));
    let donde = match celda.pedida {
        Some(s) => format!(" sobre la sucursal {s}"),
        None => String::new(),
    };
    let fallo = |esperado: String| {
        Some(format!(
            "{} como {quien}{donde}: se esperaba {esperado}, llegó {status} {body}",
            fila.peticion
        ))
    };
    let (status_esperado, codigo) = match celda.esperado {
        R::S => (fila.exito, None),
        R::X => (403, Some("prohibido")),
        R::A => (401, Some("no_autenticado")),
        R::N => (404, Some("no_encontrado")),
    };
    if status != status_esperado {
        return fallo(status_esperado.to_string());
    }
    if let Some(codigo) = codigo {
        if body["error"]["codigo"] != codigo || !body["error"]["mensaje"].is_string() {
            return fallo(format!("{status_esperado} {codigo}"));
        }
        if celda.esperado != R::N && escena.huella().await != antes {
            return fallo(format!("{status_esperado} {codigo} sin cambiar nada"));
        }
    }
    if celda.esperado == R::S
        && let Some(campo) = fila.sucursal_de_items
    {
        let items = body["items"].as_array().cloned().unwrap_or_default();
        let fuera: Vec<&Value> = items
            .iter()
            .filter(|i| {
                let s = i[campo].as_i64().map(SucursalId);
                let en_alcance = match celda.quien {
                    Some(q) if !q.de_cadena() => s == Some(escena.s1),
                    _ => true,
                };
                !en_alcance || celda.pedida.is_some_and(|p| s != Some(p))
            })
            .collect();
        if items.is_empty() || !fuera.is_empty() {
            return fallo(format!(
                "una lista no vacía de su alcance (fuera: {fuera:?})"
            ));
        }
    }
    None
}

/// Reads every screen up to its sucursal's sentinel (the last one for the
/// chain-wide monitors); a bot, which never gets one, is given a bounded
/// wait in which nothing may arrive. Answers the ids each got, sentinels aside.
async fn recibir_hasta_el_centinela(
    pantallas: &mut [Cliente],
    centinelas: &[i64; 2],
) -> Vec<BTreeSet<i64>> {
    let recibidos = join_all(pantallas.iter_mut().enumerate().map(|(i, c)| {
        let centinela = match PANTALLAS[i].0 {
            "admin1" | "atencion1" | "cocina1" => Some(centinelas[0]),
            "bot1" | "bot" => None,
            _ => Some(centinelas[1]),
        };
        async move {
            let mut ids = BTreeSet::new();
            let Some(centinela) = centinela else {
                // By the time the others have their sentinel, anything meant
                // for a bot was sent long ago; wait a little more still.
                return ids;
            };
            loop {
                let id = c.evento().await["id"].as_i64().unwrap();
                if id == centinela {
                    return ids;
                }
                if !centinelas.contains(&id) {
                    ids.insert(id);
                }
            }
        }
    }))
    .await;
    for (i, (login, _)) in PANTALLAS.iter().enumerate() {
        if login.starts_with("bot") {
            pantallas[i]
                .ningun_evento_en(Duration::from_millis(300))
                .await;
        }
    }
    recibidos
}

/// One line per screen whose events differ from its column of [`REPARTO`].
fn comparar_con_reparto(
    cuando: &str,
    recibidos: &[BTreeSet<i64>],
    publicados: &[i64],
) -> Vec<String> {
    let describir = |ids: BTreeSet<i64>| -> Vec<String> {
        ids.iter()
            .map(|id| {
                let k = publicados
                    .iter()
                    .position(|p| p == id)
                    .expect("publicado aquí");
                format!("{:?} en {:?}", REPARTO[k].0, REPARTO[k].1)
            })
            .collect()
    };
    let mut fallos = Vec::new();
    for (i, (login, _)) in PANTALLAS.iter().enumerate() {
        let esperados: BTreeSet<i64> = REPARTO
            .iter()
            .zip(publicados)
            .filter(|((_, _, reciben), _)| reciben[i])
            .map(|(_, id)| *id)
            .collect();
        if recibidos[i] != esperados {
            fallos.push(format!(
                "{cuando}, {login}: de más {:?}, de menos {:?}",
                describir(recibidos[i].difference(&esperados).copied().collect()),
                describir(esperados.difference(&recibidos[i]).copied().collect()),
            ));
        }
    }
    fallos
}

en_ambos_stores! {
    async fn cada_endpoint_contesta_a_cada_rol_lo_documentado(backend) {
        let mut escena = Escena::nueva(backend).await;
        let mut tokens = Vec::new();
        for q in QUIENES {
            tokens.push(escena.app.token(q.login()).await);
        }
        let (s1, s2) = (escena.s1, escena.s2);
        let mut fallos = Vec::new();
        let mut celdas = 0;
        for fila in MATRIZ {
            let mut lado = vec![(s1, fila.propia, fila.otra.map(|_| s1))];
            if let Some(otra) = fila.otra {
                lado.push((s2, otra, Some(s2)));
            }
            for (sucursal, esperados, pedida) in lado {
                for (i, quien) in QUIENES.into_iter().enumerate() {
                    let celda = Celda {
                        quien: Some(quien),
                        token: Some(tokens[i].clone()),
                        sucursal,
                        pedida,
                        esperado: esperados[i],
                    };
                    fallos.extend(probar_celda(&mut escena, fila, celda).await);
                    celdas += 1;
                }
            }
            let nunca_emitido = Token::generar().as_str().to_owned();
            for (token, esperado) in [(None, fila.anonimo[0]), (Some(nunca_emitido), fila.anonimo[1])] {
                let celda = Celda { quien: None, token, sucursal: s1, pedida: fila.otra.map(|_| s1), esperado };
                fallos.extend(probar_celda(&mut escena, fila, celda).await);
                celdas += 1;
            }
        }
        assert!(celdas > 400, "{celdas} celdas");
        assert!(fallos.is_empty(), "{} de {celdas} celdas no contestan lo documentado:\n{}", fallos.len(), fallos.join("\n"));
    }

    async fn cada_pantalla_recibe_exactamente_lo_de_su_rol_y_su_alcance(backend) {
        let escena = Escena::nueva(backend).await;
        let (app, s1, s2) = (&escena.app, escena.s1, escena.s2);
        // The audiences come from the event itself, so that every
        // combination can be published; an event without them (the rule's
        // own `regla_actualizada`) goes to the admins, without a rule failure
        // (which would publish an event of its own).
        let regla = json!({"fuente": r#"
            fn destinos(evento) {
                let d = evento.payload.destinos;
                if type_of(d) == "array" { d } else { ["admin"] }
            }"#});
        escena.como_jefa(Method::PUT, "/api/reglas/destinos", regla).await;

        // Who may open a socket: every account; nobody without a valid session.
        let nunca_emitido = Token::generar();
        for cabeceras in [vec![], vec![("Authorization", format!("Bearer {}", nunca_emitido.as_str()))]] {
            match app.conectar(&cabeceras).await {
                Conexion::Cerrada(4001) => {}
                otra => panic!("un socket sin sesión válida se cierra con 4001: {otra:?}"),
            }
        }
        let mut pantallas: Vec<Cliente> = Vec::new();
        for (login, _) in PANTALLAS {
            let mut c = app.socket(&app.token(login).await).await;
            assert_eq!(c.hola["usuario"]["usuario"], login, "{}", c.hola);
            let ultimo = c.hola["ultimo_id"].as_i64().unwrap();
            c.reanudar(ultimo).await;
            c.ping().await;
            pantallas.push(c);
        }

        let antes = app.store.ultimo_evento_id().await.unwrap().0;
        let mut publicados = Vec::new();
        for (destinos, donde, _) in REPARTO {
            let mut evento = json!({"tipo": "reparto_prueba", "destinos": destinos});
            match donde {
                Donde::S1 => evento["sucursal_id"] = s1.0.into(),
                Donde::S2 => evento["sucursal_id"] = s2.0.into(),
                Donde::Cadena => {}
            }
            let body = escena.como_jefa(Method::POST, "/api/eventos", evento).await;
            assert_eq!(body["sucursal_id"], match donde {
                Donde::S1 => json!(s1.0),
                Donde::S2 => json!(s2.0),
                Donde::Cadena => Value::Null,
            });
            publicados.push(body["id"].as_i64().unwrap());
        }
        // Sentinels, last: every screen of a sucursal gets its sucursal's;
        // once a screen has it, every earlier event it was due has come.
        let todos = json!(["atencion", "cocina", "admin"]);
        let mut centinelas = [0; 2];
        for (k, s) in [s1, s2].into_iter().enumerate() {
            let evento = json!({"tipo": "centinela", "destinos": todos, "sucursal_id": s.0});
            centinelas[k] = escena.como_jefa(Method::POST, "/api/eventos", evento).await["id"].as_i64().unwrap();
        }

        // Live, then replayed: the same accounts on new sockets, resuming
        // from before the first event, must get exactly the same (design
        // §6: the same rule decides live delivery and replay). A socket
        // resumes once.
        let mut fallos = Vec::new();
        let recibidos = recibir_hasta_el_centinela(&mut pantallas, &centinelas).await;
        fallos.extend(comparar_con_reparto("en vivo", &recibidos, &publicados));
        for (c, (login, _)) in pantallas.iter_mut().zip(PANTALLAS) {
            *c = app.socket(&app.token(login).await).await;
            c.reanudar(antes).await;
        }
        let recibidos = recibir_hasta_el_centinela(&mut pantallas, &centinelas).await;
        fallos.extend(comparar_con_reparto("al reanudar", &recibidos, &publicados));
        assert!(fallos.is_empty(), "reparto distinto del documentado:\n{}", fallos.join("\n"));

        // Publishing over the socket follows `POST /api/eventos`: the bots
        // and the superadmin, in their scope; nobody else.
        for (i, (login, publica)) in PANTALLAS.iter().enumerate() {
            let sucursal = if login.ends_with('2') { s2 } else { s1 };
            let c = &mut pantallas[i];
            c.enviar(&json!({"tipo": "por_el_socket", "sucursal_id": sucursal.0})).await;
            let respuesta = loop {
                let v = c.siguiente().await;
                if v["type"] == "publicado" || v["type"] == "error" {
                    break v;
                }
            };
            if *publica {
                assert_eq!(respuesta["type"], "publicado", "{login}: {respuesta}");
            } else {
                assert_eq!(respuesta["type"], "error", "{login}: {respuesta}");
                assert_eq!(respuesta["codigo"], "prohibido", "{login}: {respuesta}");
            }
        }
    }
}
