//! The permission table: which role may do what, and over which sucursales.
//! Handlers ask [`Autenticado::exigir`](super::Autenticado::exigir) instead of
//! testing roles themselves, so this file is the whole policy.

use crate::modelo::{Audiencia, Destinos, Rol, SucursalId, Usuario};

/// Something a handler may be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permiso {
    /// See the sucursales of one's scope.
    VerSucursales,
    /// Create sucursales.
    AdministrarSucursales,
    /// List, create and change accounts.
    AdministrarUsuarios,
    /// Publish an arbitrary event (`POST /api/eventos`, or flat JSON on the
    /// socket): the integrations (servicio) and the superadmin.
    PublicarEventos,
    /// Read the audit log and the counters.
    VerAuditoria,
    /// Read the in-memory ring of the last events.
    VerEventosEnVivo,
    /// Read, validate, try, save and restore the rules.
    EditarReglas,
    /// Register an order (`tienda` from the desk, `whatsapp` from the bot).
    CrearPedidos,
    VerPedidos,
    /// Approve a pending order.
    AprobarPedidos,
    /// Move an order along EN_PREPARACION → LISTO → ENTREGADO, or cancel it.
    AvanzarPedidos,
    /// Send the kitchen an alert; ask for a refill.
    PedirACocina,
    /// Mark alerts read; move refills along.
    AtenderCocina,
    /// List the kitchen's alerts and refills.
    VerCocina,
    /// Register a payment voucher.
    RegistrarVouchers,
    /// List, approve and reject vouchers.
    RevisarVouchers,
}

impl Permiso {
    /// The table of design §2.
    pub fn permitido(self, rol: Rol) -> bool {
        use Rol::*;
        match self {
            Permiso::VerSucursales => true,
            Permiso::AdministrarSucursales
            | Permiso::AdministrarUsuarios
            | Permiso::VerEventosEnVivo => rol == Superadmin,
            // Design §2 and §7a: publishing arbitrary events is what the
            // integrations do; an admin acts through the workflows, whose
            // events have a row behind them.
            Permiso::PublicarEventos => matches!(rol, Servicio | Superadmin),
            Permiso::VerAuditoria | Permiso::EditarReglas => matches!(rol, Admin | Superadmin),
            Permiso::CrearPedidos | Permiso::RegistrarVouchers => {
                matches!(rol, Atencion | Servicio | Admin | Superadmin)
            }
            Permiso::AprobarPedidos | Permiso::PedirACocina | Permiso::RevisarVouchers => {
                matches!(rol, Atencion | Admin | Superadmin)
            }
            Permiso::VerPedidos | Permiso::AvanzarPedidos | Permiso::VerCocina => {
                matches!(rol, Atencion | Cocina | Admin | Superadmin)
            }
            Permiso::AtenderCocina => matches!(rol, Cocina | Admin | Superadmin),
        }
    }
}

/// What a socket receives: the same rule decides live delivery and replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perfil {
    pub rol: Rol,
    pub alcance: Alcance,
}

impl Perfil {
    pub fn de(usuario: &Usuario) -> Self {
        Self {
            rol: usuario.rol,
            alcance: Alcance::de(usuario),
        }
    }

    /// Admins and superadmins watch every event of their scope (the monitor).
    pub fn es_monitor(self) -> bool {
        matches!(self.rol, Rol::Admin | Rol::Superadmin)
    }

    /// The audience a screen of this role answers to within its sucursal.
    pub fn audiencia(self) -> Option<Audiencia> {
        match self.rol {
            Rol::Atencion => Some(Audiencia::Atencion),
            Rol::Cocina => Some(Audiencia::Cocina),
            Rol::Admin => Some(Audiencia::Admin),
            Rol::Superadmin | Rol::Servicio => None,
        }
    }

    /// Monitors see every event of their scope (chain-wide events only with
    /// the whole chain in scope); desk and kitchen screens see their
    /// sucursal's events addressed to their role; integrations see none.
    pub fn puede_recibir(self, sucursal: Option<SucursalId>, destinos: Destinos) -> bool {
        if self.es_monitor() {
            return match sucursal {
                Some(s) => self.alcance.incluye(s),
                None => self.alcance == Alcance::Cadena,
            };
        }
        match (self.audiencia(), self.alcance, sucursal) {
            (Some(a), Alcance::Sucursal(mia), Some(s)) => mia == s && destinos.contiene(a),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perfil(rol: Rol, sucursal: Option<i64>) -> Perfil {
        Perfil {
            rol,
            alcance: sucursal.map_or(Alcance::Cadena, |s| Alcance::Sucursal(SucursalId(s))),
        }
    }

    #[test]
    fn quien_recibe_que() {
        let cocina = Destinos::de(&[Audiencia::Cocina]);
        let s1 = Some(SucursalId(1));
        let s2 = Some(SucursalId(2));
        assert!(perfil(Rol::Cocina, Some(1)).puede_recibir(s1, cocina));
        assert!(!perfil(Rol::Cocina, Some(1)).puede_recibir(s2, cocina));
        assert!(!perfil(Rol::Atencion, Some(1)).puede_recibir(s1, cocina));
        assert!(perfil(Rol::Admin, Some(1)).puede_recibir(s1, cocina));
        assert!(!perfil(Rol::Admin, Some(2)).puede_recibir(s1, cocina));
        assert!(!perfil(Rol::Admin, Some(2)).puede_recibir(None, cocina));
        assert!(perfil(Rol::Admin, None).puede_recibir(None, cocina));
        assert!(perfil(Rol::Superadmin, None).puede_recibir(s2, Destinos::NINGUNO));
        assert!(!perfil(Rol::Servicio, Some(1)).puede_recibir(s1, cocina));
        assert!(!perfil(Rol::Cocina, Some(1)).puede_recibir(None, cocina));
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
