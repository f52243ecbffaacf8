//! `reglas_versiones`: every saved version of each rule, one active.

use super::{BeginWrite, Publicar, Store, StoreError};
use crate::modelo::{NombreRegla, NuevoEvento, UsuarioId, VersionRegla};

macro_rules! columnas_version {
    () => {
        "id, nombre, fuente, autor_id, creada, activa"
    };
}

impl Store {
    pub async fn version_activa(
        &self,
        nombre: NombreRegla,
    ) -> Result<Option<VersionRegla>, StoreError> {
        let fila = on_pool!(self, p => {
            sqlx::query_as(concat!(
                "SELECT ", columnas_version!(), " FROM reglas_versiones WHERE nombre = $1 AND activa"
            ))
            .bind(nombre.as_str())
            .fetch_optional(p)
            .await
        })?;
        Ok(fila)
    }

    /// Every version of a rule, newest first.
    pub async fn versiones(&self, nombre: NombreRegla) -> Result<Vec<VersionRegla>, StoreError> {
        let filas = on_pool!(self, p => {
            sqlx::query_as(concat!(
                "SELECT ", columnas_version!(), " FROM reglas_versiones WHERE nombre = $1 ORDER BY id DESC"
            ))
            .bind(nombre.as_str())
            .fetch_all(p)
            .await
        })?;
        Ok(filas)
    }

    pub async fn version(
        &self,
        nombre: NombreRegla,
        id: i64,
    ) -> Result<Option<VersionRegla>, StoreError> {
        let fila = on_pool!(self, p => {
            sqlx::query_as(concat!(
                "SELECT ", columnas_version!(), " FROM reglas_versiones WHERE nombre = $1 AND id = $2"
            ))
            .bind(nombre.as_str())
            .bind(id)
            .fetch_optional(p)
            .await
        })?;
        Ok(fila)
    }

    /// Records `fuente` as the active version, and its event, in one transaction.
    pub async fn guardar_version(
        &self,
        nombre: NombreRegla,
        fuente: &str,
        autor: Option<UsuarioId>,
        evento: impl FnOnce(&VersionRegla) -> NuevoEvento,
    ) -> Result<VersionRegla, StoreError> {
        let version = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            sqlx::query("UPDATE reglas_versiones SET activa = FALSE WHERE nombre = $1 AND activa")
                .bind(nombre.as_str())
                .execute(&mut *tx)
                .await?;
            let version: VersionRegla = sqlx::query_as(concat!(
                "INSERT INTO reglas_versiones (nombre, fuente, autor_id, creada, activa)
                 VALUES ($1, $2, $3, $4, TRUE) RETURNING ",
                columnas_version!()
            ))
            .bind(nombre.as_str())
            .bind(fuente)
            .bind(autor)
            .bind(time::OffsetDateTime::now_utc())
            .fetch_one(&mut *tx)
            .await?;
            self.commit_con_evento(tx, Publicar::uno(evento(&version))).await?;
            Ok::<_, sqlx::Error>(version)
        })?;
        Ok(version)
    }
}
