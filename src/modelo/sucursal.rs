//! A sucursal (branch) of the chain.

use serde::{Deserialize, Serialize};

use super::{Invalido, SucursalId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Sucursal {
    pub id: SucursalId,
    pub nombre: String,
    pub activa: bool,
}

/// `POST /api/sucursales` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NuevaSucursal {
    pub nombre: String,
}

impl NuevaSucursal {
    pub fn validar(mut self) -> Result<Self, Invalido> {
        self.nombre = self.nombre.trim().to_owned();
        match self.nombre.chars().count() {
            0 => Err(Invalido::new(
                "el nombre de la sucursal no puede estar vacío",
            )),
            1..=100 => Ok(self),
            _ => Err(Invalido::new(
                "el nombre de la sucursal tiene más de 100 caracteres",
            )),
        }
    }
}

/// Screens of a sucursal online, by role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presencia {
    pub atencion: u32,
    pub cocina: u32,
}

impl std::ops::Add for Presencia {
    type Output = Presencia;

    fn add(self, otra: Presencia) -> Presencia {
        Presencia {
            atencion: self.atencion + otra.atencion,
            cocina: self.cocina + otra.cocina,
        }
    }
}
