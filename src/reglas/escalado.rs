//! The kitchens' review hook backed by `escalado.rhai`: the rule runs over a
//! kitchen's unread alerts on the rules' background lane, and each alert it
//! raises is written by the alert workflow (`flujos::escalar_alerta`) and
//! published as `alerta_escalada`, which reaches the kitchen's screens like
//! any event.

use futures_util::future::BoxFuture;
use time::OffsetDateTime;

use super::EntradaEscalado;
use crate::flujos::{self, Contexto};
use crate::realtime::cocina::{AlertaAbierta, Escalador};

pub struct EscaladoPorReglas {
    pub ctx: Contexto,
}

impl Escalador for EscaladoPorReglas {
    fn revisar(&self, alertas: Vec<AlertaAbierta>) -> BoxFuture<'static, ()> {
        let ctx = self.ctx.clone();
        Box::pin(async move {
            let decididas = ctx
                .reglas
                .en_fondo(move |motor| {
                    let ahora = OffsetDateTime::now_utc();
                    alertas
                        .into_iter()
                        .filter_map(|alerta| {
                            let minutos = (ahora - alerta.fecha_envio).whole_minutes();
                            let entrada = EntradaEscalado {
                                prioridad: alerta.prioridad,
                                mensaje: &alerta.mensaje,
                                pedido_id: alerta.pedido_id,
                                sucursal_id: alerta.sucursal_id,
                            };
                            let hasta = motor.escalar(&entrada, minutos)?;
                            Some((alerta, minutos, hasta))
                        })
                        .collect::<Vec<_>>()
                })
                .await;
            let Some(decididas) = decididas else {
                tracing::warn!(
                    "reglas ocupadas: la revisión de alertas sin leer espera a la próxima vuelta"
                );
                return;
            };
            for (alerta, minutos, hasta) in decididas {
                match flujos::escalar_alerta(&ctx, &alerta, minutos, hasta).await {
                    Ok(Some(e)) => {
                        tracing::info!(alerta = alerta.id, desde = %alerta.prioridad, %hasta, evento = %e.id, "alerta escalada")
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(alerta = alerta.id, error = %e, "no se pudo escalar la alerta")
                    }
                }
            }
        })
    }
}
