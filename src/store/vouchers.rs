//! `vouchers`: payment screenshots, mostly from the WhatsApp bot, reviewed
//! by the desk. A `numero_operacion` seen on another voucher of the same
//! sucursal is flagged as a possible duplicate.

use time::OffsetDateTime;

use super::{BeginWrite, Idempotencia, Publicar, Store, StoreError};
use crate::modelo::{
    EstadoPedido, EstadoVoucher, Evento, NuevoEvento, NuevoVoucher, Pedido, SucursalId, UsuarioId,
    Voucher, VoucherId,
};

/// A voucher's columns, and whether another voucher of its sucursal has the
/// same `numero_operacion`.
macro_rules! select_voucher {
    () => {
        "SELECT v.id, v.sucursal_id, v.pedido_id, v.monto, v.numero_operacion, v.imagen_url,
                v.telefono, v.estado, v.motivo, v.revisado_por, v.creado, v.revisado,
                EXISTS (SELECT 1 FROM vouchers o
                        WHERE o.sucursal_id = v.sucursal_id AND o.numero_operacion = v.numero_operacion
                          AND o.id <> v.id) AS posible_duplicado
         FROM vouchers v"
    };
}

/// A review: approve, or reject with a reason.
#[derive(Debug, Clone)]
pub struct Revision {
    pub estado: EstadoVoucher,
    pub motivo: Option<String>,
    pub revisor: UsuarioId,
}

impl Store {
    pub async fn crear_voucher(
        &self,
        sucursal: SucursalId,
        nuevo: &NuevoVoucher,
        evento: NuevoEvento,
        idem: Option<&Idempotencia>,
    ) -> Result<(Voucher, Evento), StoreError> {
        let hecho = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let id: VoucherId = sqlx::query_scalar(
                "INSERT INTO vouchers (sucursal_id, pedido_id, monto, numero_operacion, imagen_url, telefono, estado, creado)
                 VALUES ($1, $2, $3, $4, $5, $6, 'pendiente', $7) RETURNING id",
            )
            .bind(sucursal)
            .bind(nuevo.pedido_id)
            .bind(nuevo.monto)
            .bind(&nuevo.numero_operacion)
            .bind(&nuevo.imagen_url)
            .bind(&nuevo.telefono)
            .bind(OffsetDateTime::now_utc())
            .fetch_one(&mut *tx)
            .await?;
            let voucher: Voucher = sqlx::query_as(concat!(select_voucher!(), " WHERE v.id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            // Whether the number was seen before is known only now.
            let mut evento = evento.con_id_de_fila(voucher.id.0);
            evento
                .payload
                .insert("posible_duplicado".into(), voucher.posible_duplicado.into());
            let publicar = Publicar::de_fila(evento, &voucher, idem);
            let evento = self.commit_con_evento(tx, publicar).await?;
            Ok::<_, sqlx::Error>((voucher, evento))
        })?;
        Ok(hecho)
    }

    pub async fn voucher(&self, id: VoucherId) -> Result<Option<Voucher>, StoreError> {
        let fila = on_pool!(self, p => {
            sqlx::query_as(concat!(select_voucher!(), " WHERE v.id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await
        })?;
        Ok(fila)
    }

    /// Newest first.
    pub async fn vouchers(
        &self,
        sucursal: Option<SucursalId>,
        estado: Option<EstadoVoucher>,
        limit: i64,
    ) -> Result<Vec<Voucher>, StoreError> {
        let filas = on_pool!(self, p => {
            sqlx::query_as(concat!(
                select_voucher!(),
                " WHERE ($1 IS NULL OR v.sucursal_id = $1) AND ($2 IS NULL OR v.estado = $2)
                  ORDER BY v.id DESC LIMIT $3"
            ))
            .bind(sucursal)
            .bind(estado.map(|e| e.as_str()))
            .bind(limit)
            .fetch_all(p)
            .await
        })?;
        Ok(filas)
    }

    /// Reviews a pending voucher — and, when `evento_pedido` is given,
    /// approves its order if it is still PENDIENTE — with their events, in
    /// one transaction. `None` when the voucher is no longer pending.
    pub async fn revisar_voucher(
        &self,
        id: VoucherId,
        revision: &Revision,
        evento: NuevoEvento,
        evento_pedido: Option<NuevoEvento>,
        idem: Option<&Idempotencia>,
    ) -> Result<Option<(Voucher, Vec<Evento>)>, StoreError> {
        let hecho = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let ahora = OffsetDateTime::now_utc();
            let cambiado = sqlx::query(
                "UPDATE vouchers SET estado = $2, motivo = $3, revisado_por = $4, revisado = $5
                 WHERE id = $1 AND estado = 'pendiente'",
            )
            .bind(id)
            .bind(revision.estado.as_str())
            .bind(&revision.motivo)
            .bind(revision.revisor)
            .bind(ahora)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if cambiado == 0 {
                return Ok(None);
            }
            let voucher: Voucher = sqlx::query_as(concat!(select_voucher!(), " WHERE v.id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            let pedido: Option<Pedido> = match (&evento_pedido, voucher.pedido_id) {
                (Some(_), Some(pedido_id)) => sqlx::query_as(
                    "UPDATE pedidos SET estado = $3, actualizado = $4 WHERE id = $1 AND estado = $2
                     RETURNING id, sucursal_id, origen, cliente, detalle, total, estado, creado, actualizado",
                )
                .bind(pedido_id)
                .bind(EstadoPedido::Pendiente.as_str())
                .bind(EstadoPedido::EnPreparacion.as_str())
                .bind(ahora)
                .fetch_optional(&mut *tx)
                .await?,
                _ => None,
            };
            let mut eventos = vec![evento];
            eventos.extend(evento_pedido.filter(|_| pedido.is_some()));
            let publicar = Publicar {
                eventos,
                pendientes_de: pedido.as_ref().map(|p| p.sucursal_id),
                idempotencia: idem.map(|i| i.con(&voucher)),
            };
            let eventos = self.commit_publicando(tx, publicar).await?;
            Ok::<_, sqlx::Error>(Some((voucher, eventos)))
        })?;
        Ok(hecho)
    }
}
