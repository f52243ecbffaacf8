//! The commands besides `serve`: `comanda migrate` and `comanda usuario crear`.
//! Their output is for a person at a terminal, so they print.

use std::io::{BufRead, IsTerminal};

use anyhow::Context;

use crate::config::{CrearUsuario, StoreSettings};
use crate::cuentas;
use crate::modelo::{NuevoUsuario, Password, SucursalId};
use crate::store::Store;

pub async fn migrate(settings: &StoreSettings) -> anyhow::Result<()> {
    let store = Store::open(settings)
        .await
        .context("no se pudieron aplicar las migraciones")?;
    println!("Migraciones aplicadas ({:?}).", store.backend());
    store.close().await;
    Ok(())
}

pub async fn crear_usuario(args: CrearUsuario) -> anyhow::Result<()> {
    let password = leer_password().context("no se pudo leer la contraseña")?;
    let password = Password::parse(password)?;
    let store = Store::open(&args.store).await?;
    let usuario = cuentas::crear_usuario(
        &store,
        NuevoUsuario {
            usuario: args.usuario,
            nombre: args.nombre,
            password,
            rol: args.rol,
            sucursal_id: args.sucursal.map(SucursalId),
        },
    )
    .await?;
    println!(
        "Usuario creado: id {} «{}», rol {}{}.",
        usuario.id,
        usuario.usuario,
        usuario.rol,
        usuario
            .sucursal_id
            .map(|s| format!(", sucursal {s}"))
            .unwrap_or_default()
    );
    store.close().await;
    Ok(())
}

/// Asks twice on a terminal; otherwise reads the first line of stdin.
fn leer_password() -> std::io::Result<String> {
    if std::io::stdin().is_terminal() {
        let primera = rpassword::prompt_password("Contraseña: ")?;
        let segunda = rpassword::prompt_password("Repite la contraseña: ")?;
        if primera != segunda {
            return Err(std::io::Error::other("las contraseñas no coinciden"));
        }
        Ok(primera)
    } else {
        let mut linea = String::new();
        std::io::stdin().lock().read_line(&mut linea)?;
        Ok(linea.trim_end_matches(['\r', '\n']).to_owned())
    }
}
