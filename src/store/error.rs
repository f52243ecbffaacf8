//! What can go wrong in the store, sorted by what the caller should do about it.

use sqlx::error::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database can't be reached right now: retry later (HTTP 503).
    #[error("la base de datos no está disponible: {0}")]
    NoDisponible(#[source] sqlx::Error),
    /// The database is known to be unreachable (see `vigia.rs`): not even
    /// tried. Retry later (HTTP 503).
    #[error("la base de datos no responde")]
    SinBase,
    /// A unique constraint refused the row.
    #[error("ya existe: {0}")]
    Duplicado(String),
    /// A foreign key names a row that does not exist.
    #[error("referencia inexistente: {0}")]
    ReferenciaInexistente(String),
    #[error("DATABASE_URL no válida: {0}")]
    Url(String),
    /// SQLite serves one node, and another one already serves this file.
    #[error("{0}")]
    OtroNodo(String),
    #[error("migración fallida: {0}")]
    Migracion(#[from] sqlx::migrate::MigrateError),
    #[error("error de base de datos: {0}")]
    Otro(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation => {
                    StoreError::Duplicado(db.constraint().unwrap_or(db.message()).to_owned())
                }
                ErrorKind::ForeignKeyViolation => StoreError::ReferenciaInexistente(
                    db.constraint().unwrap_or(db.message()).to_owned(),
                ),
                _ if es_transitorio(db.code().as_deref()) => StoreError::NoDisponible(e),
                _ => StoreError::Otro(e),
            },
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::NoDisponible(e),
            sqlx::Error::Configuration(_) => StoreError::Url(e.to_string()),
            _ => StoreError::Otro(e),
        }
    }
}

/// Conditions that pass: Postgres SQLSTATE classes 08 (connection), 53
/// (resources) and 57P (shutdown); SQLite's BUSY, LOCKED, NOMEM, READONLY, IOERR,
/// FULL and CANTOPEN (primary code in the low byte of the extended one).
fn es_transitorio(code: Option<&str>) -> bool {
    match code {
        Some(sqlstate) if sqlstate.len() == 5 => {
            sqlstate.starts_with("08") || sqlstate.starts_with("53") || sqlstate.starts_with("57P")
        }
        Some(sqlite) => sqlite
            .parse::<u32>()
            .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 7 | 8 | 10 | 13 | 14)),
        None => false,
    }
}
