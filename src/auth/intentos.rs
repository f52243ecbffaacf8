//! Login abuse: failed logins counted per user name and per client address,
//! and the lockout that follows too many of them.
//!
//! The counts live in this node's memory. Several nodes behind a load
//! balancer each count on their own, so a guesser spread over `n` nodes gets
//! up to `n` times the allowance; that is still a handful of guesses per
//! window against an argon2id hash, and it keeps a login free of a store
//! write. Memory is bounded: a record whose window and lockout are over is
//! dropped, and the map never holds more than its capacity.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::LoginSettings;

/// Records kept at most (per user name and per address together): about
/// 10 MiB at worst. Past it the stalest records are dropped first.
pub const CAPACIDAD: usize = 65_536;

/// Longest user name kept as a key: no valid login is longer (see
/// `modelo::usuario`), and a huge body must not become a huge key.
const LARGO_MAXIMO: usize = 64;

/// How many failures lock out, within which window, for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limites {
    pub por_usuario: u32,
    pub por_direccion: u32,
    pub ventana: Duration,
    pub bloqueo: Duration,
}

impl From<&LoginSettings> for Limites {
    fn from(s: &LoginSettings) -> Self {
        Self {
            por_usuario: s.fallos_por_usuario,
            por_direccion: s.fallos_por_direccion,
            ventana: s.ventana,
            bloqueo: s.bloqueo,
        }
    }
}

/// A login refused without looking at the password: the user name or the
/// address is locked out for `reintentar_en` more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bloqueado {
    pub reintentar_en: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Clave {
    Usuario(Box<str>),
    Direccion(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Registro {
    fallos: u32,
    /// The first failure of the current window.
    desde: Instant,
    bloqueado_hasta: Option<Instant>,
}

impl Registro {
    fn bloqueo_restante(&self, ahora: Instant) -> Option<Duration> {
        self.bloqueado_hasta
            .filter(|hasta| *hasta > ahora)
            .map(|hasta| hasta - ahora)
    }

    /// Over: its lockout has ended, or, never locked, its window has passed.
    /// A failure after it starts a fresh count; the map may forget it.
    fn caducado(&self, ahora: Instant, ventana: Duration) -> bool {
        match self.bloqueado_hasta {
            Some(hasta) => hasta <= ahora,
            None => ahora.duration_since(self.desde) >= ventana,
        }
    }
}

/// The failed-login counters of this node. Shared by every worker.
#[derive(Debug)]
pub struct Intentos {
    limites: Limites,
    capacidad: usize,
    registros: Mutex<HashMap<Clave, Registro>>,
}

impl Intentos {
    pub fn new(limites: Limites, capacidad: usize) -> Self {
        Self {
            limites,
            capacidad: capacidad.max(2),
            registros: Mutex::new(HashMap::new()),
        }
    }

    /// Before the password is looked at: refuses while the user name or the
    /// address is locked out, so that a locked-out guesser costs no hash.
    pub fn comprobar(&self, usuario: &str, direccion: IpAddr) -> Result<(), Bloqueado> {
        self.comprobar_en(usuario, direccion, Instant::now())
    }

    /// After the password was checked. A lockout that began meanwhile (other
    /// guesses finishing first) wins over the result, right or wrong, so that
    /// a burst of parallel guesses learns nothing past the limit. Otherwise a
    /// success clears the user name's failures (not the address's: one valid
    /// account must not buy more guesses at others); a failure counts for
    /// both, and the one that reaches a limit starts the lockout.
    pub fn registrar(
        &self,
        usuario: &str,
        direccion: IpAddr,
        exito: bool,
    ) -> Result<(), Bloqueado> {
        self.registrar_en(usuario, direccion, exito, Instant::now())
    }

    fn comprobar_en(
        &self,
        usuario: &str,
        direccion: IpAddr,
        ahora: Instant,
    ) -> Result<(), Bloqueado> {
        let registros = self
            .registros
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        bloqueo(&registros, &claves(usuario, direccion), ahora)
    }

    fn registrar_en(
        &self,
        usuario: &str,
        direccion: IpAddr,
        exito: bool,
        ahora: Instant,
    ) -> Result<(), Bloqueado> {
        let [usuario, direccion] = claves(usuario, direccion);
        let mut registros = self
            .registros
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        bloqueo(&registros, &[usuario.clone(), direccion.clone()], ahora)?;
        if exito {
            registros.remove(&usuario);
            return Ok(());
        }
        self.hacer_sitio(&mut registros, ahora);
        for (clave, limite) in [
            (usuario, self.limites.por_usuario),
            (direccion, self.limites.por_direccion),
        ] {
            let registro = registros.entry(clave).or_insert(Registro {
                fallos: 0,
                desde: ahora,
                bloqueado_hasta: None,
            });
            if registro.caducado(ahora, self.limites.ventana) {
                *registro = Registro {
                    fallos: 0,
                    desde: ahora,
                    bloqueado_hasta: None,
                };
            }
            registro.fallos += 1;
            if registro.fallos >= limite {
                registro.bloqueado_hasta = Some(ahora + self.limites.bloqueo);
            }
        }
        Ok(())
    }

    /// Keeps room for two more records: first forgets the expired ones; if
    /// the map is still full (a flood of names from many addresses), drops
    /// the eighth that matters least — records not locked out before locked
    /// ones, then the oldest — so that the cost is paid once per many inserts.
    fn hacer_sitio(&self, registros: &mut HashMap<Clave, Registro>, ahora: Instant) {
        if registros.len() + 2 <= self.capacidad {
            return;
        }
        let ventana = self.limites.ventana;
        registros.retain(|_, r| !r.caducado(ahora, ventana));
        if registros.len() + 2 <= self.capacidad {
            return;
        }
        let mut orden: Vec<(bool, Instant, Clave)> = registros
            .iter()
            .map(|(c, r)| {
                let fin = r.bloqueado_hasta.unwrap_or(r.desde);
                (r.bloqueo_restante(ahora).is_some(), fin, c.clone())
            })
            .collect();
        orden.sort_unstable_by_key(|(bloqueado, fin, _)| (*bloqueado, *fin));
        let sobran = (registros.len() + 2 - self.capacidad).max(self.capacidad / 8);
        for (_, _, clave) in orden.into_iter().take(sobran) {
            registros.remove(&clave);
        }
        tracing::warn!(
            registros = registros.len(),
            "demasiados registros de intentos de login: se olvidan los más viejos"
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.registros
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The longest lockout among `claves`, if any is locked out.
fn bloqueo(
    registros: &HashMap<Clave, Registro>,
    claves: &[Clave],
    ahora: Instant,
) -> Result<(), Bloqueado> {
    let restante = claves
        .iter()
        .filter_map(|c| registros.get(c)?.bloqueo_restante(ahora))
        .max();
    match restante {
        Some(reintentar_en) => Err(Bloqueado { reintentar_en }),
        None => Ok(()),
    }
}

/// The user name as a login compares it (trimmed, lower case, at most
/// [`LARGO_MAXIMO`] characters), and the address. An IPv6 client is counted
/// by its /64, which one subscriber usually holds whole.
fn claves(usuario: &str, direccion: IpAddr) -> [Clave; 2] {
    let usuario: String = usuario
        .trim()
        .to_lowercase()
        .chars()
        .take(LARGO_MAXIMO)
        .collect();
    let direccion = match direccion.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    };
    [
        Clave::Usuario(usuario.into_boxed_str()),
        Clave::Direccion(direccion),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTO: Duration = Duration::from_secs(60);

    fn intentos(capacidad: usize) -> Intentos {
        Intentos::new(
            Limites {
                por_usuario: 3,
                por_direccion: 5,
                ventana: 10 * MINUTO,
                bloqueo: 5 * MINUTO,
            },
            capacidad,
        )
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn el_fallo_que_llega_al_limite_bloquea_durante_el_bloqueo() {
        let i = intentos(CAPACIDAD);
        let t0 = Instant::now();
        for n in 0..3 {
            assert_eq!(
                i.comprobar_en("ana", ip("10.0.0.1"), t0),
                Ok(()),
                "intento {n}"
            );
            assert_eq!(i.registrar_en("ana", ip("10.0.0.1"), false, t0), Ok(()));
        }
        let bloqueado = i.comprobar_en(" ANA ", ip("10.0.0.2"), t0 + MINUTO);
        assert_eq!(
            bloqueado,
            Err(Bloqueado {
                reintentar_en: 4 * MINUTO
            })
        );
        // Even a right password, checked while the lockout began.
        assert!(
            i.registrar_en("ana", ip("10.0.0.2"), true, t0 + MINUTO)
                .is_err()
        );
        assert_eq!(
            i.comprobar_en("ana", ip("10.0.0.1"), t0 + 5 * MINUTO),
            Ok(())
        );
        // Another user from the same address is not locked (3 < 5).
        assert_eq!(i.comprobar_en("bea", ip("10.0.0.1"), t0), Ok(()));
    }

    #[test]
    fn los_fallos_fuera_de_la_ventana_no_suman() {
        let i = intentos(CAPACIDAD);
        let t0 = Instant::now();
        i.registrar_en("ana", ip("10.0.0.1"), false, t0).unwrap();
        i.registrar_en("ana", ip("10.0.0.1"), false, t0).unwrap();
        let despues = t0 + 11 * MINUTO;
        i.registrar_en("ana", ip("10.0.0.1"), false, despues)
            .unwrap();
        assert_eq!(i.comprobar_en("ana", ip("10.0.0.1"), despues), Ok(()));
    }

    #[test]
    fn un_exito_borra_los_fallos_del_usuario_y_no_los_de_la_direccion() {
        let i = intentos(CAPACIDAD);
        let t0 = Instant::now();
        for _ in 0..2 {
            i.registrar_en("ana", ip("10.0.0.1"), false, t0).unwrap();
        }
        i.registrar_en("ana", ip("10.0.0.1"), true, t0).unwrap();
        for _ in 0..2 {
            i.registrar_en("ana", ip("10.0.0.1"), false, t0).unwrap();
        }
        assert_eq!(i.comprobar_en("ana", ip("10.0.0.1"), t0), Ok(()));
        // The address kept all four; the fifth locks it for everyone.
        i.registrar_en("bea", ip("10.0.0.1"), false, t0).unwrap();
        assert!(i.comprobar_en("carla", ip("10.0.0.1"), t0).is_err());
        assert_eq!(i.comprobar_en("carla", ip("10.0.0.9"), t0), Ok(()));
    }

    #[test]
    fn una_red_ipv6_cuenta_como_una_direccion() {
        let i = intentos(CAPACIDAD);
        let t0 = Instant::now();
        for n in 0..5 {
            let direccion = ip(&format!("2001:db8:1:2::{n}"));
            i.registrar_en(&format!("u{n}"), direccion, false, t0)
                .unwrap();
        }
        assert!(
            i.comprobar_en("otro", ip("2001:db8:1:2:ffff::1"), t0)
                .is_err()
        );
        assert_eq!(i.comprobar_en("otro", ip("2001:db8:1:3::1"), t0), Ok(()));
    }

    #[test]
    fn la_memoria_tiene_tope() {
        let i = intentos(64);
        let t0 = Instant::now();
        for n in 0..1000u32 {
            let [_, _, a, b] = n.to_be_bytes();
            i.registrar_en(
                &format!("nombre{n}"),
                IpAddr::from([10, 0, a, b]),
                false,
                t0,
            )
            .unwrap();
            assert!(i.len() <= 64, "{} registros", i.len());
        }
    }

    #[test]
    fn lo_caducado_se_olvida_cuando_falta_sitio() {
        let i = intentos(10);
        let t0 = Instant::now();
        for n in 0..4u8 {
            i.registrar_en(&format!("u{n}"), IpAddr::from([10, 0, 0, n]), false, t0)
                .unwrap();
        }
        assert_eq!(i.len(), 8);
        let tarde = t0 + 11 * MINUTO;
        i.registrar_en("v1", ip("10.1.0.1"), false, tarde).unwrap();
        assert_eq!(i.len(), 10);
        i.registrar_en("v2", ip("10.1.0.2"), false, tarde).unwrap();
        assert_eq!(i.len(), 4, "solo quedan los de la ventana en curso");
    }

    #[test]
    fn tras_el_bloqueo_la_cuenta_empieza_de_nuevo() {
        let i = intentos(CAPACIDAD);
        let t0 = Instant::now();
        for _ in 0..3 {
            i.registrar_en("ana", ip("10.0.0.1"), false, t0).unwrap();
        }
        let libre = t0 + 6 * MINUTO;
        i.registrar_en("ana", ip("10.0.0.2"), false, libre).unwrap();
        assert_eq!(i.comprobar_en("ana", ip("10.0.0.2"), libre), Ok(()));
    }

    #[test]
    fn un_nombre_enorme_no_es_una_clave_enorme() {
        let [Clave::Usuario(u), _] = claves(&"x".repeat(60_000), ip("10.0.0.1")) else {
            panic!("la primera clave es el usuario");
        };
        assert_eq!(u.len(), LARGO_MAXIMO);
    }
}
