//! How a node learns of the events it did not commit itself (design §10): a
//! dedicated LISTEN connection on Postgres that turns each NOTIFY into a
//! wake-up, and a catch-up loop that reads the committed rows after the last
//! id handed on — woken by a NOTIFY, by a gap in this node's own commits,
//! after the LISTEN connection comes back, and on a timer in case a
//! notification was lost. Because the publication turn commits ids in
//! increasing order (see `publicacion.rs`), "every row after N" never skips an
//! event that commits later.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

use super::eventos::CANAL;
use super::nodos::CANAL_NODOS;
use super::{Pool, Store, StoreError};
use crate::modelo::EventoId;

/// Rows per catch-up query.
const LOTE: i64 = 500;

/// The LISTEN connection's name in `pg_stat_activity`.
pub const NOMBRE_ESCUCHA: &str = "comanda-escucha";

/// Longest wait between two attempts to listen again.
const ESPERA_MAXIMA: Duration = Duration::from_secs(5);

impl Store {
    /// Hands on every committed event after the last one handed on, in id
    /// order; answers how many.
    pub async fn ponerse_al_dia(&self) -> Result<usize, StoreError> {
        crate::metricas::medir_store("ponerse_al_dia", async {
            let mut entregados = 0;
            loop {
                let filas = self
                    .leer_eventos_desde(self.publicacion.ultimo(), None, LOTE)
                    .await?;
                let leidas = filas.len();
                entregados += self.publicacion.entregar_leidos(filas);
                if leidas < LOTE as usize {
                    return Ok(entregados);
                }
            }
        })
        .await
    }

    /// Starts, on the current runtime, the tasks that keep this node current
    /// with the events other nodes commit: the catch-up loop (every `cada`,
    /// and whenever woken) and, on Postgres, the LISTEN connection. They end
    /// when the store is closed. Call once, after [`Store::al_publicar`].
    /// Also starts the lookout that tells whether the database can be
    /// reached (`vigia.rs`), which those tasks alert when they lose it.
    pub fn seguir_publicaciones(&self, cada: Duration) {
        self.vigilar();
        tokio::task::spawn_local(ponerse_al_dia_siempre(self.clone(), cada));
        if let Pool::Postgres(pool) = &self.pool {
            tokio::task::spawn_local(escuchar(self.clone(), pool.clone()));
        }
    }

    /// Resolves when the store is closed.
    pub(super) async fn cerrada(&self) {
        on_pool!(self, p => p.close_event().await)
    }
}

async fn ponerse_al_dia_siempre(store: Store, cada: Duration) {
    let mut reloj = tokio::time::interval(cada);
    reloj.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut fallando = false;
    loop {
        tokio::select! {
            _ = store.cerrada() => return,
            _ = store.publicacion.esperar_pedido() => {}
            _ = reloj.tick() => {}
        }
        match store.ponerse_al_dia().await {
            Ok(n) => {
                if fallando {
                    tracing::info!(eventos = n, "la base responde de nuevo: eventos al día");
                    fallando = false;
                } else if n > 0 {
                    tracing::debug!(eventos = n, "eventos leídos de la base");
                }
            }
            Err(e) => {
                store.sospechar(&e);
                if !fallando {
                    tracing::warn!(error = %e, "no se pueden leer los eventos nuevos; se reintenta");
                    fallando = true;
                }
            }
        }
    }
}

/// The dedicated LISTEN connection: each NOTIFY wakes the catch-up loop; a
/// lost connection is opened again (with backoff) and followed by a catch-up,
/// since notifications sent meanwhile are gone.
async fn escuchar(store: Store, pool: PgPool) {
    let opciones = (*pool.connect_options())
        .clone()
        .application_name(NOMBRE_ESCUCHA);
    let mut espera = Duration::from_millis(100);
    loop {
        let conexion = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(5))
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(opciones.clone());
        let resultado = tokio::select! {
            _ = store.cerrada() => return,
            r = escuchar_en(&store, &conexion) => r,
        };
        conexion.close().await;
        // Losing the LISTEN connection is often the first sign that the
        // database went away.
        store.sospechar_ya();
        match resultado {
            Ok(()) => espera = Duration::from_millis(100),
            Err(e) => {
                tracing::warn!(error = %e, reintento_en = ?espera, "sin conexión LISTEN; se vuelve a escuchar");
                tokio::select! {
                    _ = store.cerrada() => return,
                    _ = tokio::time::sleep(espera) => {}
                }
                espera = (espera * 2).min(ESPERA_MAXIMA);
            }
        }
    }
}

/// Listens until the connection is lost: `Ok` when sqlx noticed and the
/// caller should simply listen again, `Err` when it could not.
async fn escuchar_en(store: &Store, conexion: &PgPool) -> Result<(), sqlx::Error> {
    let mut oyente = Oyente(Some(PgListener::connect_with(conexion).await?));
    let oyente = oyente.0.as_mut().expect("just connected");
    oyente.eager_reconnect(false);
    oyente.listen_all([CANAL, CANAL_NODOS]).await?;
    tracing::debug!(canal = CANAL, "escuchando los eventos de los otros nodos");
    // Whatever was committed while this node was not listening.
    store.publicacion.pedir_ponerse_al_dia();
    store.nodos_cambiaron.notify_one();
    loop {
        match oyente.try_recv().await? {
            Some(aviso) if aviso.channel() == CANAL_NODOS => store.nodos_cambiaron.notify_one(),
            Some(aviso) => match hasta(aviso.payload()) {
                Some(id) => store.publicacion.avisado(id),
                None => store.publicacion.pedir_ponerse_al_dia(),
            },
            None => {
                tracing::info!("se perdió la conexión LISTEN; se vuelve a escuchar");
                return Ok(());
            }
        }
    }
}

/// A `PgListener` that is leaked, not dropped, when no runtime is there to
/// drop it: sqlx's drop spawns a task (UNLISTEN, return the connection), which
/// panics while a runtime shuts down with this task still in it. The process
/// or the runtime is ending then, and the connection with it.
struct Oyente(Option<PgListener>);

impl Drop for Oyente {
    fn drop(&mut self) {
        if tokio::runtime::Handle::try_current().is_err() {
            std::mem::forget(self.0.take());
        }
    }
}

/// The last id of a wake-up's "first-last".
fn hasta(aviso: &str) -> Option<EventoId> {
    let (_, ultimo) = aviso.split_once('-')?;
    ultimo.parse().ok().map(EventoId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn un_aviso_dice_hasta_que_id_hay_eventos() {
        assert_eq!(hasta("12-14"), Some(EventoId(14)));
        assert_eq!(hasta("7-7"), Some(EventoId(7)));
        assert_eq!(hasta("7"), None);
        assert_eq!(hasta("a-b"), None);
    }
}
