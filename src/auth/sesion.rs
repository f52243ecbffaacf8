//! Logging in and out: the domain side of `/api/login`, `/api/logout` and of
//! every authenticated request.

use std::time::Duration;

use time::OffsetDateTime;

use super::{Token, verificar_password};
use crate::modelo::Usuario;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user, wrong password or inactive user: one answer for all three,
    /// so that nobody can probe which accounts exist.
    #[error("usuario o contraseña incorrectos")]
    CredencialesInvalidas,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A successful login: the token is shown to the client once, here.
#[derive(Debug)]
pub struct SesionIniciada {
    pub token: Token,
    pub usuario: Usuario,
    pub expira: OffsetDateTime,
}

#[tracing::instrument(skip(store, password, ttl))]
pub async fn iniciar_sesion(
    store: &Store,
    usuario: &str,
    password: String,
    ttl: Duration,
) -> Result<SesionIniciada, AuthError> {
    let login = usuario.trim().to_lowercase();
    let encontrado = store.credenciales(&login).await?;
    let (usuario, hash) = match encontrado {
        Some((u, h)) => (Some(u), Some(h)),
        None => (None, None),
    };
    // Always verify, even with no user: the answer takes the same time.
    let password_ok = verificar_password(password, hash).await;
    let usuario = match usuario {
        Some(u) if password_ok && u.activo => u,
        _ => {
            tracing::info!(usuario = %login, "login rechazado");
            return Err(AuthError::CredencialesInvalidas);
        }
    };

    let token = Token::generar();
    let creada = OffsetDateTime::now_utc();
    let expira = creada + ttl;
    store
        .crear_sesion(token.hash().as_str(), usuario.id, creada, expira)
        .await?;
    tracing::info!(usuario_id = %usuario.id, rol = %usuario.rol, "sesión iniciada");
    Ok(SesionIniciada {
        token,
        usuario,
        expira,
    })
}

/// The active user behind a token, if the session exists and has not expired.
pub async fn usuario_de_token(store: &Store, token: &Token) -> Result<Option<Usuario>, StoreError> {
    store
        .usuario_de_sesion(token.hash().as_str(), OffsetDateTime::now_utc())
        .await
}

pub async fn cerrar_sesion(store: &Store, token: &Token) -> Result<(), StoreError> {
    store.borrar_sesion(token.hash().as_str()).await
}
