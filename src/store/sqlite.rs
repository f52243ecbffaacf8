//! How the SQLite pool keeps its connections fit to write once the file,
//! after a spell in which it could not be written (a disk gone read-only or
//! full, `chattr +i`), can be written again — without a restart.
//!
//! Such a spell spoils connections in two ways that outlast it:
//! - a COMMIT that failed on I/O is rolled back by SQLite itself, but sqlx's
//!   driver still counts its transaction as open, and the next
//!   `BEGIN IMMEDIATE` on that connection fails ("non-zero transaction
//!   depth");
//! - a connection opened meanwhile has its WAL open read-only (SQLite falls
//!   back to reading without a word when it can't open a file for writing)
//!   and answers "attempt to write a readonly database" for the rest of its
//!   life.
//!
//! The first kind is told by its transaction count: no connection idle in
//! the pool is in a transaction (the pool's ping before each acquire has run
//! any rollback still pending). The second is found when the connection is
//! opened; it serves reads meanwhile, and every connection opened up to
//! then is replaced when next taken from the pool — so that once the file
//! takes writes again, the connections that could not are gone.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnectionMetadata;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection as _, Error};

/// Between the end of the check of a new connection and the moment the pool
/// dates it: a connection dated within this much after a read-only opening
/// counts as opened with it.
const MARGEN: Duration = Duration::from_millis(100);

#[derive(Debug, Default)]
pub(super) struct Vigilancia {
    /// When a connection last had to be opened without being able to write.
    ultima_sin_escritura: Mutex<Option<Instant>>,
}

impl Vigilancia {
    /// After a connection is opened: can it write?
    pub(super) async fn al_abrir(
        &self,
        conn: &mut SqliteConnection,
        espera_ocupada: Duration,
    ) -> Result<(), Error> {
        if !puede_escribir(conn, espera_ocupada).await? {
            tracing::warn!("conexión SQLite abierta sin poder escribir: el archivo no lo permite");
            *self.ultima() = Some(Instant::now());
        }
        Ok(())
    }

    /// Before an idle connection is handed out: may it go on serving?
    pub(super) fn sirve(&self, conn: &SqliteConnection, meta: &PoolConnectionMetadata) -> bool {
        if conn.is_in_transaction() {
            return false;
        }
        let Some(sin_escritura) = *self.ultima() else {
            return true;
        };
        Instant::now()
            .checked_sub(meta.age)
            .is_none_or(|abierta| abierta > sin_escritura + MARGEN)
    }

    fn ultima(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // Nothing panics while holding it.
        self.ultima_sin_escritura
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

/// Takes the write lock and gives it back at once, without waiting for it:
/// a connection that can't write is refused before any lock is tried; one
/// that finds the lock taken by another writer can write too.
async fn puede_escribir(
    conn: &mut SqliteConnection,
    espera_ocupada: Duration,
) -> Result<bool, Error> {
    sqlx::query("PRAGMA busy_timeout = 0")
        .execute(&mut *conn)
        .await?;
    let puede = match sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
        Ok(_) => {
            sqlx::query("ROLLBACK").execute(&mut *conn).await?;
            true
        }
        // SQLITE_BUSY, SQLITE_LOCKED (primary code in the low byte).
        Err(Error::Database(e))
            if e.code()
                .and_then(|c| c.parse::<u32>().ok())
                .is_some_and(|c| matches!(c & 0xff, 5 | 6)) =>
        {
            true
        }
        Err(Error::Database(_)) => false,
        Err(e) => return Err(e),
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA busy_timeout = {}",
        espera_ocupada.as_millis()
    )))
    .execute(&mut *conn)
    .await?;
    Ok(puede)
}
