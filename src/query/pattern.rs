//! Regular expressions from query text (InfluxQL `/re/` literals, Flux regex literals),
//! compiled with one set of bounds, so that a hostile pattern costs a clean error rather than
//! the server's memory or time.
//!
//! Owns: the bounds. Does not own: the languages' error texts (each front-end words its own).

/// Most bytes a pattern's compiled program may take (the `regex` crate's `size_limit`).
pub const MAX_PROGRAM_BYTES: usize = 1 << 20;
/// Most bytes of the lazy DFA's cache per search (past it the engine falls back, slower).
pub const MAX_DFA_BYTES: usize = 1 << 20;
/// Deepest nesting of the pattern's syntax tree (each group, alternation, concatenation,
/// repetition and class is a level): the `regex` crate's default, stated here as a bound. A
/// Grafana multi-value variable, `/^(a|b)$/`, is 4 deep.
pub const MAX_NESTING: u32 = 250;

/// `src` compiled under the bounds above; unanchored, like InfluxDB's `=~`.
pub fn compile(src: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(src)
        .size_limit(MAX_PROGRAM_BYTES)
        .dfa_size_limit(MAX_DFA_BYTES)
        .nest_limit(MAX_NESTING)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bombs_and_deep_nesting_are_refused_and_dashboard_patterns_compile() {
        assert!(matches!(
            compile("(a{1000}){1000}"),
            Err(regex::Error::CompiledTooBig(_))
        ));
        let deep = format!("{}a{}", "(".repeat(300), ")".repeat(300));
        assert!(compile(&deep).is_err());
        let ok = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(compile(&ok).is_ok());
        assert!(compile(r"^(10\.0\.0\.1|10\.0\.0\.2)$").is_ok());
    }
}
