//! Logging (tracing) set-up. Prometheus metrics live in `metrics`.
//!
//! Owns: the process-wide tracing subscriber: `RUST_LOG` filters (default `info`), text or
//! JSON lines (`sluice serve --log-format text|json`) on stderr.

use tracing_subscriber::filter::{LevelFilter, Targets};

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
/// `EnvFilter`'s span and field directives: that feature builds the regex engine's full DFAs
/// into the binary, which then makes every regex the query front-ends compile several times
/// slower to compile.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = match std::env::var("RUST_LOG") {
        Ok(v) => log_filter(&v).unwrap_or_else(|e| {
            eprintln!("sluice: ignoring RUST_LOG={v:?} ({e}); logging at info");
            default_filter()
        }),
        Err(_) => default_filter(),
    };
    let builder = builder().with_writer(std::io::stderr);
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

/// The subscriber's builder, before its writer and format. Its own maximum level (info
/// without EnvFilter) would cap the filter's, so it lets everything through to the filter.
fn builder() -> tracing_subscriber::fmt::SubscriberBuilder {
    tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_target(false)
}

fn default_filter() -> Targets {
    Targets::new().with_default(LevelFilter::INFO)
}

/// `RUST_LOG`'s comma-separated `level` and `target=level` directives; empty ones (a trailing
/// comma) are skipped. Span and field directives (`target[span{field=x}]=level`) are refused:
/// `Targets` would read them as a target that matches nothing.
fn log_filter(value: &str) -> Result<Targets, String> {
    let directives: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    if directives.is_empty() {
        return Ok(default_filter());
    }
    if let Some(d) = directives.iter().find(|d| d.contains(['[', '{'])) {
        return Err(format!("span and field filters are not supported: {d}"));
    }
    directives
        .join(",")
        .parse::<Targets>()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use tracing::Level;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Whether an event of `level` from `target` passes the subscriber `init_logging` builds.
    fn logs(rust_log: &str, target: &str, level: Level) -> bool {
        let filter = log_filter(rust_log).expect("valid");
        let subscriber = builder().with_writer(std::io::sink).finish().with(filter);
        tracing::subscriber::with_default(subscriber, || {
            tracing::dispatcher::get_default(|d| {
                d.enabled(&tracing::Metadata::new(
                    "probe",
                    target,
                    level,
                    None,
                    None,
                    None,
                    tracing::field::FieldSet::new(&[], tracing::callsite::Identifier(&PROBE)),
                    tracing::metadata::Kind::EVENT,
                ))
            })
        })
    }

    struct Probe;
    impl tracing::Callsite for Probe {
        fn set_interest(&self, _: tracing::subscriber::Interest) {}
        fn metadata(&self) -> &tracing::Metadata<'_> {
            unreachable!("not registered")
        }
    }
    static PROBE: Probe = Probe;

    #[test]
    fn rust_log_levels_reach_debug_and_stay_per_target() {
        assert!(logs("sluice=debug", "sluice::http", Level::DEBUG));
        assert!(!logs("sluice=debug", "hyper", Level::ERROR));
        assert!(logs("warn,sluice=trace", "sluice", Level::TRACE));
        assert!(logs("warn,sluice=trace", "hyper", Level::WARN));
        assert!(!logs("warn,sluice=trace", "hyper", Level::INFO));
        assert!(
            logs("info,", "sluice", Level::INFO),
            "a trailing comma is no directive"
        );
        assert!(logs("", "sluice", Level::INFO), "empty is the default");
        assert!(!logs("", "sluice", Level::DEBUG));
        assert!(log_filter("sluice[req]=debug").is_err());
        assert!(log_filter("sluice[{id=1}]=debug").is_err());
        assert!(log_filter("sluice=loud").is_err());
    }
}
