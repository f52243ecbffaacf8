//! The shipped rules on table-driven samples, and the sandbox's limits.

use super::*;

const PRIORIDAD: &str = include_str!("../../rules/prioridad.rhai");
const DESTINOS: &str = include_str!("../../rules/destinos.rhai");
const ESCALADO: &str = include_str!("../../rules/escalado.rhai");

fn con_reglas() -> (RuleEngine, mpsc::UnboundedReceiver<Fallo>) {
    let (reglas, fallos) = RuleEngine::new(UtcOffset::UTC);
    for (nombre, fuente) in [
        (NombreRegla::Prioridad, PRIORIDAD),
        (NombreRegla::Destinos, DESTINOS),
        (NombreRegla::Escalado, ESCALADO),
    ] {
        let c = reglas
            .compilar(nombre, fuente)
            .expect("la regla de fábrica compila");
        reglas.instalar(nombre, c);
    }
    (reglas, fallos)
}

fn alerta(mensaje: &str, pedida: Option<Prioridad>, minutos_pedido: Option<i64>) -> EntradaAlerta {
    EntradaAlerta {
        mensaje: mensaje.into(),
        prioridad_pedida: pedida,
        pedido_id: minutos_pedido.map(|_| 50),
        sucursal_id: SucursalId(1),
        minutos_pedido,
    }
}

#[test]
fn prioridad_de_fabrica() {
    use Prioridad::*;
    let (reglas, mut fallos) = con_reglas();
    let casos = [
        ("Pedido 50 URGENTE por favor", None, None, Urgente),
        ("es urgente", Some(Normal), Some(2), Urgente),
        ("sin papas", None, None, Normal),
        ("sin papas", Some(Alta), None, Alta),
        ("sin papas", Some(Urgente), Some(1), Urgente),
        ("¿y el pedido?", None, Some(25), Alta),
        ("¿y el pedido?", Some(Normal), Some(20), Alta),
        ("¿y el pedido?", Some(Urgente), Some(40), Urgente),
        ("¿y el pedido?", Some(Normal), Some(19), Normal),
    ];
    for (mensaje, pedida, minutos, esperada) in casos {
        assert_eq!(
            reglas.prioridad(&alerta(mensaje, pedida, minutos)),
            esperada,
            "{mensaje:?} pedida {pedida:?} minutos {minutos:?}"
        );
    }
    assert!(fallos.try_recv().is_err(), "ninguna regla de fábrica falla");
}

#[test]
fn destinos_de_fabrica_reproducen_el_reparto_del_seed() {
    use Audiencia::*;
    let (reglas, mut fallos) = con_reglas();
    let payload = serde_json::Map::new();
    let casos: [(&str, &[Audiencia]); 9] = [
        ("alerta_cocina", &[Cocina]),
        ("alerta_escalada", &[Cocina, Atencion]),
        ("alerta_leida", &[Atencion, Cocina]),
        ("refill_solicitado", &[Cocina]),
        ("refill_estado", &[Cocina]),
        ("voucher_nuevo", &[Atencion, Admin]),
        ("voucher_rechazado", &[Atencion, Admin]),
        ("pedido_aprobado", &[Atencion, Admin]),
        ("cierre_de_caja", &[Admin]),
    ];
    for (tipo, esperados) in casos {
        let e = EntradaEvento {
            tipo,
            subtipo: None,
            sucursal_id: Some(SucursalId(1)),
            prioridad: None,
            payload: &payload,
        };
        assert_eq!(reglas.destinos(&e), Destinos::de(esperados), "{tipo}");
        assert_eq!(
            destinos_por_defecto(tipo),
            Destinos::de(esperados),
            "el defecto coincide: {tipo}"
        );
    }
    assert!(fallos.try_recv().is_err());
}

#[test]
fn escalado_de_fabrica_solo_sube() {
    use Prioridad::*;
    let (reglas, _) = con_reglas();
    let casos = [
        (Normal, 0, None),
        (Normal, 4, None),
        (Normal, 5, Some(Alta)),
        (Normal, 30, Some(Alta)),
        (Alta, 9, None),
        (Alta, 10, Some(Urgente)),
        (Urgente, 60, None),
    ];
    for (actual, minutos, esperada) in casos {
        let a = EntradaEscalado {
            prioridad: actual,
            mensaje: "x",
            pedido_id: None,
            sucursal_id: SucursalId(1),
        };
        assert_eq!(
            reglas.escalar(&a, minutos),
            esperada,
            "{actual} a los {minutos} min"
        );
    }
}

fn instalar(reglas: &RuleEngine, nombre: NombreRegla, fuente: &str) {
    let c = reglas.compilar(nombre, fuente).expect("compila");
    reglas.instalar(nombre, c);
}

#[test]
fn un_bucle_infinito_lo_para_el_limite_y_decide_el_defecto() {
    let (reglas, mut fallos) = RuleEngine::new(UtcOffset::UTC);
    instalar(
        &reglas,
        NombreRegla::Prioridad,
        "fn prioridad(a) { loop {} }",
    );
    assert_eq!(
        reglas.prioridad(&alerta("x", Some(Prioridad::Alta), None)),
        Prioridad::Alta
    );
    let fallo = fallos.try_recv().expect("el fallo se reporta");
    assert_eq!(fallo.regla, NombreRegla::Prioridad);
    assert!(
        fallo.mensaje.to_lowercase().contains("operations"),
        "{}",
        fallo.mensaje
    );
    assert_eq!(reglas.contadores(NombreRegla::Prioridad).fallos, 1);
}

#[test]
fn una_prioridad_fuera_del_conjunto_es_un_fallo() {
    let (reglas, mut fallos) = RuleEngine::new(UtcOffset::UTC);
    instalar(
        &reglas,
        NombreRegla::Prioridad,
        r#"fn prioridad(a) { "rojo" }"#,
    );
    assert_eq!(
        reglas.prioridad(&alerta("x", None, None)),
        Prioridad::Normal
    );
    let fallo = fallos.try_recv().unwrap();
    assert!(fallo.mensaje.contains("rojo"), "{}", fallo.mensaje);
    instalar(
        &reglas,
        NombreRegla::Destinos,
        r#"fn destinos(e) { ["cocina", "clientes"] }"#,
    );
    let payload = serde_json::Map::new();
    let e = EntradaEvento {
        tipo: "alerta_cocina",
        subtipo: None,
        sucursal_id: None,
        prioridad: None,
        payload: &payload,
    };
    assert_eq!(reglas.destinos(&e), Destinos::de(&[Audiencia::Cocina]));
    assert!(fallos.try_recv().unwrap().mensaje.contains("clientes"));
    assert_eq!(reglas.contadores(NombreRegla::Prioridad).fallos, 1);
    assert_eq!(reglas.contadores(NombreRegla::Destinos).fallos, 1);
}

#[test]
fn un_texto_de_100_mb_no_llega_a_construirse() {
    let (reglas, mut fallos) = RuleEngine::new(UtcOffset::UTC);
    instalar(
        &reglas,
        NombreRegla::Prioridad,
        r#"fn prioridad(a) { let s = "x"; while s.len() < 100000000 { s += s; } "alta" }"#,
    );
    assert_eq!(
        reglas.prioridad(&alerta("x", None, None)),
        Prioridad::Normal
    );
    let fallo = fallos.try_recv().unwrap();
    assert!(
        fallo.mensaje.to_lowercase().contains("string"),
        "{}",
        fallo.mensaje
    );
}

#[test]
fn un_error_de_sintaxis_dice_linea_y_columna() {
    let (reglas, _) = RuleEngine::new(UtcOffset::UTC);
    let e = reglas
        .compilar(NombreRegla::Prioridad, "fn prioridad(a) {\n  let x = ;\n}")
        .unwrap_err();
    assert_eq!(e.linea, Some(2));
    assert!(e.columna.is_some());
    assert!(!e.mensaje.is_empty());
    let sin_funcion = reglas
        .compilar(NombreRegla::Escalado, "fn otra(a) { () }")
        .unwrap_err();
    assert!(
        sin_funcion.mensaje.contains("escalar"),
        "{}",
        sin_funcion.mensaje
    );
}

#[test]
fn no_hay_eval_ni_modulos() {
    let (reglas, _) = RuleEngine::new(UtcOffset::UTC);
    assert!(
        reglas
            .compilar(NombreRegla::Prioridad, r#"fn prioridad(a) { eval("1") }"#)
            .is_err()
    );
    instalar(
        &reglas,
        NombreRegla::Prioridad,
        r#"fn prioridad(a) { import "x" as y; "alta" }"#,
    );
    assert_eq!(
        reglas.prioridad(&alerta("x", None, None)),
        Prioridad::Normal
    );
}

#[test]
fn probar_no_publica_y_mide() {
    let (reglas, mut fallos) = con_reglas();
    let p = reglas.probar(
        NombreRegla::Prioridad,
        None,
        &serde_json::json!({"mensaje": "urgente ya", "prioridad_pedida": (), "minutos_pedido": ()}),
        0,
    );
    assert_eq!(p.decision, Some(serde_json::json!("urgente")));
    assert!(p.micros > 0.0);
    assert!(
        fallos.try_recv().is_err(),
        "probar no reporta fallos al monitor"
    );
}

#[test]
fn una_regla_que_lee_el_payload_lo_recibe() {
    let (reglas, mut fallos) = RuleEngine::new(UtcOffset::UTC);
    instalar(
        &reglas,
        NombreRegla::Destinos,
        r#"fn destinos(e) { if e.payload.mensaje == "para caja" { ["atencion"] } else { ["cocina"] } }"#,
    );
    let payload = serde_json::json!({"mensaje": "para caja"})
        .as_object()
        .unwrap()
        .clone();
    let e = EntradaEvento {
        tipo: "aviso",
        subtipo: None,
        sucursal_id: None,
        prioridad: None,
        payload: &payload,
    };
    assert_eq!(reglas.destinos(&e), Destinos::de(&[Audiencia::Atencion]));
    assert!(fallos.try_recv().is_err());
}
