//! `alertas_cocina`: what the desk asks of the kitchen.

use time::OffsetDateTime;

use super::{BeginWrite, Idempotencia, Publicar, Store, StoreError};
use crate::modelo::{
    AlertaCocina, AlertaId, Evento, NuevoEvento, PedidoId, Prioridad, SucursalId, UsuarioId,
};

macro_rules! columnas_alerta {
    () => {
        "id, pedido_id, usuario_envia, sucursal_id, mensaje, prioridad, leida, fecha_envio, \
         fecha_lectura, leida_por"
    };
}

/// An alert about to be sent, with the priority the rules decided.
#[derive(Debug, Clone)]
pub struct NuevaAlerta {
    pub pedido_id: Option<PedidoId>,
    pub usuario_envia: UsuarioId,
    pub sucursal_id: SucursalId,
    pub mensaje: String,
    pub prioridad: Prioridad,
    pub fecha_envio: OffsetDateTime,
}

impl Store {
    /// Inserts the alert and its event (completed with the alert's id) in
    /// one transaction.
    pub async fn crear_alerta(
        &self,
        nueva: &NuevaAlerta,
        evento: NuevoEvento,
        idem: Option<&Idempotencia>,
    ) -> Result<(AlertaCocina, Evento), StoreError> {
        let hecho = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let alerta: AlertaCocina = sqlx::query_as(concat!(
                "INSERT INTO alertas_cocina
                    (pedido_id, usuario_envia, sucursal_id, mensaje, prioridad, leida, fecha_envio)
                 VALUES ($1, $2, $3, $4, $5, FALSE, $6) RETURNING ",
                columnas_alerta!()
            ))
            .bind(nueva.pedido_id)
            .bind(nueva.usuario_envia)
            .bind(nueva.sucursal_id)
            .bind(&nueva.mensaje)
            .bind(nueva.prioridad.as_str())
            .bind(nueva.fecha_envio)
            .fetch_one(&mut *tx)
            .await?;
            let evento = evento.con_id_de_fila(alerta.id.0);
            let publicar = Publicar::de_fila(evento, &alerta, idem);
            let evento = self.commit_con_evento(tx, publicar).await?;
            Ok::<_, sqlx::Error>((alerta, evento))
        })?;
        Ok(hecho)
    }

    /// Raises an unread alert from `desde` to `hasta`, with its event. `None`
    /// when the alert was read or changed meanwhile: nothing is written.
    pub async fn escalar_alerta(
        &self,
        id: AlertaId,
        desde: Prioridad,
        hasta: Prioridad,
        evento: &NuevoEvento,
    ) -> Result<Option<Evento>, StoreError> {
        let hecho = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let alerta: Option<AlertaCocina> = sqlx::query_as(concat!(
                "UPDATE alertas_cocina SET prioridad = $3
                 WHERE id = $1 AND prioridad = $2 AND NOT leida RETURNING ",
                columnas_alerta!()
            ))
            .bind(id)
            .bind(desde.as_str())
            .bind(hasta.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            match alerta {
                Some(_) => self.commit_con_evento(tx, Publicar::uno(evento.clone())).await.map(Some),
                None => Ok(None),
            }
        })?;
        Ok(hecho)
    }

    pub async fn alerta(&self, id: AlertaId) -> Result<Option<AlertaCocina>, StoreError> {
        let fila = on_pool!(self, p => {
            sqlx::query_as(concat!("SELECT ", columnas_alerta!(), " FROM alertas_cocina WHERE id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await
        })?;
        Ok(fila)
    }

    /// Newest first; with `leida`, only read or only unread ones.
    pub async fn alertas(
        &self,
        sucursal: Option<SucursalId>,
        leida: Option<bool>,
        limit: i64,
    ) -> Result<Vec<AlertaCocina>, StoreError> {
        let filas = on_pool!(self, p => {
            sqlx::query_as(concat!(
                "SELECT ", columnas_alerta!(), " FROM alertas_cocina
                 WHERE ($1 IS NULL OR sucursal_id = $1) AND ($2 IS NULL OR leida = $2)
                 ORDER BY id DESC LIMIT $3"
            ))
            .bind(sucursal)
            .bind(leida)
            .bind(limit)
            .fetch_all(p)
            .await
        })?;
        Ok(filas)
    }

    /// Marks an unread alert read by `por` at `fecha`; `None` if it was
    /// already read.
    pub async fn leer_alerta(
        &self,
        id: AlertaId,
        por: UsuarioId,
        fecha: OffsetDateTime,
        evento: NuevoEvento,
        idem: Option<&Idempotencia>,
    ) -> Result<Option<(AlertaCocina, Evento)>, StoreError> {
        let hecho = on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let alerta: Option<AlertaCocina> = sqlx::query_as(concat!(
                "UPDATE alertas_cocina SET leida = TRUE, fecha_lectura = $2, leida_por = $3
                 WHERE id = $1 AND NOT leida RETURNING ",
                columnas_alerta!()
            ))
            .bind(id)
            .bind(fecha)
            .bind(por)
            .fetch_optional(&mut *tx)
            .await?;
            match alerta {
                None => Ok(None),
                Some(alerta) => {
                    let publicar = Publicar::de_fila(evento, &alerta, idem);
                    let evento = self.commit_con_evento(tx, publicar).await?;
                    Ok::<_, sqlx::Error>(Some((alerta, evento)))
                }
            }
        })?;
        Ok(hecho)
    }

    /// When an order was created, for the rules' `minutos_pedido`.
    pub async fn pedido_creado(&self, id: PedidoId) -> Result<Option<OffsetDateTime>, StoreError> {
        let creado = on_pool!(self, p => {
            sqlx::query_scalar("SELECT creado FROM pedidos WHERE id = $1")
                .bind(id)
                .fetch_optional(p)
                .await
        })?;
        Ok(creado)
    }
}
