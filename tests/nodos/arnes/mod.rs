//! The harness: several `comanda serve` processes on one Postgres, and the
//! clients that talk to them.
//!
//! - `proceso` — a child process, its output collected, killed on drop.
//! - `base` — a fresh database per test on the machine's Postgres, or a
//!   private Postgres server the test may restart.
//! - `nodo` — one `comanda serve` ([`Nodo`]) and three of them on one
//!   database ([`Cluster`]): the first with `--demo`, the others joining.
//! - `socket` — a WebSocket client of `/ws`.
//! - `pantalla` — a screen that stays or hops between nodes, remembers what
//!   it got, and is checked against `eventos_realtime`.
//! - `publicador` — an integration publishing through `POST /api/eventos`.
//! - `escenario` — publishers, screens and an intervention run together,
//!   then every screen is checked.

pub mod base;
pub mod escenario;
pub mod nodo;
pub mod pantalla;
#[path = "../../comun/postgres.rs"]
pub mod postgres;
#[path = "../../comun/proceso.rs"]
pub mod proceso;
pub mod publicador;
#[path = "../../comun/reglas.rs"]
pub mod reglas;
pub mod socket;

pub use base::{BaseDeDatos, PostgresPropio};
pub use escenario::{UnPublicador, UnaPantalla, correr};
pub use nodo::{Ajustes, Cluster, NOMBRES, Nodo};
pub use pantalla::Perfil;
pub use publicador::{AlFallar, esperar_progreso};
pub use socket::{Conexion, Frame, Socket, conectar};
