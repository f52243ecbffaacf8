//! `eventos_realtime`: the audit log and the source of every replay, and the
//! event log that writes it — [`Store::commit_publicando`], which every write
//! that reports a change ends with: take the publication turn, insert the
//! events, notify, commit, hand them on.

use serde_json::{Map, Value};
use sqlx::types::Json;
use time::OffsetDateTime;

use super::Idempotencia;
use super::{BeginWrite, Store, StoreError};
use crate::metricas;
use crate::modelo::{Destinos, Evento, EventoId, NuevoEvento, SucursalId};

/// The columns of an [`Evento`].
macro_rules! columnas_evento {
    () => {
        "id, tipo, subtipo, payload, usuario_id, sucursal_id, entidad_tipo, entidad_id, \
         prioridad, destinos, fecha"
    };
}

/// What a write transaction publishes when it commits: what it asks of the
/// event log (`Store::commit_publicando`).
#[derive(Debug, Default)]
pub struct Publicar<'a> {
    pub eventos: Vec<NuevoEvento>,
    /// Put the sucursal's count of PENDIENTE orders in every event's payload
    /// (`pendientes`), counted inside the publication turn so that it is exact
    /// in event order — the desk's badge follows the events.
    pub pendientes_de: Option<SucursalId>,
    /// Record this answer under this key in the same transaction.
    pub idempotencia: Option<(&'a Idempotencia, String)>,
}

impl<'a> Publicar<'a> {
    pub fn uno(evento: NuevoEvento) -> Self {
        Self {
            eventos: vec![evento],
            ..Default::default()
        }
    }

    /// The event of a write whose answer is `fila`, recorded under `idem` if given.
    pub(super) fn de_fila<T: serde::Serialize>(
        evento: NuevoEvento,
        fila: &T,
        idem: Option<&'a Idempotencia>,
    ) -> Self {
        Self {
            eventos: vec![evento],
            pendientes_de: None,
            idempotencia: idem.map(|i| i.con(fila)),
        }
    }

    /// Also carry the sucursal's pending orders count.
    pub(super) fn con_pendientes(mut self, sucursal: SucursalId) -> Self {
        self.pendientes_de = Some(sucursal);
        self
    }
}

/// Channel of the wake-ups between nodes (Postgres).
pub const CANAL: &str = "comanda_eventos";

/// Key of the cluster-wide publication turn: `pg_advisory_xact_lock` on it.
const CLAVE_DEL_TURNO: i64 = 0x0063_6f6d_616e_6461; // "comanda" in ASCII

/// The part of the publication turn beyond this node, per engine. Postgres
/// takes an advisory lock held to the end of the transaction and, on commit,
/// wakes the other nodes with one small NOTIFY (ids, never documents). SQLite
/// serves a single node: the in-process turn is the whole turn.
pub trait TurnoCompartido {
    async fn tomar_turno(&mut self) -> Result<(), sqlx::Error>;
    /// `ids`: "first-last" of the transaction's events, delivered at commit.
    async fn avisar(&mut self, ids: &str) -> Result<(), sqlx::Error>;
}

impl TurnoCompartido for sqlx::PgConnection {
    async fn tomar_turno(&mut self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CLAVE_DEL_TURNO)
            .execute(self)
            .await
            .map(drop)
    }

    async fn avisar(&mut self, ids: &str) -> Result<(), sqlx::Error> {
        notificar(self, CANAL, ids).await
    }
}

/// `NOTIFY canal, texto` (delivered when the surrounding transaction commits).
pub(super) async fn notificar<'e>(
    conexion: impl sqlx::PgExecutor<'e>,
    canal: &str,
    texto: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(canal)
        .bind(texto)
        .execute(conexion)
        .await
        .map(drop)
}

impl TurnoCompartido for sqlx::SqliteConnection {
    async fn tomar_turno(&mut self) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn avisar(&mut self, _: &str) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

/// What the event log does with a write's connection, beyond the turn: the
/// statements of `eventos_realtime`, of the sucursal's PENDIENTE count
/// (`pedidos.rs`) and of the idempotency record (`idempotencia.rs`). Written
/// once for both engines; the blanket implementation below names, once, the
/// sqlx bounds that let Postgres's and SQLite's connections run them.
pub(super) trait EventLog: TurnoCompartido {
    /// The newest id committed, 0 when there is none: read under the turn,
    /// it is the id committed just before this transaction's events.
    async fn ultimo_evento_id(&mut self) -> Result<EventoId, sqlx::Error>;
    async fn insertar_evento(&mut self, nuevo: &NuevoEvento) -> Result<Evento, sqlx::Error>;
    async fn contar_pendientes(&mut self, sucursal: SucursalId) -> Result<i64, sqlx::Error>;
    async fn registrar_respuesta(
        &mut self,
        idem: &Idempotencia,
        respuesta: &str,
    ) -> Result<(), sqlx::Error>;
}

impl<C, DB> EventLog for C
where
    C: TurnoCompartido,
    DB: sqlx::Database,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    Evento: for<'r> sqlx::FromRow<'r, DB::Row>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> i32: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Json<&'q Map<String, Value>>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Json<Destinos>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> OffsetDateTime: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    async fn ultimo_evento_id(&mut self) -> Result<EventoId, sqlx::Error> {
        sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM eventos_realtime")
            .fetch_one(self)
            .await
            .map(EventoId)
    }

    async fn insertar_evento(&mut self, nuevo: &NuevoEvento) -> Result<Evento, sqlx::Error> {
        sqlx::query_as(concat!(
            "INSERT INTO eventos_realtime
                (tipo, subtipo, payload, usuario_id, sucursal_id, entidad_tipo,
                 entidad_id, prioridad, destinos, fecha)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             RETURNING ",
            columnas_evento!()
        ))
        .bind(nuevo.tipo.as_str())
        .bind(nuevo.subtipo.as_deref())
        .bind(Json(&nuevo.payload))
        // Ids as plain integers, as they are stored: one bound less each.
        .bind(nuevo.usuario_id.map(|u| u.0))
        .bind(nuevo.sucursal_id.map(|s| s.0))
        .bind(nuevo.entidad.as_ref().map(|e| e.tipo.as_str()))
        .bind(nuevo.entidad.as_ref().map(|e| e.id))
        .bind(nuevo.prioridad.map(|p| p.as_str()))
        .bind(Json(nuevo.destinos))
        .bind(OffsetDateTime::now_utc())
        .fetch_one(self)
        .await
    }

    async fn contar_pendientes(&mut self, sucursal: SucursalId) -> Result<i64, sqlx::Error> {
        super::pedidos::contar_pendientes(self, sucursal).await
    }

    async fn registrar_respuesta(
        &mut self,
        idem: &Idempotencia,
        respuesta: &str,
    ) -> Result<(), sqlx::Error> {
        super::idempotencia::registrar(self, idem, respuesta).await
    }
}

impl Store {
    /// The event log, which every write that reports a change ends with, on
    /// the transaction that made the change. Within the publication turn
    /// (see `publicacion.rs`): inserts the events of `publicar` in `tx` —
    /// with the sucursal's PENDIENTE count and the idempotency record it
    /// asks for —, wakes the other nodes, commits, and hands the events to
    /// the Dispatcher. Timed from asking for the turn to the commit
    /// (`publicar` in the metrics); each committed event is counted.
    pub(super) async fn commit_publicando<DB>(
        &self,
        mut tx: sqlx::Transaction<'static, DB>,
        publicar: Publicar<'_>,
    ) -> Result<Vec<Evento>, sqlx::Error>
    where
        DB: sqlx::Database<Connection: EventLog>,
    {
        let eventos = metricas::medir_store("publicar", async {
            let _turno = self.publicacion.turno().await;
            tx.tomar_turno().await?;
            let anterior = tx.ultimo_evento_id().await?;
            let mut nuevos = publicar.eventos;
            if let Some(sucursal) = publicar.pendientes_de {
                let pendientes = tx.contar_pendientes(sucursal).await?;
                for nuevo in &mut nuevos {
                    nuevo.payload.insert("pendientes".into(), pendientes.into());
                }
            }
            let mut eventos = Vec::with_capacity(nuevos.len());
            for nuevo in &nuevos {
                eventos.push(tx.insertar_evento(nuevo).await?);
            }
            if let Some((idem, respuesta)) = &publicar.idempotencia {
                tx.registrar_respuesta(idem, respuesta).await?;
            }
            if let (Some(primero), Some(ultimo)) = (eventos.first(), eventos.last()) {
                tx.avisar(&format!("{}-{}", primero.id, ultimo.id)).await?;
            }
            tx.commit().await?;
            self.publicacion.entregar_confirmados(anterior, &eventos);
            Ok::<_, sqlx::Error>(eventos)
        })
        .await?;
        for evento in &eventos {
            metricas::evento_publicado(&evento.tipo);
        }
        Ok(eventos)
    }

    /// [`Store::commit_publicando`] of a write that publishes one event:
    /// answers it.
    pub(super) async fn commit_con_evento<DB>(
        &self,
        tx: sqlx::Transaction<'static, DB>,
        publicar: Publicar<'_>,
    ) -> Result<Evento, sqlx::Error>
    where
        DB: sqlx::Database<Connection: EventLog>,
    {
        debug_assert_eq!(publicar.eventos.len(), 1, "one event");
        let mut eventos = self.commit_publicando(tx, publicar).await?;
        Ok(eventos.remove(0))
    }
}

/// Filters of the audit log (`GET /api/eventos`).
#[derive(Debug, Clone, Default)]
pub struct FiltroEventos {
    pub limit: i64,
    pub tipo: Option<String>,
    /// Only this sucursal; with `None`, every sucursal (and chain-wide events).
    pub sucursal_id: Option<SucursalId>,
}

impl Store {
    /// An event alone in its transaction (`POST /api/eventos`, the rules' own events).
    pub async fn publicar(&self, nuevo: &NuevoEvento) -> Result<Evento, StoreError> {
        let evento = on_pool!(self, p => {
            let tx = p.begin_write().await?;
            self.commit_con_evento(tx, Publicar::uno(nuevo.clone())).await
        })?;
        Ok(evento)
    }

    /// The newest event id, 0 when there is none.
    pub async fn ultimo_evento_id(&self) -> Result<EventoId, StoreError> {
        let id: Option<i64> = on_pool!(self, p => {
            sqlx::query_scalar("SELECT MAX(id) FROM eventos_realtime").fetch_one(p).await
        })?;
        Ok(EventoId(id.unwrap_or(0)))
    }

    /// Up to `limite` events after `despues_de`, oldest first: what a resume
    /// replays. With `sucursal`, only that sucursal's events.
    pub async fn eventos_desde(
        &self,
        despues_de: EventoId,
        sucursal: Option<SucursalId>,
        limite: i64,
    ) -> Result<Vec<Evento>, StoreError> {
        metricas::medir_store(
            "eventos_desde",
            self.leer_eventos_desde(despues_de, sucursal, limite),
        )
        .await
    }

    /// [`Store::eventos_desde`] without its metrics (the catch-up has its own).
    pub(super) async fn leer_eventos_desde(
        &self,
        despues_de: EventoId,
        sucursal: Option<SucursalId>,
        limite: i64,
    ) -> Result<Vec<Evento>, StoreError> {
        let filas = on_pool!(self, p => {
            sqlx::query_as(concat!(
                "SELECT ", columnas_evento!(), " FROM eventos_realtime
                 WHERE id > $1 AND ($2 IS NULL OR sucursal_id = $2)
                 ORDER BY id LIMIT $3"
            ))
            .bind(despues_de)
            .bind(sucursal)
            .bind(limite)
            .fetch_all(p)
            .await
        })?;
        Ok(filas)
    }

    /// The audit log, newest first.
    pub async fn eventos(&self, filtro: &FiltroEventos) -> Result<Vec<Evento>, StoreError> {
        let filas = on_pool!(self, p => {
            sqlx::query_as(concat!(
                "SELECT ", columnas_evento!(), " FROM eventos_realtime
                 WHERE ($1 IS NULL OR tipo = $1) AND ($2 IS NULL OR sucursal_id = $2)
                 ORDER BY id DESC LIMIT $3"
            ))
            .bind(&filtro.tipo)
            .bind(filtro.sucursal_id)
            .bind(filtro.limit)
            .fetch_all(p)
            .await
        })?;
        Ok(filas)
    }
}
