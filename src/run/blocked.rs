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
        super::escalation::raise_from_supervisor(
            &ledger,
            &town,
            gastown_town::escalation::Severity::High,
            gastown_town::escalation::routing::STALE_SENDER,
            super::escalation::About::HookOf(address),
            message,
        )
        .await;
    });
}
