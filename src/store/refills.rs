//! `solicitudes_refill`: the desk asks the kitchen to restock something.

use time::OffsetDateTime;

use super::{BeginWrite, Idempotencia, Publicar, Store, StoreError};
use crate::modelo::{
    EstadoRefill, Evento, NuevoEvento, NuevoRefill, RefillId, SolicitudRefill, SucursalId,
    UsuarioId,
};

macro_rules! columnas_refill {
    () => {
        "id, sucursal_id, usuario_id, producto, cantidad, nota, estado, creado, actualizado, atendido_por"
    };
}

impl Store {
    pub async fn crear_refill(
        &self,
        sucursal: SucursalId,
        usuario: UsuarioId,
        nuevo: &NuevoRefill,
        evento: NuevoEvento,
        idem: Option<&Idempotencia>,
    ) -> Result<(SolicitudRefill, Evento), StoreError> {
        let hecho = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let refill: SolicitudRefill = sqlx::query_as(concat!(
                "INSERT INTO solicitudes_refill (sucursal_id, usuario_id, producto, cantidad, nota, estado, creado, actualizado)
                 VALUES ($1, $2, $3, $4, $5, 'pendiente', $6, $6) RETURNING ",
                columnas_refill!()
            ))
            .bind(sucursal)
            .bind(usuario)
            .bind(&nuevo.producto)
            .bind(nuevo.cantidad)
            .bind(&nuevo.nota)
            .bind(OffsetDateTime::now_utc())
            .fetch_one(&mut *tx)
            .await?;
            let evento = evento.con_id_de_fila(refill.id.0);
            let publicar = Publicar::de_fila(evento, &refill, idem);
            let evento = self.commit_con_evento(tx, publicar).await?;
            Ok::<_, sqlx::Error>((refill, evento))
        })?;
        Ok(hecho)
    }

    pub async fn refill(&self, id: RefillId) -> Result<Option<SolicitudRefill>, StoreError> {
        let fila = on_pool!(self, p => {
            sqlx::query_as(concat!("SELECT ", columnas_refill!(), " FROM solicitudes_refill WHERE id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await
        })?;
        Ok(fila)
    }

    /// Newest first.
    pub async fn refills(
        &self,
        sucursal: Option<SucursalId>,
        estado: Option<EstadoRefill>,
        limit: i64,
    ) -> Result<Vec<SolicitudRefill>, StoreError> {
        let filas = on_pool!(self, p => {
            sqlx::query_as(concat!(
                "SELECT ", columnas_refill!(), " FROM solicitudes_refill
                 WHERE ($1 IS NULL OR sucursal_id = $1) AND ($2 IS NULL OR estado = $2)
                 ORDER BY id DESC LIMIT $3"
            ))
            .bind(sucursal)
            .bind(estado.map(|e| e.as_str()))
            .bind(limit)
            .fetch_all(p)
            .await
        })?;
        Ok(filas)
    }

    /// Moves a refill from `desde` to `hasta`; `None` if it moved meanwhile.
    pub async fn cambiar_estado_refill(
        &self,
        id: RefillId,
        desde: EstadoRefill,
        hasta: EstadoRefill,
        por: UsuarioId,
        evento: NuevoEvento,
        idem: Option<&Idempotencia>,
    ) -> Result<Option<(SolicitudRefill, Evento)>, StoreError> {
        let hecho = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let refill: Option<SolicitudRefill> = sqlx::query_as(concat!(
                "UPDATE solicitudes_refill SET estado = $3, actualizado = $4, atendido_por = $5
                 WHERE id = $1 AND estado = $2 RETURNING ",
                columnas_refill!()
            ))
            .bind(id)
            .bind(desde.as_str())
            .bind(hasta.as_str())
            .bind(OffsetDateTime::now_utc())
            .bind(por)
            .fetch_optional(&mut *tx)
            .await?;
            match refill {
                None => Ok(None),
                Some(refill) => {
                    let publicar = Publicar::de_fila(evento, &refill, idem);
                    let evento = self.commit_con_evento(tx, publicar).await?;
                    Ok::<_, sqlx::Error>(Some((refill, evento)))
                }
            }
        })?;
        Ok(hecho)
    }
}
