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
//!   restart, keyed by runtime, or by `<runtime>/<account>` for a runtime with accounts
//!   (`crate::runtimes::accounts`); [`runtime_limited`] is the one gate every sender asks.

pub mod reset;
pub mod signals;
pub mod store;

pub use reset::{backoff, parse_reset, reset_after};
pub use store::{Limit, Limits};

use crate::town::Town;

/// The gate: the limit holding now for `runtime` in `town`, if any. Every sender asks it
/// (sling, the supervisor's resume); a missing or unreadable state file limits nothing. A
/// runtime with accounts is limited only while every account that can take a session is (the
/// limit that ends first is returned).
pub fn runtime_limited(town: &Town, runtime: &str) -> Option<Limit> {
    let limits = Limits::load(&town.runtime_dir()).ok()?;
    let accounts = usable_accounts(town, runtime);
    limits
        .runtime_holding(runtime, &accounts, std::time::SystemTime::now())
        .cloned()
}

/// The names of `runtime`'s accounts that can take a session (their key variable is set in this
/// process's environment); none for a runtime without accounts or one that does not resolve.
pub fn usable_accounts(town: &Town, runtime: &str) -> Vec<String> {
    // The program path matters only to `sim`'s command line, not to its accounts.
    crate::runtimes::by_name(town, runtime, std::path::Path::new("gastown"))
        .map(|rt| usable_account_names(&rt))
        .unwrap_or_default()
}

/// The names of `runtime`'s accounts whose key variable is set in this process's environment.
pub fn usable_account_names(runtime: &crate::runtimes::spec::Runtime) -> Vec<String> {
    let var = |name: &str| std::env::var(name).ok();
    runtime
        .accounts
        .iter()
        .filter(|a| crate::runtimes::accounts::unusable(a, &var).is_none())
        .map(|a| a.name.clone())
        .collect()
}

/// How a limit reads for a person: `limited until 2026-12-05T18:00:00Z`.
pub fn describe(limit: &Limit) -> String {
    format!(
        "limited until {}",
        humantime::format_rfc3339_seconds(limit.until_time())
    )
}
