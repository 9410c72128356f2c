//! Usage limits in the supervisor (`gastown_town::limits`, `docs/costs.md`, "Usage limits"):
//! a session whose screen shows its runtime's usage-limit line marks the runtime limited until
//! the line's reset (else backoff); while it holds, the session is blocked (never typed into:
//! no nudge, mail notice or prompt), and new work for the rig's polecats of that runtime waits in
//! the dispatch queue (`work::sling`). At the reset, on the GUPP patrol's sweep, every session
//! still showing the limit is started afresh, so it is told its hook again (GUPP), and the
//! refinery's and the deacon's drains send the queued work out. The state is a file of the
//! town's, so a supervisor restart keeps it.

use super::handler::TownHandler;
use gastown_actors::registry;
use gastown_actors::session::client;
use gastown_town::identity::AgentIdentity;
use gastown_town::limits::{self, signals, store};
use gastown_town::work::Effect;
use std::time::SystemTime;

/// `identity`'s session of `runtime` shows the usage-limit `dialog`: mark the runtime limited.
pub fn session_limited(
    town: &gastown_town::Town,
    identity: &AgentIdentity,
    runtime: &str,
    dialog: &str,
) {
    match store::mark(&town.runtime_dir(), runtime, dialog, SystemTime::now()) {
        Ok(limit) => tracing::warn!(
            agent = %identity.address,
            %runtime,
            "usage limit: runtime {runtime} is {} ({dialog}); nothing is typed into its sessions \
             and new work for it waits until then",
            limits::describe(&limit)
        ),
        Err(e) => tracing::warn!(
            agent = %identity.address,
            %runtime,
            "usage limit seen ({dialog}) but not recorded: {e:#}"
        ),
    }
}

/// Resume the runtimes whose limit reset: each session of theirs still showing a usage limit
/// is started again (its factory builds the GUPP prompt from its hook).
pub async fn resume_due(handler: &TownHandler) {
    let dir = handler.tree.town.runtime_dir();
    let due = match store::take_due(&dir, SystemTime::now()) {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!("cannot read the usage limits: {e:#}");
            return;
        }
    };
    if due.is_empty() {
        return;
    }
    for (identity, session) in registry::running_sessions() {
        let Ok(snapshot) = client::snapshot(&session).await else {
            continue;
        };
        if !snapshot.blocked.as_deref().is_some_and(signals::is_limit) {
            continue;
        }
        let runtime = match registry::live_runtime(&identity).await {
            Some(live) => live.get().map(|r| r.name),
            None => None,
        };
        if !runtime.is_some_and(|name| due.contains(&name)) {
            continue;
        }
        let address = identity.address.clone();
        match handler
            .carry_out(Effect::RestartSession {
                address: address.clone(),
            })
            .await
        {
            Ok(_) => {
                tracing::info!(agent = %address, "usage limit reset: session started again, told its hook")
            }
            Err(e) => {
                tracing::warn!(agent = %address, "usage limit reset, but cannot restart: {e}")
            }
        }
    }
}
