//! Un voucher que manda el bot aparece en la cola de atención; rechazado con
//! un motivo, sale de la cola y el monitor lo ve pasar.

use serde_json::json;

use crate::arnes::{PLAZO, correr};

#[actix_web::test]
async fn un_voucher_del_bot_rechazado_en_atencion_sale_de_la_cola_y_llega_al_monitor() {
    correr("voucher", async |escena| {
        let servidor = escena.servidor().await;
        let bot = servidor.token("servicio1").await;
        let atencion_api = servidor.token("atencion1").await;
        let atencion = escena.navegador(&servidor, "atencion1").await;
        let monitor = escena.navegador(&servidor, "admin1").await;
        atencion.entrar("atencion1", "/atencion.html").await;
        monitor.entrar("admin1", "/monitor.html").await;

        let imagen = "https://example.com/vouchers/op-20481.jpg";
        let voucher = servidor
            .post(
                "/api/vouchers",
                &bot,
                &json!({"monto": 45.5, "numero_operacion": "OP-20481",
                        "imagen_url": imagen, "telefono": "+51 987 654 321"}),
            )
            .await;
        let id = voucher["id"].to_string();
        let tarjeta_css = format!(r#"#vouchers li.voucher[data-id="{id}"]"#);
        let tarjeta = atencion
            .esperar(PLAZO, "el voucher en #vouchers", async || {
                atencion.item(&tarjeta_css).await
            })
            .await;
        assert_eq!(tarjeta.dato("duplicado"), Some("false"), "{tarjeta:?}");
        let monto = atencion
            .item(&format!("{tarjeta_css} .monto"))
            .await
            .expect(".monto");
        let cifras: String = monto.texto.chars().filter(char::is_ascii_digit).collect();
        assert!(
            cifras.contains("4550"),
            "45.50 en .monto: {:?}",
            monto.texto
        );
        let operacion = atencion
            .item(&format!("{tarjeta_css} .numero-operacion"))
            .await
            .expect(".numero-operacion");
        assert!(operacion.texto.contains("OP-20481"), "{operacion:?}");
        let enlace = format!("{tarjeta_css} a.imagen");
        assert_eq!(
            atencion.atributo(&enlace, "href").await.as_deref(),
            Some(imagen)
        );
        assert_eq!(
            atencion.atributo(&enlace, "target").await.as_deref(),
            Some("_blank")
        );
        let rel = atencion.atributo(&enlace, "rel").await.unwrap_or_default();
        assert!(
            rel.split_whitespace().any(|r| r == "noopener"),
            "rel={rel:?}"
        );
        atencion.captura("atencion-vouchers").await;

        // No motivo: the page does not send it, the voucher stays.
        atencion
            .clic(&format!("{tarjeta_css} .rechazar-voucher"))
            .await;
        assert!(atencion.item(&tarjeta_css).await.is_some());
        let motivo = "El monto no coincide con el pedido";
        atencion
            .escribir(&format!("{tarjeta_css} input.motivo"), motivo)
            .await;
        atencion
            .clic(&format!("{tarjeta_css} .rechazar-voucher"))
            .await;
        atencion
            .esperar(
                PLAZO,
                "el voucher rechazado sale de #vouchers",
                async || atencion.item(&tarjeta_css).await.is_none().then_some(()),
            )
            .await;
        let rechazados = servidor
            .get("/api/vouchers?estado=rechazado", &atencion_api)
            .await;
        let fila = rechazados["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == voucher["id"])
            .expect("el voucher, rechazado, en la API")
            .clone();
        assert_eq!(
            fila["motivo"], motivo,
            "rechazado una vez, con el motivo escrito"
        );

        let evento = monitor
            .esperar(PLAZO, "voucher_rechazado en #eventos-vivo", async || {
                monitor
                    .items("#eventos-vivo li.evento")
                    .await
                    .into_iter()
                    .find(|i| i.dato("tipo") == Some("voucher_rechazado"))
            })
            .await;
        assert_eq!(evento.dato("sucursal"), Some("1"), "{evento:?}");
        monitor.captura("monitor-voucher").await;
    })
    .await;
}
