//! The WebSocket protocol of design §6: the frames the server sends, built
//! once and shared as bytes, and the client's messages, parsed once.

use std::sync::Arc;

use actix_http::ws::{OpCode, Parser};
use actix_web::web::{Bytes, BytesMut};
use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::modelo::{
    Destinos, Entidad, Evento, EventoId, Prioridad, SucursalId, UsuarioId, UsuarioPublico,
};

/// Close codes (design §6).
pub mod cierre {
    pub const NO_AUTENTICADO: u16 = 4001;
    pub const PROHIBIDO: u16 = 4003;
    pub const DEMASIADO_LENTO: u16 = 4008;
    pub const DEMASIADO_GRANDE: u16 = 1009;
    /// Kept sending past the frame rate after the warning (policy violation).
    pub const DEMASIADOS_MENSAJES: u16 = 1008;
    /// The user already has as many sockets open as it may.
    pub const DEMASIADAS_SESIONES: u16 = 4029;
    pub const APAGANDO: u16 = 1001;
    /// A frame that breaks RFC 6455.
    pub const ERROR_DE_PROTOCOLO: u16 = 1002;
    /// Text (a message, a close reason) that is not UTF-8.
    pub const DATOS_NO_VALIDOS: u16 = 1007;
    pub const REINTENTA_LUEGO: u16 = 1013;
}

/// A committed event ready to be fanned out: its envelope is serialized, and
/// framed for WebSocket, once; every receiver shares the same bytes.
#[derive(Debug)]
pub struct EventoPublicado {
    pub evento: Evento,
    /// The envelope: the payload of `frame`.
    pub json: ByteString,
    /// The envelope as a whole WebSocket text frame, as a server sends it
    /// (unmasked): the bytes written to every socket.
    pub frame: Bytes,
}

impl EventoPublicado {
    pub fn new(evento: Evento) -> Arc<Self> {
        let json = envelope(&evento);
        let mut frame = BytesMut::with_capacity(json.len() + 10);
        Parser::write_message(&mut frame, json.as_bytes(), OpCode::Text, true, false);
        let frame = frame.freeze();
        // The envelope's bytes are the frame's tail: held once, not twice.
        let json = ByteString::try_from(frame.slice(frame.len() - json.len()..))
            .expect("the tail of the frame is the envelope, UTF-8");
        Arc::new(Self {
            evento,
            json,
            frame,
        })
    }

    pub fn id(&self) -> EventoId {
        self.evento.id
    }

    pub fn sucursal_id(&self) -> Option<SucursalId> {
        self.evento.sucursal_id
    }

    pub fn destinos(&self) -> Destinos {
        self.evento.destinos.0
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: EventoId,
    tipo: &'a str,
    subtipo: Option<&'a str>,
    sucursal_id: Option<SucursalId>,
    prioridad: Option<Prioridad>,
    entidad: Option<Entidad>,
    usuario_id: Option<UsuarioId>,
    #[serde(with = "time::serde::rfc3339")]
    fecha: OffsetDateTime,
    payload: &'a Map<String, Value>,
}

/// `{"type":"evento","id":…,"tipo":…,…,"payload":{…}}` — the same bytes live and on replay.
pub fn envelope(e: &Evento) -> ByteString {
    a_texto(&Envelope {
        kind: "evento",
        id: e.id,
        tipo: e.tipo.as_str(),
        subtipo: e.subtipo.as_deref(),
        sucursal_id: e.sucursal_id,
        prioridad: e.prioridad,
        entidad: e.entidad(),
        usuario_id: e.usuario_id,
        fecha: e.fecha,
        payload: &e.payload.0,
    })
}

/// Frames other than events.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Aviso<'a> {
    Hola {
        usuario: &'a UsuarioPublico,
        sucursal_id: Option<SucursalId>,
        ultimo_id: EventoId,
    },
    /// Which screens of a sucursal are online.
    Presencia {
        sucursal_id: SucursalId,
        en_linea: &'a Presencia,
    },
    /// The resume point is too old: reload the lists by REST, then resume.
    Reinicio {
        ultimo_id: EventoId,
    },
    /// A client frame that could not be used.
    Error {
        codigo: &'a str,
        mensaje: &'a str,
    },
    Pong,
    /// A flat event published over the socket was stored with this id.
    Publicado {
        id: EventoId,
    },
}

impl Aviso<'_> {
    pub fn a_texto(&self) -> ByteString {
        a_texto(self)
    }
}

/// The `presencia` frame of a sucursal.
pub fn frame_de_presencia(sucursal_id: SucursalId, en_linea: &Presencia) -> ByteString {
    Aviso::Presencia {
        sucursal_id,
        en_linea,
    }
    .a_texto()
}

pub use crate::modelo::Presencia;

fn a_texto(valor: &impl Serialize) -> ByteString {
    // These types hold only strings, numbers and JSON maps: serializing can't fail.
    ByteString::from(serde_json::to_string(valor).expect("serializable frame"))
}

/// A client's message. A frame with `"type"` is one of these; a flat
/// `{"tipo":…}` without `"type"` is a publication (design §7a).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum MensajeCliente {
    Reanudar { ultimo_id: EventoId },
    Ping,
}

/// What a client text frame turned out to be.
#[derive(Debug, PartialEq)]
pub enum Entrante {
    Mensaje(MensajeCliente),
    Publicacion(Map<String, Value>),
}

/// Parses a client text frame; the error is the message of an `error` frame.
pub fn parse_entrante(texto: &str) -> Result<Entrante, String> {
    let valor: Value = serde_json::from_str(texto).map_err(|e| format!("JSON no válido: {e}"))?;
    let Value::Object(mapa) = valor else {
        return Err("se esperaba un objeto JSON".into());
    };
    if mapa.contains_key("type") {
        // serde's `deny_unknown_fields` does not reach the unit variants of
        // an internally tagged enum: without this, `{"type":"ping","tipo":…}`
        // would answer `pong` and silently drop the publication it carries.
        let sobrante = mapa.keys().find(|k| *k != "type").cloned();
        match (serde_json::from_value(Value::Object(mapa)), sobrante) {
            (Ok(MensajeCliente::Ping), Some(campo)) => Err(format!(
                "mensaje no válido: \"ping\" no lleva más campos que \"type\" (sobra `{campo}`)"
            )),
            (Ok(mensaje), _) => Ok(Entrante::Mensaje(mensaje)),
            (Err(e), _) => Err(format!("mensaje no válido: {e}")),
        }
    } else if mapa.contains_key("tipo") {
        Ok(Entrante::Publicacion(mapa))
    } else {
        Err("falta \"type\" (o \"tipo\" para publicar un evento)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modelo::{Audiencia, Destinos};
    use sqlx::types::Json;

    #[test]
    fn el_envelope_tiene_la_forma_del_diseno() {
        let mut payload = Map::new();
        payload.insert("alerta_id".into(), 10.into());
        let evento = Evento {
            id: EventoId(1234),
            tipo: "alerta_cocina".into(),
            subtipo: None,
            payload: Json(payload),
            usuario_id: Some(UsuarioId(7)),
            sucursal_id: Some(SucursalId(1)),
            entidad_tipo: Some("ALERTA".into()),
            entidad_id: Some(10),
            prioridad: Some(Prioridad::Alta),
            destinos: Json(Destinos::de(&[Audiencia::Cocina])),
            fecha: time::macros::datetime!(2026-11-29 12:00 UTC),
        };
        let v: Value = serde_json::from_str(&envelope(&evento)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type":"evento","id":1234,"tipo":"alerta_cocina","subtipo":null,
                "sucursal_id":1,"prioridad":"alta","entidad":{"tipo":"ALERTA","id":10},
                "usuario_id":7,"fecha":"2026-11-29T12:00:00Z","payload":{"alerta_id":10}})
        );
    }

    #[test]
    fn los_mensajes_del_cliente_se_reconocen() {
        assert_eq!(
            parse_entrante(r#"{"type":"reanudar","ultimo_id":5}"#),
            Ok(Entrante::Mensaje(MensajeCliente::Reanudar {
                ultimo_id: EventoId(5)
            }))
        );
        assert_eq!(
            parse_entrante(r#"{"type":"ping"}"#),
            Ok(Entrante::Mensaje(MensajeCliente::Ping))
        );
        assert!(matches!(
            parse_entrante(r#"{"tipo":"voucher_nuevo","voucher_id":1}"#),
            Ok(Entrante::Publicacion(_))
        ));
        for basura in [
            "",
            "hola",
            "[1]",
            r#"{"type":"bailar"}"#,
            r#"{"type":"reanudar"}"#,
            r#"{"x":1}"#,
        ] {
            assert!(parse_entrante(basura).is_err(), "{basura:?}");
        }
    }

    /// Found by `fuzz/` (frame_cliente): a `ping` with other fields was a
    /// `ping`, and a publication sent along with it was lost without a word.
    #[test]
    fn un_ping_con_campos_de_mas_se_rechaza() {
        for basura in [
            r#"{"type":"ping","x":1}"#,
            r#"{"type":"ping","tipo":"alerta_cocina","mensaje":"sin papas"}"#,
            r#"{"type":"ping","ultimo_id":5}"#,
            r#"{"type":"reanudar","ultimo_id":5,"x":1}"#,
        ] {
            assert!(parse_entrante(basura).is_err(), "{basura:?}");
        }
    }

    /// Properties over generated frames: what a client can send is read back
    /// as sent, and nothing a client sends makes the parser panic.
    mod propiedades {
        use super::*;
        use proptest::collection::{btree_map, vec};
        use proptest::prelude::*;

        /// Any JSON value a few levels deep. No floats: serde_json reads some
        /// of them back one ulp off, which is not the parser's business.
        fn json() -> impl Strategy<Value = Value> {
            let hoja = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                ".*".prop_map(Value::from),
            ];
            hoja.prop_recursive(4, 48, 6, |dentro| {
                prop_oneof![
                    vec(dentro.clone(), 0..6).prop_map(Value::from),
                    btree_map(".*", dentro, 0..6)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn mensaje() -> impl Strategy<Value = MensajeCliente> {
            prop_oneof![
                Just(MensajeCliente::Ping),
                any::<i64>().prop_map(|n| MensajeCliente::Reanudar {
                    ultimo_id: EventoId(n)
                }),
            ]
        }

        proptest! {
            #[test]
            fn un_mensaje_serializado_se_lee_igual(m in mensaje()) {
                let texto = serde_json::to_string(&m).unwrap();
                prop_assert_eq!(parse_entrante(&texto), Ok(Entrante::Mensaje(m)));
            }

            #[test]
            fn una_publicacion_serializada_se_lee_igual(
                tipo in json(),
                campos in btree_map("[a-z_]{1,12}", json(), 0..8),
            ) {
                let mut plano: Map<String, Value> = campos.into_iter().collect();
                plano.remove("type");
                plano.insert("tipo".into(), tipo);
                let texto = serde_json::to_string(&plano).unwrap();
                prop_assert_eq!(parse_entrante(&texto), Ok(Entrante::Publicacion(plano)));
            }

            #[test]
            fn cualquier_texto_es_un_mensaje_o_un_error_con_motivo(texto in ".*") {
                if let Err(motivo) = parse_entrante(&texto) {
                    prop_assert!(!motivo.is_empty());
                }
            }

            #[test]
            fn cualquier_objeto_es_un_mensaje_una_publicacion_o_un_error_con_motivo(
                valor in json(),
                tipo in prop::option::of(prop_oneof![
                    Just(Value::from("ping")),
                    Just(Value::from("reanudar")),
                    json(),
                ]),
                ultimo_id in prop::option::of(json()),
            ) {
                let mut objeto = match valor {
                    Value::Object(m) => m,
                    otro => Map::from_iter([("tipo".to_owned(), otro)]),
                };
                if let Some(t) = tipo {
                    objeto.insert("type".into(), t);
                }
                if let Some(u) = ultimo_id {
                    objeto.insert("ultimo_id".into(), u);
                }
                let texto = Value::Object(objeto.clone()).to_string();
                match parse_entrante(&texto) {
                    Ok(Entrante::Mensaje(m)) => prop_assert_eq!(
                        Value::Object(objeto),
                        serde_json::to_value(m).unwrap()
                    ),
                    Ok(Entrante::Publicacion(p)) => {
                        prop_assert!(!p.contains_key("type") && p.contains_key("tipo"));
                        prop_assert_eq!(p, objeto);
                    }
                    Err(motivo) => {
                        prop_assert!(!motivo.is_empty());
                        prop_assert!(objeto.contains_key("type") || !objeto.contains_key("tipo"));
                    }
                }
            }
        }
    }
}
