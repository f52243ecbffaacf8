//! Rules as the store keeps them: which rule, and each saved version.

use serde::Serialize;
use time::OffsetDateTime;

use super::UsuarioId;
use super::texto::texto_enum;

texto_enum! {
    /// The three rules of design §8.
    pub enum NombreRegla {
        Prioridad = "prioridad",
        Destinos = "destinos",
        Escalado = "escalado",
    }
}

impl NombreRegla {
    /// The function each script must define, and its number of parameters.
    pub fn funcion(self) -> (&'static str, usize) {
        match self {
            NombreRegla::Prioridad => ("prioridad", 1),
            NombreRegla::Destinos => ("destinos", 1),
            NombreRegla::Escalado => ("escalar", 2),
        }
    }

    pub fn archivo(self) -> String {
        format!("{}.rhai", self.as_str())
    }
}

/// A row of `reglas_versiones`: every saved version, with its author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct VersionRegla {
    pub id: i64,
    pub nombre: NombreRegla,
    pub fuente: String,
    pub autor_id: Option<UsuarioId>,
    #[serde(with = "time::serde::rfc3339")]
    pub creada: OffsetDateTime,
    pub activa: bool,
}
