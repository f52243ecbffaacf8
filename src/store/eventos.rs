//! `eventos_realtime`: the audit log and the source of every replay.

use super::Idempotencia;
use super::{BeginWrite, Store, StoreError};
use crate::metricas;
use crate::modelo::{Evento, EventoId, NuevoEvento, SucursalId};

/// What a write transaction publishes when it commits.
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

/// Within the publication turn (see `publicacion.rs`): inserts the events of
/// `$publicar` in `$tx` (and its idempotency record), commits, and hands the
/// events to the Dispatcher. Expands per backend inside `on_pool!`; evaluates
/// to `Result<Vec<Evento>, sqlx::Error>`. Timed from asking for the turn to
/// the commit (`publicar` in the metrics); each committed event is counted.
macro_rules! commit_publicando {
    ($store:expr, $tx:expr, $publicar:expr) => {
        async {
            let eventos = $crate::metricas::medir_store("publicar", async {
                use $crate::store::eventos::TurnoCompartido as _;
                let publicar: $crate::store::Publicar<'_> = $publicar;
                let _turno = $store.publicacion.turno().await;
                (*$tx).tomar_turno().await?;
                let anterior: i64 =
                    sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM eventos_realtime")
                        .fetch_one(&mut *$tx)
                        .await?;
                let mut nuevos = publicar.eventos;
                if let Some(sucursal) = publicar.pendientes_de {
                    let pendientes: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM pedidos WHERE sucursal_id = $1 AND estado = 'PENDIENTE'",
                    )
                    .bind(sucursal)
                    .fetch_one(&mut *$tx)
                    .await?;
                    for nuevo in &mut nuevos {
                        nuevo.payload.insert("pendientes".into(), pendientes.into());
                    }
                }
                let mut eventos: Vec<$crate::modelo::Evento> = Vec::with_capacity(nuevos.len());
                for nuevo in &nuevos {
                    eventos.push(
                        sqlx::query_as(
                            "INSERT INTO eventos_realtime
                                (tipo, subtipo, payload, usuario_id, sucursal_id, entidad_tipo,
                                 entidad_id, prioridad, destinos, fecha)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                             RETURNING id, tipo, subtipo, payload, usuario_id, sucursal_id,
                                       entidad_tipo, entidad_id, prioridad, destinos, fecha",
                        )
                        .bind(nuevo.tipo.as_str())
                        .bind(&nuevo.subtipo)
                        .bind(sqlx::types::Json(&nuevo.payload))
                        .bind(nuevo.usuario_id)
                        .bind(nuevo.sucursal_id)
                        .bind(nuevo.entidad.as_ref().map(|e| e.tipo.as_str()))
                        .bind(nuevo.entidad.as_ref().map(|e| e.id))
                        .bind(nuevo.prioridad.map(|p| p.as_str()))
                        .bind(sqlx::types::Json(nuevo.destinos))
                        .bind(::time::OffsetDateTime::now_utc())
                        .fetch_one(&mut *$tx)
                        .await?,
                    );
                }
                if let Some((i, respuesta)) = &publicar.idempotencia {
                    sqlx::query(
                        "INSERT INTO idempotencia (usuario_id, clave, ruta, estado, respuesta, creada)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(i.usuario_id)
                    .bind(&i.clave)
                    .bind(&i.ruta)
                    .bind(i.estado)
                    .bind(respuesta)
                    .bind(::time::OffsetDateTime::now_utc())
                    .execute(&mut *$tx)
                    .await?;
                }
                if let (Some(primero), Some(ultimo)) = (eventos.first(), eventos.last()) {
                    (*$tx)
                        .avisar(&format!("{}-{}", primero.id, ultimo.id))
                        .await?;
                }
                $tx.commit().await?;
                $store
                    .publicacion
                    .entregar_confirmados($crate::modelo::EventoId(anterior), &eventos);
                Ok::<_, sqlx::Error>(eventos)
            })
            .await?;
            for evento in &eventos {
                $crate::metricas::evento_publicado(&evento.tipo);
            }
            Ok::<_, sqlx::Error>(eventos)
        }
    };
}
pub(super) use commit_publicando;

/// [`commit_publicando!`] for a single event; evaluates to `Result<Evento, sqlx::Error>`.
macro_rules! commit_con_evento {
    ($store:expr, $tx:expr, $nuevo:expr) => {
        async {
            let nuevo: &$crate::modelo::NuevoEvento = $nuevo;
            let mut eventos = $crate::store::eventos::commit_publicando!(
                $store,
                $tx,
                $crate::store::Publicar::uno(nuevo.clone())
            )
            .await?;
            Ok::<_, sqlx::Error>(eventos.remove(0))
        }
    };
}
pub(super) use commit_con_evento;

/// The columns of an [`Evento`].
macro_rules! columnas_evento {
    () => {
        "id, tipo, subtipo, payload, usuario_id, sucursal_id, entidad_tipo, entidad_id, \
         prioridad, destinos, fecha"
    };
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
            let mut tx = p.begin_write().await?;
            commit_con_evento!(self, tx, nuevo).await
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
