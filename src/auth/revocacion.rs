//! Revocations: the events that end logins on every node. A logout, a login
//! ended by the per-account cap (`sesion_cerrada`) and a change to an account
//! that ends its logins (`usuario_actualizado`) are written to
//! `eventos_realtime` in the same transaction as the change, so they are
//! audited, ordered, NOTIFYed and caught up like any other event; each
//! node's Dispatcher reads them back with [`Revocacion::de`] and closes the
//! sockets they name.

use serde::{Deserialize, Serialize};

use super::token::Huella;
use crate::modelo::payload::en_mapa;
use crate::modelo::texto::texto_enum;
use crate::modelo::{
    Audiencia, Destinos, Entidad, Evento, NuevoEvento, SucursalId, TipoEntidad, TipoEvento,
    Usuario, UsuarioId,
};

/// The entity both events are about: the account. A flat publication
/// (`POST /api/eventos`) can't name this entity (it infers only alerts,
/// refills, vouchers and orders), so an event that claims to revoke
/// without it is not obeyed, whatever its `tipo`.
const ENTIDAD: TipoEntidad = TipoEntidad::Usuario;

texto_enum! {
    /// Why a login ended before its time.
    pub enum MotivoCierre {
        /// `POST /api/logout`.
        Logout = "logout",
        /// A newer login of the same account went past `--sesiones-por-cuenta`.
        LimiteDeSesiones = "limite_de_sesiones",
    }
}

impl MotivoCierre {
    /// The reason its sockets' close frame gives.
    pub fn para_el_socket(self) -> &'static str {
        match self {
            MotivoCierre::Logout => "sesión cerrada",
            MotivoCierre::LimiteDeSesiones => {
                "sesión cerrada: la cuenta abrió más sesiones de las permitidas"
            }
        }
    }
}

/// The payload of `sesion_cerrada`: which login of which account ended, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadSesionCerrada {
    pub usuario_id: UsuarioId,
    pub motivo: MotivoCierre,
    /// The login's huella, never its token.
    pub sesion: Huella,
}

/// The payload of `usuario_actualizado`: which account, which of its fields
/// (names only, never values), and whether that ended its logins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadUsuarioActualizado {
    pub usuario_id: UsuarioId,
    pub cambios: Vec<String>,
    pub sesiones_revocadas: bool,
}

fn evento(
    tipo: TipoEvento,
    autor: UsuarioId,
    cuenta: UsuarioId,
    sucursal_id: Option<SucursalId>,
    payload: &impl Serialize,
) -> NuevoEvento {
    NuevoEvento {
        tipo,
        subtipo: None,
        payload: en_mapa(payload),
        usuario_id: Some(autor),
        sucursal_id,
        entidad: Some(Entidad {
            tipo: ENTIDAD,
            id: cuenta.0,
        }),
        prioridad: None,
        // Monitors see them; desk and kitchen screens have nothing to do
        // with other people's logins.
        destinos: Destinos::de(&[Audiencia::Admin]),
    }
}

/// `sesion_cerrada`: the login `huella` of `usuario` ended, by `autor` (the
/// user itself for a logout and for its own newer login past the cap).
pub fn sesion_cerrada(usuario: &Usuario, huella: &Huella, motivo: MotivoCierre) -> NuevoEvento {
    evento(
        TipoEvento::SesionCerrada,
        usuario.id,
        usuario.id,
        usuario.sucursal_id,
        &PayloadSesionCerrada {
            usuario_id: usuario.id,
            motivo,
            sesion: huella.clone(),
        },
    )
}

/// `usuario_actualizado`: `autor` changed `cambios` (field names only) of
/// `antes`, the account as it was; `revocadas` says whether that ended its
/// logins. It belongs to the sucursal the account had, whose screens it
/// closed.
pub fn usuario_actualizado(
    autor: &Usuario,
    antes: &Usuario,
    cambios: &[&str],
    revocadas: bool,
) -> NuevoEvento {
    evento(
        TipoEvento::UsuarioActualizado,
        autor.id,
        antes.id,
        antes.sucursal_id,
        &PayloadUsuarioActualizado {
            usuario_id: antes.id,
            cambios: cambios.iter().map(|c| (*c).to_owned()).collect(),
            sesiones_revocadas: revocadas,
        },
    )
}

/// The close reason of the sockets of a changed account.
pub const CUENTA_CAMBIADA: &str = "la cuenta cambió: vuelve a entrar";

/// What a dispatched event asks of the sockets, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocacion {
    /// One login ended: its sockets close with 4001.
    Sesion {
        usuario: UsuarioId,
        huella: Huella,
        motivo: MotivoCierre,
    },
    /// Every login of the account ended: its sockets close with 4003.
    Cuenta { usuario: UsuarioId },
}

impl Revocacion {
    /// The reason the sockets' close frame gives.
    pub fn motivo(&self) -> &'static str {
        match self {
            Revocacion::Sesion { motivo, .. } => motivo.para_el_socket(),
            Revocacion::Cuenta { .. } => CUENTA_CAMBIADA,
        }
    }

    /// Reads a committed event: `None` for every event that revokes nothing,
    /// including one that uses these `tipo`s without being ours, or whose
    /// payload is not the one its `tipo` has.
    pub fn de(evento: &Evento) -> Option<Self> {
        if evento.entidad_tipo != Some(ENTIDAD) {
            return None;
        }
        let usuario = UsuarioId(evento.entidad_id?);
        match evento.tipo {
            TipoEvento::SesionCerrada => {
                let p: PayloadSesionCerrada = evento.payload_como().ok()?;
                Some(Revocacion::Sesion {
                    usuario,
                    huella: p.sesion,
                    motivo: p.motivo,
                })
            }
            TipoEvento::UsuarioActualizado => {
                let p: PayloadUsuarioActualizado = evento.payload_como().ok()?;
                p.sesiones_revocadas
                    .then_some(Revocacion::Cuenta { usuario })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::types::Json;
    use time::OffsetDateTime;

    use super::*;
    use crate::auth::Token;
    use crate::modelo::{EventoId, Rol};

    fn usuario(id: i64) -> Usuario {
        Usuario {
            id: UsuarioId(id),
            usuario: format!("u{id}"),
            nombre: format!("U{id}"),
            rol: Rol::Cocina,
            sucursal_id: Some(SucursalId(1)),
            activo: true,
            creado: OffsetDateTime::UNIX_EPOCH,
        }
    }

    /// The row the store would write for `nuevo`.
    fn guardado(nuevo: NuevoEvento) -> Evento {
        Evento {
            id: EventoId(1),
            entidad_tipo: nuevo.entidad.as_ref().map(|e| e.tipo.clone()),
            entidad_id: nuevo.entidad.as_ref().map(|e| e.id),
            tipo: nuevo.tipo,
            subtipo: nuevo.subtipo,
            payload: Json(nuevo.payload),
            usuario_id: nuevo.usuario_id,
            sucursal_id: nuevo.sucursal_id,
            prioridad: nuevo.prioridad,
            destinos: Json(nuevo.destinos),
            fecha: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn un_cierre_de_sesion_se_lee_de_vuelta_sin_llevar_el_token() {
        let token = Token::generar();
        let huella = token.hash().huella();
        let nuevo = sesion_cerrada(&usuario(7), &huella, MotivoCierre::Logout);
        let texto = serde_json::to_string(&nuevo.payload).unwrap();
        assert!(!texto.contains(token.as_str()) && !texto.contains(token.hash().as_str()));
        assert_eq!(nuevo.destinos, Destinos::de(&[Audiencia::Admin]));
        assert_eq!(
            Revocacion::de(&guardado(nuevo)),
            Some(Revocacion::Sesion {
                usuario: UsuarioId(7),
                huella,
                motivo: MotivoCierre::Logout,
            })
        );
    }

    #[test]
    fn un_cambio_de_cuenta_revoca_solo_si_lo_dice() {
        let jefa = usuario(1);
        let revoca = usuario_actualizado(&jefa, &usuario(7), &["rol"], true);
        assert_eq!(
            Revocacion::de(&guardado(revoca)),
            Some(Revocacion::Cuenta {
                usuario: UsuarioId(7)
            })
        );
        let nombre = usuario_actualizado(&jefa, &usuario(7), &["nombre"], false);
        assert_eq!(Revocacion::de(&guardado(nombre)), None);
    }

    /// Both payloads against the `json!` they were built with before.
    #[test]
    fn los_payloads_son_el_json_de_siempre() {
        let huella = Token::generar().hash().huella();
        let cerrada = sesion_cerrada(&usuario(7), &huella, MotivoCierre::LimiteDeSesiones);
        assert_eq!(
            serde_json::Value::Object(cerrada.payload),
            serde_json::json!({"usuario_id": UsuarioId(7), "motivo": "limite_de_sesiones",
                               "sesion": huella.as_str()})
        );
        let cambiada = usuario_actualizado(&usuario(1), &usuario(7), &["rol", "activo"], true);
        assert_eq!(
            serde_json::Value::Object(cambiada.payload),
            serde_json::json!({"usuario_id": UsuarioId(7), "cambios": ["rol", "activo"],
                               "sesiones_revocadas": true})
        );
        assert_eq!(cambiada.tipo, TipoEvento::UsuarioActualizado);
    }

    #[test]
    fn el_mismo_tipo_sin_la_entidad_de_la_cuenta_no_revoca_nada() {
        let huella = Token::generar().hash().huella();
        let mut falso = sesion_cerrada(&usuario(7), &huella, MotivoCierre::Logout);
        // What `POST /api/eventos` can build: an entity of the seed's, or none.
        falso.entidad = Some(Entidad {
            tipo: "ALERTA".into(),
            id: 7,
        });
        assert_eq!(Revocacion::de(&guardado(falso.clone())), None);
        falso.entidad = None;
        assert_eq!(Revocacion::de(&guardado(falso)), None);
    }
}
