//! `gastown escalate ["what is wrong"] | list | show | ack | close`: escalations raised for the
//! mayor and the overseer (see `docs/escalation.md`).
//!
//! Anyone may raise one (its source is the caller); acknowledging and closing are the mayor's
//! and the overseer's ([`crate::authz::handle_escalation`]). A raise that creates an escalation
//! or raises its severity is routed by `[escalation]` in town.toml: the mail channels are sent
//! here, in the process that owns the ledger; the outside channels (bell, notify, webhook) come
//! back in the outcome for `gastown run`'s delivery task (or the CLI, without one) to carry out.

use super::as_json;
use crate::caller::Caller;
use crate::escalation::{self, Escalation, Raise, Severity, routing};
use crate::town::Town;
use anyhow::Result;
use gastown_beads::Ledger;
use serde::{Deserialize, Serialize};

/// One escalation command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EscalateRequest {
    /// Raise an escalation (or fold it into the open one it repeats).
    Raise {
        severity: Severity,
        bead: Option<String>,
        message: String,
    },
    /// Open and acked escalations (every one with `all`).
    List { all: bool },
    /// One escalation.
    Show { id: String },
    /// Acknowledge: someone is on it.
    Ack { id: String },
    /// Close it.
    Close { id: String, reason: Option<String> },
    /// Send an escalation its rig's witness agent holds up to the mayor and the overseer now.
    Forward { id: String, note: Option<String> },
}

/// What an escalation command did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EscalateOutcome {
    /// `escalate "…"`: the escalation; `folded` when it repeated an open one; `routed` says
    /// where it went (mail sent; outside channels handed to the delivery task).
    Raised {
        #[serde(with = "as_json")]
        escalation: Escalation,
        folded: bool,
        routed: Vec<String>,
        #[serde(with = "as_json")]
        outside: Vec<routing::Outside>,
    },
    /// `list`.
    Listed {
        all: bool,
        #[serde(with = "as_json")]
        escalations: Vec<Escalation>,
    },
    /// `show`.
    Shown(#[serde(with = "as_json")] Escalation),
    /// `ack`.
    Acked(#[serde(with = "as_json")] Escalation),
    /// `close`.
    Closed(#[serde(with = "as_json")] Escalation),
    /// `forward`: released from its judge and routed like `Raised`.
    Forwarded {
        #[serde(with = "as_json")]
        escalation: Escalation,
        routed: Vec<String>,
        #[serde(with = "as_json")]
        outside: Vec<routing::Outside>,
    },
}

/// Run one escalation command against the ledger as `caller`.
pub fn apply(
    ledger: &mut Ledger,
    town: &Town,
    request: EscalateRequest,
    caller: &Caller,
) -> Result<EscalateOutcome> {
    let who = caller.name();
    Ok(match request {
        EscalateRequest::Raise {
            severity,
            bead,
            message,
        } => {
            let raised = escalation::raise(
                ledger,
                &Raise {
                    severity,
                    source: who,
                    bead: bead.as_deref(),
                    message: &message,
                },
                who,
            )?;
            // A witness agent's own raise goes up at once: it is the judge.
            let own = routing::judge_of(town, &raised.escalation)
                .is_some_and(|judge| judge.address == who);
            let (routed, outside) = if raised.route && own {
                routing::route_up(ledger, town, &raised.escalation, who)?
            } else if raised.route {
                routing::route_in_ledger(ledger, town, &raised.escalation, who)?
            } else {
                (Vec::new(), Vec::new())
            };
            EscalateOutcome::Raised {
                escalation: raised.escalation,
                folded: raised.folded,
                routed,
                outside,
            }
        }
        EscalateRequest::List { all } => EscalateOutcome::Listed {
            all,
            escalations: escalation::escalations(ledger, all)?,
        },
        EscalateRequest::Show { id } => EscalateOutcome::Shown(escalation::get(ledger, &id)?),
        EscalateRequest::Ack { id } => {
            crate::authz::handle_escalation(caller, "ack")?;
            EscalateOutcome::Acked(escalation::ack(ledger, &id, who)?)
        }
        EscalateRequest::Close { id, reason } => {
            let judge = held_by(ledger, &id)?;
            crate::authz::judge_escalation(caller, judge.as_deref(), "close")?;
            EscalateOutcome::Closed(escalation::close(ledger, &id, reason.as_deref(), who)?)
        }
        EscalateRequest::Forward { id, note } => {
            let judge = held_by(ledger, &id)?;
            crate::authz::judge_escalation(caller, judge.as_deref(), "forward")?;
            let (escalation, routed, outside) =
                routing::forward(ledger, town, &id, note.as_deref(), who)?;
            EscalateOutcome::Forwarded {
                escalation,
                routed,
                outside,
            }
        }
    })
}

/// The witness agent holding escalation `id` now, if any (an unknown id is an error here, before
/// anyone is refused).
fn held_by(ledger: &Ledger, id: &str) -> Result<Option<String>> {
    let e = escalation::get(ledger, id)?;
    let now = gastown_beads::time::now_unix_nanos();
    Ok(e.judge.clone().filter(|_| e.held_at(now)))
}
