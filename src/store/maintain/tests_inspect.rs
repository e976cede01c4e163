//! Inspect report tests.
