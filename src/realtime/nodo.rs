//! This node among the others serving the same database (design §10): its
//! name, its heartbeat in `nodos`, and the list of the nodes alive.

use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use actix::Addr;
use rand::RngCore;
use sqlx::types::Json;
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::dispatcher::{Dispatcher, PresenciaDeOtrosNodos, PresenciaLocal};
use crate::config::NodoSettings;
use crate::modelo::{Presencia, SucursalId};
use crate::store::{FilaNodo, Store, StoreError};

/// A node not seen for this many heartbeats counts as gone.
const LATIDOS_DE_GRACIA: u32 = 5;
/// A row not refreshed for this many heartbeats is deleted.
const LATIDOS_HASTA_OLVIDAR: u32 = 100;

#[derive(Debug, Clone)]
pub struct Nodo {
    pub id: Arc<str>,
    pub direccion: String,
    pub iniciado: OffsetDateTime,
    pub latido: Duration,
    pub ponerse_al_dia: Duration,
}

impl Nodo {
    /// `settings.id`, or a random name when it is empty.
    pub fn new(settings: &NodoSettings, direccion: String) -> Self {
        let id = if settings.id.trim().is_empty() {
            let mut bytes = [0u8; 3];
            rand::rng().fill_bytes(&mut bytes);
            format!("nodo-{:02x}{:02x}{:02x}", bytes[0], bytes[1], bytes[2])
        } else {
            settings.id.trim().to_owned()
        };
        Self {
            id: id.into(),
            direccion,
            iniciado: OffsetDateTime::now_utc(),
            latido: settings.latido,
            ponerse_al_dia: settings.ponerse_al_dia,
        }
    }

    /// The nodes that refreshed their row lately, this one included.
    pub async fn vivos(&self, store: &Store) -> Result<Vec<FilaNodo>, StoreError> {
        let ahora = OffsetDateTime::now_utc();
        store
            .nodos_vivos(
                ahora - self.latido * LATIDOS_DE_GRACIA,
                ahora - self.latido * LATIDOS_HASTA_OLVIDAR,
            )
            .await
    }

    /// Refreshes this node's row every heartbeat — its open sockets and its
    /// screens online — and at once when those screens change, waking the
    /// other nodes; reads the other nodes' screens whenever one of them
    /// changed, and every heartbeat, so that every node's screens show who is
    /// online anywhere. Ends when the store is closed.
    pub async fn latir(
        self,
        store: Store,
        dispatcher: Addr<Dispatcher>,
        presencia_local: Arc<Notify>,
    ) {
        let mut reloj = tokio::time::interval(self.latido);
        reloj.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut dicha = None;
        let mut fallando = false;
        loop {
            let toca_latir = tokio::select! {
                _ = reloj.tick() => true,
                _ = presencia_local.notified() => false,
                _ = store.cambio_en_nodos() => false,
            };
            if store.cerrado() {
                return;
            }
            let Ok((presencia, sesiones)) = dispatcher.send(PresenciaLocal).await else {
                return;
            };
            let cambio = dicha.as_ref() != Some(&presencia);
            let resultado = async {
                if toca_latir || cambio {
                    let fila = FilaNodo {
                        id: self.id.to_string(),
                        direccion: self.direccion.clone(),
                        iniciado: self.iniciado,
                        visto: OffsetDateTime::now_utc(),
                        sesiones: sesiones as i64,
                        presencia: Json(presencia.clone()),
                    };
                    store.latido_de_nodo(&fila, cambio).await?;
                    dicha = Some(presencia);
                }
                let otros = self.presencia_de_otros(&store).await?;
                dispatcher.do_send(PresenciaDeOtrosNodos(otros));
                Ok::<_, StoreError>(())
            }
            .await;
            match resultado {
                Ok(()) if fallando => {
                    tracing::info!(nodo = %self.id, "latido de nuevo registrado");
                    fallando = false;
                }
                Ok(()) => {}
                Err(_) if store.cerrado() => return,
                Err(e) if !fallando => {
                    tracing::warn!(nodo = %self.id, error = %e, "no se pudo registrar el latido del nodo");
                    fallando = true;
                }
                Err(_) => {}
            }
        }
    }

    /// The screens online on the other live nodes, summed by sucursal.
    async fn presencia_de_otros(
        &self,
        store: &Store,
    ) -> Result<BTreeMap<SucursalId, Presencia>, StoreError> {
        let mut suma: BTreeMap<SucursalId, Presencia> = BTreeMap::new();
        for nodo in self.vivos(store).await? {
            if *nodo.id != *self.id {
                for (s, p) in nodo.presencia.0 {
                    let total = suma.entry(s).or_default();
                    *total = *total + p;
                }
            }
        }
        Ok(suma)
    }
}
