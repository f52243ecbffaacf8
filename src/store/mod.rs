//! The store: one API over two backends, Postgres (production) and SQLite (the
//! embedded default), chosen by the `DATABASE_URL` scheme.
//!
//! Every query is written once. The SQL is portable between the two engines
//! (`$N` parameters, `RETURNING`, times bound from Rust), and [`on_pool!`] expands
//! each method body once per backend so that sqlx types it against the concrete
//! driver. Each backend keeps its own migrations folder, because the column
//! types differ (`TIMESTAMPTZ`/`JSONB` against SQLite's text).
//!
//! A write that reports a change ends with the event log,
//! `Store::commit_publicando` (`eventos.rs`): one generic function that takes
//! the write's open transaction on either engine, writes its events in the
//! publication turn (`publicacion.rs`), commits and hands them on.
//!
//! SQL lives here and nowhere else.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::config::StoreSettings;

/// Runs `$body` with `$pool` bound to the concrete pool of the store's backend.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Postgres($pool) => $body,
            $crate::store::Pool::Sqlite($pool) => $body,
        }
    };
}

mod alertas;
mod cocina;
mod error;
mod eventos;
mod idempotencia;
mod nodos;
mod pedidos;
mod publicacion;
mod refills;
mod reglas;
mod relevo;
mod sesiones;
mod sqlite;
mod sucursales;
mod usuarios;
mod vigia;
mod vouchers;

pub use alertas::NuevaAlerta;
pub use cocina::TrabajoAbierto;
pub use error::StoreError;
pub use eventos::{FiltroEventos, Publicar};
pub use idempotencia::{Idempotencia, Respuesta};
pub use nodos::{FilaNodo, NodoUnico};
pub use pedidos::FiltroPedidos;
pub use publicacion::Publicacion;
pub use sesiones::SesionVigente;
pub use vouchers::Revision;

static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");

/// A handle on the database; cheap to clone (the pools are shared).
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    /// Postgres: one connection of its own for `/readyz`, so that a backlog
    /// of requests waiting for the pool does not read as "not ready".
    sonda: Option<PgPool>,
    publicacion: std::sync::Arc<Publicacion>,
    /// Woken when another node's row in `nodos` changed.
    nodos_cambiaron: std::sync::Arc<tokio::sync::Notify>,
    /// Whether the database can be reached (see `vigia.rs`).
    disponibilidad: std::sync::Arc<vigia::Disponibilidad>,
}

#[derive(Clone, Debug)]
enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// What `/readyz` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preparacion {
    Lista,
    MigracionesPendientes,
}

impl Store {
    /// Connects (creating the SQLite file if needed) without migrating.
    #[tracing::instrument(skip_all, fields(backend))]
    pub async fn connect(settings: &StoreSettings) -> Result<Self, StoreError> {
        let url = settings.database_url.as_str();
        let pool = match Backend::of_url(url)? {
            Backend::Postgres => Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(settings.db_max_connections)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(url)
                    .await
                    .map_err(StoreError::from)?,
            ),
            Backend::Sqlite => {
                let espera_ocupada = Duration::from_secs(5);
                let options = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(espera_ocupada)
                    .foreign_keys(true);
                let vigilancia = std::sync::Arc::new(sqlite::Vigilancia::default());
                let al_abrir = vigilancia.clone();
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(settings.db_max_connections)
                        .acquire_timeout(Duration::from_secs(5))
                        .after_connect(move |conn, _| {
                            let vigilancia = al_abrir.clone();
                            Box::pin(async move { vigilancia.al_abrir(conn, espera_ocupada).await })
                        })
                        .before_acquire(move |conn, meta| {
                            let sirve = vigilancia.sirve(conn, &meta);
                            Box::pin(async move { Ok(sirve) })
                        })
                        .connect_with(options)
                        .await?,
                )
            }
        };
        let sonda = match &pool {
            Pool::Postgres(p) => Some(
                PgPoolOptions::new()
                    .max_connections(1)
                    .min_connections(0)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_lazy_with(
                        (*p.connect_options())
                            .clone()
                            .application_name("comanda-sonda"),
                    ),
            ),
            Pool::Sqlite(_) => None,
        };
        let store = Self {
            pool,
            sonda,
            publicacion: Publicacion::new(),
            nodos_cambiaron: Default::default(),
            disponibilidad: Default::default(),
        };
        tracing::Span::current().record("backend", tracing::field::debug(store.backend()));
        Ok(store)
    }

    /// Connects and applies every pending migration.
    pub async fn open(settings: &StoreSettings) -> Result<Self, StoreError> {
        let store = Self::connect(settings).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Where committed events go (the Dispatcher, which knows every event up
    /// to `ultimo`); set once, at startup. See [`Store::seguir_publicaciones`]
    /// for the events this node does not commit itself.
    pub fn al_publicar(
        &self,
        ultimo: crate::modelo::EventoId,
        destino: impl Fn(crate::modelo::Evento) + Send + Sync + 'static,
    ) {
        if !self.publicacion.conectar(ultimo, Box::new(destino)) {
            tracing::warn!("el Store ya tenía un destino de publicación; se ignora el segundo");
        }
    }

    /// The newest event this node handed to its Dispatcher: a login checked
    /// after reading it has seen every revocation up to it (see
    /// `realtime::dispatcher::Registrar`).
    pub fn ultimo_entregado(&self) -> crate::modelo::EventoId {
        self.publicacion.ultimo()
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Postgres(_) => Backend::Postgres,
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Applies the pending migrations; applying again is a no-op.
    #[tracing::instrument(skip(self))]
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await?,
            Pool::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await?,
        }
        Ok(())
    }

    /// Reachable, and every migration of this build applied successfully.
    pub async fn preparacion(&self) -> Result<Preparacion, StoreError> {
        const MIGRACIONES: &str = "SELECT version, success FROM _sqlx_migrations";
        let filas: Result<Vec<(i64, bool)>, sqlx::Error> = match &self.sonda {
            Some(sonda) => sqlx::query_as(MIGRACIONES).fetch_all(sonda).await,
            None => on_pool!(self, p => sqlx::query_as(MIGRACIONES).fetch_all(p).await),
        };
        let aplicadas = match filas {
            Ok(filas) => filas,
            // Before the first migration the bookkeeping table does not exist.
            Err(sqlx::Error::Database(e)) if e.message().contains("_sqlx_migrations") => vec![],
            Err(e) => return Err(e.into()),
        };
        let migrator = match self.backend() {
            Backend::Postgres => &POSTGRES_MIGRATIONS,
            Backend::Sqlite => &SQLITE_MIGRATIONS,
        };
        let todas = migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .all(|m| aplicadas.contains(&(m.version, true)));
        Ok(if todas {
            Preparacion::Lista
        } else {
            Preparacion::MigracionesPendientes
        })
    }

    /// Whether a write could commit now: takes the publication turn (this
    /// node's, and on Postgres the cluster's) and the database's write
    /// access, and gives them back without writing. A turn or a lock that
    /// some writer holds and does not give back — a wedged node — makes this
    /// wait; `/readyz` bounds the wait and reads it as "not ready".
    /// `false`: the database only reads (a standby).
    pub async fn escritura_posible(&self) -> Result<bool, StoreError> {
        let _turno = self.publicacion.turno().await;
        match (&self.pool, &self.sonda) {
            (Pool::Postgres(_), Some(sonda)) => {
                use eventos::TurnoCompartido as _;
                let mut tx = sonda.begin().await?;
                let solo_lectura: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                    .fetch_one(&mut *tx)
                    .await?;
                if solo_lectura {
                    return Ok(false);
                }
                (*tx).tomar_turno().await?;
                tx.rollback().await?;
            }
            (Pool::Postgres(p), None) => {
                p.acquire().await?;
            }
            (Pool::Sqlite(p), _) => {
                let tx = p.begin_write().await?;
                tx.rollback().await?;
            }
        }
        Ok(true)
    }

    pub async fn close(&self) {
        if let Some(sonda) = &self.sonda {
            sonda.close().await;
        }
        on_pool!(self, p => p.close().await)
    }

    /// [`Store::close`] was called.
    pub fn cerrado(&self) -> bool {
        on_pool!(self, p => p.is_closed())
    }
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else {
            Err(StoreError::Url(
                "DATABASE_URL debe empezar por postgres:// o sqlite:".into(),
            ))
        }
    }
}

/// Opens a write transaction. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes can
/// fail with `SQLITE_BUSY` when another writer committed in between.
trait BeginWrite {
    type Db: sqlx::Database;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>;
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error> {
        self.begin().await
    }
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}
