//! Events as the domain publishes them: the built-in routing (the rules'
//! fallback) and the seed-compatible flat publication of `POST /api/eventos`
//! and of flat JSON sent over a socket.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::auth::{Alcance, Permiso};
use time::OffsetDateTime;

use crate::modelo::payload::PayloadAlertaCocina;
use crate::modelo::{
    Audiencia, Destinos, Entidad, Evento, NuevoEvento, Prioridad, SucursalId, TipoEntidad,
    TipoEvento, Usuario,
};
use crate::reglas::{EntradaAlerta, EntradaEvento, RuleEngine};
use crate::store::{Store, StoreError};

/// Who receives an event when no rule says otherwise — the seed's routing:
/// kitchen alerts and refills go to the kitchen, the kitchen's answers to
/// the desk (and to the other kitchen screens, which drop the alert too), vouchers and orders to the desk and the managers; anything else
/// only to the monitors. An escalated alert goes to the kitchen and to the
/// desk that sent it. `rules/destinos.rhai` ships the same.
///
/// Takes the name as the rules see it (or a [`TipoEvento`]): a kind an
/// integration invents goes where its family goes (`refill_…` to the
/// kitchen, `voucher_…` and `pedido_…` to the desk and the managers).
pub fn destinos_por_defecto(tipo: &(impl AsRef<str> + ?Sized)) -> Destinos {
    use Audiencia::*;
    use TipoEvento as T;
    let tipo = tipo.as_ref();
    match TipoEvento::conocido(tipo) {
        Some(T::AlertaCocina) => Destinos::de(&[Cocina]),
        Some(T::AlertaEscalada) => Destinos::de(&[Cocina, Atencion]),
        Some(T::AlertaLeida) => Destinos::de(&[Atencion, Cocina]),
        Some(T::RefillSolicitado | T::RefillEstado) => Destinos::de(&[Cocina]),
        Some(
            T::VoucherNuevo
            | T::VoucherAprobado
            | T::VoucherRechazado
            | T::PedidoNuevo
            | T::PedidoAprobado
            | T::PedidoEstado,
        ) => Destinos::de(&[Atencion, Admin]),
        Some(T::ReglaActualizada | T::ReglaFallida | T::SesionCerrada | T::UsuarioActualizado) => {
            Destinos::de(&[Admin])
        }
        Some(T::Otro(_)) | None => por_familia(tipo),
    }
}

/// Where an integration's own kind goes: where its family's go.
fn por_familia(tipo: &str) -> Destinos {
    use Audiencia::*;
    if tipo.starts_with("refill_") {
        Destinos::de(&[Cocina])
    } else if tipo.starts_with("voucher_") || tipo.starts_with("pedido_") {
        Destinos::de(&[Atencion, Admin])
    } else {
        Destinos::de(&[Admin])
    }
}

/// An event that only a workflow of comanda emits, and what emits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservado {
    pub tipo: TipoEvento,
    /// The endpoint to call instead, or what in comanda emits it.
    pub lo_emite: &'static str,
}

/// The events whose effects a workflow owns: a kitchen drops an alert on
/// `alerta_leida`, escalation stops, a desk moves an order on
/// `pedido_estado`… A flat publication of one of them would have those
/// effects on every screen while the row says otherwise, so
/// [`publicar_plano`] refuses them (422 `evento_reservado`), naming what
/// emits each. The creation events of the seed's path (`alerta_cocina`,
/// `voucher_nuevo`, `pedido_nuevo`, `refill_solicitado`) and any other
/// `tipo` stay publishable.
pub const RESERVADOS: [Reservado; 11] = [
    Reservado {
        tipo: TipoEvento::AlertaLeida,
        lo_emite: "POST /api/alertas/{id}/leida",
    },
    Reservado {
        tipo: TipoEvento::AlertaEscalada,
        lo_emite: "la cocina de cada sucursal, al escalar una alerta sin leer",
    },
    Reservado {
        tipo: TipoEvento::PedidoAprobado,
        lo_emite: "POST /api/pedidos/{id}/aprobar",
    },
    Reservado {
        tipo: TipoEvento::PedidoEstado,
        lo_emite: "POST /api/pedidos/{id}/estado",
    },
    Reservado {
        tipo: TipoEvento::VoucherAprobado,
        lo_emite: "POST /api/vouchers/{id}/aprobar",
    },
    Reservado {
        tipo: TipoEvento::VoucherRechazado,
        lo_emite: "POST /api/vouchers/{id}/rechazar",
    },
    Reservado {
        tipo: TipoEvento::RefillEstado,
        lo_emite: "POST /api/refills/{id}/estado",
    },
    Reservado {
        tipo: TipoEvento::ReglaActualizada,
        lo_emite: "PUT /api/reglas/{nombre} y POST /api/reglas/{nombre}/restaurar",
    },
    Reservado {
        tipo: TipoEvento::ReglaFallida,
        lo_emite: "el motor de reglas, cuando una regla falla",
    },
    Reservado {
        tipo: TipoEvento::SesionCerrada,
        lo_emite: "POST /api/logout y PATCH /api/usuarios/{id}",
    },
    Reservado {
        tipo: TipoEvento::UsuarioActualizado,
        lo_emite: "PATCH /api/usuarios/{id}",
    },
];

/// The entry of [`RESERVADOS`] for `tipo`, if it is reserved.
pub fn reservado(tipo: &(impl AsRef<str> + ?Sized)) -> Option<&'static Reservado> {
    let tipo = TipoEvento::conocido(tipo.as_ref())?;
    RESERVADOS.iter().find(|r| r.tipo == tipo)
}

#[derive(Debug, thiserror::Error)]
pub enum PublicarError {
    #[error("tu rol no puede publicar eventos")]
    Prohibido,
    #[error("\"{}\" no se publica a mano: lo emite {}", .0.tipo, .0.lo_emite)]
    Reservado(&'static Reservado),
    #[error("la sucursal {0} está fuera de tu alcance")]
    FueraDeAlcance(SucursalId),
    #[error("la sucursal {0} no existe")]
    SucursalInexistente(SucursalId),
    #[error("{0}")]
    Invalido(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The rows a flat event may name by the seed's fields (`alerta_id`, …),
/// most specific first.
const ENTIDADES: [TipoEntidad; 4] = [
    TipoEntidad::Alerta,
    TipoEntidad::Refill,
    TipoEntidad::Voucher,
    TipoEntidad::Pedido,
];

/// The seed's name for a voucher sent by WhatsApp: a `voucher_nuevo` of
/// subtipo `whatsapp`.
const VOUCHER_WHATSAPP: &str = "voucher_whatsapp";

/// Publishes a flat event as the seed's `notify()` sends it:
/// `{"tipo":…, "subtipo"?, "sucursal_id"?, "prioridad"?, …}`. Unknown fields
/// go to the payload; `voucher_whatsapp` is `voucher_nuevo` with subtipo
/// `whatsapp`; the entity is inferred from `alerta_id`, `voucher_id`, ….
///
/// The rules decide as for any event: `destinos` always, and `prioridad` for
/// a kitchen alert (the priority sent is what the desk asked for).
pub async fn publicar_plano(
    store: &Store,
    reglas: &Arc<RuleEngine>,
    autor: &Usuario,
    plano: Map<String, Value>,
) -> Result<Evento, PublicarError> {
    let mut nuevo = validar_plano(autor, plano)?;
    if let Some(s) = nuevo.sucursal_id
        && store.sucursal(s).await?.is_none()
    {
        return Err(PublicarError::SucursalInexistente(s));
    }
    match alerta_de_sucursal(&nuevo) {
        Some((sucursal_id, alerta)) => {
            let minutos_pedido = match alerta.pedido_id {
                Some(p) => store
                    .pedido_creado(p)
                    .await?
                    .map(|creado| (OffsetDateTime::now_utc() - creado).whole_minutes()),
                None => None,
            };
            let entrada = entrada_alerta(&nuevo, alerta, sucursal_id, minutos_pedido);
            reglas.decidir_alerta(entrada, &mut nuevo).await;
        }
        None => reglas.decidir_destinos(&mut nuevo).await,
    }
    Ok(store.publicar(&nuevo).await?)
}

/// The steps of a flat publication that need no store: who may publish,
/// the format of the flat map, and the author's scope. What is left is
/// whether the sucursal exists. Pure, so that it can be fuzzed from raw bytes.
#[doc(hidden)]
pub fn validar_plano(
    autor: &Usuario,
    plano: Map<String, Value>,
) -> Result<NuevoEvento, PublicarError> {
    if !Permiso::PublicarEventos.permitido(autor.rol) {
        return Err(PublicarError::Prohibido);
    }
    let nuevo = evento_plano(autor, plano)?;
    if let Some(s) = nuevo.sucursal_id
        && !Alcance::de(autor).incluye(s)
    {
        return Err(PublicarError::FueraDeAlcance(s));
    }
    Ok(nuevo)
}

/// The rules' decisions on a validated flat event, on the calling thread
/// (what [`publicar_plano`] decides on the rules' threads): `prioridad` for a
/// kitchen alert of a sucursal (`minutos_pedido`: the age of the order it
/// names, as the store knows it), `destinos` always. For the fuzz target.
#[doc(hidden)]
pub fn decidir_plano(reglas: &RuleEngine, nuevo: &mut NuevoEvento, minutos_pedido: Option<i64>) {
    if let Some((sucursal_id, alerta)) = alerta_de_sucursal(nuevo) {
        let entrada = entrada_alerta(nuevo, alerta, sucursal_id, minutos_pedido);
        nuevo.prioridad = Some(reglas.prioridad(&entrada));
    }
    nuevo.destinos = reglas.destinos(&EntradaEvento {
        tipo: nuevo.tipo.as_str(),
        subtipo: nuevo.subtipo.as_deref(),
        sucursal_id: nuevo.sucursal_id,
        prioridad: nuevo.prioridad,
        payload: &nuevo.payload,
    });
}

/// A flat kitchen alert of a sucursal, its payload read as the kitchen
/// reads it: the rules decide its priority. `None` for any other event.
fn alerta_de_sucursal(nuevo: &NuevoEvento) -> Option<(SucursalId, PayloadAlertaCocina)> {
    let sucursal_id = nuevo.sucursal_id?;
    if nuevo.tipo != TipoEvento::AlertaCocina {
        return None;
    }
    // Every field is read leniently: any map reads.
    let alerta = PayloadAlertaCocina::deserialize(&nuevo.payload).unwrap_or_default();
    Some((sucursal_id, alerta))
}

/// What `prioridad(alerta)` sees of a flat kitchen alert.
fn entrada_alerta(
    nuevo: &NuevoEvento,
    alerta: PayloadAlertaCocina,
    sucursal_id: SucursalId,
    minutos_pedido: Option<i64>,
) -> EntradaAlerta {
    EntradaAlerta {
        mensaje: alerta.mensaje,
        prioridad_pedida: nuevo.prioridad,
        pedido_id: alerta.pedido_id.map(|p| p.0),
        sucursal_id,
        minutos_pedido,
    }
}

/// Parses a flat event; pure, so that every rule of the format is testable.
fn evento_plano(
    autor: &Usuario,
    mut plano: Map<String, Value>,
) -> Result<NuevoEvento, PublicarError> {
    let invalido = |m: &str| PublicarError::Invalido(m.to_owned());
    // Postgres can't keep U+0000 in text or JSONB: refuse it on both stores alike.
    if plano
        .iter()
        .any(|(k, v)| k.contains('\0') || contiene_nulo(v))
    {
        return Err(invalido("un texto contiene el carácter nulo (\\u0000)"));
    }
    let nombre = match plano.remove("tipo") {
        Some(Value::String(t)) if es_nombre(&t) => t,
        _ => {
            return Err(invalido(
                "\"tipo\" debe ser un nombre de 1 a 50 letras minúsculas, números o '_'",
            ));
        }
    };
    let mut subtipo = match plano.remove("subtipo") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if es_nombre(&s) => Some(s),
        _ => return Err(invalido("\"subtipo\" debe ser un nombre como \"whatsapp\"")),
    };
    let tipo = match nombre.as_str() {
        VOUCHER_WHATSAPP => {
            subtipo = Some("whatsapp".into());
            TipoEvento::VoucherNuevo
        }
        _ => TipoEvento::from(nombre),
    };
    if let Some(r) = reservado(&tipo) {
        return Err(PublicarError::Reservado(r));
    }
    let sucursal_id = match plano.remove("sucursal_id") {
        None | Some(Value::Null) => autor.sucursal_id,
        Some(v) => {
            Some(SucursalId(v.as_i64().ok_or_else(|| {
                invalido("\"sucursal_id\" debe ser un número")
            })?))
        }
    };
    let prioridad = match plano.remove("prioridad") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(p.parse::<Prioridad>().map_err(PublicarError::Invalido)?),
        Some(_) => return Err(invalido("\"prioridad\" debe ser normal, alta o urgente")),
    };
    let entidad = ENTIDADES.into_iter().find_map(|tipo| {
        let id = plano.get(&tipo.campo_del_id()).and_then(Value::as_i64)?;
        Some(Entidad { tipo, id })
    });
    Ok(NuevoEvento {
        destinos: destinos_por_defecto(&tipo),
        tipo,
        subtipo,
        payload: plano,
        usuario_id: Some(autor.id),
        sucursal_id,
        entidad,
        prioridad,
    })
}

fn contiene_nulo(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(contiene_nulo),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || contiene_nulo(v)),
        _ => false,
    }
}

fn es_nombre(s: &(impl AsRef<str> + ?Sized)) -> bool {
    let s = s.as_ref();
    (1..=50).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modelo::{Rol, UsuarioId};
    use serde_json::json;

    fn servicio(sucursal: Option<i64>) -> Usuario {
        Usuario {
            id: UsuarioId(9),
            usuario: "bot".into(),
            nombre: "bot".into(),
            rol: Rol::Servicio,
            sucursal_id: sucursal.map(SucursalId),
            activo: true,
            creado: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn plano(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn el_voucher_del_seed_llega_como_voucher_nuevo_whatsapp() {
        let e = evento_plano(
            &servicio(Some(1)),
            plano(json!({"tipo":"voucher_whatsapp","voucher_id":123,"usuario_id":456})),
        )
        .unwrap();
        assert_eq!(e.tipo, "voucher_nuevo");
        assert_eq!(e.subtipo.as_deref(), Some("whatsapp"));
        assert_eq!(e.sucursal_id, Some(SucursalId(1)));
        assert_eq!(
            e.entidad,
            Some(Entidad {
                tipo: "VOUCHER".into(),
                id: 123
            })
        );
        assert_eq!(e.payload.get("usuario_id"), Some(&json!(456)));
        assert!(e.destinos.contiene(Audiencia::Atencion));
        assert!(!e.destinos.contiene(Audiencia::Cocina));
    }

    #[test]
    fn la_alerta_del_seed_va_a_cocina_con_su_prioridad() {
        let e = evento_plano(
            &servicio(None),
            plano(json!({"tipo":"alerta_cocina","alerta_id":10,"pedido_id":50,
                         "prioridad":"alta","mensaje":"Pedido urgente","sucursal_id":2})),
        )
        .unwrap();
        assert_eq!(e.prioridad, Some(Prioridad::Alta));
        assert_eq!(e.sucursal_id, Some(SucursalId(2)));
        assert_eq!(
            e.entidad,
            Some(Entidad {
                tipo: "ALERTA".into(),
                id: 10
            })
        );
        assert_eq!(e.destinos, Destinos::de(&[Audiencia::Cocina]));
        assert!(!e.payload.contains_key("prioridad") && !e.payload.contains_key("tipo"));
    }

    #[test]
    fn los_eventos_de_los_flujos_no_se_publican_a_mano() {
        for r in RESERVADOS {
            let e = evento_plano(
                &servicio(Some(1)),
                plano(json!({"tipo": r.tipo, "alerta_id": 1})),
            );
            assert!(
                matches!(e, Err(PublicarError::Reservado(x)) if x.tipo == r.tipo),
                "{}",
                r.tipo
            );
        }
        for tipo in [
            "alerta_cocina",
            "voucher_nuevo",
            "voucher_whatsapp",
            "pedido_nuevo",
            "refill_solicitado",
            "cliente_llego",
        ] {
            assert!(
                evento_plano(&servicio(Some(1)), plano(json!({"tipo": tipo}))).is_ok(),
                "{tipo}"
            );
        }
    }

    #[test]
    fn campos_malos_se_rechazan() {
        for malo in [
            json!({}),
            json!({"tipo": 5}),
            json!({"tipo": "Con Espacios"}),
            json!({"tipo": "x", "prioridad": "rojo"}),
            json!({"tipo": "x", "sucursal_id": "uno"}),
            json!({"tipo": "x", "nota": {"texto": "a\u{0}b"}}),
        ] {
            assert!(
                evento_plano(&servicio(None), plano(malo.clone())).is_err(),
                "{malo}"
            );
        }
    }

    /// Properties of the body of `POST /api/eventos` from its bytes: the
    /// steps before the store (`fuzz/` runs the same path, with the rules).
    mod propiedades {
        use super::*;
        use crate::error::ApiError;
        use actix_web::ResponseError;
        use actix_web::http::StatusCode;
        use proptest::collection::{btree_map, vec};
        use proptest::prelude::*;

        /// Any JSON value a few levels deep, U+0000 included.
        fn json() -> impl Strategy<Value = Value> {
            let hoja = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                ".*".prop_map(Value::from),
                "[a-z0-9_]{1,50}".prop_map(Value::from),
                prop::sample::select(vec![
                    "normal",
                    "alta",
                    "urgente",
                    "rojo",
                    "voucher_whatsapp"
                ])
                .prop_map(Value::from),
            ];
            hoja.prop_recursive(3, 24, 4, |dentro| {
                prop_oneof![
                    vec(dentro.clone(), 0..4).prop_map(Value::from),
                    btree_map(".*", dentro, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn autor() -> impl Strategy<Value = Usuario> {
            (prop::sample::select(Rol::TODOS), prop::option::of(1i64..4))
                .prop_map(|(rol, s)| Usuario { rol, ..servicio(s) })
        }

        /// A flat map whose known fields are right, wrong, or absent.
        fn plano_cualquiera() -> impl Strategy<Value = Map<String, Value>> {
            let campo =
                |nombre: &'static str| prop::option::of(json()).prop_map(move |v| (nombre, v));
            (
                btree_map("[a-z_]{1,12}", json(), 0..6),
                campo("tipo"),
                campo("subtipo"),
                campo("sucursal_id"),
                campo("prioridad"),
                campo("alerta_id"),
                campo("pedido_id"),
            )
                .prop_map(|(resto, a, b, c, d, e, f)| {
                    let mut plano: Map<String, Value> = resto.into_iter().collect();
                    for (nombre, valor) in [a, b, c, d, e, f] {
                        if let Some(v) = valor {
                            plano.insert(nombre.into(), v);
                        }
                    }
                    plano
                })
        }

        fn rechazo_es_4xx(e: PublicarError) -> Result<(), TestCaseError> {
            prop_assert!(!e.to_string().is_empty());
            let estado = ApiError::from(e).status_code();
            prop_assert!(
                [
                    StatusCode::BAD_REQUEST,
                    StatusCode::FORBIDDEN,
                    StatusCode::UNPROCESSABLE_ENTITY
                ]
                .contains(&estado),
                "{}",
                estado
            );
            Ok(())
        }

        proptest! {
            #[test]
            fn cualquier_cuerpo_es_un_evento_o_un_rechazo_4xx(
                quien in autor(),
                cuerpo in prop_oneof![
                    vec(any::<u8>(), 0..64),
                    plano_cualquiera().prop_map(|p| serde_json::to_vec(&p).unwrap()),
                ],
            ) {
                // What actix's `Json<Map<String, Value>>` extractor does with the bytes.
                let Ok(plano) = serde_json::from_slice::<Map<String, Value>>(&cuerpo) else {
                    return Ok(());
                };
                match validar_plano(&quien, plano.clone()) {
                    Err(e) => rechazo_es_4xx(e)?,
                    Ok(nuevo) => {
                        prop_assert!(es_nombre(&nuevo.tipo) && nuevo.tipo != "voucher_whatsapp");
                        prop_assert!(reservado(&nuevo.tipo).is_none());
                        prop_assert!(nuevo.subtipo.as_deref().is_none_or(es_nombre));
                        if let Some(s) = nuevo.sucursal_id {
                            prop_assert!(Alcance::de(&quien).incluye(s));
                        }
                        prop_assert!(!contiene_nulo(&Value::Object(nuevo.payload.clone())));
                        let extra = |k: &String| !["tipo", "subtipo", "sucursal_id", "prioridad"].contains(&k.as_str());
                        prop_assert!(plano.iter().filter(|(k, _)| extra(k)).eq(nuevo.payload.iter()));
                    }
                }
            }

            #[test]
            fn un_evento_plano_valido_se_lee_tal_cual(
                tipo in "[a-z0-9_]{1,50}".prop_filter("no reservado", |t| reservado(t).is_none()),
                subtipo in prop::option::of("[a-z0-9_]{1,50}"),
                sucursal in prop::option::of(1i64..4),
                prioridad in prop::option::of(prop::sample::select(Prioridad::TODOS)),
                alerta_id in prop::option::of(any::<i64>()),
                resto in btree_map("[a-z_]{1,12}", json(), 0..6),
            ) {
                let mut plano: Map<String, Value> = resto
                    .into_iter()
                    .filter(|(k, v)| {
                        !["tipo", "subtipo", "sucursal_id", "prioridad", "alerta_id", "refill_id", "voucher_id", "pedido_id"]
                            .contains(&k.as_str())
                            && !contiene_nulo(v)
                            && !k.contains('\0')
                    })
                    .collect();
                let payload = plano.clone();
                plano.insert("tipo".into(), tipo.clone().into());
                if let Some(s) = &subtipo {
                    plano.insert("subtipo".into(), s.clone().into());
                }
                if let Some(s) = sucursal {
                    plano.insert("sucursal_id".into(), s.into());
                }
                if let Some(p) = prioridad {
                    plano.insert("prioridad".into(), p.as_str().into());
                }
                let mut payload = payload;
                if let Some(id) = alerta_id {
                    plano.insert("alerta_id".into(), id.into());
                    payload.insert("alerta_id".into(), id.into());
                }
                let cuerpo = serde_json::to_vec(&plano).unwrap();
                let plano = serde_json::from_slice::<Map<String, Value>>(&cuerpo).unwrap();
                // serde_json may read a float back one ulp off: compare with
                // the payload as it comes out of the same bytes.
                let payload: Map<String, Value> =
                    serde_json::from_slice(&serde_json::to_vec(&payload).unwrap()).unwrap();
                let nuevo = validar_plano(&servicio(None), plano).unwrap();
                let (tipo, subtipo) = match tipo.as_str() {
                    "voucher_whatsapp" => ("voucher_nuevo".to_owned(), Some("whatsapp".to_owned())),
                    _ => (tipo, subtipo),
                };
                prop_assert_eq!(&nuevo.destinos, &destinos_por_defecto(&tipo));
                prop_assert_eq!(nuevo.tipo, tipo);
                prop_assert_eq!(nuevo.subtipo, subtipo);
                prop_assert_eq!(nuevo.sucursal_id, sucursal.map(SucursalId));
                prop_assert_eq!(nuevo.prioridad, prioridad);
                prop_assert_eq!(nuevo.entidad, alerta_id.map(|id| Entidad { tipo: "ALERTA".into(), id }));
                prop_assert_eq!(nuevo.payload, payload);
            }
        }
    }
}
