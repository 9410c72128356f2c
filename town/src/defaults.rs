//! The application's defaults in one place, each with the reason it is what it is. Config
//! files override the ones that are settings (`town.toml`, `rig.toml`); the rest are limits
//! and timings of the code itself. (The supervision library keeps its own, in
//! `supervision/src/defaults.rs`: it knows nothing of Gas Town.)

use std::time::Duration;

// ---- town.toml [run] ----

/// `[run] shutdown_timeout`: the longest an orderly shutdown of `gastown run` may take. Every
/// session gets `stop_timeout` after SIGTERM, in reverse start order per supervisor but in
/// parallel across rigs, so 30 s covers a town of agents that all use their full grace.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// `[run] stop_timeout`: how long a session gets after SIGTERM before its process group is
/// killed. Agent CLIs save their transcript on SIGTERM within a second or two; 5 s is generous
/// without making a restart feel stuck.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// `[run] patrol_interval`: how often the deacon patrols. Mechanical checks cost no tokens, but
/// nothing they catch is urgent to the second; 30 s keeps an idle town idle.
pub const PATROL_INTERVAL: Duration = Duration::from_secs(30);

/// `[run] log`: the log filter (env-filter syntax) when `GASTOWN_LOG` is unset.
pub const LOG_FILTER: &str = "info";

// ---- town.toml [ledger] ----

/// `[ledger] git_ref`: the ledger's own ref, so the town's work tree stays clean.
pub const LEDGER_GIT_REF: &str = "refs/heads/beads";

/// `[ledger] commit_delay`: the longest a durable change waits for its git commit. Changes are
/// durable in redb when acknowledged; the delay only groups them into fewer commits.
pub const COMMIT_DELAY: Duration = Duration::from_secs(1);

// ---- rig.toml ----

/// `max_polecats`: polecats a rig runs at once before work waits in its dispatch queue; four
/// keep a laptop's cores and an API budget busy without thrashing either.
pub const MAX_POLECATS: usize = 4;

/// `batch`: merge requests the refinery merges and gates together. One by default: a failure
/// then blames exactly one MR, and most rigs' gates are fast enough.
pub const BATCH: usize = 1;

/// `[gates] timeout`: per gate command; a test suite that runs longer is probably hung.
pub const GATE_TIMEOUT: Duration = Duration::from_secs(600);

/// `[refinery] remote_timeout`: the longest one fetch or push to the rig's origin may take
/// before its process group is killed; long enough for a slow network and a big push, short
/// enough that a dead remote does not stall the merge queue for long.
pub const REMOTE_TIMEOUT: Duration = Duration::from_secs(120);
