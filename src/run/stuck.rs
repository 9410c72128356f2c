//! Identities that cannot start: marked `stuck` on their agent bead (with the reason), their hook
//! kept, and the mayor and the overseer told — once per stuck streak, not once per retry. A
//! streak ends when a session of the identity has run for a while, or when its work is slung
//! again (see `gastown_town::agents::mark_stuck`).
//!
//! Sessions that keep failing at startup (the role's session factory counts them; see
//! `gastown_actors::role`) tell the mayor and the overseer once per streak through
//! [`failing_starts`]: an identity with work on its hook is marked stuck on the way (the same
//! mail as above, so the later give-up of its supervisor tells nobody twice); one without (the
//! mayor, the deacon, a crew member spawned by hand) gets its own crash-loop mail.
//!
//! What makes an identity stuck: its runtime's program is missing, it has no runtime at all, its
//! sessions die at once until its role's supervisor gives up, or its workspace cannot be made
//! right (see `gastown_town::rig::reconcile`). Nothing is ever started in its place.

use anyhow::Result;
use gastown_beads::Ledger;
use gastown_town::agents;
use gastown_town::identity::AgentIdentity;
use gastown_town::mail::store::{self, Outgoing};

/// Who the stuck mail comes from: the town's patrol.
const SENDER: &str = "deacon";

/// Mark `identity` stuck because of `reason` and, when this starts a streak and it holds work,
/// mail the mayor and the overseer. Returns whether they were mailed. (An identity with nothing
/// hooked loses nothing by not starting — a finished polecat, a crew member spawned by hand who
/// was told at once — so nobody is mailed about it.)
pub fn mark_and_tell(
    ledger: &mut Ledger,
    identity: &AgentIdentity,
    runtime: Option<&str>,
    reason: &str,
) -> Result<bool> {
    if !agents::mark_stuck(ledger, identity, reason)? {
        return Ok(false);
    }
    let address = &identity.address;
    let hook = gastown_town::work::hooked(ledger, address)?
        .into_iter()
        .next()
        .map(|b| b.id);
    let Some(hook) = hook else {
        return Ok(false);
    };
    let runtime = runtime.map(str::to_string).or_else(|| {
        agents::find(ledger, address)
            .ok()
            .flatten()
            .and_then(|agent| agent.runtime)
    });
    let mail = Outgoing {
        subject: format!("{address} is stuck: it cannot start"),
        body: body(address, runtime.as_deref(), &hook, reason),
        ..Outgoing::default()
    };
    tell_mayor_and_overseer(ledger, &mail)?;
    Ok(true)
}

fn body(address: &str, runtime: Option<&str>, hook: &str, reason: &str) -> String {
    let runtime_line = match runtime {
        Some(r) => format!("Runtime: {r} (recorded for it; nothing else is started in its place)."),
        None => "Runtime: none recorded.".to_string(),
    };
    format!(
        "{address} cannot start: {reason}\n\n{runtime_line}\nHook: {hook} (kept; the work goes \
         on once {address} can start).\n\nWhat to do: fix the cause above (install the agent's \
         program, or correct it with `gastown config agent set`) and the supervisor retries on \
         its own, backing off; or give the work another runtime with `gastown sling {hook} \
         {address} --runtime <another>`. This is told once; `gastown seance {address}` shows its \
         sessions."
    )
}

/// Tell the mayor and the overseer, without waiting, that `identity`'s last `failures` sessions
/// failed at startup (the last one: `last`), while its restarts back off.
pub fn failing_starts(
    town: gastown_town::Town,
    ledger: gastown_actors::ledger::LedgerHandle,
    identity: AgentIdentity,
    failures: u32,
    last: &str,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let last = last.to_string();
    let address = identity.address.clone();
    runtime.spawn(async move {
        let told = ledger
            .call("stuck: failing starts", move |l| {
                tell_failing_starts(l, &identity, failures, &last)?;
                raise_failing_starts(l, &town, &identity)
            })
            .await;
        match told {
            Ok(Ok(Some((root, timeout, escalation, outside)))) => {
                if !outside.is_empty() {
                    tokio::spawn(super::escalation::deliver(
                        root, timeout, escalation, outside,
                    ));
                }
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::warn!(agent = %address, "cannot tell of the failing starts: {e:#}")
            }
            Err(e) => tracing::warn!(agent = %address, "cannot tell of the failing starts: {e}"),
        }
    });
}

/// The escalation record of a crash loop: raised by the supervisor, `high`, about the hooked
/// bead if any; a repeat folds into the open one. Its mail went out above in the stuck mail's
/// words, so only its outside channels (bell, notify, webhook) are returned, to run off the
/// ledger (with the town's root and the channels' timeout). `None`: a repeat, folded.
fn raise_failing_starts(
    ledger: &mut Ledger,
    town: &gastown_town::Town,
    identity: &AgentIdentity,
) -> Result<Option<OutsideWork>> {
    use gastown_town::escalation::{self, Raise, Severity, routing};
    let address = &identity.address;
    let hook = gastown_town::work::hooked(ledger, address)?
        .into_iter()
        .next()
        .map(|b| b.id);
    let message = format!("{address} keeps failing to start");
    let raised = escalation::raise(
        ledger,
        &Raise {
            severity: Severity::High,
            source: routing::STALE_SENDER,
            bead: hook.as_deref(),
            message: &message,
        },
        routing::STALE_SENDER,
    )?;
    if !raised.route {
        return Ok(None);
    }
    let outside = routing::outside_only(ledger, town, &raised.escalation)?;
    Ok(Some((
        town.root.clone(),
        town.config.escalation.timeout.0,
        raised.escalation,
        outside,
    )))
}

/// An escalation's outside channels to run: the town's root, their timeout, the escalation.
type OutsideWork = (
    std::path::PathBuf,
    std::time::Duration,
    gastown_town::escalation::Escalation,
    Vec<gastown_town::escalation::routing::Outside>,
);

fn tell_failing_starts(
    ledger: &mut Ledger,
    identity: &AgentIdentity,
    failures: u32,
    last: &str,
) -> Result<()> {
    let address = &identity.address;
    let reason = format!("its last {failures} sessions failed at startup (the last: {last})");
    let hooked = !gastown_town::work::hooked(ledger, address)?.is_empty();
    if hooked {
        mark_and_tell(ledger, identity, None, &reason)?;
        return Ok(());
    }
    let runtime = agents::find(ledger, address)
        .ok()
        .flatten()
        .and_then(|agent| agent.runtime)
        .unwrap_or_else(|| "none recorded".to_string());
    let mail = Outgoing {
        subject: format!("{address} keeps failing to start"),
        body: format!(
            "{address} keeps failing at startup: {reason}.\n\nRuntime: {runtime}.\n\nThe \
             supervisor keeps restarting it, backing off (doubling up to one start every 5 \
             minutes). What to do: look at its sessions with `gastown seance {address}` and its \
             screen with `gastown peek {address}`, fix the runtime (`gastown config agent set`) \
             or its configuration, or stop it. This is told once per streak of failed starts."
        ),
        ..Outgoing::default()
    };
    tell_mayor_and_overseer(ledger, &mail)?;
    Ok(())
}

/// Sends `mail` from the supervisor to the mayor and to the overseer.
fn tell_mayor_and_overseer(ledger: &mut Ledger, mail: &Outgoing) -> Result<()> {
    for to in ["mayor", gastown_town::mail::OVERSEER] {
        store::send(
            ledger,
            SENDER,
            &Outgoing {
                to: to.to_string(),
                ..mail.clone()
            },
        )?;
    }
    Ok(())
}
