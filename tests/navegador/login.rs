//! La puerta: una contraseña mala se dice en la página; cada rol entra a su
//! página; quien ya entró va directo a la suya; «Salir» vuelve al login.

use crate::arnes::{PLAZO, correr};

#[actix_web::test]
async fn cada_rol_entra_a_su_pagina_y_una_contrasena_mala_se_dice() {
    correr("login", async |escena| {
        let servidor = escena.servidor().await;
        let nav = escena.navegador(&servidor, "visitante").await;
        nav.ir("/").await;
        nav.esperar_css("form#login", PLAZO).await;
        nav.captura("login").await;

        nav.llenar_login("cocina1", "no-es-la-clave").await;
        nav.esperar(PLAZO, "#login-error dice por qué", async || {
            let e = nav.item("#login-error").await?;
            (e.visible && !e.texto.is_empty()).then_some(())
        })
        .await;
        assert_eq!(nav.ruta().await, "/");

        for (usuario, pagina) in [
            ("cocina1", "/cocina.html"),
            ("atencion2", "/atencion.html"),
            ("admin1", "/monitor.html"),
            ("superadmin", "/monitor.html"),
        ] {
            nav.entrar(usuario, pagina).await;
            // Already logged in: "/" sends the visitor straight to its page.
            nav.ir("/").await;
            nav.esperar(
                PLAZO,
                &format!("{usuario} ya entró: / lleva a {pagina}"),
                async || (nav.ruta().await == pagina).then_some(()),
            )
            .await;
            nav.esperar_en_linea().await;
            nav.clic("#salir").await;
            nav.esperar(PLAZO, "«Salir» vuelve a /", async || {
                (nav.ruta().await == "/").then_some(())
            })
            .await;
            nav.esperar_css("form#login", PLAZO).await;
        }

        // Logged out, a role page sends the visitor to the login.
        nav.ir("/cocina.html").await;
        nav.esperar(PLAZO, "sin sesión, /cocina.html lleva a /", async || {
            (nav.ruta().await == "/").then_some(())
        })
        .await;
    })
    .await;
}
