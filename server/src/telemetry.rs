//! Logging: tracing to stderr, filtered by `RUST_LOG` (default `info`). `RUST_LOG_FORMAT=json`
//! writes one JSON object per line (for a log collector) instead of text. Every line logged
//! while serving a request carries the request's span: method, route template and request ID.
//!
//! The switch is not `RA_PORTAL_LOG_FORMAT`: every `RA_PORTAL_*` variable is a setting of the
//! configuration, which refuses names it does not know.

use tracing_subscriber::EnvFilter;

/// Installs the log subscriber once; later calls (tests) are ignored.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("RUST_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
