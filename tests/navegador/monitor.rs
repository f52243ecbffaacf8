//! El monitor del admin: los eventos llegan en vivo y el contador sube; la
//! pestaña de la base de datos muestra los 30 últimos.

use serde_json::{Value, json};

use crate::arnes::{Navegador, PLAZO, correr};

#[actix_web::test]
async fn el_monitor_muestra_cada_evento_en_vivo_y_los_ultimos_30_de_la_bd() {
    correr("monitor", async |escena| {
        let servidor = escena.servidor().await;
        let atencion = servidor.token("atencion1").await;
        let admin = servidor.token("admin1").await;
        let monitor = escena.navegador(&servidor, "admin1").await;
        monitor.entrar("admin1", "/monitor.html").await;
        let antes = contador(&monitor).await;

        servidor
            .alertar(&atencion, "Mesa 9: falta la salsa de ají", "normal")
            .await;
        let auditado = servidor
            .get("/api/eventos?limit=1&tipo=alerta_cocina", &admin)
            .await;
        let id_evento = auditado["items"][0]["id"].to_string();
        let evento = monitor
            .esperar(PLAZO, "el alerta_cocina en #eventos-vivo", async || {
                monitor
                    .items("#eventos-vivo li.evento")
                    .await
                    .into_iter()
                    .find(|i| i.dato("tipo") == Some("alerta_cocina"))
            })
            .await;
        assert_eq!(evento.id.as_deref(), Some(id_evento.as_str()), "{evento:?}");
        assert_eq!(evento.dato("sucursal"), Some("1"), "{evento:?}");
        assert_eq!(evento.dato("prioridad"), Some("normal"), "{evento:?}");
        monitor
            .esperar(PLAZO, "#contador-eventos sube", async || {
                (contador(&monitor).await > antes).then_some(())
            })
            .await;
        // The node serving the page is listed, soon with this page's socket.
        monitor
            .esperar(
                std::time::Duration::from_secs(10),
                "este nodo en #nodos, con un socket",
                async || {
                    let nodo = monitor.item("#nodos .nodo.propio").await?;
                    let sockets: u64 = nodo.dato("sesiones")?.parse().ok()?;
                    (sockets >= 1).then_some(())
                },
            )
            .await;

        // More events than the database tab shows.
        for i in 0..35 {
            servidor
                .post(
                    "/api/refills",
                    &atencion,
                    &json!({"producto": format!("Papas nativas, bolsa {i}"), "cantidad": 2}),
                )
                .await;
        }
        let ultimo =
            servidor.get("/api/eventos?limit=1", &admin).await["items"][0]["id"].to_string();
        let vivos = monitor
            .esperar(
                PLAZO,
                "el último evento arriba de #eventos-vivo",
                async || {
                    let vivos = monitor.items("#eventos-vivo li.evento").await;
                    (vivos.first()?.id.as_deref() == Some(ultimo.as_str())).then_some(vivos)
                },
            )
            .await;
        let vivos: Vec<i64> = vivos
            .iter()
            .filter_map(|i| i.id.as_deref()?.parse().ok())
            .collect();
        assert!(
            vivos.windows(2).all(|w| w[0] > w[1]),
            "#eventos-vivo, el más nuevo primero: {vivos:?}"
        );
        monitor
            .esperar(
                PLAZO,
                "#contador-eventos cuenta los 36 eventos",
                async || (contador(&monitor).await >= antes + 36).then_some(()),
            )
            .await;
        monitor.captura("monitor").await;

        let total = ids(&servidor.get("/api/eventos?limit=1000", &admin).await).len();
        assert!(
            total > 30,
            "hay más eventos ({total}) de los que muestra la pestaña"
        );
        let esperados = ids(&servidor.get("/api/eventos?limit=30", &admin).await);
        monitor.clic(r#"button[data-tab="bd"]"#).await;
        monitor
            .esperar(PLAZO, "se ve la pestaña #tab-bd", async || {
                monitor.item("section#tab-bd").await?.visible.then_some(())
            })
            .await;
        monitor
            .esperar(
                PLAZO,
                "#eventos-bd con los 30 últimos de GET /api/eventos?limit=30",
                async || {
                    let ids: Vec<String> = monitor
                        .items("#eventos-bd li.evento-bd")
                        .await
                        .into_iter()
                        .filter_map(|i| i.id)
                        .collect();
                    (ids == esperados).then_some(())
                },
            )
            .await;
        assert_eq!(esperados.len(), total.min(30));
        assert!(
            !monitor
                .item("section#tab-vivo")
                .await
                .expect("#tab-vivo")
                .visible,
            "una pestaña a la vez"
        );
        monitor.captura("monitor-bd").await;
    })
    .await;
}

async fn contador(monitor: &Navegador) -> u64 {
    monitor
        .esperar(PLAZO, "#contador-eventos con un número", async || {
            let texto = monitor.item("#contador-eventos").await?.texto;
            let digitos: String = texto.chars().filter(char::is_ascii_digit).collect();
            digitos.parse().ok()
        })
        .await
}

/// The ids of a `{"items":[…]}` list, as the pages write them in `data-id`.
fn ids(lista: &Value) -> Vec<String> {
    lista["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].to_string())
        .collect()
}
