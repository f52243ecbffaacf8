//! The order in which events become visible and are handed to the Dispatcher.
//!
//! Two writers may insert events concurrently; if the one with the larger id
//! committed first, a reader could deliver id 12 and then see id 11 appear —
//! and a client resuming "after 12" would never get 11. comanda rules that out
//! at the source: a transaction takes the publication turn right before it
//! inserts its event, commits, hands the committed event to the Dispatcher and
//! only then gives the turn up. Ids are therefore committed, and dispatched, in
//! increasing order, and "everything after N" is a complete answer at any time.
//! The turn is held for the event insert and the commit only, not for the
//! domain work of the transaction.

use std::sync::{Arc, OnceLock};

use tokio::sync::{Mutex, MutexGuard};

use crate::modelo::Evento;

type Destino = Box<dyn Fn(Evento) + Send + Sync>;

#[derive(Default)]
pub struct Publicacion {
    turno: Mutex<()>,
    destino: OnceLock<Destino>,
}

impl std::fmt::Debug for Publicacion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publicacion")
            .field("conectada", &self.destino.get().is_some())
            .finish()
    }
}

impl Publicacion {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    pub async fn turno(&self) -> MutexGuard<'_, ()> {
        self.turno.lock().await
    }

    /// Hands a committed event on; called with the turn held.
    pub fn entregar(&self, evento: Evento) {
        if let Some(destino) = self.destino.get() {
            destino(evento);
        }
    }

    /// Connects the Dispatcher; once per store.
    pub fn conectar(&self, destino: Destino) -> bool {
        self.destino.set(destino).is_ok()
    }
}
