//! Logging (tracing) set-up. Prometheus metrics live in `metrics`.
//!
//! Owns: the process-wide tracing subscriber: `RUST_LOG` filters (default `info`), text or
//! JSON lines (`sluice serve --log-format text|json`) on stderr.

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (colours on a terminal).
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, ...).
    Json,
}

/// Installs the global tracing subscriber (logs to stderr). Safe to call more than once.
///
/// `RUST_LOG` is read as per-target levels (`info`, `warn,sluice=debug`), without
/// `EnvFilter`'s span-field regexes: that feature builds the regex engine's full DFAs into
/// the binary, which then makes every regex the query front-ends compile several times slower
/// to compile.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .finish()
            .with(filter)
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_ansi(false)
            .finish()
            .with(filter)
            .try_init(),
    };
}
