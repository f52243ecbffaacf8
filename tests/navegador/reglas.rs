//! El admin cambia la regla de prioridad en su página: la siguiente alerta ya
//! la obedece, sin reiniciar nada; una regla que no compila señala su línea.

use fantoccini::key::Key;

use crate::arnes::{PLAZO, correr};

#[actix_web::test]
async fn una_regla_guardada_en_la_pagina_decide_la_siguiente_alerta_y_un_error_senala_su_linea() {
    correr("reglas", async |escena| {
        let servidor = escena.servidor().await;
        let atencion = servidor.token("atencion1").await;
        let admin = servidor.token("admin1").await;
        let cocina = escena.navegador(&servidor, "cocina1").await;
        let reglas = escena.navegador(&servidor, "admin1").await;
        cocina.entrar("cocina1", "/cocina.html").await;
        reglas.entrar("admin1", "/monitor.html").await;

        reglas.clic(r#"a[href$="reglas.html"]"#).await;
        reglas
            .esperar(PLAZO, "ir a /reglas.html", async || {
                (reglas.ruta().await == "/reglas.html").then_some(())
            })
            .await;
        reglas.esperar_en_linea().await;
        reglas.elegir("select#regla", "prioridad").await;
        reglas
            .esperar(PLAZO, "la regla prioridad en textarea#fuente", async || {
                reglas
                    .valor("textarea#fuente")
                    .await
                    .filter(|f| f.contains("fn prioridad"))
            })
            .await;

        let antes = servidor
            .get("/api/reglas/prioridad/versiones", &admin)
            .await["items"]
            .as_array()
            .unwrap()
            .len();
        let siempre_alta = r#"fn prioridad(alerta) { "alta" }"#;
        reglas.escribir("textarea#fuente", siempre_alta).await;
        reglas.clic("button#guardar").await;
        let estado = reglas
            .esperar(
                PLAZO,
                "#estado-regla dice «Guardada (versión N)»",
                async || {
                    let e = reglas.item("#estado-regla").await?;
                    (e.visible && e.texto.contains("Guardada (versión ")).then_some(e)
                },
            )
            .await;
        let vigente = servidor.get("/api/reglas/prioridad", &admin).await;
        assert_eq!(vigente["fuente"], siempre_alta, "{estado:?}");
        let versiones = servidor
            .get("/api/reglas/prioridad/versiones", &admin)
            .await;
        let nueva = versiones["items"][0]["id"].to_string();
        assert!(
            estado
                .texto
                .contains(&format!("Guardada (versión {nueva})")),
            "la versión guardada es la {nueva}: {:?}",
            estado.texto
        );
        reglas
            .esperar(PLAZO, "#versiones con la versión nueva", async || {
                let lista = reglas.items("#versiones li[data-version]").await;
                (lista.len() == antes + 1
                    && lista
                        .iter()
                        .any(|v| v.dato("version") == Some(nueva.as_str())))
                .then_some(())
            })
            .await;
        reglas.captura("reglas").await;

        let alerta = servidor
            .alertar(&atencion, "Mesa 1: urgente, se cayó el plato", "urgente")
            .await;
        assert_eq!(alerta["prioridad"], "alta", "la regla nueva decide");
        let id = alerta["id"].to_string();
        let tarjeta = cocina
            .esperar(PLAZO, "la alerta en cocina", async || {
                cocina
                    .item(&format!(r#"#alertas li.alerta[data-id="{id}"]"#))
                    .await
            })
            .await;
        assert_eq!(tarjeta.dato("prioridad"), Some("alta"), "{tarjeta:?}");
        cocina.captura("cocina-regla-alta").await;

        // Line 2 does not compile.
        let rota = format!(
            "fn prioridad(alerta) {{{}    let x = ;{}}}",
            char::from(Key::Enter),
            char::from(Key::Enter)
        );
        reglas.escribir("textarea#fuente", &rota).await;
        assert_eq!(
            reglas.valor("textarea#fuente").await.as_deref(),
            Some("fn prioridad(alerta) {\n    let x = ;\n}")
        );
        reglas.clic("button#guardar").await;
        let error = reglas
            .esperar(
                PLAZO,
                r#"#error-regla[data-linea="2"] visible"#,
                async || {
                    let e = reglas.item("#error-regla").await?;
                    (e.visible && e.dato("linea") == Some("2")).then_some(e)
                },
            )
            .await;
        assert!(
            error.texto.contains("Línea 2, columna "),
            "«Línea 2, columna C: mensaje»: {:?}",
            error.texto
        );
        let vigente = servidor.get("/api/reglas/prioridad", &admin).await;
        assert_eq!(vigente["fuente"], siempre_alta, "sigue la regla anterior");
        reglas.captura("reglas-error").await;
    })
    .await;
}
