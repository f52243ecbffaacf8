//! Integration tests: a real comanda over real sockets and a real store.
//! Every test runs on SQLite and on Postgres (see `helpers::en_ambos_stores!`).

mod fixtures;
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

mod alertas;
mod atomicidad;
mod autorizacion;
mod basura;
mod binario;
mod cierres;
mod compatibilidad;
mod cuentas;
mod errores;
mod idempotencia;
mod limites;
mod listas;
mod metricas;
mod migraciones;
mod nodos;
mod origenes;
mod pedidos;
mod realtime;
mod refills;
mod reglas;
mod reservados;
mod transporte;
mod vouchers;
