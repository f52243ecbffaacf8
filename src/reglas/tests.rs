//! The shipped rules on table-driven samples, and the sandbox's limits.

use super::*;

use std::time::{Duration, Instant};

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

/// A script that burns its whole budget on string searches: each operation
/// is slow, so the operations limit alone would let it run for ~0.7 s.
const BUSQUEDA_LENTA: &str = r#"
fn prioridad(a) {
    let s = "";
    s.pad(16000, "x");
    let aguja = "";
    aguja.pad(8000, "x");
    aguja += "y";
    let n = 0;
    loop { if s.contains(aguja) { n += 1; } }
}"#;

fn con_plazo(plazo_ms: u64) -> (RuleEngine, mpsc::UnboundedReceiver<Fallo>) {
    RuleEngine::con_limites(
        UtcOffset::UTC,
        LimitesReglas {
            plazo: Duration::from_millis(plazo_ms),
            pausa: Duration::from_secs(60),
            hilos: 1,
        },
    )
}

#[test]
fn sleep_no_esta_disponible_en_las_reglas() {
    let (reglas, mut fallos) = RuleEngine::new(UtcOffset::UTC);
    for llamada in [
        "sleep(3.0)",
        "sleep(3)",
        r#"Fn("sleep").call(3)"#,
        r#"call(Fn("sleep"), 3.0)"#,
    ] {
        instalar(
            &reglas,
            NombreRegla::Prioridad,
            &format!(r#"fn prioridad(a) {{ {llamada}; "urgente" }}"#),
        );
        let inicio = Instant::now();
        assert_eq!(
            reglas.prioridad(&alerta("x", Some(Prioridad::Alta), None)),
            Prioridad::Alta,
            "{llamada}: decide el defecto"
        );
        assert!(
            inicio.elapsed() < Duration::from_secs(1),
            "{llamada} no durmió: {:?}",
            inicio.elapsed()
        );
        let fallo = fallos.try_recv().expect("el fallo se reporta");
        assert!(
            fallo.mensaje.contains("sleep"),
            "{llamada}: {}",
            fallo.mensaje
        );
    }
}

#[test]
fn una_regla_lenta_la_para_su_plazo_aunque_le_queden_operaciones() {
    let (reglas, mut fallos) = con_plazo(20);
    instalar(&reglas, NombreRegla::Prioridad, BUSQUEDA_LENTA);
    let inicio = Instant::now();
    assert_eq!(
        reglas.prioridad(&alerta("x", Some(Prioridad::Alta), None)),
        Prioridad::Alta
    );
    let tardo = inicio.elapsed();
    let fallo = fallos.try_recv().expect("el fallo se reporta");
    assert_eq!(fallo.causa, CausaFallo::TiempoAgotado);
    assert!(fallo.mensaje.contains("plazo"), "{}", fallo.mensaje);
    // Without the deadline it ran for the 50,000 operations: ~0.7 s in
    // release, seconds in a debug build.
    assert!(tardo < Duration::from_millis(300), "{tardo:?}");
}

#[test]
fn tras_tres_plazos_seguidos_la_regla_descansa_y_decide_el_defecto_sin_correr() {
    let (reglas, mut fallos) = con_plazo(5);
    instalar(&reglas, NombreRegla::Prioridad, BUSQUEDA_LENTA);
    for _ in 0..PLAZOS_SEGUIDOS {
        reglas.prioridad(&alerta("x", None, None));
    }
    let causas: Vec<_> = std::iter::from_fn(|| fallos.try_recv().ok())
        .map(|f| f.causa)
        .collect();
    assert_eq!(
        causas,
        vec![CausaFallo::TiempoAgotado; PLAZOS_SEGUIDOS as usize]
    );
    let inicio = Instant::now();
    for _ in 0..100 {
        assert_eq!(
            reglas.prioridad(&alerta("x", Some(Prioridad::Urgente), None)),
            Prioridad::Urgente
        );
    }
    assert!(
        inicio.elapsed() < Duration::from_millis(100),
        "en pausa no corre: {:?}",
        inicio.elapsed()
    );
    let fallo = fallos
        .try_recv()
        .expect("cada decisión por defecto se reporta");
    assert_eq!(fallo.causa, CausaFallo::Suspendida);
    assert_eq!(
        reglas.contadores(NombreRegla::Prioridad).fallos,
        u64::from(PLAZOS_SEGUIDOS) + 100
    );
    // A new version is run again at once.
    instalar(
        &reglas,
        NombreRegla::Prioridad,
        r#"fn prioridad(a) { "alta" }"#,
    );
    assert_eq!(reglas.prioridad(&alerta("x", None, None)), Prioridad::Alta);
}

#[tokio::test]
async fn decidir_corre_en_los_hilos_de_reglas_y_no_espera_a_una_regla_lenta() {
    let (reglas, mut fallos) = con_plazo(20);
    let reglas = Arc::new(reglas);
    instalar(
        &reglas,
        NombreRegla::Prioridad,
        r#"fn prioridad(a) { if a.mensaje == "hilo" { "alta" } else { "normal" } }"#,
    );
    assert_eq!(
        reglas.decidir_prioridad(alerta("hilo", None, None)).await,
        Prioridad::Alta
    );
    instalar(&reglas, NombreRegla::Prioridad, BUSQUEDA_LENTA);
    let inicio = Instant::now();
    assert_eq!(
        reglas
            .decidir_prioridad(alerta("x", Some(Prioridad::Alta), None))
            .await,
        Prioridad::Alta
    );
    assert!(
        inicio.elapsed() < Duration::from_millis(300),
        "{:?}",
        inicio.elapsed()
    );
    assert!(fallos.try_recv().is_ok());
}
