//! A session waiting behind a dialog nobody may answer for it (a login, an API key to approve,
//! a usage limit: `runtimes::dialogs`) is escalated: `high`, raised by the supervisor, about the
//! identity's hooked bead, routed like every escalation (mail to the mayor and the overseer, the
//! outside channels of its severity). A repeat while the first is open folds into it.

use gastown_town::identity::AgentIdentity;

/// Escalate, without waiting, that `identity`'s session shows `dialog` (`login: …`).
pub fn dialog_blocks(
    town: gastown_town::Town,
    ledger: gastown_actors::ledger::LedgerHandle,
    identity: &AgentIdentity,
    dialog: &str,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let address = identity.address.clone();
    let message = format!(
        "{address} is blocked by a dialog of its CLI: {dialog}. Gastown types nothing into a \
         session behind a dialog, so its work waits. What to do: answer it with `gastown attach \
         {address}` (Ctrl-] detaches), or remove the cause (a login, an API key, a usage limit; \
         see docs/runtimes.md, Blocking dialogs) and `gastown restart {address}`."
    );
    runtime.spawn(async move {
        use gastown_town::escalation::{self, Raise, Severity, routing};
        let root = town.root.clone();
        let timeout = town.config.escalation.timeout.0;
        let who = address.clone();
        let raised = ledger
            .call("blocked: escalate", move |l| {
                let hook = gastown_town::work::hooked(l, &who)?
                    .into_iter()
                    .next()
                    .map(|b| b.id);
                let raised = escalation::raise(
                    l,
                    &Raise {
                        severity: Severity::High,
                        source: routing::STALE_SENDER,
                        bead: hook.as_deref(),
                        message: &message,
                    },
                    routing::STALE_SENDER,
                )?;
                if !raised.route {
                    return anyhow::Ok(None);
                }
                let (_, outside) =
                    routing::route_in_ledger(l, &town, &raised.escalation, routing::STALE_SENDER)?;
                anyhow::Ok(Some((raised.escalation, outside)))
            })
            .await;
        match raised {
            Ok(Ok(Some((escalation, outside)))) if !outside.is_empty() => {
                tokio::spawn(super::escalation::deliver(
                    root, timeout, escalation, outside,
                ));
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(agent = %address, "cannot escalate the dialog: {e:#}"),
            Err(e) => tracing::warn!(agent = %address, "cannot escalate the dialog: {e}"),
        }
    });
}
