//! Events: what the rules decided for one (prioridad, destinos) and the row
//! that `eventos_realtime` keeps of it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use sqlx::types::Json;
use time::OffsetDateTime;

use super::texto::texto_enum;
use super::{EventoId, SucursalId, TipoEntidad, TipoEvento, UsuarioId};

texto_enum! {
    /// How loud an alert is. Ordered: `Normal < Alta < Urgente`.
    pub enum Prioridad {
        Normal = "normal",
        Alta = "alta",
        Urgente = "urgente",
    }
}

texto_enum! {
    /// Who, within an event's sucursal, receives it (design §8, `destinos`).
    pub enum Audiencia {
        Atencion = "atencion",
        Cocina = "cocina",
        Admin = "admin",
    }
}

/// A set of [`Audiencia`]s; travels as a JSON array of their names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Destinos(u8);

impl Destinos {
    pub const NINGUNO: Destinos = Destinos(0);

    pub fn de(audiencias: &[Audiencia]) -> Self {
        audiencias.iter().fold(Self::NINGUNO, |d, a| d.con(*a))
    }

    pub const fn con(self, a: Audiencia) -> Self {
        Destinos(self.0 | 1 << a as u8)
    }

    pub fn contiene(self, a: Audiencia) -> bool {
        self.0 & (1 << a as u8) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Audiencia> {
        Audiencia::TODOS
            .iter()
            .copied()
            .filter(move |a| self.contiene(*a))
    }
}

impl Serialize for Destinos {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Destinos {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Destinos::de(&Vec::<Audiencia>::deserialize(d)?))
    }
}

/// The row an event's id points at (`entidad_tipo`, `entidad_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entidad {
    pub tipo: TipoEntidad,
    pub id: i64,
}

/// An event about to be written, with what the rules decided for it.
#[derive(Debug, Clone)]
pub struct NuevoEvento {
    pub tipo: TipoEvento,
    pub subtipo: Option<String>,
    pub payload: Map<String, Value>,
    pub usuario_id: Option<UsuarioId>,
    pub sucursal_id: Option<SucursalId>,
    pub entidad: Option<Entidad>,
    pub prioridad: Option<Prioridad>,
    pub destinos: Destinos,
}

impl NuevoEvento {
    /// The id of the row the event is about, known only once the row is
    /// written: it becomes the event's entity id and the payload's field for
    /// it (`alerta_id` for an `ALERTA`, `pedido_id` for a `PEDIDO`, …). The
    /// workflows build and route an event before its transaction opens; the
    /// store completes it with this.
    pub fn con_id_de_fila(mut self, id: i64) -> Self {
        if let Some(entidad) = &mut self.entidad {
            entidad.id = id;
            self.payload.insert(entidad.tipo.campo_del_id(), id.into());
        }
        self
    }
}

/// A row of `eventos_realtime`: the audit log and what a replay reads.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Evento {
    pub id: EventoId,
    pub tipo: TipoEvento,
    pub subtipo: Option<String>,
    pub payload: Json<Map<String, Value>>,
    pub usuario_id: Option<UsuarioId>,
    pub sucursal_id: Option<SucursalId>,
    pub entidad_tipo: Option<TipoEntidad>,
    pub entidad_id: Option<i64>,
    pub prioridad: Option<Prioridad>,
    pub destinos: Json<Destinos>,
    #[serde(with = "time::serde::rfc3339")]
    pub fecha: OffsetDateTime,
}

impl Evento {
    pub fn entidad(&self) -> Option<Entidad> {
        Some(Entidad {
            tipo: self.entidad_tipo.clone()?,
            id: self.entidad_id?,
        })
    }

    /// The payload as the struct of its kind (`modelo::payload`, …).
    pub fn payload_como<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.payload.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinos_viajan_como_lista_de_nombres() {
        let d = Destinos::de(&[Audiencia::Cocina, Audiencia::Atencion]);
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"["atencion","cocina"]"#
        );
        let d2: Destinos = serde_json::from_str(r#"["cocina","atencion"]"#).unwrap();
        assert_eq!(d, d2);
        assert!(!d.contiene(Audiencia::Admin));
        assert!(serde_json::from_str::<Destinos>(r#"["cliente"]"#).is_err());
    }

    #[test]
    fn las_prioridades_se_ordenan() {
        assert!(Prioridad::Normal < Prioridad::Alta && Prioridad::Alta < Prioridad::Urgente);
        assert!("rojo".parse::<Prioridad>().is_err());
    }
}
