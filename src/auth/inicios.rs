//! Successful logins per account: a token bucket per account id, in this
//! node's memory, that a login takes from *before* its password is
//! verified and gives back if the login fails.
//!
//! The failed-login lockout (`intentos.rs`) stops guessing; this stops an
//! account whose password is known — a runaway bot, a script, a leaked
//! password — from logging in without pause: every login costs an argon2
//! verification that every other user's login waits behind, and leaves a
//! session row. Taking the token before the verification means that past
//! the burst a flood is answered at once, with no argon2 work and without
//! saying whether its passwords were right; giving it back on a failure
//! means that wrong passwords never use up the account's logins.
//!
//! Like the lockout, each node counts on its own: behind `n` nodes an
//! account gets up to `n` times the allowance. Only accounts that exist get a
//! bucket, and a bucket that is full again is forgotten, so memory follows
//! the accounts that logged in lately.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::LoginSettings;
use crate::modelo::UsuarioId;

/// Buckets kept before the full ones are swept.
const ANTES_DE_BARRER: usize = 1024;

/// A login refused for the account's rate: the next one may come in
/// `reintentar_en`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frenado {
    pub reintentar_en: Duration,
}

/// The successful-login buckets of this node. Shared by every worker.
#[derive(Debug)]
pub struct Inicios {
    /// The time one token takes to come back.
    intervalo: Duration,
    /// The bucket's depth, as time: `rafaga` tokens.
    profundidad: Duration,
    /// Per account, when its bucket would be full again: the bucket is a
    /// single instant (GCRA), `profundidad` minus what is left in it.
    llenas_en: Mutex<HashMap<UsuarioId, Instant>>,
}

impl Inicios {
    /// `por_minuto` logins per account sustained, `rafaga` at once.
    pub fn new(por_minuto: NonZeroU32, rafaga: NonZeroU32) -> Self {
        let intervalo = Duration::from_secs(60) / por_minuto.get();
        Self {
            intervalo,
            profundidad: intervalo * rafaga.get(),
            llenas_en: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token of `cuenta` for a login about to be verified. The
    /// [`Reserva`] gives it back when dropped, unless the login succeeded
    /// ([`Reserva::confirmar`]).
    pub fn reservar(&self, cuenta: UsuarioId) -> Result<Reserva<'_>, Frenado> {
        self.reservar_en(cuenta, Instant::now())?;
        Ok(Reserva {
            inicios: self,
            cuenta,
            confirmada: false,
        })
    }

    fn reservar_en(&self, cuenta: UsuarioId, ahora: Instant) -> Result<(), Frenado> {
        let mut llenas_en = self
            .llenas_en
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if llenas_en.len() > ANTES_DE_BARRER {
            llenas_en.retain(|_, llena| *llena > ahora);
        }
        let llena = llenas_en.get(&cuenta).copied().unwrap_or(ahora).max(ahora);
        let despues = llena + self.intervalo;
        let usado = despues - ahora;
        if usado > self.profundidad {
            return Err(Frenado {
                reintentar_en: usado - self.profundidad,
            });
        }
        llenas_en.insert(cuenta, despues);
        Ok(())
    }

    fn devolver(&self, cuenta: UsuarioId) {
        let mut llenas_en = self
            .llenas_en
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(llena) = llenas_en.get_mut(&cuenta) {
            *llena = llena.checked_sub(self.intervalo).unwrap_or(*llena);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.llenas_en
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl From<&LoginSettings> for Inicios {
    fn from(s: &LoginSettings) -> Self {
        Self::new(s.exitos_por_minuto, s.exitos_rafaga)
    }
}

/// A token taken for one login: given back on drop unless confirmed.
#[must_use]
pub struct Reserva<'a> {
    inicios: &'a Inicios,
    cuenta: UsuarioId,
    confirmada: bool,
}

impl Reserva<'_> {
    /// The login succeeded: the token stays taken.
    pub fn confirmar(mut self) {
        self.confirmada = true;
    }
}

impl Drop for Reserva<'_> {
    fn drop(&mut self) {
        if !self.confirmada {
            self.inicios.devolver(self.cuenta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    const ANA: UsuarioId = UsuarioId(1);
    const BEA: UsuarioId = UsuarioId(2);

    #[test]
    fn una_rafaga_pasa_y_la_siguiente_espera_lo_que_tarda_un_token() {
        let inicios = Inicios::new(n(6), n(3));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(inicios.reservar_en(ANA, t0), Ok(()));
        }
        assert_eq!(
            inicios.reservar_en(ANA, t0),
            Err(Frenado {
                reintentar_en: Duration::from_secs(10)
            })
        );
        // Another account has its own bucket.
        assert_eq!(inicios.reservar_en(BEA, t0), Ok(()));
        let despues = t0 + Duration::from_secs(10);
        assert_eq!(inicios.reservar_en(ANA, despues), Ok(()));
        assert!(inicios.reservar_en(ANA, despues).is_err());
    }

    #[test]
    fn un_login_fallido_devuelve_su_token_y_uno_correcto_no() {
        let inicios = Inicios::new(n(1), n(2));
        for _ in 0..10 {
            drop(
                inicios
                    .reservar(ANA)
                    .expect("wrong passwords never use it up"),
            );
        }
        inicios.reservar(ANA).unwrap().confirmar();
        inicios.reservar(ANA).unwrap().confirmar();
        assert!(inicios.reservar(ANA).is_err());
    }

    #[test]
    fn mientras_se_verifican_las_reservas_cuentan() {
        let inicios = Inicios::new(n(1), n(2));
        let a = inicios.reservar(ANA).unwrap();
        let b = inicios.reservar(ANA).unwrap();
        assert!(
            inicios.reservar(ANA).is_err(),
            "a third login in flight waits"
        );
        drop(a);
        b.confirmar();
        assert!(inicios.reservar(ANA).is_ok());
    }

    #[test]
    fn las_cubetas_llenas_se_olvidan() {
        let inicios = Inicios::new(n(60), n(1));
        let t0 = Instant::now();
        for id in 0..=ANTES_DE_BARRER as i64 {
            inicios.reservar_en(UsuarioId(id), t0).unwrap();
        }
        assert_eq!(inicios.len(), ANTES_DE_BARRER + 1);
        inicios
            .reservar_en(UsuarioId(-1), t0 + Duration::from_secs(2))
            .unwrap();
        assert_eq!(inicios.len(), 1, "only the one just taken is not full");
    }
}
