//! The rate limits on what one client may ask of the hub: frames per second
//! per socket ([`LimiteDeMensajes`]) and writes per second per `servicio`
//! token ([`LimitePorToken`]). Both are token buckets — governor's GCRA,
//! which is a token bucket kept as one timestamp — so that a burst is
//! absorbed and only a sustained excess is refused. (The third limit, open
//! sockets per user, is a count the `Dispatcher` keeps: see `Admitir`.)

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::auth::TokenHash;

/// What to do with a client frame, by the rule of [`LimiteDeMensajes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Veredicto {
    /// Within the budget: handle it.
    Pasa,
    /// The first frame over the budget: drop it and answer
    /// `{"type":"error","codigo":"demasiados_mensajes",…}`.
    Avisar,
    /// Over the budget again after the warning: drop it, silently.
    Descartar,
    /// Still going after the warning: close the socket with 1008.
    Cerrar,
}

/// Frames per second one socket may send.
///
/// The rule, exactly:
/// - every text, binary or ping frame from the client takes a token from a
///   bucket of `rafaga` tokens that refills at `por_segundo` tokens per
///   second (pongs and the close frame are free: they answer the server);
/// - a frame that finds the bucket empty is not handled. The first such
///   frame is answered with an `error` frame of código `demasiados_mensajes`
///   and puts the socket on warning;
/// - on warning, dropped frames are counted: when `rafaga` more have been
///   dropped after the one that was answered, the socket is closed with
///   1008 (policy violation);
/// - the warning is lifted once the client goes as long as the bucket takes
///   to refill (`rafaga / por_segundo`) without a dropped frame.
///
/// A page sends one `reanudar` per connection and a `ping` every 5 s, so
/// it never comes near the defaults (20/s, bursts of 40): they only stop
/// a runaway script from making the server parse — and, for a publish,
/// write — without bound.
pub struct LimiteDeMensajes<C: Clock = DefaultClock> {
    cubeta: RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<C::Instant>>,
    rafaga: u32,
    /// How long a full refill takes: the quiet that lifts a warning.
    perdon: Duration,
    aviso: Option<Aviso<C::Instant>>,
}

struct Aviso<I> {
    /// Frames dropped since the warning, the answered one included.
    descartados: u32,
    ultimo: I,
}

impl LimiteDeMensajes {
    pub fn new(por_segundo: NonZeroU32, rafaga: NonZeroU32) -> Self {
        Self::con_reloj(por_segundo, rafaga, DefaultClock::default())
    }
}

impl<C: Clock> LimiteDeMensajes<C> {
    /// On a clock of the caller's choice (tests use a fake one).
    pub fn con_reloj(por_segundo: NonZeroU32, rafaga: NonZeroU32, reloj: C) -> Self {
        let cuota = Quota::per_second(por_segundo).allow_burst(rafaga);
        Self {
            cubeta: RateLimiter::direct_with_clock(cuota, reloj),
            rafaga: rafaga.get(),
            perdon: cuota.burst_size_replenished_in(),
            aviso: None,
        }
    }

    /// Counts one client frame and says what to do with it.
    pub fn contar(&mut self) -> Veredicto {
        let ahora = self.cubeta.clock().now();
        if let Some(aviso) = &self.aviso
            && Duration::from(ahora.duration_since(aviso.ultimo)) >= self.perdon
        {
            self.aviso = None;
        }
        if self.cubeta.check().is_ok() {
            return Veredicto::Pasa;
        }
        match &mut self.aviso {
            None => {
                self.aviso = Some(Aviso {
                    descartados: 1,
                    ultimo: ahora,
                });
                Veredicto::Avisar
            }
            Some(aviso) => {
                aviso.descartados += 1;
                aviso.ultimo = ahora;
                if aviso.descartados > self.rafaga {
                    Veredicto::Cerrar
                } else {
                    Veredicto::Descartar
                }
            }
        }
    }
}

/// Keys kept before the idle ones are swept: a key whose bucket is full
/// again holds nothing worth keeping.
const CLAVES_ANTES_DE_BARRER: usize = 1024;

/// Writes per second per `servicio` token, shared by every HTTP worker: a
/// bucket of `rafaga` tokens per login, refilled at `por_segundo`. A write
/// that finds it empty is refused with 429 and told when to retry; other
/// tokens, and every other role, are not touched.
pub struct LimitePorToken<C: Clock = DefaultClock> {
    cubetas: RateLimiter<String, DefaultKeyedStateStore<String>, C, NoOpMiddleware<C::Instant>>,
}

impl LimitePorToken {
    pub fn new(por_segundo: NonZeroU32, rafaga: NonZeroU32) -> Self {
        Self::con_reloj(por_segundo, rafaga, DefaultClock::default())
    }
}

impl<C: Clock> LimitePorToken<C> {
    pub fn con_reloj(por_segundo: NonZeroU32, rafaga: NonZeroU32, reloj: C) -> Self {
        let cuota = Quota::per_second(por_segundo).allow_burst(rafaga);
        Self {
            cubetas: RateLimiter::dashmap_with_clock(cuota, reloj),
        }
    }

    /// Takes a token for one write of `token`, or answers how long until
    /// one is there.
    pub fn permitir(&self, token: &TokenHash) -> Result<(), Duration> {
        if self.cubetas.len() > CLAVES_ANTES_DE_BARRER {
            self.cubetas.retain_recent();
        }
        self.cubetas
            .check_key(&token.as_str().to_owned())
            .map_err(|no| no.wait_time_from(self.cubetas.clock().now()))
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;
    use crate::auth::Token;

    fn n(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    fn contar(limite: &mut LimiteDeMensajes<FakeRelativeClock>, veces: u32) -> Vec<Veredicto> {
        (0..veces).map(|_| limite.contar()).collect()
    }

    #[test]
    fn una_rafaga_pasa_y_el_primer_exceso_se_avisa() {
        let reloj = FakeRelativeClock::default();
        let mut limite = LimiteDeMensajes::con_reloj(n(20), n(40), reloj);
        assert!(
            contar(&mut limite, 40)
                .iter()
                .all(|v| *v == Veredicto::Pasa)
        );
        assert_eq!(limite.contar(), Veredicto::Avisar);
        assert_eq!(limite.contar(), Veredicto::Descartar);
    }

    #[test]
    fn quien_sigue_tras_el_aviso_se_cierra_al_agotar_otra_rafaga() {
        let reloj = FakeRelativeClock::default();
        let mut limite = LimiteDeMensajes::con_reloj(n(20), n(40), reloj);
        contar(&mut limite, 40);
        assert_eq!(limite.contar(), Veredicto::Avisar);
        let siguientes = contar(&mut limite, 40);
        assert!(siguientes[..39].iter().all(|v| *v == Veredicto::Descartar));
        assert_eq!(siguientes[39], Veredicto::Cerrar);
    }

    #[test]
    fn el_ritmo_sostenido_pasa_siempre() {
        let reloj = FakeRelativeClock::default();
        let mut limite = LimiteDeMensajes::con_reloj(n(20), n(40), reloj.clone());
        for _ in 0..1000 {
            assert_eq!(limite.contar(), Veredicto::Pasa);
            reloj.advance(Duration::from_millis(50));
        }
    }

    #[test]
    fn el_doble_del_ritmo_termina_cerrado_aunque_a_ratos_pase() {
        let reloj = FakeRelativeClock::default();
        let mut limite = LimiteDeMensajes::con_reloj(n(20), n(40), reloj.clone());
        let mut veredictos = Vec::new();
        for _ in 0..1000 {
            let v = limite.contar();
            veredictos.push(v);
            if v == Veredicto::Cerrar {
                break;
            }
            reloj.advance(Duration::from_millis(25));
        }
        assert_eq!(veredictos.last(), Some(&Veredicto::Cerrar));
        assert_eq!(
            veredictos
                .iter()
                .filter(|v| **v == Veredicto::Avisar)
                .count(),
            1
        );
    }

    #[test]
    fn tras_una_pausa_larga_el_aviso_se_levanta() {
        let reloj = FakeRelativeClock::default();
        let mut limite = LimiteDeMensajes::con_reloj(n(20), n(40), reloj.clone());
        contar(&mut limite, 41);
        contar(&mut limite, 30);
        // Two seconds refill the bucket and forgive the excess.
        reloj.advance(Duration::from_secs(2));
        assert!(
            contar(&mut limite, 40)
                .iter()
                .all(|v| *v == Veredicto::Pasa)
        );
        assert_eq!(
            limite.contar(),
            Veredicto::Avisar,
            "a new warning, not a close"
        );
    }

    #[test]
    fn cada_token_tiene_su_cubeta_y_se_dice_cuando_reintentar() {
        let reloj = FakeRelativeClock::default();
        let limite = LimitePorToken::con_reloj(n(50), n(100), reloj.clone());
        let (bot, otro) = (Token::generar().hash(), Token::generar().hash());
        for _ in 0..100 {
            assert_eq!(limite.permitir(&bot), Ok(()));
        }
        let espera = limite.permitir(&bot).unwrap_err();
        assert!(
            espera > Duration::ZERO && espera <= Duration::from_millis(20),
            "{espera:?}"
        );
        assert_eq!(
            limite.permitir(&otro),
            Ok(()),
            "another token is not touched"
        );
        reloj.advance(Duration::from_millis(20));
        assert_eq!(limite.permitir(&bot), Ok(()));
        assert!(limite.permitir(&bot).is_err());
    }
}
