//! Who is calling: passwords, session tokens, the failed-login counts that
//! lock out a guesser, the pace of an account's logins, the extractor that
//! turns a request into an [`Autenticado`], the permission table that guards
//! every handler, and the revocation events that end logins on every node.

mod extractor;
mod inicios;
mod intentos;
mod password;
mod permisos;
mod revocacion;
mod sesion;
mod token;

pub use extractor::{Autenticado, COOKIE_SESION, Via, autenticar};
pub use inicios::{Frenado, Inicios};
pub use intentos::{Bloqueado, CAPACIDAD, Intentos, Limites};
pub use password::{hash_password, preparar_senuelo, verificar_password};
pub use permisos::{Alcance, Perfil, Permiso};
pub use revocacion::{
    CUENTA_CAMBIADA, MotivoCierre, PayloadSesionCerrada, PayloadUsuarioActualizado, Revocacion,
    sesion_cerrada, usuario_actualizado,
};
pub use sesion::{
    Apertura, AuthError, SesionIniciada, cerrar_sesion, iniciar_sesion, usuario_de_token,
};
pub use token::{Huella, Token, TokenHash};
