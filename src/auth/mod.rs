//! Who is calling: passwords, session tokens, the failed-login counts that
//! lock out a guesser, the extractor that turns a request into an
//! [`Autenticado`], and the permission table that guards every handler.

mod extractor;
mod intentos;
mod password;
mod permisos;
mod sesion;
mod token;

pub use extractor::{Autenticado, COOKIE_SESION, Via};
pub use intentos::{Bloqueado, CAPACIDAD, Intentos, Limites};
pub use password::{hash_password, preparar_senuelo, verificar_password};
pub use permisos::{Alcance, Perfil, Permiso};
pub use sesion::{AuthError, SesionIniciada, cerrar_sesion, iniciar_sesion, usuario_de_token};
pub use token::{Token, TokenHash};
