//! Events as the domain publishes them: the built-in routing (the rules'
//! fallback) and the seed-compatible flat publication of `POST /api/eventos`
//! and of flat JSON sent over a socket.

use serde_json::{Map, Value};

use crate::auth::{Alcance, Permiso};
use time::OffsetDateTime;

use crate::modelo::{
    Audiencia, Destinos, Entidad, Evento, NuevoEvento, PedidoId, Prioridad, SucursalId, Usuario,
};
use crate::reglas::{EntradaAlerta, EntradaEvento, RuleEngine};
use crate::store::{Store, StoreError};

/// Who receives an event when no rule says otherwise — the seed's routing:
/// kitchen alerts and refills go to the kitchen, the kitchen's answers to
/// the desk (and to the other kitchen screens, which drop the alert too), vouchers and orders to the desk and the managers; anything else
/// only to the monitors. An escalated alert goes to the kitchen and to the
/// desk that sent it. `rules/destinos.rhai` ships the same.
pub fn destinos_por_defecto(tipo: &str) -> Destinos {
    use Audiencia::*;
    match tipo {
        "alerta_cocina" => Destinos::de(&[Cocina]),
        "alerta_escalada" => Destinos::de(&[Cocina, Atencion]),
        "alerta_leida" => Destinos::de(&[Atencion, Cocina]),
        t if t.starts_with("refill_") => Destinos::de(&[Cocina]),
        t if t.starts_with("voucher_") || t.starts_with("pedido_") => {
            Destinos::de(&[Atencion, Admin])
        }
        _ => Destinos::de(&[Admin]),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublicarError {
    #[error("tu rol no puede publicar eventos")]
    Prohibido,
    #[error("la sucursal {0} está fuera de tu alcance")]
    FueraDeAlcance(SucursalId),
    #[error("la sucursal {0} no existe")]
    SucursalInexistente(SucursalId),
    #[error("{0}")]
    Invalido(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Seed fields that name the row an event is about, most specific first.
const ENTIDADES: [(&str, &str); 4] = [
    ("alerta_id", "ALERTA"),
    ("refill_id", "REFILL"),
    ("voucher_id", "VOUCHER"),
    ("pedido_id", "PEDIDO"),
];

/// Publishes a flat event as the seed's `notify()` sends it:
/// `{"tipo":…, "subtipo"?, "sucursal_id"?, "prioridad"?, …}`. Unknown fields
/// go to the payload; `voucher_whatsapp` is `voucher_nuevo` with subtipo
/// `whatsapp`; the entity is inferred from `alerta_id`, `voucher_id`, ….
///
/// The rules decide as for any event: `destinos` always, and `prioridad` for
/// a kitchen alert (the priority sent is what the desk asked for).
pub async fn publicar_plano(
    store: &Store,
    reglas: &RuleEngine,
    autor: &Usuario,
    plano: Map<String, Value>,
) -> Result<Evento, PublicarError> {
    if !Permiso::PublicarEventos.permitido(autor.rol) {
        return Err(PublicarError::Prohibido);
    }
    let mut nuevo = evento_plano(autor, plano)?;
    if let Some(s) = nuevo.sucursal_id {
        if !Alcance::de(autor).incluye(s) {
            return Err(PublicarError::FueraDeAlcance(s));
        }
        if store.sucursal(s).await?.is_none() {
            return Err(PublicarError::SucursalInexistente(s));
        }
    }
    if let (Some(sucursal_id), "alerta_cocina") = (nuevo.sucursal_id, nuevo.tipo.as_str()) {
        let pedido_id = nuevo.payload.get("pedido_id").and_then(Value::as_i64);
        let minutos_pedido = match pedido_id {
            Some(p) => store
                .pedido_creado(PedidoId(p))
                .await?
                .map(|creado| (OffsetDateTime::now_utc() - creado).whole_minutes()),
            None => None,
        };
        nuevo.prioridad = Some(reglas.prioridad(&EntradaAlerta {
            mensaje: texto(&nuevo.payload, "mensaje"),
            prioridad_pedida: nuevo.prioridad,
            pedido_id,
            sucursal_id,
            minutos_pedido,
        }));
    }
    nuevo.destinos = reglas.destinos(&EntradaEvento {
        tipo: &nuevo.tipo,
        subtipo: nuevo.subtipo.as_deref(),
        sucursal_id: nuevo.sucursal_id,
        prioridad: nuevo.prioridad,
        payload: &nuevo.payload,
    });
    Ok(store.publicar(&nuevo).await?)
}

fn texto(payload: &Map<String, Value>, campo: &str) -> String {
    payload
        .get(campo)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
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
    let mut tipo = match plano.remove("tipo") {
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
    if tipo == "voucher_whatsapp" {
        tipo = "voucher_nuevo".into();
        subtipo = Some("whatsapp".into());
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
    let entidad = ENTIDADES.iter().find_map(|(campo, tipo)| {
        plano.get(*campo).and_then(Value::as_i64).map(|id| Entidad {
            tipo: (*tipo).into(),
            id,
        })
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

fn es_nombre(s: &str) -> bool {
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
}
