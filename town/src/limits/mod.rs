//! Usage limits (issue 20): when a runtime's model API says its limit is hit, the CLI shows it
//! on its screen; gastown reads that line, works out when the limit resets, and keeps the
//! runtime **limited until T** so nothing is typed into its sessions and no new work is slung to
//! it until then (`docs/costs.md`, "Usage limits").
//!
//! - [`signals`]: the screen lines each preset's CLI shows for a hit limit (seen on the real CLIs
//!   against a scripted model where the harness could show them, else from the CLI's code).
//! - [`reset`]: the reset time in such a line (an absolute time, "try again in 2h 3m", an epoch);
//!   an unparsable or past reset is replaced by exponential backoff with a cap.
//! - [`store`]: the durable state, `<town>/.runtime/limits.json`, which survives a supervisor
//!   restart; the one gate ([`store::limited`]) every sender asks.

pub mod reset;
pub mod signals;
pub mod store;

pub use reset::{backoff, parse_reset, reset_after};
pub use store::{Limit, Limits};
