//! The business's types, parsed at the edge so that invalid data can't exist past it.

mod ids;
mod sucursal;
mod usuario;

pub use ids::{AlertaId, EventoId, PedidoId, RefillId, SucursalId, UsuarioId, VoucherId};
pub use sucursal::{NuevaSucursal, Sucursal};
pub use usuario::{
    CambioUsuario, NuevoUsuario, Password, Rol, Usuario, UsuarioCambiado, UsuarioPublico,
};

/// A request that breaks a rule of the domain, with a message for the person who sent it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalido(pub String);

impl Invalido {
    pub fn new(mensaje: impl Into<String>) -> Self {
        Self(mensaje.into())
    }
}
