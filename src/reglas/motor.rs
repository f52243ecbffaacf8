//! The hardened Rhai engine every rule runs on: bounded operations, running
//! and wall time, call depth, expression depth and value sizes; no modules,
//! no `eval`, no `sleep`; `print` and `debug` go to tracing.

use std::cell::Cell;
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, EvalAltResult};

/// Operations one rule call may take. A realistic rule takes a few hundred;
/// `loop {}` is stopped here in well under a millisecond.
pub const MAX_OPERACIONES: u64 = 50_000;

/// How often, in operations, a call looks at the clock. Reading it costs
/// ~20 ns; a shipped rule takes a few hundred operations and a few
/// microseconds, so every operation would double its cost. The costliest
/// single operations (a search in a 16 KiB string) take ~15 µs: a call is
/// stopped at most ~1 ms after its deadline.
const CADA_OPERACIONES: u64 = 64;

/// What [`EvalAltResult::ErrorTerminated`] carries when a call ran out of time.
const PLAZO_VENCIDO: &str = "plazo vencido";

/// How many times its deadline a call may last in wall-clock time, when
/// the machine gives its thread less than all of it (see [`con_plazo`]).
const TOPE_DE_PARED: u32 = 10;

/// When the call running on this thread must stop.
#[derive(Clone, Copy)]
struct Vence {
    /// By the thread's own running time.
    cpu: Duration,
    /// By the clock on the wall, whatever the machine does.
    pared: Instant,
}

thread_local! {
    static VENCE: Cell<Option<Vence>> = const { Cell::new(None) };
}

/// The running time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
fn tiempo_del_hilo() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill; the clock id is
    // a constant every Linux kernel has.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    if r != 0 {
        return Duration::ZERO;
    }
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

impl Vence {
    fn vencido(self) -> bool {
        Instant::now() >= self.pared || tiempo_del_hilo() >= self.cpu
    }
}

/// Runs `f` (one rule call) with a deadline: past `plazo` of this thread's
/// running time — or `plazo` × [`TOPE_DE_PARED`] on the wall clock, however
/// little of it the thread ran — the script is stopped at its next
/// operation count check. A rule is charged for its own work: on a machine
/// busy with a fan-out its thread may wait for a core, and a rule that
/// takes microseconds must not time out for it; a rule that runs for its
/// whole deadline is stopped on time either way.
pub fn con_plazo<T>(plazo: Duration, f: impl FnOnce() -> T) -> T {
    struct Limpiar;
    impl Drop for Limpiar {
        fn drop(&mut self) {
            VENCE.with(|v| v.set(None));
        }
    }
    let vence = Vence {
        cpu: tiempo_del_hilo() + plazo,
        pared: Instant::now() + plazo * TOPE_DE_PARED,
    };
    VENCE.with(|v| v.set(Some(vence)));
    let _limpiar = Limpiar;
    f()
}

/// Whether a call stopped because its deadline passed.
pub fn plazo_vencido(error: &EvalAltResult) -> bool {
    matches!(error, EvalAltResult::ErrorTerminated(token, _)
        if token.clone().into_immutable_string().is_ok_and(|t| t == PLAZO_VENCIDO))
}

pub fn motor() -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(MAX_OPERACIONES)
        .set_max_call_levels(16)
        .set_max_expr_depths(64, 32)
        .set_max_string_size(16 * 1024)
        .set_max_array_size(256)
        .set_max_map_size(256)
        .set_max_modules(0)
        .set_max_functions(64)
        .set_max_variables(128)
        .set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new())
        .disable_symbol("eval");
    // `sleep` blocks the thread and no operation is counted while it does:
    // the standard package's two versions are shadowed by ones that refuse.
    engine
        .register_fn("sleep", |_: rhai::INT| -> Result<(), Box<EvalAltResult>> {
            Err(sin_sleep())
        })
        .register_fn(
            "sleep",
            |_: rhai::FLOAT| -> Result<(), Box<EvalAltResult>> { Err(sin_sleep()) },
        );
    engine.on_progress(|operaciones| {
        if operaciones % CADA_OPERACIONES != 0 {
            return None;
        }
        let vencido = VENCE.with(|v| v.get().is_some_and(Vence::vencido));
        vencido.then(|| Dynamic::from(PLAZO_VENCIDO))
    });
    engine.on_print(|texto| tracing::info!(target: "comanda::reglas", "print: {texto}"));
    engine.on_debug(|texto, fuente, pos| {
        tracing::debug!(target: "comanda::reglas", fuente = fuente.unwrap_or(""), linea = pos.line(), "debug: {texto}")
    });
    engine
}

fn sin_sleep() -> Box<EvalAltResult> {
    "sleep no está disponible en las reglas: una regla decide, no espera".into()
}
