//! Several nodes on one Postgres (design §10): three real `comanda serve`
//! processes on ports of their own share one database, and real clients
//! publish on some and listen on others — while LISTEN connections are
//! cut, Postgres restarts, or a node is killed. Every test expects each
//! screen to get every event it may see, on whichever node, exactly once
//! and in id order, with `eventos_realtime` as the judge.
//!
//! Needs Postgres at `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, trust auth) and, for the
//! restart test, the server binaries under `/usr/lib/postgresql/*/bin`
//! (as root they run as `postgres`). Nothing is skipped: without them the
//! tests fail, saying what is missing.

mod arnes;

mod caida;
mod difusion;
mod escucha;
mod reinicio;
mod saltos;
mod sesiones;
mod sqlite;
