//! Who is asking: the caller of a town command, as a typed value the domain checks.
//!
//! Every command runs as a caller: the overseer (the human at the keyboard: any same-uid
//! process outside every agent session) or one agent identity. With `gastown run` up, the socket
//! layer establishes it at handshake from the peer's process (a process inside a session is its
//! agent; the session token is a cross-check) and the supervisor hands it to the domain; without
//! a supervisor the CLI takes it from `GASTOWN_AGENT` ([`Caller::from_name`]), which proves
//! nothing (`docs/socket.md`, threat model). What a caller may do is [`crate::authz`]'s.
//! Domain code asks the caller ([`Caller::is_overseer`], [`Caller::may_act_for`],
//! [`Caller::agent`]) and never compares names against `"overseer"`. The overseer's *mail
//! address* is still spelled `overseer` ([`crate::mail::OVERSEER`]): that is what the ledger
//! records as the actor of the overseer's changes and what [`Caller::name`] returns.

use crate::identity::{AddressError, AgentIdentity};
use std::fmt;

/// The caller of a command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// The human at the keyboard: may read any inbox and act for any agent.
    Overseer,
    /// An agent session, bound to its identity.
    Agent(AgentIdentity),
}

/// Why a caller cannot run a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallerError {
    /// The command is an agent's, run from its session.
    #[error(
        "`gastown {command}` is run by an agent from its session (GASTOWN_AGENT), not by the overseer"
    )]
    AgentOnly {
        /// The command, as typed after `gastown` (e.g. `done`).
        command: &'static str,
    },
}

impl Caller {
    /// The caller named `name`: `overseer`, or an agent address.
    pub fn from_name(name: &str) -> Result<Caller, AddressError> {
        if name == crate::mail::OVERSEER {
            return Ok(Caller::Overseer);
        }
        AgentIdentity::parse(name).map(Caller::Agent)
    }

    /// What the ledger records as the actor, and the caller's mail address: `overseer` or the
    /// agent's address.
    pub fn name(&self) -> &str {
        match self {
            Caller::Overseer => crate::mail::OVERSEER,
            Caller::Agent(identity) => &identity.address,
        }
    }

    /// Is the caller the overseer?
    pub fn is_overseer(&self) -> bool {
        matches!(self, Caller::Overseer)
    }

    /// The caller's agent identity, or `None` for the overseer.
    pub fn agent(&self) -> Option<&AgentIdentity> {
        match self {
            Caller::Overseer => None,
            Caller::Agent(identity) => Some(identity),
        }
    }

    /// The caller's agent identity, or an error saying `command` is run from an agent session.
    pub fn require_agent(&self, command: &'static str) -> Result<&AgentIdentity, CallerError> {
        self.agent().ok_or(CallerError::AgentOnly { command })
    }

    /// May the caller act for `address` (read its inbox, set its do-not-disturb, …)? The
    /// overseer for anyone; an agent for itself; the mayor, and a rig's witness and refinery
    /// for its polecats: the rule is [`crate::authz::may_act_on`].
    pub fn may_act_for(&self, address: &str) -> bool {
        crate::authz::may_act_on(self, address)
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in ["overseer", "mayor", "alpha/crew/max", "deacon/dogs/rex"] {
            let caller = Caller::from_name(name).expect("a caller");
            assert_eq!(caller.name(), name);
            assert_eq!(caller.to_string(), name);
        }
        assert!(Caller::from_name("alpha/boss").is_err());
        assert!(Caller::from_name("").is_err());
    }

    #[test]
    fn the_overseer_acts_for_anyone_an_agent_for_itself() {
        let max = Caller::from_name("alpha/crew/max").expect("an agent");
        assert!(max.may_act_for("alpha/crew/max"));
        assert!(!max.may_act_for("alpha/crew/sam"));
        assert!(!max.may_act_for("overseer"));
        assert!(!max.is_overseer());
        assert_eq!(max.require_agent("done").expect("an agent").name, "max");
        assert!(Caller::Overseer.may_act_for("alpha/crew/sam"));
        assert!(Caller::Overseer.is_overseer());
        let refused = Caller::Overseer
            .require_agent("done")
            .expect_err("overseer");
        assert!(refused.to_string().contains("`gastown done`"), "{refused}");
    }
}
