//! Usage limits in the supervisor (`gastown_town::limits`, `docs/costs.md`, "Usage limits"):
//! a session whose screen shows its runtime's usage-limit line marks the runtime limited until
//! the line's reset (else backoff); while it holds, the session is blocked (never typed into:
//! no nudge, mail notice or prompt), and new work for the rig's polecats of that runtime waits in
//! the dispatch queue (`work::sling`). At the reset, on the GUPP patrol's sweep, every session
//! still showing the limit is started afresh, so it is told its hook again (GUPP), and the
//! refinery's and the deacon's drains send the queued work out. The state is a file of the
//! town's, so a supervisor restart keeps it.
//!
//! A runtime with accounts (`gastown_town::runtimes::accounts`) is limited per account: each
//! session start picks an account ([`Accounts::choose`]), a session that hits its account's
//! limit is started again at once on another account when one is free (and at its own
//! account's reset otherwise), and the runtime waits only when every account is limited.

use super::handler::TownHandler;
use gastown_actors::registry;
use gastown_actors::session::client;
use gastown_town::identity::AgentIdentity;
use gastown_town::limits::{self, signals, store};
use gastown_town::runtimes::accounts;
use gastown_town::runtimes::spec::Runtime;
use gastown_town::work::Effect;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::SystemTime;

/// The account each identity's latest session runs under, as chosen at its start: the limits
/// key of its runtime's account (`claude/work`), by address.
#[derive(Default)]
pub struct Accounts {
    chosen: Mutex<HashMap<String, String>>,
}

impl Accounts {
    /// The runtime (which has accounts) under the account `identity`'s next session runs: of
    /// the accounts with no limit holding, the one with the fewest running sessions.
    pub fn choose(
        &self,
        town: &gastown_town::Town,
        identity: &AgentIdentity,
        runtime: &Runtime,
    ) -> Result<Runtime, String> {
        let limits = store::Limits::load(&town.runtime_dir()).unwrap_or_else(|e| {
            tracing::warn!("cannot read the usage limits ({e:#}): choosing as if none held");
            store::Limits::default()
        });
        let now = SystemTime::now();
        let running: HashSet<String> = registry::running_sessions()
            .into_iter()
            .map(|(identity, _)| identity.address)
            .collect();
        let mut chosen = self.chosen.lock().unwrap_or_else(|p| p.into_inner());
        let var = |name: &str| std::env::var(name).ok();
        let account = {
            let in_use = |key: &str| {
                chosen
                    .iter()
                    .filter(|(address, k)| {
                        k.as_str() == key
                            && **address != identity.address
                            && running.contains(*address)
                    })
                    .count()
            };
            let limited_until = |key: &str| limits.holding(key, now).map(|l| l.until);
            accounts::choose(runtime, &var, &limited_until, &in_use)
        };
        let Some(account) = account else {
            let why: Vec<String> = runtime
                .accounts
                .iter()
                .filter_map(|a| accounts::unusable(a, &var))
                .collect();
            return Err(why.join("; "));
        };
        let session = runtime.under_account(account, &var)?;
        chosen.insert(identity.address.clone(), session.limit_key());
        Ok(session)
    }

    /// The limits key of the account `address`'s latest session runs under, if it was chosen.
    pub fn key_of(&self, address: &str) -> Option<String> {
        self.chosen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(address)
            .cloned()
    }
}

/// The line a session starting under `runtime` (its account chosen) is held behind, when its
/// limit holds now: it is started without its prompt, and at the reset [`resume_due`] starts
/// it again with it.
pub fn held(town: &gastown_town::Town, runtime: &Runtime) -> Option<String> {
    let key = runtime.limit_key();
    let limit = store::limited(&town.runtime_dir(), &key, SystemTime::now())?;
    Some(signals::held_line(&key, &limits::describe(&limit)))
}

/// Whether one of `runtime`'s accounts can take a session now (usable, no limit holding).
fn free_account(runtime: &Runtime, limits: &store::Limits, now: SystemTime) -> bool {
    let usable = limits::usable_account_names(runtime);
    !usable.is_empty()
        && limits
            .runtime_holding(&runtime.name, &usable, now)
            .is_none()
}

/// `identity`'s session shows the usage-limit `dialog`: mark `key` (its runtime, or its
/// runtime's account) limited.
pub fn session_limited(
    town: &gastown_town::Town,
    identity: &AgentIdentity,
    key: &str,
    dialog: &str,
) {
    if dialog.contains(signals::HELD) {
        return; // Held behind a limit recorded already: nothing new seen.
    }
    match store::mark(&town.runtime_dir(), key, dialog, SystemTime::now()) {
        Ok(limit) => tracing::warn!(
            agent = %identity.address,
            runtime = %key,
            "usage limit: {key} is {} ({dialog}); nothing is typed into its sessions \
             and new work for it waits until then",
            limits::describe(&limit)
        ),
        Err(e) => tracing::warn!(
            agent = %identity.address,
            runtime = %key,
            "usage limit seen ({dialog}) but not recorded: {e:#}"
        ),
    }
}

/// Resume what a usage limit holds: each session still showing a usage limit is started again
/// (its factory builds the GUPP prompt from its hook, and picks a free account) when its
/// runtime's (or account's) limit reset, or when its runtime has another account free now.
pub async fn resume_due(handler: &TownHandler) {
    let dir = handler.tree.town.runtime_dir();
    let now = SystemTime::now();
    let (due, limits) = match store::take_due(&dir, now).and_then(|due| {
        let limits = store::Limits::load(&dir)?;
        Ok((due, limits))
    }) {
        Ok(read) => read,
        Err(e) => {
            tracing::warn!("cannot read the usage limits: {e:#}");
            return;
        }
    };
    for (identity, session) in registry::running_sessions() {
        let Ok(snapshot) = client::snapshot(&session).await else {
            continue;
        };
        let Some(blocked) = snapshot.blocked.as_deref().filter(|b| signals::is_limit(b)) else {
            continue;
        };
        let Some(runtime) = registry::live_runtime(&identity)
            .await
            .and_then(|live| live.get())
        else {
            continue;
        };
        let key = if runtime.accounts.is_empty() {
            runtime.name.clone()
        } else {
            match handler.tree.accounts.key_of(&identity.address) {
                Some(key) => key,
                None => continue,
            }
        };
        let holds = limits.holding(&key, now).is_some();
        let rotate = !runtime.accounts.is_empty() && holds && free_account(&runtime, &limits, now);
        // A held session (gastown's own hold, not the CLI's screen) goes as soon as its limit no
        // longer holds, even if the reset was handed out before it started.
        let lifted = blocked.contains(signals::HELD) && !holds;
        if !due.contains(&key) && !rotate && !lifted {
            continue;
        }
        let address = identity.address.clone();
        match handler
            .carry_out(Effect::RestartSession {
                address: address.clone(),
            })
            .await
        {
            Ok(_) if rotate => tracing::info!(
                agent = %address,
                "usage limit of {key}: session started again on another account, told its hook"
            ),
            Ok(_) => {
                tracing::info!(agent = %address, "usage limit reset: session started again, told its hook")
            }
            Err(e) => {
                tracing::warn!(agent = %address, "usage limit reset, but cannot restart: {e}")
            }
        }
    }
}
