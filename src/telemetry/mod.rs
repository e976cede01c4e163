//! Logging (tracing) set-up. Prometheus metrics come with the limits issue.
//!
//! Owns: the process-wide tracing subscriber. `RUST_LOG` filters, default `info`.

/// Installs the global tracing subscriber (logs to stderr). Safe to call more than once.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
