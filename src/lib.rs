//! comanda — the realtime hub of the Cony Chips restaurant chain.
//!
//! Front-desk (atención), kitchen (cocina) and manager screens of every
//! sucursal keep a socket open on comanda; every change they must know about
//! reaches them within milliseconds, filtered to their sucursal and role, and
//! lands in an audit log. The contract is `DESIGN.md`; this file is the map.
//!
//! # Layout
//!
//! - [`config`] — the command line and its environment variables, parsed once
//!   into [`config::Settings`].
//! - [`telemetry`] — `tracing` setup: text or JSON lines.
//! - [`metricas`] — the Prometheus recorder (once per process) and the
//!   `comanda_*` series that `GET /metrics` shows: no personal data, bounded
//!   labels.
//! - [`modelo`] — the business's types (`Rol`, `Usuario`, `Sucursal`, id
//!   newtypes), parsed at the edge so invalid data can't get further; an
//!   event's kind and its row's kind ([`modelo::TipoEvento`],
//!   [`modelo::TipoEntidad`]: the known names, or any other as it came) and
//!   the typed payloads of the workflows' events ([`modelo::payload`]),
//!   written as the very JSON the screens read.
//! - [`store`] — the only place with SQL: one API over Postgres and SQLite,
//!   migrations per backend, readiness; the event log every write ends with
//!   (turn, insert, notify, commit, hand on to the Dispatcher).
//! - [`auth`] — argon2id passwords, session tokens (stored as hashes), the
//!   limits on logins (failed ones per name and address, successful ones per
//!   account), the [`auth::Autenticado`] extractor (one look-up per
//!   request, [`auth::autenticar`], whoever asks), the permission table
//!   every handler asks, and the revocation events (`sesion_cerrada`,
//!   `usuario_actualizado`) that end a login's sockets on every node.
//! - [`cuentas`] — accounts and sucursales as a superadmin manages them; the
//!   first-start superadmin and the `--demo` data.
//! - [`eventos`] — the built-in routing of events (the rules' fallback) and
//!   the seed-compatible flat publication.
//! - [`flujos`] — the seed's workflows: orders, kitchen alerts, refills and
//!   vouchers, each a scope-checked domain call that writes its row and its
//!   event in one transaction.
//! - [`reglas`] — the `RuleEngine`: Rhai scripts for priority, routing and
//!   escalation, bounded in operations and wall time and run on threads of
//!   their own (`reglas::pool`), never under a lock or on an event loop;
//!   hot reload by file and API; versions.
//! - [`realtime`] — the actors: `Dispatcher` (one per node: routes each
//!   event, keeps the sessions), `Monitor` (one per node: the admin screens,
//!   the ring of recent events, the counters), `Sucursal` and `Cocina` (one
//!   per sucursal), `Session` (one per socket), each file with the messages
//!   its actor handles; the subscribers to one kind of event (cross-node
//!   rule adoption); the WebSocket protocol; and the [`realtime::Realtime`]
//!   facade the rest of the node calls.
//! - [`error`] — [`error::ApiError`], the `{"error":{codigo,mensaje}}` answer.
//! - [`http`] — routes and thin handlers, one file per area; and what every
//!   request meets before them: the deadlines of its connection, the size
//!   and deadline of its body, the `Origin` of a cookie's write.
//! - [`app`] — startup: builds an [`app::Application`] from settings and runs
//!   it until SIGINT/SIGTERM.
//! - [`cli`] — the `migrate` and `usuario crear` commands.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod cuentas;
pub mod error;
pub mod eventos;
pub mod flujos;
pub mod http;
pub mod metricas;
pub mod modelo;
pub mod realtime;
pub mod reglas;
pub mod store;
pub mod telemetry;
