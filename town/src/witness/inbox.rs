//! The witness's protocol mail (`<rig>/witness`), read at every patrol. What the witness must do
//! itself, it does here; what others already do is left to them:
//!
//! - HELP (`gastown done --status escalated`): escalated — mail to the mayor and the overseer
//!   naming the polecat and its words — then closed as handled.
//! - POLECAT_DONE and MERGED: the refinery recycles a merged polecat and closes both wisps
//!   (`crate::refinery::sandbox::recycled`); the witness leaves them open to it.
//! - MERGE_FAILED and REWORK go to the polecat (the router tells its session): the witness checks
//!   the polecat read them ([`unread_rework`]); one still unread `stall_after` after the witness
//!   first saw it gets one nudge ([`ReworkWatch`]).

use crate::mail::record::{protocol_kind, sender_of};
use crate::mail::store::{self, Outgoing, ProtocolKind};
use anyhow::Result;
use gastown_beads::Ledger;

/// Escalate and close every open HELP wisp in `rig`'s witness inbox. Returns the senders, oldest
/// first.
pub fn handle_help(ledger: &mut Ledger, rig: &str) -> Result<Vec<String>> {
    let witness = format!("{rig}/witness");
    let help: Vec<_> = store::open_mail(ledger, &witness)?
        .into_iter()
        .filter(|b| protocol_kind(b) == Some(ProtocolKind::Help))
        .collect();
    let mut senders = Vec::new();
    for wisp in help {
        let from = sender_of(&wisp);
        let mail = Outgoing {
            subject: format!("{from} asks for help"),
            body: format!(
                "{from} escalated its work with `gastown done --status escalated`: {}\n\nThe \
                 bead is open and off its hook. What to do: read it (`gastown bead show`), \
                 answer {from} by mail, or sling the work again.",
                wisp.description
            ),
            ..Outgoing::default()
        };
        for to in ["mayor", crate::mail::OVERSEER] {
            store::send(
                ledger,
                &witness,
                &Outgoing {
                    to: to.to_string(),
                    ..mail.clone()
                },
            )?;
        }
        ledger.close(&wisp.id, "HELP handled: escalated", &witness)?;
        senders.push(from);
    }
    Ok(senders)
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
