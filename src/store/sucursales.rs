//! `sucursales`: the branches of the chain.

use super::{Store, StoreError};
use crate::modelo::{Sucursal, SucursalId};

impl Store {
    /// Every sucursal, or just one when the caller's scope is a single sucursal.
    pub async fn sucursales(&self, solo: Option<SucursalId>) -> Result<Vec<Sucursal>, StoreError> {
        let filas = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT id, nombre, activa FROM sucursales
                 WHERE $1 IS NULL OR id = $1 ORDER BY id",
            )
            .bind(solo)
            .fetch_all(p)
            .await
        })?;
        Ok(filas)
    }

    pub async fn sucursal(&self, id: SucursalId) -> Result<Option<Sucursal>, StoreError> {
        let fila = on_pool!(self, p => {
            sqlx::query_as("SELECT id, nombre, activa FROM sucursales WHERE id = $1")
                .bind(id)
                .fetch_optional(p)
                .await
        })?;
        Ok(fila)
    }

    pub async fn crear_sucursal(&self, nombre: &str) -> Result<Sucursal, StoreError> {
        let fila = on_pool!(self, p => {
            sqlx::query_as(
                "INSERT INTO sucursales (nombre, activa) VALUES ($1, TRUE)
                 RETURNING id, nombre, activa",
            )
            .bind(nombre)
            .fetch_one(p)
            .await
        })?;
        Ok(fila)
    }

    /// The sucursal with this name, created if missing (the demo's setup).
    pub async fn asegurar_sucursal(&self, nombre: &str) -> Result<Sucursal, StoreError> {
        let existente: Option<Sucursal> = on_pool!(self, p => {
            sqlx::query_as("SELECT id, nombre, activa FROM sucursales WHERE nombre = $1")
                .bind(nombre)
                .fetch_optional(p)
                .await
        })?;
        match existente {
            Some(s) => Ok(s),
            None => self.crear_sucursal(nombre).await,
        }
    }
}
