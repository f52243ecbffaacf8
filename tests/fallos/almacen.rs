//! The store a test's node runs on — a fresh Postgres database or a fresh
//! SQLite file — read directly by the test to judge what the node said.

use std::collections::BTreeMap;

use sqlx::{Connection, SqliteConnection};

use crate::arnes::BaseDeDatos;
use crate::arnes::pantalla::{self, Registro};
use crate::escritor::{Clase, Escritor};

pub enum Almacen {
    Postgres(BaseDeDatos),
    Sqlite {
        carpeta: tempfile::TempDir,
        url: String,
    },
}

impl Almacen {
    pub async fn postgres() -> Self {
        Almacen::Postgres(BaseDeDatos::nueva().await)
    }

    pub fn sqlite() -> Self {
        let carpeta = tempfile::Builder::new()
            .prefix("comanda-fallos-")
            .tempdir()
            .expect("carpeta temporal");
        let url = format!("sqlite://{}", carpeta.path().join("comanda.db").display());
        Almacen::Sqlite { carpeta, url }
    }

    /// What the node gets as `--database-url`.
    pub fn url(&self) -> &str {
        match self {
            Almacen::Postgres(base) => &base.url,
            Almacen::Sqlite { url, .. } => url,
        }
    }

    /// The SQLite file (panics on Postgres).
    pub fn archivo(&self) -> std::path::PathBuf {
        match self {
            Almacen::Sqlite { carpeta, .. } => carpeta.path().join("comanda.db"),
            Almacen::Postgres(_) => panic!("Postgres no tiene archivo"),
        }
    }

    async fn conexion_sqlite(&self) -> SqliteConnection {
        SqliteConnection::connect(self.url())
            .await
            .unwrap_or_else(|e| panic!("abrir {}: {e}", self.url()))
    }

    /// The newest event id (0 when there is none).
    pub async fn ultimo_id(&self) -> i64 {
        match self {
            Almacen::Postgres(base) => pantalla::ultimo_id(base).await,
            Almacen::Sqlite { .. } => {
                sqlx::query_scalar::<_, Option<i64>>("SELECT max(id) FROM eventos_realtime")
                    .fetch_one(&mut self.conexion_sqlite().await)
                    .await
                    .expect("max(id)")
                    .unwrap_or(0)
            }
        }
    }

    /// Every event committed after `desde`, by id.
    pub async fn eventos_desde(&self, desde: i64) -> Vec<Registro> {
        match self {
            Almacen::Postgres(base) => pantalla::eventos_en_la_base(base, desde).await,
            Almacen::Sqlite { .. } => {
                let filas: Vec<(i64, Option<i64>, String)> = sqlx::query_as(
                    "SELECT id, sucursal_id, destinos FROM eventos_realtime WHERE id > $1 ORDER BY id",
                )
                .bind(desde)
                .fetch_all(&mut self.conexion_sqlite().await)
                .await
                .expect("eventos_realtime");
                filas.into_iter().map(Registro::de_fila).collect()
            }
        }
    }

    /// The rows `escritor` created, by text: `(clase, texto) → [id, …]`
    /// (more than one id would be a write done twice).
    pub async fn filas_de(&self, escritor: &Escritor) -> BTreeMap<(Clase, String), Vec<i64>> {
        let patron = format!("{} #%", escritor.marca);
        let alertas = "SELECT mensaje, id FROM alertas_cocina WHERE mensaje LIKE $1 ORDER BY id";
        let pedidos = "SELECT cliente, id FROM pedidos WHERE cliente LIKE $1 ORDER BY id";
        let mut filas = BTreeMap::<(Clase, String), Vec<i64>>::new();
        for (clase, sql) in [(Clase::Alerta, alertas), (Clase::Pedido, pedidos)] {
            let leidas: Vec<(String, i64)> = match self {
                Almacen::Postgres(base) => sqlx::query_as(sql)
                    .bind(&patron)
                    .fetch_all(&mut base.conectar().await)
                    .await
                    .expect(sql),
                Almacen::Sqlite { .. } => sqlx::query_as(sql)
                    .bind(&patron)
                    .fetch_all(&mut self.conexion_sqlite().await)
                    .await
                    .expect(sql),
            };
            for (texto, id) in leidas {
                filas.entry((clase, texto)).or_default().push(id);
            }
        }
        filas
    }

    /// `(entidad_tipo, entidad_id) → [event id, …]` of the events after `desde`
    /// that report a new alert or order.
    pub async fn eventos_de_alta(&self, desde: i64) -> BTreeMap<(String, i64), Vec<i64>> {
        let sql = "SELECT entidad_tipo, entidad_id, id FROM eventos_realtime
                   WHERE id > $1 AND tipo IN ('alerta_cocina', 'pedido_nuevo') ORDER BY id";
        let filas: Vec<(String, i64, i64)> = match self {
            Almacen::Postgres(base) => sqlx::query_as(sql)
                .bind(desde)
                .fetch_all(&mut base.conectar().await)
                .await
                .expect(sql),
            Almacen::Sqlite { .. } => sqlx::query_as(sql)
                .bind(desde)
                .fetch_all(&mut self.conexion_sqlite().await)
                .await
                .expect(sql),
        };
        let mut eventos = BTreeMap::<(String, i64), Vec<i64>>::new();
        for (entidad, entidad_id, id) in filas {
            eventos.entry((entidad, entidad_id)).or_default().push(id);
        }
        eventos
    }
}

/// Each write of `escritor` acknowledged, done exactly once (one row, the
/// acknowledged one), and reported by exactly one event after `desde`.
pub async fn cada_confirmada_una_vez(
    almacen: &Almacen,
    escritor: &Escritor,
    escrituras: &[crate::escritor::Escritura],
    desde: i64,
) {
    let filas = almacen.filas_de(escritor).await;
    let eventos = almacen.eventos_de_alta(desde).await;
    let mut problemas = Vec::new();
    for e in escrituras {
        let texto = escritor.texto(e.n);
        let ids = filas
            .get(&(e.clase, texto.clone()))
            .cloned()
            .unwrap_or_default();
        let Some(confirmada) = e.confirmada() else {
            if !ids.is_empty() {
                problemas.push(format!(
                    "«{texto}» no se confirmó y está en la base: {ids:?}"
                ));
            }
            continue;
        };
        if ids != [confirmada] {
            problemas.push(format!(
                "«{texto}» se confirmó con id {confirmada}; en la base: {ids:?}"
            ));
        }
        let de_su_evento = eventos
            .get(&(e.clase.entidad().to_owned(), confirmada))
            .map_or(0, Vec::len);
        if de_su_evento != 1 {
            problemas.push(format!(
                "«{texto}» ({} {confirmada}) tiene {de_su_evento} eventos",
                e.clase.entidad()
            ));
        }
    }
    let nuestras = escrituras.len();
    assert!(
        filas.len() <= nuestras,
        "hay {} filas marcadas y solo {nuestras} escrituras",
        filas.len()
    );
    assert!(
        problemas.is_empty(),
        "{} problemas:\n{}",
        problemas.len(),
        problemas[..problemas.len().min(20)].join("\n")
    );
}
