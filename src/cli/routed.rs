//! Commands that run the same with or without a supervisor: through the socket when `gastown
//! run` is up (the supervisor owns the ledger; the caller is the connection's identity), else on
//! the ledger opened here (the caller is `GASTOWN_AGENT`, else the overseer). Either way the
//! command's typed reply comes back here, for the family's file to render.

use crate::client;
use crate::protocol::{TownReply, TownRequest};
use anyhow::{Context, Result, anyhow};
use gastown_beads::Ledger;
use gastown_town::Caller;
use gastown_town::town::Town;

/// Send `request` to the supervisor if one runs, else run `direct` on the opened ledger (flushed
/// to git on the way out) as the caller [`caller_from_env`] names.
pub fn run(
    town: &Town,
    request: TownRequest,
    direct: impl FnOnce(&mut Ledger, &Caller) -> Result<TownReply>,
) -> Result<TownReply> {
    if let Some(mut supervisor) = client::connect(town)? {
        return client::call(&mut supervisor, request);
    }
    let caller = caller_from_env()?;
    let mut ledger = town.open_ledger()?;
    let result = direct(&mut ledger, &caller);
    let closed = ledger
        .close_ledger()
        .context("cannot flush the ledger to git");
    let reply = result?;
    closed?;
    Ok(reply)
}

/// Who the CLI acts as without a supervisor: the agent `GASTOWN_AGENT` names (set in every
/// agent session), else the overseer.
pub fn caller_from_env() -> Result<Caller> {
    match std::env::var("GASTOWN_AGENT") {
        Ok(name) if !name.is_empty() => Caller::from_name(&name).map_err(|e| {
            anyhow!("GASTOWN_AGENT={name:?} names no agent: {e}; a session sets it to its agent's address (e.g. alpha/polecats/nux)")
        }),
        _ => Ok(Caller::Overseer),
    }
}

/// Refuses a command the CLI runs itself that is the overseer's alone (`config` changes, `rig
/// add|remove`: they change the town's files, not the ledger). With `gastown run` up the
/// supervisor says who the caller is (it places a process inside a session as its agent,
/// whatever its environment says); without one `GASTOWN_AGENT` does, which proves nothing
/// (`docs/socket.md`, threat model).
pub fn overseer_only(town: &Town, what: &str) -> Result<()> {
    Ok(gastown_town::authz::overseer_only(&caller(town)?, what)?)
}

/// Who is calling, for a command the CLI runs itself: the supervisor's answer when `gastown run`
/// is up (it knows a session's process whatever its environment says), else
/// [`caller_from_env`].
pub fn caller(town: &Town) -> Result<Caller> {
    use crate::socket::{Identity, ReplyBody, RequestBody};
    Ok(match client::connect(town)? {
        Some(mut supervisor) => match supervisor.call(RequestBody::Whoami)? {
            ReplyBody::Identity(Identity::Agent { address, .. }) => Caller::from_name(&address)?,
            ReplyBody::Identity(Identity::Overseer) => Caller::Overseer,
            other => {
                return Err(anyhow!(
                    "the supervisor answered `whoami` with {other:?}: restart `gastown run` with this gastown"
                ));
            }
        },
        None => caller_from_env()?,
    })
}

/// The reply a request of this family cannot get: the supervisor and this CLI disagree.
pub fn unexpected(reply: &TownReply) -> anyhow::Error {
    anyhow!(
        "unexpected reply from the supervisor ({}): restart `gastown run` with this gastown",
        reply_name(reply)
    )
}

/// A reply's variant, for messages (never its content: it may be large).
fn reply_name(reply: &TownReply) -> &'static str {
    match reply {
        TownReply::Bead(_) => "bead",
        TownReply::Mail(_) => "mail",
        TownReply::Mol(_) => "mol",
        TownReply::Mq(_) => "mq",
        TownReply::Convoy(_) => "convoy",
        TownReply::Work { .. } => "work",
        TownReply::Hook(_) => "hook",
        TownReply::Seance(_) => "seance",
        TownReply::Synced(_) => "synced",
        TownReply::Claims(_) => "claims",
        TownReply::Tree(_) => "tree",
        TownReply::Actor(_) => "actor",
        TownReply::Screen { .. } => "screen",
        TownReply::Nudged { .. } => "nudged",
        TownReply::Restarted { .. } => "restarted",
        TownReply::Killed { .. } => "killed",
        TownReply::Spawned { .. } => "spawned",
        TownReply::Attached { .. } => "attached",
        TownReply::Output { .. } => "output",
        TownReply::Done => "done",
        TownReply::Escalation(_) => "escalation",
        TownReply::Dogs(_) => "dogs",
        TownReply::DogRan(_) => "dog-ran",
        TownReply::Status(_) => "status",
        TownReply::Events(_) => "events",
        TownReply::Costs(_) => "costs",
        TownReply::Doctor(_) => "doctor",
    }
}
