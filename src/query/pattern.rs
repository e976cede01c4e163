//! Regular expressions from query text (InfluxQL `/re/` literals, Flux regex literals),
//! compiled with one set of bounds, so that a hostile pattern costs a clean error rather than
//! the server's memory or time.
//!
//! Owns: the bounds. Does not own: the languages' error texts (each front-end words its own).

/// Most bytes a pattern's compiled program may take (the `regex` crate's `size_limit`).
pub const MAX_PROGRAM_BYTES: usize = 1 << 20;
/// Most bytes of the lazy DFA's cache per search (past it the engine falls back, slower).
pub const MAX_DFA_BYTES: usize = 1 << 20;
/// Deepest nesting of groups and repetitions; far past what any dashboard writes.
pub const MAX_NESTING: u32 = 64;

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
        let deep = format!("{}a{}", "(".repeat(65), ")".repeat(65));
        assert!(compile(&deep).is_err());
        let ok = format!("{}a{}", "(".repeat(60), ")".repeat(60));
        assert!(compile(&ok).is_ok());
        assert!(compile(r"^(10\.0\.0\.1|10\.0\.0\.2)$").is_ok());
    }
}
