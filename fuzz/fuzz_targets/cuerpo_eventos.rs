//! The body of `POST /api/eventos` from raw bytes, through every step before
//! the store: the decoding of actix's `Json<Map<String, Value>>` extractor
//! (`serde_json::from_slice`), `eventos::validar_plano` (permission, format,
//! scope, the events only workflows emit) and `eventos::decidir_plano` with
//! the shipped rules. Bad input is a 400, 403 or 422 `ApiError`; good input is an event the store can write, routed
//! and prioritized exactly as the shipped rules say, and no rule fails.
//!
//! Input: byte 0 picks the author (rol × sucursal), byte 1 the age in minutes
//! of the order the store would report, the rest is the body.

#![no_main]

#[path = "comun.rs"]
mod comun;

use actix_web::ResponseError;
use actix_web::http::StatusCode;
use comanda::auth::Alcance;
use comanda::error::ApiError;
use comanda::eventos::{decidir_plano, destinos_por_defecto, reservado, validar_plano};
use comanda::modelo::{Destinos, Rol, SucursalId, Usuario, UsuarioId};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const ROLES: [Rol; 5] = [
    Rol::Atencion,
    Rol::Cocina,
    Rol::Admin,
    Rol::Superadmin,
    Rol::Servicio,
];

fn autor(byte: u8) -> Usuario {
    Usuario {
        id: UsuarioId(9),
        usuario: "bot".into(),
        nombre: "bot".into(),
        rol: ROLES[usize::from(byte) % 5],
        sucursal_id: [None, Some(SucursalId(1)), Some(SucursalId(2))][usize::from(byte / 5) % 3],
        activo: true,
        creado: time::OffsetDateTime::UNIX_EPOCH,
    }
}

/// Fields the format consumes; every other field is payload.
const CONSUMIDOS: [&str; 4] = ["tipo", "subtipo", "sucursal_id", "prioridad"];

fuzz_target!(|datos: &[u8]| {
    let [quien, minutos, cuerpo @ ..] = datos else {
        return;
    };
    if cuerpo.len() > comanda::http::LIMITE_CUERPO {
        return;
    }
    let autor = autor(*quien);
    let minutos_pedido = (*minutos != b'-').then(|| i64::from(*minutos) - i64::from(b'0'));

    let Ok(plano) = serde_json::from_slice::<Map<String, Value>>(cuerpo) else {
        return;
    };
    let original = plano.clone();
    let mut nuevo = match validar_plano(&autor, plano) {
        Ok(nuevo) => nuevo,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            let estado = ApiError::from(e).status_code();
            assert!(
                [
                    StatusCode::BAD_REQUEST,
                    StatusCode::FORBIDDEN,
                    StatusCode::UNPROCESSABLE_ENTITY
                ]
                .contains(&estado),
                "{estado}"
            );
            return;
        }
    };

    // The format.
    assert!(
        (1..=50).contains(&nuevo.tipo.as_str().len())
            && nuevo
                .tipo
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "{:?}",
        nuevo.tipo
    );
    assert_ne!(nuevo.tipo, "voucher_whatsapp");
    assert!(reservado(&nuevo.tipo).is_none(), "{} es de un flujo", nuevo.tipo);
    for campo in CONSUMIDOS {
        assert!(!nuevo.payload.contains_key(campo), "{campo} en el payload");
    }
    for (campo, valor) in &original {
        if !CONSUMIDOS.contains(&campo.as_str()) {
            assert_eq!(nuevo.payload.get(campo), Some(valor), "se perdió {campo}");
        }
    }
    assert_eq!(
        nuevo.payload.len(),
        original
            .keys()
            .filter(|k| !CONSUMIDOS.contains(&k.as_str()))
            .count()
    );
    // Who and where.
    assert!(matches!(
        autor.rol,
        Rol::Servicio | Rol::Admin | Rol::Superadmin
    ));
    match original.get("sucursal_id") {
        None | Some(Value::Null) => assert_eq!(nuevo.sucursal_id, autor.sucursal_id),
        Some(v) => assert_eq!(nuevo.sucursal_id.map(|s| s.0), v.as_i64()),
    }
    if let Some(s) = nuevo.sucursal_id {
        assert!(Alcance::de(&autor).incluye(s));
    }
    // What the store receives: JSON without U+0000, which Postgres refuses.
    let json = serde_json::to_string(&nuevo.payload).unwrap();
    let guardado: Value = serde_json::from_str(&json).unwrap();
    assert!(sin_nulo(&guardado), "{json}");

    let pedida = nuevo.prioridad;
    let reglas = comun::de_fabrica();
    decidir_plano(&reglas.motor, &mut nuevo, minutos_pedido);
    let fallos = reglas.fallos();
    assert!(fallos.is_empty(), "una regla de fábrica falló: {fallos:?}");
    assert_eq!(nuevo.destinos, destinos_por_defecto(&nuevo.tipo));
    assert_ne!(nuevo.destinos, Destinos::NINGUNO);
    let esperada = match (nuevo.sucursal_id, nuevo.tipo.as_str()) {
        (Some(_), "alerta_cocina") => Some(comun::prioridad_esperada(
            nuevo
                .payload
                .get("mensaje")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            pedida,
            minutos_pedido,
        )),
        _ => pedida,
    };
    assert_eq!(nuevo.prioridad, esperada);
});

fn sin_nulo(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.contains('\0'),
        Value::Array(a) => a.iter().all(sin_nulo),
        Value::Object(m) => m.iter().all(|(k, v)| !k.contains('\0') && sin_nulo(v)),
        _ => true,
    }
}
