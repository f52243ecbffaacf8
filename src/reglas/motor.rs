//! The hardened Rhai engine every rule runs on: bounded operations, call
//! depth, expression depth and value sizes; no modules, no `eval`; `print`
//! and `debug` go to tracing.

use rhai::Engine;

/// Operations one rule call may take. A realistic rule takes a few hundred;
/// `loop {}` is stopped here in well under a millisecond.
pub const MAX_OPERACIONES: u64 = 50_000;

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
    engine.on_print(|texto| tracing::info!(target: "comanda::reglas", "print: {texto}"));
    engine.on_debug(|texto, fuente, pos| {
        tracing::debug!(target: "comanda::reglas", fuente = fuente.unwrap_or(""), linea = pos.line(), "debug: {texto}")
    });
    engine
}
