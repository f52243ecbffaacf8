//! Accounts: roles, the user row as the rest of comanda sees it, and the parsed
//! bodies that create or change one.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

use super::texto::texto_enum;
use super::{Invalido, SucursalId, UsuarioId};

texto_enum! {
    /// Who a user is to comanda (design §2).
    pub enum Rol {
        Atencion = "atencion",
        Cocina = "cocina",
        Admin = "admin",
        Superadmin = "superadmin",
        Servicio = "servicio",
    }
}

impl Rol {
    /// Whether a user of this role must, may or must not belong to a sucursal.
    fn validar_sucursal(self, sucursal: Option<SucursalId>) -> Result<(), Invalido> {
        match (self, sucursal) {
            (Rol::Atencion | Rol::Cocina, None) => Err(Invalido::new(format!(
                "un usuario {} necesita una sucursal_id",
                self.as_str()
            ))),
            (Rol::Superadmin, Some(_)) => {
                Err(Invalido::new("un superadmin no pertenece a una sucursal"))
            }
            _ => Ok(()),
        }
    }
}

/// A user as comanda shows it: never with its password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Usuario {
    pub id: UsuarioId,
    pub usuario: String,
    pub nombre: String,
    pub rol: Rol,
    pub sucursal_id: Option<SucursalId>,
    pub activo: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub creado: OffsetDateTime,
}

/// What a login answers about its user (design §7).
#[derive(Debug, Clone, Serialize)]
pub struct UsuarioPublico {
    pub id: UsuarioId,
    pub usuario: String,
    pub nombre: String,
    pub rol: Rol,
    pub sucursal_id: Option<SucursalId>,
}

impl From<&Usuario> for UsuarioPublico {
    fn from(u: &Usuario) -> Self {
        Self {
            id: u.id,
            usuario: u.usuario.clone(),
            nombre: u.nombre.clone(),
            rol: u.rol,
            sucursal_id: u.sucursal_id,
        }
    }
}

/// A password that passed the length rules; its `Debug` never shows it.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Password(String);

impl Password {
    pub fn parse(s: String) -> Result<Self, Invalido> {
        match s.chars().count() {
            0..8 => Err(Invalido::new(
                "la contraseña necesita al menos 8 caracteres",
            )),
            8..=128 => Ok(Self(s)),
            _ => Err(Invalido::new("la contraseña tiene más de 128 caracteres")),
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Password {
    type Error = Invalido;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

/// `POST /api/usuarios` body, and `comanda usuario crear`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NuevoUsuario {
    pub usuario: String,
    #[serde(default)]
    pub nombre: Option<String>,
    pub password: Password,
    pub rol: Rol,
    #[serde(default)]
    pub sucursal_id: Option<SucursalId>,
}

impl NuevoUsuario {
    /// Normalizes the login name and checks the role/sucursal pairing.
    pub fn validar(mut self) -> Result<Self, Invalido> {
        self.usuario = validar_login(&self.usuario)?;
        let nombre = self.nombre.take().unwrap_or_else(|| self.usuario.clone());
        self.nombre = Some(validar_nombre(&nombre)?);
        self.rol.validar_sucursal(self.sucursal_id)?;
        Ok(self)
    }

    pub fn nombre(&self) -> &str {
        self.nombre.as_deref().unwrap_or(&self.usuario)
    }
}

fn validar_login(usuario: &str) -> Result<String, Invalido> {
    let usuario = usuario.trim().to_lowercase();
    let valido = (3..=64).contains(&usuario.len())
        && usuario
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valido {
        Ok(usuario)
    } else {
        Err(Invalido::new(
            "el usuario debe tener de 3 a 64 caracteres: letras, números, '.', '_' o '-'",
        ))
    }
}

fn validar_nombre(nombre: &str) -> Result<String, Invalido> {
    let nombre = nombre.trim();
    match nombre.chars().count() {
        0 => Err(Invalido::new("el nombre no puede estar vacío")),
        1..=100 => Ok(nombre.to_owned()),
        _ => Err(Invalido::new("el nombre tiene más de 100 caracteres")),
    }
}

/// `PATCH /api/usuarios/{id}` body: every field optional; `"sucursal_id": null`
/// removes the sucursal, an absent `sucursal_id` leaves it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CambioUsuario {
    #[serde(default)]
    pub nombre: Option<String>,
    #[serde(default)]
    pub rol: Option<Rol>,
    #[serde(default, deserialize_with = "presente")]
    pub sucursal_id: Option<Option<SucursalId>>,
    #[serde(default)]
    pub activo: Option<bool>,
    #[serde(default)]
    pub password: Option<Password>,
}

/// The row's new values once a [`CambioUsuario`] is applied and checked.
#[derive(Debug)]
pub struct UsuarioCambiado {
    pub nombre: String,
    pub rol: Rol,
    pub sucursal_id: Option<SucursalId>,
    pub activo: bool,
}

impl CambioUsuario {
    pub fn aplicar(&self, actual: &Usuario) -> Result<UsuarioCambiado, Invalido> {
        let nombre = match &self.nombre {
            Some(n) => validar_nombre(n)?,
            None => actual.nombre.clone(),
        };
        let rol = self.rol.unwrap_or(actual.rol);
        let sucursal_id = self.sucursal_id.unwrap_or(actual.sucursal_id);
        rol.validar_sucursal(sucursal_id)?;
        Ok(UsuarioCambiado {
            nombre,
            rol,
            sucursal_id,
            activo: self.activo.unwrap_or(actual.activo),
        })
    }

    /// A change that alters what the user may do ends their open sessions.
    pub fn revoca_sesiones(&self, actual: &Usuario) -> bool {
        self.password.is_some()
            || self.activo == Some(false)
            || self.rol.is_some_and(|r| r != actual.rol)
            || self.sucursal_id.is_some_and(|s| s != actual.sucursal_id)
    }
}

/// Tells "absent" (outer `None`, via `#[serde(default)]`) from `null` (`Some(None)`).
fn presente<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nuevo(rol: Rol, sucursal: Option<i64>) -> NuevoUsuario {
        NuevoUsuario {
            usuario: " Ana.Cocina ".into(),
            nombre: None,
            password: Password::parse("secreto-largo".into()).unwrap(),
            rol,
            sucursal_id: sucursal.map(SucursalId),
        }
    }

    #[test]
    fn cocina_y_atencion_necesitan_sucursal() {
        assert!(nuevo(Rol::Cocina, None).validar().is_err());
        assert!(nuevo(Rol::Atencion, None).validar().is_err());
        assert!(nuevo(Rol::Cocina, Some(1)).validar().is_ok());
    }

    #[test]
    fn superadmin_no_tiene_sucursal() {
        assert!(nuevo(Rol::Superadmin, Some(1)).validar().is_err());
        assert!(nuevo(Rol::Superadmin, None).validar().is_ok());
        assert!(nuevo(Rol::Admin, None).validar().is_ok());
    }

    #[test]
    fn el_login_se_normaliza() {
        let u = nuevo(Rol::Admin, None).validar().unwrap();
        assert_eq!(u.usuario, "ana.cocina");
        assert_eq!(u.nombre(), "ana.cocina");
    }

    #[test]
    fn password_corta_se_rechaza_y_no_se_muestra() {
        assert!(Password::parse("corta".into()).is_err());
        let p = Password::parse("muy-secreta-123".into()).unwrap();
        assert!(!format!("{p:?}").contains("secreta"));
    }

    #[test]
    fn sucursal_null_se_distingue_de_ausente() {
        let c: CambioUsuario = serde_json::from_str(r#"{"sucursal_id":null}"#).unwrap();
        assert_eq!(c.sucursal_id, Some(None));
        let c: CambioUsuario = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!(c.sucursal_id, None);
    }
}
