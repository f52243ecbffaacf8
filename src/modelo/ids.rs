//! Id newtypes: a `SucursalId` can't be passed where a `UsuarioId` is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($($(#[$doc:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$doc])*
        #[derive(
            Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            Serialize, Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}

id! {
    /// A branch of the chain.
    SucursalId,
    UsuarioId,
    /// An event's position in `eventos_realtime`: clients resume from it.
    EventoId,
    PedidoId,
    AlertaId,
    RefillId,
    VoucherId,
}
