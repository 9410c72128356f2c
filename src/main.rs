//! The `gastown` binary: CLI entry point.
fn main() {}
