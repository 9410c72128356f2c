//! The witness's protocol mail (`<rig>/witness`), read at every patrol. What the witness must do
//! itself, it does here; what others already do is left to them:
//!
//! - HELP (`gastown done --status escalated`): escalated — mail to the mayor and the overseer
//!   naming the polecat and its words — then closed as handled.
//! - POLECAT_DONE and MERGED: the refinery recycles a merged polecat and closes both wisps
//!   (`crate::refinery::sandbox::recycled`); the witness leaves them open to it.

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
