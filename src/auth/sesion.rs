//! Logging in and out: the domain side of `/api/login`, `/api/logout` and of
//! every authenticated request.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use time::OffsetDateTime;

use super::inicios::{Frenado, Inicios};
use super::revocacion::{MotivoCierre, sesion_cerrada};
use super::{Bloqueado, Huella, Intentos, Token, TokenHash, verificar_password};
use crate::modelo::Usuario;
use crate::store::{SesionVigente, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user, wrong password or inactive user: one answer for all three,
    /// so that nobody can probe which accounts exist.
    #[error("usuario o contraseña incorrectos")]
    CredencialesInvalidas,
    /// Too many failures for this user name or from this address: refused
    /// without looking at the password until the lockout ends.
    #[error("demasiados intentos fallidos")]
    DemasiadosIntentos(Bloqueado),
    /// Too many successful logins of this account lately: refused without
    /// looking at the password until its bucket has a token again.
    #[error("demasiados inicios de sesión de esta cuenta")]
    DemasiadosInicios(Frenado),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a login opens: how long it lasts, and how many logins its account
/// keeps (a newer one ends the oldest).
#[derive(Debug, Clone, Copy)]
pub struct Apertura {
    pub ttl: Duration,
    pub por_cuenta: NonZeroUsize,
}

/// A successful login: the token is shown to the client once, here.
#[derive(Debug)]
pub struct SesionIniciada {
    pub token: Token,
    pub usuario: Usuario,
    pub expira: OffsetDateTime,
    /// Older logins of the account that this one ended (the cap): their
    /// sockets must close, here and on every node.
    pub terminadas: Vec<TokenHash>,
}

/// Checks a login from `direccion` against the store, the failure counts of
/// [`Intentos`] and the account's pace in [`Inicios`]; on success opens a
/// session as `apertura` says.
#[tracing::instrument(skip(store, intentos, inicios, password, apertura))]
pub async fn iniciar_sesion(
    store: &Store,
    intentos: &Intentos,
    inicios: &Inicios,
    usuario: &str,
    password: String,
    direccion: IpAddr,
    apertura: Apertura,
) -> Result<SesionIniciada, AuthError> {
    let login = usuario.trim().to_lowercase();
    if let Err(b) = intentos.comprobar(&login, direccion) {
        tracing::warn!(usuario = %login, %direccion, "login bloqueado por intentos fallidos");
        return Err(AuthError::DemasiadosIntentos(b));
    }
    let encontrado = store.credenciales(&login).await?;
    // Before the hash is verified: past the account's burst a flood costs no
    // argon2 work, and the refusal says nothing about its passwords. A login
    // that fails gives its token back (the reservation's drop).
    let reserva = match &encontrado {
        Some((u, _)) => Some(inicios.reservar(u.id).map_err(|f| {
            tracing::warn!(usuario_id = %u.id, %direccion, "login frenado: demasiados inicios de esta cuenta");
            AuthError::DemasiadosInicios(f)
        })?),
        None => None,
    };
    let (usuario, hash) = match encontrado {
        Some((u, h)) => (Some(u), Some(h)),
        None => (None, None),
    };
    // Always verify, even with no user: the answer takes the same time.
    let password_ok = verificar_password(password, hash).await;
    let usuario = usuario.filter(|u| password_ok && u.activo);
    if let Err(b) = intentos.registrar(&login, direccion, usuario.is_some()) {
        tracing::warn!(usuario = %login, %direccion, "login bloqueado por intentos fallidos");
        return Err(AuthError::DemasiadosIntentos(b));
    }
    let Some(usuario) = usuario else {
        tracing::info!(usuario = %login, %direccion, "login rechazado");
        return Err(AuthError::CredencialesInvalidas);
    };

    let token = Token::generar();
    let creada = OffsetDateTime::now_utc();
    let expira = creada + apertura.ttl;
    let terminadas = store
        .abrir_sesion(
            token.hash().as_str(),
            usuario.id,
            creada,
            expira,
            apertura.por_cuenta.get(),
            |hash| {
                let huella = Huella::de_hash(hash);
                sesion_cerrada(&usuario, &huella, MotivoCierre::LimiteDeSesiones)
            },
        )
        .await?;
    if let Some(reserva) = reserva {
        reserva.confirmar();
    }
    if !terminadas.is_empty() {
        tracing::info!(usuario_id = %usuario.id, terminadas = terminadas.len(), "sesiones más viejas cerradas por el tope de la cuenta");
    }
    tracing::info!(usuario_id = %usuario.id, rol = %usuario.rol, "sesión iniciada");
    Ok(SesionIniciada {
        token,
        usuario,
        expira,
        terminadas: terminadas.into_iter().map(TokenHash::guardado).collect(),
    })
}

/// The login behind a token — its active user and its expiry — if it
/// exists and has not expired.
pub async fn usuario_de_token(
    store: &Store,
    token: &Token,
) -> Result<Option<SesionVigente>, StoreError> {
    store
        .usuario_de_sesion(token.hash().as_str(), OffsetDateTime::now_utc())
        .await
}

/// Logs `usuario` out of the login `token`: the row goes, and its
/// `sesion_cerrada` event tells every node to close that login's sockets.
pub async fn cerrar_sesion(
    store: &Store,
    usuario: &Usuario,
    token: &Token,
) -> Result<(), StoreError> {
    let hash = token.hash();
    let evento = sesion_cerrada(usuario, &hash.huella(), MotivoCierre::Logout);
    store.cerrar_sesion(hash.as_str(), evento).await?;
    Ok(())
}
