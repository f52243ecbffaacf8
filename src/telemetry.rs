//! Logging: `tracing` to stderr, as text or JSON lines, filtered by `RUST_LOG`.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// What is logged when `RUST_LOG` says nothing.
const FILTRO_POR_DEFECTO: &str = "info,sqlx=warn,actix_server=warn";

/// Installs the global subscriber; a second call (as in tests) is a no-op.
pub fn init(format: LogFormat) {
    let filtro =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(FILTRO_POR_DEFECTO));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filtro)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
