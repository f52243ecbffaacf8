//! `pedidos`: orders, from the desk (`tienda`) or the WhatsApp bot.

use time::OffsetDateTime;

use super::{BeginWrite, Idempotencia, Publicar, Store, StoreError};
use crate::modelo::{
    EstadoPedido, Evento, NuevoEvento, NuevoPedido, OrigenPedido, Pedido, PedidoId, SucursalId,
};

macro_rules! columnas_pedido {
    () => {
        "id, sucursal_id, origen, cliente, detalle, total, estado, creado, actualizado"
    };
}

/// The sucursal's PENDIENTE orders, on the write's connection: the event log
/// counts them under the publication turn, so that the count each event
/// carries is exact in event order.
pub(super) async fn contar_pendientes<'c, DB>(
    conexion: impl sqlx::Executor<'c, Database = DB>,
    sucursal: SucursalId,
) -> Result<i64, sqlx::Error>
where
    DB: sqlx::Database,
    DB::Arguments: sqlx::IntoArguments<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM pedidos WHERE sucursal_id = $1 AND estado = 'PENDIENTE'",
    )
    .bind(sucursal)
    .fetch_one(conexion)
    .await
}

/// Filters of `GET /api/pedidos`.
#[derive(Debug, Clone, Default)]
pub struct FiltroPedidos {
    pub sucursal_id: Option<SucursalId>,
    pub estado: Option<EstadoPedido>,
    pub origen: Option<OrigenPedido>,
    pub limit: i64,
}

impl Store {
    pub async fn crear_pedido(
        &self,
        sucursal: SucursalId,
        origen: OrigenPedido,
        nuevo: &NuevoPedido,
        evento: NuevoEvento,
        idem: Option<&Idempotencia>,
    ) -> Result<(Pedido, Evento), StoreError> {
        let hecho = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let ahora = OffsetDateTime::now_utc();
            let pedido: Pedido = sqlx::query_as(concat!(
                "INSERT INTO pedidos (sucursal_id, origen, cliente, detalle, total, estado, creado, actualizado)
                 VALUES ($1, $2, $3, $4, $5, 'PENDIENTE', $6, $6) RETURNING ",
                columnas_pedido!()
            ))
            .bind(sucursal)
            .bind(origen.as_str())
            .bind(&nuevo.cliente)
            .bind(&nuevo.detalle)
            .bind(nuevo.total)
            .bind(ahora)
            .fetch_one(&mut *tx)
            .await?;
            let evento = evento.con_id_de_fila(pedido.id.0);
            let publicar = Publicar::de_fila(evento, &pedido, idem).con_pendientes(sucursal);
            let evento = self.commit_con_evento(tx, publicar).await?;
            Ok::<_, sqlx::Error>((pedido, evento))
        })?;
        Ok(hecho)
    }

    pub async fn pedido(&self, id: PedidoId) -> Result<Option<Pedido>, StoreError> {
        let fila = on_pool!(self, p => {
            sqlx::query_as(concat!("SELECT ", columnas_pedido!(), " FROM pedidos WHERE id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await
        })?;
        Ok(fila)
    }

    /// Newest first.
    pub async fn pedidos(&self, f: &FiltroPedidos) -> Result<Vec<Pedido>, StoreError> {
        let filas = on_pool!(self, p => {
            sqlx::query_as(concat!(
                "SELECT ", columnas_pedido!(), " FROM pedidos
                 WHERE ($1 IS NULL OR sucursal_id = $1) AND ($2 IS NULL OR estado = $2)
                   AND ($3 IS NULL OR origen = $3)
                 ORDER BY id DESC LIMIT $4"
            ))
            .bind(f.sucursal_id)
            .bind(f.estado.map(|e| e.as_str()))
            .bind(f.origen.map(|o| o.as_str()))
            .bind(f.limit)
            .fetch_all(p)
            .await
        })?;
        Ok(filas)
    }

    /// Orders waiting for approval (the desk's badge).
    pub async fn pedidos_pendientes(
        &self,
        sucursal: Option<SucursalId>,
    ) -> Result<i64, StoreError> {
        let n = on_pool!(self, p => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM pedidos WHERE ($1 IS NULL OR sucursal_id = $1) AND estado = 'PENDIENTE'",
            )
            .bind(sucursal)
            .fetch_one(p)
            .await
        })?;
        Ok(n)
    }

    /// Moves an order from `desde` to `hasta`, with its event. `None` when it
    /// is no longer in `desde` (someone else moved it): nothing is written.
    pub async fn cambiar_estado_pedido(
        &self,
        id: PedidoId,
        desde: EstadoPedido,
        hasta: EstadoPedido,
        evento: NuevoEvento,
        idem: Option<&Idempotencia>,
    ) -> Result<Option<(Pedido, Evento)>, StoreError> {
        let hecho = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let pedido: Option<Pedido> = sqlx::query_as(concat!(
                "UPDATE pedidos SET estado = $3, actualizado = $4 WHERE id = $1 AND estado = $2 RETURNING ",
                columnas_pedido!()
            ))
            .bind(id)
            .bind(desde.as_str())
            .bind(hasta.as_str())
            .bind(OffsetDateTime::now_utc())
            .fetch_optional(&mut *tx)
            .await?;
            match pedido {
                None => Ok(None),
                Some(pedido) => {
                    let publicar = Publicar::de_fila(evento, &pedido, idem)
                        .con_pendientes(pedido.sucursal_id);
                    let evento = self.commit_con_evento(tx, publicar).await?;
                    Ok::<_, sqlx::Error>(Some((pedido, evento)))
                }
            }
        })?;
        Ok(hecho)
    }
}
