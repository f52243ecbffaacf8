//! The business's types, parsed at the edge so that invalid data can't exist past it.

mod cocina;
mod evento;
mod flujos;
mod ids;
pub mod payload;
mod regla;
mod sucursal;
pub(crate) mod texto;
mod tipo_evento;
mod usuario;

pub use cocina::{AlertaCocina, EstadoRefill, SolicitudRefill};
pub use evento::{Audiencia, Destinos, Entidad, Evento, NuevoEvento, Prioridad};
pub use flujos::{
    EstadoPedido, EstadoVoucher, Monto, NuevaAlertaCocina, NuevoPedido, NuevoRefill, NuevoVoucher,
    OrigenPedido, Pedido, Voucher,
};
pub use ids::{AlertaId, EventoId, PedidoId, RefillId, SucursalId, UsuarioId, VoucherId};
pub use regla::{NombreRegla, VersionRegla};
pub use sucursal::{NuevaSucursal, Presencia, Sucursal};
pub use tipo_evento::{TipoEntidad, TipoEvento};
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
