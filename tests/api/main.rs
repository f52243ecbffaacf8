//! Integration tests: a real comanda over real sockets and a real store.
//! Every test runs on SQLite and on Postgres (see `helpers::en_ambos_stores!`).

mod helpers;
#[path = "../comun/postgres.rs"]
mod postgres;
#[path = "../comun/proceso.rs"]
mod proceso;
#[path = "../comun/reglas.rs"]
mod reglas_de_fabrica;
mod socket;
#[path = "../comun/trama.rs"]
mod trama;

mod autorizacion;
mod binario;
mod cierres;
mod cuentas;
mod errores;
mod flujos;
mod limites;
mod metricas;
mod migraciones;
mod nodos;
mod origenes;
mod realtime;
mod reglas;
mod reservados;
mod transporte;
