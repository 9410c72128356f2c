//! The witness's protocol mail (`<rig>/witness`), read at every patrol. What the witness must do
//! itself, it does here; what others already do is left to them:
//!
//! - HELP (`gastown done --status escalated`): closed as handled once its sender has an open
//!   escalation — `done` raises one itself, routed by severity — and, for a HELP whose sender
//!   has none, one is raised for it (`high`, from the witness, routed like any other).
//! - POLECAT_DONE and MERGED: the refinery recycles a merged polecat and closes both wisps
//!   (`crate::refinery::sandbox::recycled`); the witness leaves them open to it.
//! - MERGE_FAILED and REWORK go to the polecat (the router tells its session): the witness checks
//!   the polecat read them ([`unread_rework`]); one still unread `stall_after` after the witness
//!   first saw it gets one nudge ([`ReworkWatch`]).

use crate::escalation::{self, Escalation, Raise, Severity, routing};
use crate::mail::record::{protocol_kind, sender_of};
use crate::mail::store::{self, ProtocolKind};
use crate::town::Town;
use anyhow::Result;
use gastown_beads::Ledger;

/// A HELP the witness handled: who sent it, and the escalation's outside channels to run when
/// the witness raised one for it (routed, not folded).
#[derive(Debug)]
pub struct HelpHandled {
    /// The HELP's sender.
    pub from: String,
    /// The escalation that covers it.
    pub escalation: String,
    /// Raised here and routed: the outside channels (bell, notify, webhook) to run off the ledger.
    pub outside: Option<(Escalation, Vec<routing::Outside>)>,
}

/// Close every open HELP wisp in `rig`'s witness inbox, each covered by an escalation: the open
/// one its sender already raised (`done --status escalated` raises one), or one the witness
/// raises for it. Oldest first. Nobody is mailed twice for one cry for help.
pub fn handle_help(ledger: &mut Ledger, town: &Town, rig: &str) -> Result<Vec<HelpHandled>> {
    let witness = format!("{rig}/witness");
    let help: Vec<_> = store::open_mail(ledger, &witness)?
        .into_iter()
        .filter(|b| protocol_kind(b) == Some(ProtocolKind::Help))
        .collect();
    let mut handled = Vec::new();
    for wisp in help {
        let from = sender_of(&wisp);
        let open = escalation::escalations(ledger, false)?
            .into_iter()
            .find(|e| e.source == from && e.is_open());
        let (id, outside) = match open {
            Some(e) => (e.id, None),
            None => {
                let message = format!("{from} asks for help: {}", wisp.description);
                let raised = escalation::raise(
                    ledger,
                    &Raise {
                        severity: Severity::High,
                        source: &witness,
                        bead: None,
                        message: &message,
                    },
                    &witness,
                )?;
                let outside = if raised.route {
                    let (_, outside) =
                        routing::route_in_ledger(ledger, town, &raised.escalation, &witness)?;
                    Some((raised.escalation.clone(), outside))
                } else {
                    None
                };
                (raised.escalation.id, outside)
            }
        };
        ledger.close(
            &wisp.id,
            &format!("HELP handled: escalation {id}"),
            &witness,
        )?;
        handled.push(HelpHandled {
            from,
            escalation: id,
            outside,
        });
    }
    Ok(handled)
}

/// The MERGE_FAILED and REWORK wisps in `polecat`'s inbox it has not read yet: `(id, body)`,
/// oldest first.
pub fn unread_rework(ledger: &Ledger, polecat: &str) -> Result<Vec<(String, String)>> {
    Ok(store::open_mail(ledger, polecat)?
        .into_iter()
        .filter(|b| {
            matches!(
                protocol_kind(b),
                Some(ProtocolKind::MergeFailed | ProtocolKind::Rework)
            ) && crate::mail::record::is_unread(b)
        })
        .map(|b| (b.id, b.description))
        .collect())
}

/// Which unread MERGE_FAILED / REWORK wisps are overdue: first seen by the witness more than
/// `after` ago and still unread. Each is due once; wisps no longer unread are forgotten.
#[derive(Debug, Default, Clone)]
pub struct ReworkWatch {
    /// Wisp id → when the witness first saw it unread (ms since the epoch), and whether it nudged.
    seen: std::collections::HashMap<String, (u64, bool)>,
}

impl ReworkWatch {
    /// `unread`: the wisp ids unread right now (of every polecat watched); returns the ones to
    /// nudge about now.
    pub fn due(&mut self, unread: &[&str], now_ms: u64, after: std::time::Duration) -> Vec<String> {
        self.seen.retain(|id, _| unread.contains(&id.as_str()));
        let after = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        let mut due = Vec::new();
        for id in unread {
            let (first, nudged) = self
                .seen
                .entry((*id).to_string())
                .or_insert((now_ms, false));
            if !*nudged && now_ms.saturating_sub(*first) > after {
                *nudged = true;
                due.push((*id).to_string());
            }
        }
        due
    }
}
