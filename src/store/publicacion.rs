//! The order in which events become visible and are handed to the Dispatcher.
//!
//! Two writers may insert events concurrently; if the one with the larger id
//! committed first, a reader could deliver id 12 and then see id 11 appear —
//! and a client resuming "after 12" would never get 11. comanda rules that out
//! at the source: a transaction takes the publication turn right before it
//! inserts its events and keeps it until it has committed. Within a node the
//! turn is a mutex; on Postgres it is also a transaction-level advisory lock,
//! so that the nodes sharing the database take turns too. Ids are therefore
//! committed in increasing order across the whole cluster, and "every event
//! after N" is a complete answer at any time, on any node. The turn is held for
//! the event inserts and the commit only, not for the domain work.
//!
//! Each node then hands events to its Dispatcher exactly once, in id order,
//! from two sources:
//! - its own commits, at once: a commit knows the id committed just before its
//!   own (`anterior`, read under the turn), so when that is the last id this
//!   node handed on, nothing can be missing in between;
//! - everything else — other nodes' commits, or an own commit that found a gap
//!   — by reading the committed rows after the last id handed on
//!   ([`Store::ponerse_al_dia`](super::Store::ponerse_al_dia)), woken by a
//!   NOTIFY, by a gap, or by a periodic tick.

use std::sync::{Arc, Mutex as StdMutex};

use tokio::sync::{Mutex, MutexGuard, Notify};

use crate::modelo::{Evento, EventoId};

type Destino = Box<dyn Fn(Evento) + Send + Sync>;

#[derive(Default)]
pub struct Publicacion {
    turno: Mutex<()>,
    secuencia: StdMutex<Secuencia>,
    despertar: Notify,
}

#[derive(Default)]
struct Secuencia {
    /// The newest id handed to the Dispatcher.
    ultimo: EventoId,
    destino: Option<Destino>,
}

impl Secuencia {
    fn entregar(&mut self, evento: Evento) {
        self.ultimo = evento.id;
        if let Some(destino) = &self.destino {
            destino(evento);
        }
    }
}

impl std::fmt::Debug for Publicacion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secuencia = self.secuencia();
        f.debug_struct("Publicacion")
            .field("conectada", &secuencia.destino.is_some())
            .field("ultimo", &secuencia.ultimo)
            .finish()
    }
}

impl Publicacion {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    fn secuencia(&self) -> std::sync::MutexGuard<'_, Secuencia> {
        // Nothing panics while holding it; a poisoned lock still holds a
        // consistent position.
        self.secuencia.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This node's half of the turn (the advisory lock is the other).
    pub async fn turno(&self) -> MutexGuard<'_, ()> {
        self.turno.lock().await
    }

    /// Connects the Dispatcher, which already knows every event up to
    /// `ultimo`; once per store.
    pub fn conectar(&self, ultimo: EventoId, destino: Destino) -> bool {
        let mut secuencia = self.secuencia();
        if secuencia.destino.is_some() {
            return false;
        }
        secuencia.ultimo = ultimo;
        secuencia.destino = Some(destino);
        true
    }

    /// The newest id handed on.
    pub fn ultimo(&self) -> EventoId {
        self.secuencia().ultimo
    }

    /// This node's own commit, called with the turn held: `eventos` in id
    /// order, `anterior` the id committed just before the first. Hands them
    /// on at once when nothing can be missing before them; otherwise asks for
    /// a catch-up, which reads them with whatever came first.
    pub fn entregar_confirmados(&self, mut anterior: EventoId, eventos: &[Evento]) {
        let mut secuencia = self.secuencia();
        for evento in eventos {
            if evento.id <= secuencia.ultimo {
                // A catch-up read it first.
            } else if anterior == secuencia.ultimo {
                secuencia.entregar(evento.clone());
            } else {
                drop(secuencia);
                self.despertar.notify_one();
                return;
            }
            anterior = evento.id;
        }
    }

    /// Rows read from the store after some id at or before [`Self::ultimo`],
    /// in id order: a complete prefix (see the module comment). Hands on
    /// those not yet handed on; answers how many.
    pub fn entregar_leidos(&self, eventos: Vec<Evento>) -> usize {
        let mut secuencia = self.secuencia();
        let mut entregados = 0;
        for evento in eventos {
            if evento.id > secuencia.ultimo {
                secuencia.entregar(evento);
                entregados += 1;
            }
        }
        entregados
    }

    /// A NOTIFY said events up to `hasta` were committed somewhere.
    pub fn avisado(&self, hasta: EventoId) {
        if hasta > self.ultimo() {
            self.despertar.notify_one();
        }
    }

    /// Asks the catch-up loop to read the store now.
    pub fn pedir_ponerse_al_dia(&self) {
        self.despertar.notify_one();
    }

    /// Resolves when a catch-up was asked for.
    pub async fn esperar_pedido(&self) {
        self.despertar.notified().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use serde_json::Map;
    use sqlx::types::Json;
    use time::OffsetDateTime;

    use super::*;
    use crate::modelo::Destinos;

    fn evento(id: i64) -> Evento {
        Evento {
            id: EventoId(id),
            tipo: "prueba".into(),
            subtipo: None,
            payload: Json(Map::new()),
            usuario_id: None,
            sucursal_id: None,
            entidad_tipo: None,
            entidad_id: None,
            prioridad: None,
            destinos: Json(Destinos::default()),
            fecha: OffsetDateTime::UNIX_EPOCH,
        }
    }

    /// A publication connected at `ultimo`, and what it handed on.
    fn conectada(ultimo: i64) -> (Arc<Publicacion>, Arc<StdMutex<Vec<i64>>>) {
        let p = Publicacion::new();
        let vistos = Arc::new(StdMutex::new(Vec::new()));
        let destino = vistos.clone();
        assert!(p.conectar(
            EventoId(ultimo),
            Box::new(move |e: Evento| destino.lock().unwrap().push(e.id.0)),
        ));
        (p, vistos)
    }

    fn ids(ids: &[i64]) -> Vec<Evento> {
        ids.iter().copied().map(evento).collect()
    }

    #[test]
    fn un_commit_propio_sin_hueco_se_entrega_al_momento() {
        let (p, vistos) = conectada(10);
        p.entregar_confirmados(EventoId(10), &ids(&[11, 12]));
        // A gap in the sequence (a rolled-back insert) is no hole: `anterior`
        // is the last id committed, not id - 1.
        p.entregar_confirmados(EventoId(12), &ids(&[15]));
        assert_eq!(*vistos.lock().unwrap(), [11, 12, 15]);
        assert_eq!(p.ultimo(), EventoId(15));
    }

    #[tokio::test]
    async fn un_commit_propio_tras_otro_nodo_espera_a_la_lectura_y_sale_en_orden() {
        let (p, vistos) = conectada(10);
        // Another node committed 11 and 12; this node's 13 comes first.
        p.entregar_confirmados(EventoId(12), &ids(&[13]));
        assert!(
            vistos.lock().unwrap().is_empty(),
            "13 can't go before 11 and 12"
        );
        tokio::time::timeout(std::time::Duration::from_secs(1), p.esperar_pedido())
            .await
            .expect("the gap asks for a catch-up");
        // The catch-up reads everything after 10.
        assert_eq!(p.entregar_leidos(ids(&[11, 12, 13])), 3);
        assert_eq!(*vistos.lock().unwrap(), [11, 12, 13]);
    }

    #[test]
    fn lo_leido_y_lo_propio_nunca_se_entregan_dos_veces() {
        let (p, vistos) = conectada(0);
        assert_eq!(p.entregar_leidos(ids(&[1, 2])), 2);
        // Own commit 2 arrives after a catch-up already read it.
        p.entregar_confirmados(EventoId(1), &ids(&[2]));
        // A catch-up that started before 3 was handed on reads 2..4.
        p.entregar_confirmados(EventoId(2), &ids(&[3]));
        assert_eq!(p.entregar_leidos(ids(&[2, 3, 4])), 1);
        assert_eq!(*vistos.lock().unwrap(), [1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn un_aviso_de_algo_ya_entregado_no_despierta_a_nadie() {
        let (p, _) = conectada(20);
        p.avisado(EventoId(20));
        let espera =
            tokio::time::timeout(std::time::Duration::from_millis(50), p.esperar_pedido()).await;
        assert!(espera.is_err(), "nothing new: no catch-up");
        p.avisado(EventoId(21));
        tokio::time::timeout(std::time::Duration::from_secs(1), p.esperar_pedido())
            .await
            .expect("21 is new: catch-up");
    }
}
