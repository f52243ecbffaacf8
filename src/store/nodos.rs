//! `nodos`: the nodes serving this database, each refreshing its own row; and
//! on SQLite, the lock that keeps a second node off the file.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::types::Json;
use time::OffsetDateTime;

use super::{Pool, Store, StoreError};
use crate::modelo::{Presencia, SucursalId};

/// Channel of the nodes' presence changes (Postgres): the payload is the id
/// of the node whose row changed.
pub const CANAL_NODOS: &str = "comanda_nodos";

/// A node as the others see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FilaNodo {
    pub id: String,
    /// The address it listens on (`--bind`, with the port it got).
    pub direccion: String,
    #[serde(with = "time::serde::rfc3339")]
    pub iniciado: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub visto: OffsetDateTime,
    /// Open sockets at its last heartbeat.
    pub sesiones: i64,
    /// Its desk and kitchen screens online, by sucursal.
    pub presencia: Json<BTreeMap<SucursalId, Presencia>>,
}

/// Held while a node serves an SQLite file: an exclusive lock on
/// `<file>-nodo`, released by the operating system when the process ends,
/// however it ends.
#[derive(Debug)]
pub struct NodoUnico {
    _archivo: Option<File>,
}

impl Store {
    /// Inserts or refreshes this node's row; with `avisar`, then wakes the
    /// other nodes to read it (its presence changed).
    pub async fn latido_de_nodo(&self, nodo: &FilaNodo, avisar: bool) -> Result<(), StoreError> {
        on_pool!(self, p => {
            sqlx::query(
                "INSERT INTO nodos (id, direccion, iniciado, visto, sesiones, presencia)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO UPDATE
                 SET direccion = excluded.direccion, iniciado = excluded.iniciado,
                     visto = excluded.visto, sesiones = excluded.sesiones,
                     presencia = excluded.presencia",
            )
            .bind(&nodo.id)
            .bind(&nodo.direccion)
            .bind(nodo.iniciado)
            .bind(nodo.visto)
            .bind(nodo.sesiones)
            .bind(&nodo.presencia)
            .execute(p)
            .await
            .map(drop)
        })?;
        if avisar {
            self.avisar_a_los_nodos(&nodo.id).await?;
        }
        Ok(())
    }

    /// Resolves when another node's row changed (woken by its NOTIFY).
    pub async fn cambio_en_nodos(&self) {
        self.nodos_cambiaron.notified().await
    }

    /// Nodes seen at or after `desde`, by id; forgets those not seen since
    /// `olvidar_antes`.
    pub async fn nodos_vivos(
        &self,
        desde: OffsetDateTime,
        olvidar_antes: OffsetDateTime,
    ) -> Result<Vec<FilaNodo>, StoreError> {
        let filas = on_pool!(self, p => {
            sqlx::query("DELETE FROM nodos WHERE visto < $1")
                .bind(olvidar_antes)
                .execute(p)
                .await?;
            sqlx::query_as(
                "SELECT id, direccion, iniciado, visto, sesiones, presencia FROM nodos
                 WHERE visto >= $1 ORDER BY id",
            )
            .bind(desde)
            .fetch_all(p)
            .await
        })?;
        Ok(filas)
    }

    /// A node that stops says so (and its screens leave the others' counts).
    pub async fn baja_de_nodo(&self, id: &str) -> Result<(), StoreError> {
        on_pool!(self, p => {
            sqlx::query("DELETE FROM nodos WHERE id = $1")
                .bind(id)
                .execute(p)
                .await
                .map(drop)
        })?;
        self.avisar_a_los_nodos(id).await
    }

    /// Wakes the other nodes to read `id`'s row again (Postgres).
    async fn avisar_a_los_nodos(&self, id: &str) -> Result<(), StoreError> {
        if let Pool::Postgres(p) = &self.pool {
            super::eventos::notificar(p, CANAL_NODOS, id).await?;
        }
        Ok(())
    }

    /// On SQLite, makes sure no other node serves the same file: SQLite can't
    /// share events between processes, so a second node would leave its
    /// clients blind to the first one's events. Postgres: any number of nodes.
    pub fn reclamar_nodo_unico(&self) -> Result<NodoUnico, StoreError> {
        let Pool::Sqlite(pool) = &self.pool else {
            return Ok(NodoUnico { _archivo: None });
        };
        let base = pool.connect_options().get_filename().to_owned();
        // In memory, no other process can reach it. sqlx names such a
        // database `file:sqlx-in-memory-N` (an SQLite URI, not a path).
        let nombre = base.to_string_lossy();
        if nombre.is_empty() || nombre.contains(":memory:") || nombre.starts_with("file:") {
            return Ok(NodoUnico { _archivo: None });
        }
        let mut ruta = base.clone().into_os_string();
        ruta.push("-nodo");
        let ruta = PathBuf::from(ruta);
        let archivo = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&ruta)
            .map_err(|e| {
                StoreError::OtroNodo(format!("no se puede abrir {}: {e}", ruta.display()))
            })?;
        match archivo.try_lock() {
            Ok(()) => Ok(NodoUnico {
                _archivo: Some(archivo),
            }),
            Err(TryLockError::WouldBlock) => Err(StoreError::OtroNodo(format!(
                "otro proceso de comanda ya sirve {}. SQLite sirve a un solo nodo; \
                 para varios nodos usa Postgres (DATABASE_URL=postgres://…)",
                base.display()
            ))),
            Err(TryLockError::Error(e)) => Err(StoreError::OtroNodo(format!(
                "no se puede bloquear {}: {e}",
                ruta.display()
            ))),
        }
    }
}
