//! Faults under a real `comanda serve` (issue 9): the store goes away or
//! stops taking writes, the process is killed or asked to stop — while the
//! desk writes at a steady rate with `Idempotency-Key`s and kitchen and desk
//! screens stay connected. Each test checks what the clients were told
//! against what the store holds: a write is acknowledged (2xx) only if it is
//! stored, exactly once, and every screen gets every event it may see,
//! exactly once, in id order. And a logged-in client that sends frames far
//! over the limit must not make the process buffer them (`frames_enormes`).
//!
//! The processes, databases and screens are those of `tests/nodos`
//! (`tests/nodos/arnes`, shared through `#[path]`). Needs Postgres at
//! `TEST_DATABASE_URL` (trust auth), the server binaries under
//! `/usr/lib/postgresql/*/bin` for the test that stops Postgres, and
//! `chattr` with `CAP_LINUX_IMMUTABLE` (root) for the read-only SQLite test.
//! Nothing is skipped: without them the tests fail, saying what is missing.

// Each test binary that includes the harness uses a part of it.
#[allow(dead_code, unused_imports)]
#[path = "../nodos/arnes/mod.rs"]
mod arnes;

#[path = "../comun/trama.rs"]
mod trama;

mod almacen;
mod escritor;
mod sondeo;

mod cuerpos_lentos;
mod escrituras_bloqueadas;
mod frames_enormes;
mod postgres_parado;
mod reglas_hostiles;
mod sigkill;
mod sigterm;
mod sqlite_de_solo_lectura;
