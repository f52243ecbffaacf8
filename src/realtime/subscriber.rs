//! [`Subscriber`]: a part of the node outside the realtime core that follows
//! one kind of committed event — cross-node rule adoption follows
//! `regla_actualizada` — and is told of that kind only, by the Dispatcher,
//! so that every other event passes without calling into it.

use std::sync::Arc;

use crate::modelo::{Evento, TipoEvento};

pub trait Subscriber: Send + Sync + 'static {
    /// Called on the Dispatcher's thread for each event of the kind
    /// subscribed to, committed on this node or another, in id order. It
    /// must return at once: what takes time is spawned.
    fn recibir(&self, evento: &Evento);
}

/// Who follows which kind of event.
#[derive(Default)]
pub struct Subscriptions {
    por_tipo: Vec<(TipoEvento, Arc<dyn Subscriber>)>,
}

impl Subscriptions {
    pub fn add(&mut self, tipo: TipoEvento, subscriber: Arc<dyn Subscriber>) {
        self.por_tipo.push((tipo, subscriber));
    }

    /// Tells `evento` to the subscribers of its kind.
    pub fn notify(&self, evento: &Evento) {
        for (tipo, subscriber) in &self.por_tipo {
            if evento.tipo == *tipo {
                subscriber.recibir(evento);
            }
        }
    }
}
