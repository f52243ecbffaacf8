//! Whether the database can be reached, so that a request arriving while it
//! can't is answered 503 at once instead of waiting for a connection.
//!
//! With Postgres down, sqlx keeps retrying a refused connection until the
//! pool's acquire timeout (5 s), and a write makes several round trips (its
//! session, its `Idempotency-Key`, the write itself): every request would
//! wait 5 s or more for its 503, and a request that gets through the wait
//! because Postgres came back just then is acknowledged after a long stall.
//!
//! Instead, anything that meets a connection failure — a request's query,
//! the catch-up loop, the LISTEN connection dropping, `/readyz` — raises a
//! suspicion, and the lookout (one task per Postgres store) checks with a
//! connection of its own, outside the pool. If that fails too the store is
//! marked down: requests are refused at once, and those waiting for a
//! connection give up; the lookout then tries again every [`CADA`] and marks
//! the store up as soon as Postgres answers. A SQLite file does not go away:
//! no lookout runs there, and the store is never marked down.

use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::sync::{Notify, watch};

use super::{Store, StoreError};

/// How long one check may take: a server that accepts the connection but
/// does not answer (frozen, or a black-holed network) counts as down.
const PLAZO: Duration = Duration::from_secs(2);
/// Between two checks while the database is down.
const CADA: Duration = Duration::from_millis(250);
/// The lookout's connections' name in `pg_stat_activity`.
const NOMBRE: &str = "comanda-vigia";

#[derive(Debug)]
pub(super) struct Disponibilidad {
    /// `true` while the lookout knows the database can't be reached.
    caida: watch::Sender<bool>,
    sospecha: Notify,
}

impl Default for Disponibilidad {
    fn default() -> Self {
        Self {
            caida: watch::Sender::new(false),
            sospecha: Notify::new(),
        }
    }
}

impl Store {
    /// The database is known to be unreachable right now: a request that
    /// needs it should be answered 503 without trying.
    pub fn sin_base(&self) -> bool {
        *self.disponibilidad.caida.borrow()
    }

    /// Something failed as it does when the database can't be reached: the
    /// lookout checks.
    pub fn sospechar(&self, error: &StoreError) {
        if matches!(error, StoreError::NoDisponible(_)) {
            self.sospechar_ya();
        }
    }

    /// Something suggests the database may be unreachable (a timeout): the
    /// lookout checks.
    pub fn sospechar_ya(&self) {
        self.disponibilidad.sospecha.notify_one();
    }

    /// Runs `consulta` unless the database is known to be unreachable, and
    /// gives it up if it becomes so meanwhile ([`StoreError::SinBase`]); a
    /// connection failure raises a suspicion. Only for what can be dropped
    /// half-way: reads, not a write's transaction.
    pub async fn con_base<T>(
        &self,
        consulta: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let mut caida = self.disponibilidad.caida.subscribe();
        let resultado = tokio::select! {
            biased;
            _ = caida.wait_for(|c| *c) => Err(StoreError::SinBase),
            r = consulta => r,
        };
        if let Err(e) = &resultado {
            self.sospechar(e);
        }
        resultado
    }

    /// Starts the lookout (Postgres only) on the current runtime; it ends
    /// when the store is closed.
    pub(super) fn vigilar(&self) {
        if let super::Pool::Postgres(pool) = &self.pool {
            let opciones = (*pool.connect_options()).clone().application_name(NOMBRE);
            tokio::task::spawn_local(vigilar(self.clone(), opciones));
        }
    }
}

async fn vigilar(store: Store, opciones: PgConnectOptions) {
    let disponibilidad = &store.disponibilidad;
    loop {
        tokio::select! {
            _ = store.cerrada() => return,
            _ = disponibilidad.sospecha.notified() => {}
        }
        if responde(&opciones).await {
            continue;
        }
        disponibilidad.caida.send_replace(true);
        tracing::warn!("la base de datos no responde: se contesta 503 hasta que vuelva");
        loop {
            tokio::select! {
                _ = store.cerrada() => return,
                _ = tokio::time::sleep(CADA) => {}
            }
            if responde(&opciones).await {
                break;
            }
        }
        disponibilidad.caida.send_replace(false);
        tracing::info!("la base de datos responde de nuevo");
    }
}

/// A connection of its own opens and answers a ping within [`PLAZO`].
async fn responde(opciones: &PgConnectOptions) -> bool {
    let prueba = async {
        let mut conexion = PgConnection::connect_with(opciones).await?;
        conexion.ping().await?;
        conexion.close().await
    };
    matches!(tokio::time::timeout(PLAZO, prueba).await, Ok(Ok(())))
}
