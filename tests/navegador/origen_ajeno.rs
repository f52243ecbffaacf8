//! Una página de otro puerto del mismo host (mismo sitio para el navegador,
//! así que la cookie `SameSite=Strict` viaja) intenta aprobar un voucher con
//! un `<form method=POST>` y un pedido y una alerta con `fetch` `no-cors`
//! usando la sesión de la atención y de la cocina: nada cambia. La página de
//! la atención, en su propio origen, sigue aprobando.

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::arnes::{Navegador, PLAZO, Servidor, correr};

/// Serves `html` to every request on a port of its own of 127.0.0.1: the
/// foreign page. Answers its origin.
async fn pagina_ajena(html: String) -> String {
    let escucha = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origen = format!("http://127.0.0.1:{}", escucha.local_addr().unwrap().port());
    actix_web::rt::spawn(async move {
        while let Ok((mut tcp, _)) = escucha.accept().await {
            let html = html.clone();
            actix_web::rt::spawn(async move {
                let mut leido = Vec::new();
                let mut trozo = [0u8; 1024];
                while !leido.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut trozo).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => leido.extend_from_slice(&trozo[..n]),
                    }
                }
                let respuesta = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = tcp.write_all(respuesta.as_bytes()).await;
            });
        }
    });
    origen
}

/// What the forged page does with the visitor's cookie: two `fetch`es that
/// a page may send anywhere (`no-cors`, the answer unreadable), then, when
/// both are done, a form that approves the voucher (and so its order).
fn html_de_la_falsificacion(
    comanda: &str,
    voucher: &Value,
    pedido: &Value,
    alerta: &Value,
) -> String {
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Promo</title></head><body>
<form id="f" method="POST" action="{comanda}/api/vouchers/{voucher}/aprobar"></form>
<script>
const a = (ruta) => fetch("{comanda}" + ruta, {{method: "POST", mode: "no-cors", credentials: "include"}});
Promise.allSettled([a("/api/pedidos/{pedido}/aprobar"), a("/api/alertas/{alerta}/leida")])
  .then(() => document.getElementById("f").submit());
</script></body></html>"#,
        voucher = voucher["id"],
        pedido = pedido["id"],
        alerta = alerta["id"],
    )
}

/// Opens the foreign page in `nav` and waits until its form has taken the
/// browser to comanda's answer (so the fetches were sent before): answers
/// the text shown.
async fn visitar(nav: &Navegador, servidor: &Servidor, ajena: &str, voucher: &Value) -> String {
    nav.cliente.goto(ajena).await.expect("abre la página ajena");
    let destino = format!("/api/vouchers/{}/aprobar", voucher["id"]);
    nav.esperar(PLAZO, "el formulario ajeno llega a comanda", async || {
        let url = nav.cliente.current_url().await.ok()?;
        (url.port() == Some(servidor.port) && url.path() == destino).then_some(())
    })
    .await;
    nav.cliente
        .find(fantoccini::Locator::Css("body"))
        .await
        .expect("body")
        .text()
        .await
        .unwrap_or_default()
}

/// The `campo` of item `id` of a list, as the API answers it.
async fn en_la_lista(
    servidor: &Servidor,
    token: &str,
    ruta: &str,
    id: &Value,
    campo: &str,
) -> Value {
    let lista = servidor.get(ruta, token).await;
    lista["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == *id)
        .unwrap_or_else(|| panic!("{id} en {ruta}: {lista}"))[campo]
        .clone()
}

#[actix_web::test]
async fn una_pagina_de_otro_puerto_no_aprueba_ni_marca_nada_con_la_cookie_y_la_propia_si() {
    correr("origen_ajeno", async |escena| {
        let servidor = escena.servidor().await;
        let atencion_api = servidor.token("atencion1").await;
        let cocina_api = servidor.token("cocina1").await;
        let bot = servidor.token("servicio1").await;
        let nuevo_pedido = |cliente: &'static str| {
            let servidor = &servidor;
            let token = atencion_api.clone();
            async move {
                servidor
                    .post(
                        "/api/pedidos",
                        &token,
                        &json!({"cliente": cliente, "detalle": "1/4 pollo", "total": 25.5}),
                    )
                    .await
            }
        };
        let pagado = nuevo_pedido("Rosa").await;
        let pedido = nuevo_pedido("Lucho").await;
        let voucher = servidor
            .post(
                "/api/vouchers",
                &bot,
                &json!({"monto": 25.5, "numero_operacion": "OP-777", "pedido_id": pagado["id"]}),
            )
            .await;
        let alerta = servidor.alertar(&atencion_api, "sin papas", "alta").await;
        let ajena = pagina_ajena(html_de_la_falsificacion(
            &servidor.origen,
            &voucher,
            &pedido,
            &alerta,
        ))
        .await;

        // The desk and the kitchen, logged in; then each visits the page.
        let atencion = escena.navegador(&servidor, "atencion1").await;
        atencion.entrar("atencion1", "/atencion.html").await;
        let cocina = escena.navegador(&servidor, "cocina1").await;
        cocina.entrar("cocina1", "/cocina.html").await;
        for nav in [&atencion, &cocina] {
            let texto = visitar(nav, &servidor, &ajena, &voucher).await;
            assert!(
                texto.contains("origen_no_permitido"),
                "[{}] {texto}",
                nav.quien
            );
        }

        let vouchers = "/api/vouchers";
        assert_eq!(
            en_la_lista(&servidor, &atencion_api, vouchers, &voucher["id"], "estado").await,
            "pendiente"
        );
        for p in [&pagado, &pedido] {
            assert_eq!(
                en_la_lista(&servidor, &atencion_api, "/api/pedidos", &p["id"], "estado").await,
                "PENDIENTE"
            );
        }
        assert_eq!(
            en_la_lista(
                &servidor,
                &cocina_api,
                "/api/alertas",
                &alerta["id"],
                "leida"
            )
            .await,
            false
        );

        // comanda's own page, same browser and cookie, still approves.
        atencion.ir("/atencion.html").await;
        atencion.esperar_en_linea().await;
        atencion
            .clic(&format!(
                r#"#pedidos li.pedido[data-id="{}"] .aprobar"#,
                pedido["id"]
            ))
            .await;
        atencion
            .esperar(
                PLAZO,
                "el pedido aprobado desde la página propia",
                async || {
                    let estado = en_la_lista(
                        &servidor,
                        &atencion_api,
                        "/api/pedidos",
                        &pedido["id"],
                        "estado",
                    )
                    .await;
                    (estado == "EN_PREPARACION").then_some(())
                },
            )
            .await;
        // And the kitchen's marks its alert read.
        cocina.ir("/cocina.html").await;
        cocina.esperar_en_linea().await;
        cocina
            .clic(&format!(
                r#"#alertas li.alerta[data-id="{}"] .marcar-leida"#,
                alerta["id"]
            ))
            .await;
        cocina
            .esperar(
                PLAZO,
                "la alerta leída desde la página propia",
                async || {
                    let leida = en_la_lista(
                        &servidor,
                        &cocina_api,
                        "/api/alertas",
                        &alerta["id"],
                        "leida",
                    )
                    .await;
                    (leida == true).then_some(())
                },
            )
            .await;
    })
    .await;
}
