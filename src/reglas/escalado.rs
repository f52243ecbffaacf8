//! The kitchens' review hook backed by `escalado.rhai`: an unread alert the
//! rule raises is stored with its new priority and published as
//! `alerta_escalada`, which reaches the kitchen's screens like any event.

use std::sync::Arc;

use serde_json::{Map, json};

use super::{EntradaEscalado, EntradaEvento, RuleEngine};
use crate::modelo::{AlertaId, Entidad, NuevoEvento};
use crate::realtime::cocina::{AlertaAbierta, Escalador};
use crate::store::Store;

pub struct EscaladoPorReglas {
    pub motor: Arc<RuleEngine>,
    pub store: Store,
}

impl Escalador for EscaladoPorReglas {
    fn revisar(&self, alerta: &AlertaAbierta, minutos_sin_leer: i64) {
        let entrada = EntradaEscalado {
            prioridad: alerta.prioridad,
            mensaje: &alerta.mensaje,
            pedido_id: alerta.pedido_id,
            sucursal_id: alerta.sucursal_id,
        };
        let Some(hasta) = self.motor.escalar(&entrada, minutos_sin_leer) else {
            return;
        };
        let (motor, store, desde, id) = (
            self.motor.clone(),
            self.store.clone(),
            alerta.prioridad,
            alerta.id,
        );
        actix_web::rt::spawn(async move {
            let resultado = store
                .escalar_alerta(AlertaId(id), desde, hasta, |a| {
                    let mut payload = Map::new();
                    payload.insert("alerta_id".into(), json!(a.id));
                    payload.insert("pedido_id".into(), json!(a.pedido_id));
                    payload.insert("mensaje".into(), json!(a.mensaje));
                    payload.insert("desde".into(), json!(desde));
                    payload.insert("minutos_sin_leer".into(), json!(minutos_sin_leer));
                    let destinos = motor.destinos(&EntradaEvento {
                        tipo: "alerta_escalada",
                        subtipo: None,
                        sucursal_id: Some(a.sucursal_id),
                        prioridad: Some(hasta),
                        payload: &payload,
                    });
                    NuevoEvento {
                        tipo: "alerta_escalada".into(),
                        subtipo: None,
                        payload,
                        usuario_id: None,
                        sucursal_id: Some(a.sucursal_id),
                        entidad: Some(Entidad {
                            tipo: "ALERTA".into(),
                            id: a.id.0,
                        }),
                        prioridad: Some(hasta),
                        destinos,
                    }
                })
                .await;
            match resultado {
                Ok(Some(e)) => {
                    tracing::info!(alerta = id, %desde, %hasta, evento = %e.id, "alerta escalada")
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(alerta = id, error = %e, "no se pudo escalar la alerta"),
            }
        });
    }
}
