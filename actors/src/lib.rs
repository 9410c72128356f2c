//! Gas Town's role actors and session actors (filled in by the `gastown run` work).
pub mod session;
