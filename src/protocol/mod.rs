//! The town's protocol: what the CLI and agent sessions ask `gastown run`, and its typed answers.
//!
//! Requests and replies travel inside the socket layer's `RequestBody::Town` /
//! `ReplyBody::Town`, framed and bincode-encoded. They are plain types,
//! not the CLI's clap structs: `cli/` converts what was typed into a request and renders the
//! reply as text or JSON — the same rendering whether the command ran in the supervisor or, with
//! no supervisor up, in the CLI itself on the ledger it opened.
//!
//! The ledger commands' requests and outcomes are the domain's own
//! (`gastown_town::command::*`: one type per command shared by client and server, as in
//! mini-redis); this module adds the requests about the live tree (actors, sessions,
//! attachments) and their replies ([`tree`]).
//!
//! Compatibility: bincode encodes enum variants by index and struct fields in order, so any
//! change to a type reachable from [`TownRequest`] or [`TownReply`] changes the wire. The socket
//! layer's golden-bytes test pins one encoded sample of every variant (from `samples.rs`) and
//! fails until its `PROTOCOL_VERSION` moves; a CLI and a `gastown run` of different versions
//! are refused at handshake with "restart `gastown run`", never served garbage. The dependency
//! runs one way: the socket layer knows this module, this module knows nothing of the socket.

pub mod events;
pub mod tree;

#[cfg(test)]
pub mod samples;

pub use events::{EventFilter, TownEvent};
use gastown_town::command::agent::{HookView, Seance};
use gastown_town::command::as_json;
use gastown_town::command::bead::{BeadOutcome, BeadRequest};
use gastown_town::command::convoy::{ConvoyOutcome, ConvoyRequest};
use gastown_town::command::escalation::{EscalateOutcome, EscalateRequest};
use gastown_town::command::mail::{MailOutcome, MailRequest};
use gastown_town::command::mol::{MolOutcome, MolRequest};
use gastown_town::command::mq::{MqOutcome, MqRequest};
use gastown_town::rig::orphans::Claims;
use gastown_town::work::WorkCommand;
use serde::{Deserialize, Serialize};
pub use tree::{ActorDetail, ActorEvent, ActorNode};

/// One town request. The caller is never part of it: the supervisor runs every request as the
/// connection's identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TownRequest {
    /// A `gastown bead …` command.
    Bead(BeadRequest),
    /// A `gastown mail …` command (and `gastown dnd`).
    Mail(MailRequest),
    /// A `gastown mol …` command.
    Mol(MolRequest),
    /// A `gastown mq …` command that runs against the ledger.
    Mq(MqRequest),
    /// A `gastown convoy …` command.
    Convoy(ConvoyRequest),
    /// A work command: sling, hook attach|detach|clear, prime, done, handoff.
    Work(WorkCommand),
    /// An agent's hook (default: the caller's).
    Hook { agent: Option<String> },
    /// An identity's earlier sessions.
    Seance { agent: String },
    /// Commit the ledger to git now and, with a remote, pull and/or push it (`gastown sync`).
    Sync(gastown_town::sync::SyncOptions),
    /// What the ledger says belongs to whom, for `rig show`'s orphans.
    RigClaims,
    /// The live tree (`gastown actors`).
    Actors,
    /// One actor and its recent supervision events: an agent's address (its role), an address
    /// and a child (`alpha/crew/max/session`), or a tree path.
    Actor { target: String },
    /// A session's screen, or its last `lines` lines.
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
    /// Start attaching to a session's PTY.
    AttachStart { agent: String, rows: u16, cols: u16 },
    /// The attached session's output as it comes: a streaming request, answered by `Output`
    /// replies until the session ends (the last one says `ended`), the attachment ends
    /// (`AttachEnd` from the other connection) or the client disconnects.
    AttachOutput { id: u64 },
    /// Keystrokes for the attached session.
    AttachInput { id: u64, bytes: Vec<u8> },
    /// The attached terminal changed size.
    AttachResize { id: u64, rows: u16, cols: u16 },
    /// Detach.
    AttachEnd { id: u64 },
    /// A `gastown escalate …` command.
    Escalate(EscalateRequest),
    /// The deacon's dogs and their last runs (`gastown dog list`).
    Dogs,
    /// Run one dog's chore now and wait for it (`gastown dog run`).
    DogRun { name: String },
    /// From an agent's session (`gastown hook session-start`, Claude Code's SessionStart hook):
    /// its runtime's own session id, recorded on its running session for `gastown seance`, and
    /// the transcript where the runtime records its usage (`transcript_path`, for `gastown costs`).
    RuntimeSession {
        id: String,
        transcript: Option<String>,
    },
    /// The town at a glance (`gastown status`): what the ledger knows, with the live tree laid
    /// over it.
    Status,
    /// The event stream (`gastown feed`): answered with [`TownReply::Events`] again and again,
    /// as events happen, until the client disconnects.
    Subscribe(EventFilter),
    /// `gastown costs`: collect the sessions' new usage, then every usage row from `since`
    /// (`YYYY-MM-DD`) on; the CLI groups and prices them.
    Costs { since: Option<String> },
    /// `gastown doctor` while a supervisor holds the ledger: the checks that read it (stale
    /// hooks, duplicate agent beads, orphans, worktrees), run by the supervisor; `fix` (the
    /// overseer's `--fix`) repairs the ledger's findings, the on-disk ones are only reported.
    Doctor { fix: bool },
}

/// One town reply: a typed answer per family, for the CLI to render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TownReply {
    /// Answer to [`TownRequest::Bead`].
    Bead(BeadOutcome),
    /// Answer to [`TownRequest::Mail`].
    Mail(MailOutcome),
    /// Answer to [`TownRequest::Mol`].
    Mol(MolOutcome),
    /// Answer to [`TownRequest::Mq`].
    Mq(MqOutcome),
    /// Answer to [`TownRequest::Convoy`].
    Convoy(ConvoyOutcome),
    /// Answer to [`TownRequest::Work`]: what the command said, then what its effects on the
    /// live tree did (sessions started, branches pushed), one line each.
    Work { text: String },
    /// Answer to [`TownRequest::Hook`].
    Hook(HookView),
    /// Answer to [`TownRequest::Seance`].
    Seance(Seance),
    /// Answer to [`TownRequest::Sync`]: what was committed, merged and pushed.
    Synced(Box<gastown_town::sync::SyncReport>),
    /// Answer to [`TownRequest::RigClaims`].
    Claims(#[serde(with = "as_json")] Claims),
    /// Answer to [`TownRequest::Actors`].
    Tree(ActorNode),
    /// Answer to [`TownRequest::Actor`].
    Actor(ActorDetail),
    /// Answer to [`TownRequest::Peek`].
    Screen { agent: String, text: String },
    /// Answer to [`TownRequest::Nudge`].
    Nudged { agent: String },
    /// Answer to [`TownRequest::Restart`].
    Restarted { agent: String },
    /// Answer to [`TownRequest::Kill`]: the process group killed, when known.
    Killed { agent: String, pid: Option<u32> },
    /// Answer to [`TownRequest::Spawn`], in the supervisor's words.
    Spawned { text: String },
    /// Answer to [`TownRequest::AttachStart`]: the attachment id and the screen to paint first.
    Attached { id: u64, screen: Vec<u8> },
    /// The replies of [`TownRequest::AttachOutput`]: output; `ended` when the session is gone.
    Output { bytes: Vec<u8>, ended: bool },
    /// Done, nothing to say (heartbeat, attach input, resize, end).
    Done,
    /// Answer to [`TownRequest::Escalate`].
    Escalation(EscalateOutcome),
    /// Answer to [`TownRequest::Dogs`].
    Dogs(#[serde(with = "as_json")] Vec<gastown_town::dogs::DogReport>),
    /// Answer to [`TownRequest::DogRun`]: the dog's report after the run.
    DogRan(#[serde(with = "as_json")] gastown_town::dogs::DogReport),
    /// Answer to [`TownRequest::Status`].
    Status(#[serde(with = "as_json")] Box<gastown_town::status::TownStatus>),
    /// Answers to [`TownRequest::Subscribe`]: the events since the last answer, in order.
    Events(Vec<TownEvent>),
    /// Answer to [`TownRequest::Costs`].
    Costs(#[serde(with = "as_json")] Box<gastown_town::costs::record::CostsView>),
    /// Answer to [`TownRequest::Doctor`].
    Doctor(#[serde(with = "as_json")] Vec<gastown_town::doctor::Check>),
}
