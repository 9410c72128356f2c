//! The town's requests over the socket: what the CLI and agent sessions ask `gastown run`.
//!
//! They travel inside the socket layer's `RequestBody::Town` / `ReplyBody::Town`. Beads and
//! trees cross as JSON text: their records keep unknown fields in a JSON map, which bincode
//! cannot carry, and the CLI prints JSON anyway.

use crate::cli::bead::BeadCommand;
use crate::cli::mail::MailCommand;
use serde::{Deserialize, Serialize};

/// One town request. New variants go at the end (bincode encodes the variant index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TownRequest {
    /// A `gastown bead …` command, run by the ledger actor as the caller.
    Bead(BeadCommand),
    /// Force the ledger's git commit.
    Sync,
    /// The live tree (`gastown actors`).
    Actors,
    /// One actor and its recent supervision events (`gastown actor <path>`).
    Actor { path: String },
    /// A session's screen or last lines.
    Peek { agent: String, lines: Option<usize> },
    /// Type text into a session once it is idle, and check it landed.
    Nudge { agent: String, text: String },
    /// Restart a session.
    Restart { agent: String },
    /// SIGKILL a session's process group (the tree restarts it).
    Kill { agent: String },
    /// Put an agent under supervision, with `runtime` (recorded for it) or the one recorded.
    Spawn {
        address: String,
        runtime: Option<String>,
        env: Vec<(String, String)>,
    },
    /// A session's liveness signal (any request counts; this one does nothing else).
    Heartbeat,
    /// The caller's hook: JSON lines of the hooked beads.
    Hook,
    /// Start attaching to a session's PTY.
    AttachStart { agent: String, rows: u16, cols: u16 },
    /// Output since the last poll, waiting up to `wait_ms` for some.
    AttachPoll { id: u64, wait_ms: u64 },
    /// Keystrokes for the attached session.
    AttachInput { id: u64, bytes: Vec<u8> },
    /// The attached terminal changed size.
    AttachResize { id: u64, rows: u16, cols: u16 },
    /// Detach.
    AttachEnd { id: u64 },
    /// A `gastown mail …` command, run by the ledger actor as the caller.
    Mail(MailCommand),
    /// A work command (sling, hook, prime, done, handoff, seance) as the caller.
    Work(gastown_town::work::WorkCommand),
    /// A `gastown mol …` command as the caller.
    Mol(crate::cli::mol::MolCommand),
    /// A `gastown mq …` command as the caller.
    Mq(crate::cli::mq::MqCommand),
    /// A `gastown convoy …` command as the caller.
    Convoy(crate::cli::convoy::ConvoyCommand),
    /// `gastown dnd on|off` for the caller.
    Dnd { on: bool, agent: Option<String> },
    /// What the ledger says belongs to whom (`rig::orphans::Claims` as JSON), for `rig show`.
    RigClaims,
}

/// One town reply. New variants go at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TownReply {
    /// Text for stdout.
    Text(String),
    /// JSON text (the CLI pretty-prints it or renders a table).
    Json(String),
    /// Attached: the attachment id and the screen to paint first.
    Attached { id: u64, screen: Vec<u8> },
    /// Output of an attached session; `ended` when the session is gone.
    Output { bytes: Vec<u8>, ended: bool },
    /// Done, nothing to say.
    Done,
}
