//! Finding a running agent by its address, without walking the supervision tree.
//!
//! Each role registers three actors in ractor's registry under names derived from the address
//! by [`gastown_town::names`]: its supervisor, its role actor (child `agent`) and its session
//! (child `session`). ractor takes a name when the actor is spawned and gives it back as soon as
//! the actor starts stopping, and the supervisor starts a new incarnation only once the old one
//! has stopped, so a restarted part registers again under the same name and a stopped one is
//! gone from the registry. A lookup is a map read: no message to any supervisor.
//!
//! A name found in the registry may belong to an actor that is stopping right now; whoever
//! sends to it gets the same error as for an actor that stopped a moment after the lookup.

use crate::role::{LiveRuntime, RoleInfo, RoleMsg};
use crate::session::SessionMsg;
use gastown_supervision::{SupervisorMsg, SupervisorRef};
use gastown_town::identity::AgentIdentity;
use gastown_town::names::{self, Registered};
use ractor::{ActorCell, ActorRef, Message};

/// The actor registered as `part` of `identity`'s role, if it runs and takes `M`.
fn lookup<M: Message>(part: Registered, identity: &AgentIdentity) -> Option<ActorRef<M>> {
    typed(ractor::registry::where_is(names::registered_name(
        part, identity,
    ))?)
}

fn typed<M: Message>(cell: ActorCell) -> Option<ActorRef<M>> {
    (cell.is_message_type_of::<M>() == Some(true)).then(|| ActorRef::from(cell))
}

/// The role actor of `identity` (heartbeats, [`RoleInfo`]), if its role runs.
pub fn role_actor(identity: &AgentIdentity) -> Option<ActorRef<RoleMsg>> {
    lookup(Registered::Agent, identity)
}

/// The session of `identity`, if one runs.
pub fn session(identity: &AgentIdentity) -> Option<ActorRef<SessionMsg>> {
    lookup(Registered::Session, identity)
}

/// The supervisor of `identity`'s role (to restart its session or stop it), if it runs. Asks the
/// supervisor for its path, bounded by the supervisor's query timeout.
pub async fn role(identity: &AgentIdentity) -> Option<SupervisorRef> {
    let actor = lookup::<SupervisorMsg>(Registered::Role, identity)?;
    SupervisorRef::from_actor(actor).await.ok()
}

/// What the role actor of `identity` says about itself: `None` when its role is not running,
/// `Some(None)` when it runs but did not answer.
pub async fn role_info(identity: &AgentIdentity) -> Option<Option<RoleInfo>> {
    let agent = role_actor(identity)?;
    Some(ractor::call!(agent, RoleMsg::Info).ok())
}

/// The runtime cell of `identity`'s role (what its next session runs), if its role runs and
/// answers.
pub async fn live_runtime(identity: &AgentIdentity) -> Option<LiveRuntime> {
    let agent = role_actor(identity)?;
    ractor::call!(agent, RoleMsg::Live).ok()
}

/// Every running session, with the identity it belongs to.
pub fn running_sessions() -> Vec<(AgentIdentity, ActorRef<SessionMsg>)> {
    ractor::registry::registered()
        .into_iter()
        .filter_map(|name| match names::identity_of_registered(&name)? {
            (Registered::Session, identity) => {
                let session = typed(ractor::registry::where_is(name)?)?;
                Some((identity, session))
            }
            _ => None,
        })
        .collect()
}
