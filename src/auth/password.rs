//! Password hashing with argon2id, off the async workers (a hash costs tens of
//! milliseconds on purpose).

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::modelo::Password;

/// Hashed against when the user does not exist, so that an unknown user takes
/// as long as a wrong password.
static HASH_SENUELO: LazyLock<String> =
    LazyLock::new(|| hash_sync("señuelo-que-nadie-usa").expect("argon2 with default params"));

/// Hashes running at once: one per core. Each takes 19 MiB and a core for
/// tens of milliseconds; a burst of logins (every screen of a sucursal after
/// a restart) queues here instead of filling the blocking pool's threads —
/// whose allocator keeps that memory for good — and starving the sockets.
static TURNOS_DE_HASH: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// Runs one argon2 computation off the async workers, in its turn.
async fn en_su_turno<T: Send + 'static>(calculo: impl FnOnce() -> T + Send + 'static) -> T {
    let _turno = TURNOS_DE_HASH.acquire().await.expect("never closed");
    tokio::task::spawn_blocking(calculo)
        .await
        .expect("the hashing task does not panic")
}

/// Computes the decoy hash now, at startup, instead of in the first login of
/// an unknown user, which would otherwise take twice as long as any other.
pub async fn preparar_senuelo() {
    en_su_turno(|| {
        LazyLock::force(&HASH_SENUELO);
    })
    .await;
}

pub async fn hash_password(password: &Password) -> Result<String, argon2::password_hash::Error> {
    let password = password.expose().to_owned();
    en_su_turno(move || hash_sync(&password)).await
}

/// Verifies `password` against `hash`, or against a decoy when there is no user.
pub async fn verificar_password(password: String, hash: Option<String>) -> bool {
    en_su_turno(move || {
        let hash = hash.as_deref().unwrap_or(HASH_SENUELO.as_str());
        PasswordHash::new(hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
}

fn hash_sync(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn un_hash_verifica_su_password_y_no_otra() {
        let p = Password::parse("contraseña-buena".into()).unwrap();
        let hash = hash_password(&p).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verificar_password("contraseña-buena".into(), Some(hash.clone())).await);
        assert!(!verificar_password("contraseña-mala".into(), Some(hash)).await);
        assert!(!verificar_password("contraseña-buena".into(), None).await);
    }
}
