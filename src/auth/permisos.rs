//! The permission table: which role may do what, and over which sucursales.
//! Handlers ask [`Autenticado::exigir`](super::Autenticado::exigir) instead of
//! testing roles themselves, so this file is the whole policy.

use crate::modelo::{Rol, SucursalId, Usuario};

/// Something a handler may be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permiso {
    /// See the sucursales of one's scope.
    VerSucursales,
    /// Create sucursales.
    AdministrarSucursales,
    /// List, create and change accounts.
    AdministrarUsuarios,
}

impl Permiso {
    /// The table of design §2.
    pub fn permitido(self, rol: Rol) -> bool {
        use Rol::*;
        match self {
            Permiso::VerSucursales => true,
            Permiso::AdministrarSucursales | Permiso::AdministrarUsuarios => rol == Superadmin,
        }
    }
}

/// The sucursales a user may see and act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alcance {
    /// The whole chain: superadmin, and admin or servicio without a sucursal.
    Cadena,
    Sucursal(SucursalId),
}

impl Alcance {
    pub fn de(usuario: &Usuario) -> Self {
        match (usuario.rol, usuario.sucursal_id) {
            (Rol::Superadmin, _) | (_, None) => Alcance::Cadena,
            (_, Some(s)) => Alcance::Sucursal(s),
        }
    }

    pub fn incluye(self, sucursal: SucursalId) -> bool {
        match self {
            Alcance::Cadena => true,
            Alcance::Sucursal(s) => s == sucursal,
        }
    }

    /// `None` for the whole chain: the filter that store queries take.
    pub fn sucursal(self) -> Option<SucursalId> {
        match self {
            Alcance::Cadena => None,
            Alcance::Sucursal(s) => Some(s),
        }
    }
}
