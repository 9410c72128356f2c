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

/// `[run] stuck_release_after`: how long an identity that cannot start (stuck) keeps its hook
/// before the deacon releases the bead back to ready for an agent that can run. Long enough for
/// the overseer, told at once, to install a missing program and let the retries pick it up;
/// short enough that the work does not wait on a broken runtime for a day.
pub const STUCK_RELEASE_AFTER: Duration = Duration::from_secs(30 * 60);

/// `[run] log`: the log filter (env-filter syntax) when `GASTOWN_LOG` is unset.
pub const LOG_FILTER: &str = "info";

// ---- town.toml [ledger] ----

/// `[ledger] git_ref`: the ledger's own ref, so the town's work tree stays clean.
pub const LEDGER_GIT_REF: &str = "refs/heads/beads";

/// `[ledger] commit_delay`: the longest a durable change waits for its git commit. Changes are
/// durable in redb when acknowledged; the delay only groups them into fewer commits.
pub const COMMIT_DELAY: Duration = Duration::from_secs(1);

// ---- rig.toml ----

/// `[witness] patrol_every`: how often a rig's witness looks at its polecats. Like the deacon's
/// patrol: mechanical, tokenless, and nothing it catches is urgent to the second.
pub const WITNESS_PATROL_EVERY: Duration = Duration::from_secs(30);

/// `[witness] start_after`: an agent CLI starts, loads and primes itself (its first `gastown`
/// call is the first heartbeat) well within a minute and a half.
pub const WITNESS_START_AFTER: Duration = Duration::from_secs(90);

/// `[witness] stall_after`: sitting at the prompt with work hooked for five minutes means the
/// agent forgot its work (GUPP says: run it); shorter would nudge an agent between two steps.
pub const WITNESS_STALL_AFTER: Duration = Duration::from_secs(5 * 60);

/// `[witness] hung_after`: no output and no `gastown` call for half an hour while busy is far
/// beyond any single tool call or build an agent waits on.
pub const WITNESS_HUNG_AFTER: Duration = Duration::from_secs(30 * 60);

/// `[witness] nudges`: unanswered nudges before a restart; two, as one may land mid-thought.
pub const WITNESS_NUDGES: u32 = 2;

/// `[witness] restarts`: restarts before the mayor and the overseer are told; two fresh sessions
/// failing the same way is a pattern, not bad luck.
pub const WITNESS_RESTARTS: u32 = 2;
/// How long a rig's witness agent (`[roles] witness`) has to judge an escalation of its rig
/// before it goes up to the mayor and the overseer by itself.
pub const WITNESS_JUDGE_FOR: Duration = Duration::from_secs(10 * 60);

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

// ---- the merge queue ----

/// Rework rounds (conflicts or gate failures) before an MR is escalated to the mayor: the first
/// failure is often a flaky test or a fresh conflict, the third means the polecat cannot fix it.
pub const MAX_RETRIES: u64 = 3;

/// Commits of the target's history searched for `Gastown-MR:` trailers (exactly-once after a
/// crash): far more than can land between a crash and the restart's recovery.
pub const HISTORY_DEPTH: usize = 500;

/// How often an idle refinery looks at its queue: a merge request is noticed within half a
/// second, and an idle look is a ledger read costing its result.
pub const REFINERY_POLL: Duration = Duration::from_millis(500);

/// The first pause after a refinery round that could not land (origin down, a failed round);
/// doubled each time up to [`REFINERY_BACKOFF_MAX`], so a dead remote is not hammered and gates
/// are not re-run every poll.
pub const REFINERY_BACKOFF_START: Duration = Duration::from_secs(2);

/// The longest pause between two tries against an origin that keeps failing: a minute keeps
/// the queue moving soon after the remote is back.
pub const REFINERY_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Gate output kept in a merge request's result: its tail, where the error usually is, small
/// enough to mail.
pub const GATE_OUTPUT_TAIL: usize = 8 * 1024;

/// The most output kept from one gate run (its last 256 KiB), so a runaway test cannot fill
/// memory.
pub const GATE_OUTPUT_CAP: usize = 256 * 1024;

/// How long to wait for a gate's output pipe to close after its shell exited before killing
/// what it left running in the background.
pub const GATE_LINGER: Duration = Duration::from_secs(2);

// ---- identities and the GUPP patrol ----

/// Past sessions an identity keeps in its agent bead (`gastown seance`): enough to see a
/// crash loop, small enough that the bead stays small.
pub const SESSION_HISTORY: usize = 50;

/// The patrol's first retry of an identity waits this long after its last start: a crash loop
/// costs nothing while someone looks at it.
pub const PATROL_RETRY_FIRST: Duration = Duration::from_secs(30);

/// ... and each further retry twice as long, up to this: a stuck agent is still tried four
/// times an hour, in case its program was installed meanwhile.
pub const PATROL_RETRY_MAX: Duration = Duration::from_secs(15 * 60);

/// A session up this long runs: its identity is no longer stuck and its backoff starts over
/// (agent CLIs that cannot start die within a second or two).
pub const HEALTHY_AFTER: Duration = Duration::from_secs(10);

/// Sessions of one identity that fail at startup in a row before the mayor and the overseer are
/// told (once per streak). A session fails at startup when it ends on its own, not with exit 0,
/// before its startup timeout plus [`HEALTHY_AFTER`]: one flaky start is noise, three in a row is
/// a crash loop someone has to look at.
pub const STARTUP_FAILURE_STREAK: u32 = 3;

/// The restart backoff of a role's children never grows past this: a crash-looping agent costs
/// one start every five minutes while someone looks at it, and is still retried in case its
/// cause went away.
pub const ROLE_BACKOFF_MAX: Duration = Duration::from_secs(5 * 60);

/// A role's child that stayed up this long is healthy again and its restart backoff starts over.
/// Longer than a session's startup timeout (60 s) plus [`HEALTHY_AFTER`], so a session that is
/// killed at its startup deadline every time (an agent that never stops printing) is never taken
/// for a healthy one and backs off like any other crash loop.
pub const ROLE_BACKOFF_RESET_AFTER: Duration = Duration::from_secs(3 * 60);

// ---- mail ----

/// How often the router sweeps every running identity for undelivered mail (sends wake it at
/// once; the sweep catches what a crash or a held session left).
pub const MAIL_SWEEP: Duration = Duration::from_secs(2);

/// `[run] mail_announce_after`: how long mail waits for an idle hook runtime (Claude Code, whose
/// UserPromptSubmit hook brings mail at its next prompt) before the router types a short "you
/// have mail" nudge. A few seconds: an agent between two turns of its own gets it from the hook,
/// one that sits at its prompt is told soon.
pub const MAIL_ANNOUNCE_AFTER: Duration = Duration::from_secs(3);

/// `[run] dog_idle_after`: how long a dog session may sit with nothing on its hook before the
/// GUPP patrol stops it. Dogs are not persistent workers: a dog slung its next bead soon after
/// its last keeps its session (and its runtime's context); one left idle stops costing anything.
pub const DOG_IDLE_AFTER: Duration = Duration::from_secs(5 * 60);

/// The largest mail body accepted, in bytes: a mail is typed into a terminal; longer texts
/// belong in a bead's description.
pub const MAIL_MAX_BODY: usize = 64 * 1024;

/// The largest subject accepted, in bytes.
pub const MAIL_MAX_SUBJECT: usize = 500;

// ---- gastown run ----

/// Supervision events `gastown actor` can show (the newest; older ones are in the log).
pub const EVENT_HISTORY: usize = 2000;

/// Daily log files kept under `.runtime/logs`: a week of history.
pub const LOG_FILES_KEPT: usize = 7;

/// Free space the ledger keeps on the disk of its index: below it, the supervisor's ledger actor
/// refuses changes (reads go on) instead of letting a write fail inside redb, which would take
/// the index down for reads too until it is reopened. A group commit of even a large import
/// writes a few MiB; 32 MiB is room for that and for git's packs, and nothing on a healthy disk.
pub const LEDGER_FREE_SPACE_RESERVE: u64 = 32 * 1024 * 1024;

/// While the ledger is unavailable (locked by another process, the disk full, the index
/// unreadable), the ledger actor tries to reopen it after this long, doubling up to
/// [`LEDGER_RETRY_MAX`]: a released lock is noticed within seconds, and a lasting problem costs
/// one attempt every few seconds.
pub const LEDGER_RETRY_START: Duration = Duration::from_millis(200);

/// The longest wait between two attempts to reopen an unavailable ledger.
pub const LEDGER_RETRY_MAX: Duration = Duration::from_secs(5);

/// A caller whose change was in a group commit that failed waits this long for the ledger to
/// reopen and tell whether the change was stored after all; then it is told that this is not
/// known yet (never that it failed: it may have been stored).
pub const LEDGER_UNCERTAIN_WAIT: Duration = Duration::from_secs(10);

/// A ledger operation that holds the single writer longer than this is logged as a warning
/// with its name: every other ledger user waited that long. A durable write takes 0.3–4 ms (one
/// fsync), and a call's p99 is to stay under 50 ms even while a gate runs (docs/benchmarks.md).
pub const SLOW_LEDGER_OPERATION: Duration = Duration::from_millis(50);
