//! The rules, live: edited on disk or through the API while alerts flow,
//! refused when broken, never trusted at run time, versioned, and escalating
//! unread alerts.

use std::collections::BTreeSet;
use std::time::Duration;

use comanda::modelo::{Audiencia, Destinos, Entidad, NuevoEvento, Prioridad};
use comanda::store::NuevaAlerta;
use futures_util::future::join_all;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::fixtures::Cadena;
use crate::helpers::{TestApp, codigo_de_error, en_ambos_stores, spawn_app, spawn_app_with};

/// Publishes a flat kitchen alert to sucursal 1 as `bot1`; answers the stored event.
async fn alerta(app: &TestApp, token: &str, mensaje: &str, pedida: &str) -> Value {
    let r = app
        .post(
            "/api/eventos",
            token,
            &json!({"tipo":"alerta_cocina","alerta_id":1,"mensaje":mensaje,"prioridad":pedida}),
        )
        .await;
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

/// These tests publish from one bot login as fast as 20 tasks can, well
/// past the rate a `servicio` login is held to: lift it.
fn publicar_sin_freno(s: &mut comanda::config::Settings) {
    s.realtime.servicio_rafaga = std::num::NonZeroU32::new(100_000).unwrap();
}

/// 20 publishers × `por_cada` alerts, concurrently; answers every stored event.
async fn veinte_publicadores(app: &TestApp, token: &str, por_cada: usize) -> Vec<Value> {
    let tareas = (0..20).map(|p| async move {
        let mut eventos = Vec::new();
        for i in 0..por_cada {
            eventos.push(alerta(app, token, &format!("pedido {p}-{i}"), "normal").await);
        }
        eventos
    });
    join_all(tareas).await.into_iter().flatten().collect()
}

/// Publishes probe alerts until one comes out `esperada`; fails after `plazo`.
async fn hasta_que_la_prioridad_sea(
    app: &TestApp,
    token: &str,
    esperada: &str,
    plazo: Duration,
) -> Vec<Value> {
    let fin = tokio::time::Instant::now() + plazo;
    let mut sondas = Vec::new();
    loop {
        let e = alerta(app, token, "sonda", "normal").await;
        let listo = e["prioridad"] == esperada;
        sondas.push(e);
        if listo {
            return sondas;
        }
        assert!(
            tokio::time::Instant::now() < fin,
            "la nueva regla no decidió {esperada} antes de {plazo:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ids(eventos: &[Value]) -> BTreeSet<i64> {
    eventos.iter().map(|e| e["id"].as_i64().unwrap()).collect()
}

/// Reads events on `cliente` until every id in `esperados` arrived; asserts
/// increasing order and no duplicate; answers what arrived.
async fn recibir_todos(
    cliente: &mut crate::socket::Cliente,
    esperados: &BTreeSet<i64>,
) -> Vec<Value> {
    let mut recibidos = Vec::new();
    let mut vistos = BTreeSet::new();
    while !esperados.is_subset(&vistos) {
        let e = cliente.evento().await;
        let id = e["id"].as_i64().unwrap();
        assert!(vistos.insert(id), "evento {id} repetido");
        if let Some(anterior) = recibidos.last().and_then(|v: &Value| v["id"].as_i64()) {
            assert!(id > anterior, "orden: {id} tras {anterior}");
        }
        recibidos.push(e);
    }
    recibidos
}

en_ambos_stores! {
    async fn editar_el_archivo_cambia_la_siguiente_alerta_sin_reiniciar_y_sin_perder_nada(backend) {
        let cadena = Cadena::nueva(spawn_app_with(backend, publicar_sin_freno).await).await;
        let app = &cadena.app;
        let bot = app.token("bot1").await;
        let mut cocina = app.socket(&app.token("cocina1").await).await;
        cocina.reanudar(cocina.hola["ultimo_id"].as_i64().unwrap()).await;
        let mut atencion = app.socket(&app.token("atencion1").await).await;
        atencion.reanudar(atencion.hola["ultimo_id"].as_i64().unwrap()).await;

        let ruta = app.reglas.path().join("prioridad.rhai");
        let (publicados, sondas) = tokio::join!(veinte_publicadores(app, &bot, 10), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            std::fs::write(&ruta, "fn prioridad(alerta) { \"alta\" }\n").unwrap();
            hasta_que_la_prioridad_sea(app, &bot, "alta", Duration::from_secs(1)).await
        });

        let todos: BTreeSet<i64> = ids(&publicados).union(&ids(&sondas)).copied().collect();
        let recibidos = recibir_todos(&mut cocina, &todos).await;
        assert_eq!(ids(&recibidos), todos, "cocina recibe cada alerta una vez");
        assert!(recibidos.iter().all(|e| e["sucursal_id"] == cadena.s1.0));
        atencion.ningun_evento_en(Duration::from_millis(300)).await;
        let ultima = alerta(app, &bot, "después", "normal").await;
        assert_eq!(ultima["prioridad"], "alta", "la regla nueva sigue en vigor");
    }

    async fn guardar_por_la_api_cambia_el_reparto_al_instante_sin_perder_ni_desviar(backend) {
        let cadena = Cadena::nueva(spawn_app_with(backend, publicar_sin_freno).await).await;
        let app = &cadena.app;
        let bot = app.token("bot1").await;
        let admin = app.token("admin1").await;
        let mut cocina = app.socket(&app.token("cocina1").await).await;
        cocina.reanudar(cocina.hola["ultimo_id"].as_i64().unwrap()).await;
        let mut atencion = app.socket(&app.token("atencion1").await).await;
        atencion.reanudar(atencion.hola["ultimo_id"].as_i64().unwrap()).await;

        let nueva = r#"fn destinos(evento) { if evento.tipo == "alerta_cocina" { ["cocina", "atencion"] } else { ["admin"] } }"#;
        let (publicados, ()) = tokio::join!(veinte_publicadores(app, &bot, 10), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let r = app.client.put(app.url("/api/reglas/destinos")).bearer_auth(&admin)
                .json(&json!({"fuente": nueva})).send().await.unwrap();
            assert_eq!(r.status(), 200, "{:?}", r.text().await);
        });
        let despues = alerta(app, &bot, "después del cambio", "normal").await;
        assert_eq!(despues["destinos"], json!(["atencion", "cocina"]), "la siguiente alerta ya sigue la regla nueva");

        let mut todos = publicados.clone();
        todos.push(despues);
        let recibidos = recibir_todos(&mut cocina, &ids(&todos)).await;
        assert_eq!(ids(&recibidos), ids(&todos));
        // Atención gets exactly the alerts whose stored destinos name it: none lost, none misrouted.
        let para_atencion: BTreeSet<i64> = todos.iter()
            .filter(|e| e["destinos"].as_array().unwrap().contains(&json!("atencion")))
            .map(|e| e["id"].as_i64().unwrap()).collect();
        let a_atencion = recibir_todos(&mut atencion, &para_atencion).await;
        assert_eq!(ids(&a_atencion), para_atencion);
        atencion.ningun_evento_en(Duration::from_millis(200)).await;
        let en_disco = std::fs::read_to_string(app.reglas.path().join("destinos.rhai")).unwrap();
        assert_eq!(en_disco, nueva, "guardar escribe el archivo");
    }

    async fn una_regla_que_no_compila_se_rechaza_con_linea_y_columna_y_sigue_la_anterior(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let admin = app.token("admin1").await;
        let antes = std::fs::read_to_string(app.reglas.path().join("prioridad.rhai")).unwrap();
        let rota = "fn prioridad(alerta) {\n    let x = ;\n}\n";
        for ruta in ["/api/reglas/prioridad", "/api/reglas/prioridad/validar"] {
            let r = if ruta.ends_with("validar") {
                app.post(ruta, &admin, &json!({"fuente": rota})).await
            } else {
                app.client.put(app.url(ruta)).bearer_auth(&admin).json(&json!({"fuente": rota})).send().await.unwrap()
            };
            assert_eq!(r.status(), 422, "{ruta}");
            let cuerpo: Value = r.json().await.unwrap();
            assert_eq!(cuerpo["error"]["codigo"], "regla_invalida");
            assert_eq!(cuerpo["error"]["linea"], 2);
            assert!(cuerpo["error"]["columna"].as_u64().is_some());
        }
        let vigente: Value = app.get("/api/reglas/prioridad", &admin).await.json().await.unwrap();
        assert_eq!(vigente["fuente"], antes.as_str());
        assert_eq!(std::fs::read_to_string(app.reglas.path().join("prioridad.rhai")).unwrap(), antes);
        let bot = app.token("bot1").await;
        assert_eq!(alerta(app, &bot, "es urgente", "normal").await["prioridad"], "urgente");
    }

    async fn un_bucle_infinito_o_un_rojo_deciden_el_defecto_cuentan_y_avisan_al_monitor(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let admin = app.token("admin1").await;
        let bot = app.token("bot1").await;
        let mut monitor = app.socket(&admin).await;
        monitor.reanudar(monitor.hola["ultimo_id"].as_i64().unwrap()).await;

        for (fuente, pista) in [
            ("fn prioridad(alerta) { loop {} }", "operations"),
            ("fn prioridad(alerta) { \"rojo\" }", "rojo"),
        ] {
            let r = app.client.put(app.url("/api/reglas/prioridad")).bearer_auth(&admin)
                .json(&json!({"fuente": fuente})).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let e = alerta(app, &bot, "sin sal", "alta").await;
            assert_eq!(e["prioridad"], "alta", "decide el valor por defecto: lo pedido");
            let fallida = loop {
                let e = monitor.evento().await;
                if e["tipo"] == "regla_fallida" {
                    break e;
                }
            };
            assert_eq!(fallida["payload"]["regla"], "prioridad");
            let mensaje = fallida["payload"]["mensaje"].as_str().unwrap().to_lowercase();
            assert!(mensaje.contains(pista), "{mensaje}");
        }
        let reglas: Value = app.get("/api/reglas", &admin).await.json().await.unwrap();
        let prioridad = reglas["items"].as_array().unwrap().iter().find(|r| r["nombre"] == "prioridad").unwrap();
        assert!(prioridad["contadores"]["fallos"].as_u64().unwrap() >= 2, "{prioridad}");
    }

    async fn restaurar_una_version_la_activa_y_la_registra_como_nueva(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let admin = app.token("admin1").await;
        let bot = app.token("bot1").await;
        let versiones: Value = app.get("/api/reglas/prioridad/versiones", &admin).await.json().await.unwrap();
        let original = versiones["items"][0].clone();
        assert_eq!(original["activa"], true, "el archivo de fábrica quedó como versión al arrancar");

        let r = app.client.put(app.url("/api/reglas/prioridad")).bearer_auth(&admin)
            .json(&json!({"fuente": "fn prioridad(a) { \"alta\" }"})).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(alerta(app, &bot, "es urgente", "normal").await["prioridad"], "alta");

        let r = app.post("/api/reglas/prioridad/restaurar", &admin, &json!({"version": original["id"]})).await;
        assert_eq!(r.status(), 200);
        let restaurada: Value = r.json().await.unwrap();
        assert!(restaurada["id"].as_i64() > original["id"].as_i64());
        assert_eq!(restaurada["fuente"], original["fuente"]);
        assert_eq!(alerta(app, &bot, "es urgente", "normal").await["prioridad"], "urgente");

        let versiones: Value = app.get("/api/reglas/prioridad/versiones", &admin).await.json().await.unwrap();
        let items = versiones["items"].as_array().unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items.iter().filter(|v| v["activa"] == true).count(), 1);
        assert_eq!(items[0]["id"], restaurada["id"]);
        assert_eq!(items[0]["activa"], true);
        let r = app.post("/api/reglas/prioridad/restaurar", &admin, &json!({"version": 9999})).await;
        assert_eq!(codigo_de_error(r, reqwest::StatusCode::NOT_FOUND).await, "no_encontrado");
    }

    async fn atencion_y_cocina_no_pueden_tocar_las_reglas(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        for usuario in ["atencion1", "cocina1", "bot1"] {
            let token = app.token(usuario).await;
            let r = app.client.put(app.url("/api/reglas/prioridad")).bearer_auth(&token)
                .json(&json!({"fuente": "fn prioridad(a) { \"alta\" }"})).send().await.unwrap();
            assert_eq!(codigo_de_error(r, reqwest::StatusCode::FORBIDDEN).await, "prohibido", "{usuario}");
            let r = app.get("/api/reglas", &token).await;
            assert_eq!(r.status(), 403, "{usuario}");
        }
        let jefa = app.token("jefa").await;
        let r = app.client.put(app.url("/api/reglas/prioridad")).bearer_auth(&jefa)
            .json(&json!({"fuente": "fn prioridad(a) { \"alta\" }"})).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }

    async fn cambiar_una_regla_queda_en_la_auditoria_con_su_autor(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let admin = app.token("admin2").await;
        let r = app.client.put(app.url("/api/reglas/escalado")).bearer_auth(&admin)
            .json(&json!({"fuente": "fn escalar(a, m) { () }"})).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let jefa = app.token("jefa").await;
        let audit: Value = app.get("/api/eventos?tipo=regla_actualizada", &jefa).await.json().await.unwrap();
        let del_admin = audit["items"].as_array().unwrap().iter()
            .find(|e| e["payload"]["autor"] == "admin2")
            .expect("regla_actualizada de admin2");
        assert_eq!(del_admin["subtipo"], "escalado");
        assert_eq!(del_admin["payload"]["origen"], "api");
        assert!(del_admin["usuario_id"].as_i64().is_some());
    }

    async fn probar_decide_y_mide_sin_publicar_nada(backend) {
        let cadena = Cadena::nueva(spawn_app(backend).await).await;
        let app = &cadena.app;
        let admin = app.token("admin1").await;
        let antes = app.store.ultimo_evento_id().await.unwrap();
        let r = app.post("/api/reglas/probar", &admin,
            &json!({"nombre":"prioridad","muestra":{"mensaje":"URGENTE mesa 4"}})).await;
        assert_eq!(r.status(), 200);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["decision"], "urgente");
        assert!(p["micros"].as_f64().unwrap() > 0.0);
        let r = app.post("/api/reglas/probar", &admin,
            &json!({"nombre":"destinos","fuente":"fn destinos(e) { [\"cocina\"] }","muestra":{"tipo":"voucher_nuevo"}})).await;
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["decision"], json!(["cocina"]));
        let r = app.post("/api/reglas/probar", &admin,
            &json!({"nombre":"escalado","muestra":{"prioridad":"normal"},"minutos_sin_leer":7})).await;
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["decision"], "alta");
        assert_eq!(app.store.ultimo_evento_id().await.unwrap(), antes, "probar no publica");
    }

    async fn una_alerta_sin_leer_sube_de_prioridad_y_la_cocina_lo_ve(backend) {
        let app = spawn_app_with(backend, |s| s.realtime.escalado_intervalo = Duration::from_millis(100)).await;
        let cadena = Cadena::nueva(app).await;
        let app = &cadena.app;
        let atencion = app.store.credenciales("atencion1").await.unwrap().unwrap().0;
        let mut cocina = app.socket(&app.token("cocina1").await).await;
        cocina.reanudar(cocina.hola["ultimo_id"].as_i64().unwrap()).await;

        let hace_seis_minutos = OffsetDateTime::now_utc() - time::Duration::minutes(6);
        let a = NuevaAlerta {
            pedido_id: None,
            usuario_envia: atencion.id,
            sucursal_id: cadena.s1,
            mensaje: "¿y las papas?".into(),
            prioridad: Prioridad::Normal,
            fecha_envio: hace_seis_minutos,
        };
        let evento = NuevoEvento {
            tipo: "alerta_cocina".into(),
            subtipo: None,
            payload: json!({"mensaje": a.mensaje,
                "fecha_envio": a.fecha_envio.format(&time::format_description::well_known::Rfc3339).unwrap()})
                .as_object().unwrap().clone(),
            usuario_id: Some(a.usuario_envia),
            sucursal_id: Some(a.sucursal_id),
            entidad: Some(Entidad { tipo: "ALERTA".into(), id: 0 }),
            prioridad: Some(a.prioridad),
            destinos: Destinos::de(&[Audiencia::Cocina]),
        };
        let (fila, _) = app.store.crear_alerta(&a, evento, None).await.unwrap();

        let enviada = cocina.evento().await;
        assert_eq!(enviada["tipo"], "alerta_cocina");
        let escalada = cocina.evento().await;
        assert_eq!(escalada["tipo"], "alerta_escalada");
        assert_eq!(escalada["prioridad"], "alta", "normal sin leer 5 minutos pasa a alta");
        assert_eq!(escalada["entidad"], json!({"tipo":"ALERTA","id":fila.id.0}));
        assert_eq!(escalada["payload"]["desde"], "normal");
        // Stored, not just announced: the kitchen's next load sees it alta.
        let abiertas = app.store.trabajo_abierto(cadena.s1).await.unwrap().alertas;
        assert_eq!(abiertas.iter().find(|a| a.id == fila.id).unwrap().prioridad, Prioridad::Alta);
    }
}
