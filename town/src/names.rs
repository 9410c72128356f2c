//! One name per agent, and the one place that turns it into the others.
//!
//! An agent is named by its address ([`AgentIdentity`]); every other name is derived from it
//! here, and nowhere else:
//!
//! | name | `alpha/polecats/nux` becomes | from an identity | back to the identity |
//! |---|---|---|---|
//! | address | `alpha/polecats/nux` | `identity.address` | [`AgentIdentity::parse`] |
//! | tree path | `town/rigs/alpha/polecats/nux` | [`tree_path`] | [`identity_of_tree_path`] |
//! | home | `<town>/alpha/polecats/nux/rig` | [`home`] | [`identity_of_home`] |
//! | bead id | `gt-agent-40qobl7w` | [`bead_id`] (needs the ledger's prefix) | the agent bead's `address` field |
//! | registry name | `gastown-agent:alpha/polecats/nux` | [`registered_name`] | [`identity_of_registered`] |
//!
//! The tree path is the address below `town/` — below `town/rigs/` for the agents of a rig — so
//! a path and an address never look alike (`town` is no rig's name) and no segment carries a
//! prefix (`rig:`, `crew:`, …). The home is the address below the town's directory, plus the
//! workspace directory (`rig`) for polecats and crew, who work in a worktree or clone of their
//! rig. The bead id is a hash of the address, so it cannot be turned back without the ledger.
//!
//! Registry names are how `gastown run` finds a running agent without walking its tree: the
//! role's supervisor, its role actor and its session register in ractor's registry under the
//! name of their part and the address (`gastown-role:`, `gastown-agent:`, `gastown-session:`).
//! Every such name has a `:`, which no other registered name (`gastown-ledger`,
//! `gastown-router`, …) has, and what follows it is a valid address, so no two agents and no
//! other actor can share a name.

use crate::identity::{AgentIdentity, Role};
use sha2::{Digest, Sha256};
use std::path::{Component, Path, PathBuf};

/// The town supervisor's name: the first segment of every tree path.
pub const TOWN: &str = "town";
/// The supervisor of every rig, `town/rigs`; each rig's supervisor is named after the rig.
pub const RIGS: &str = "rigs";
/// A rig's supervisor of its crew members, `town/rigs/<rig>/crew`.
pub const CREW: &str = "crew";
/// A rig's supervisor of its polecats, `town/rigs/<rig>/polecats`.
pub const POLECATS: &str = "polecats";
/// The deacon's supervisor of its dogs, `town/deacon/dogs`.
pub const DOGS: &str = "dogs";
/// The directory inside a polecat's or crew member's own directory that holds its workspace
/// (the same as `rig::WORKTREE_DIR`, which the rig layout uses).
pub const WORKSPACE: &str = crate::rig::WORKTREE_DIR;

/// Where a node sits in the supervision tree: the ids of the supervisors above it (below the
/// town supervisor), and its own id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreePlace {
    /// The supervisors between the town supervisor and the node, outermost first.
    pub parents: Vec<String>,
    /// The node's own child id.
    pub id: String,
}

impl TreePlace {
    /// The node's full path, `town/…/<id>`.
    pub fn path(&self) -> String {
        let mut path = TOWN.to_string();
        for segment in self.parents.iter().chain([&self.id]) {
            path.push('/');
            path.push_str(segment);
        }
        path
    }
}

/// Where the role of `identity` sits in the tree: `town/mayor`, `town/deacon`,
/// `town/deacon/dogs/<name>`, `town/rigs/<rig>/{witness,refinery}`,
/// `town/rigs/<rig>/polecats/<name>`, `town/rigs/<rig>/crew/<name>`.
pub fn tree_place(identity: &AgentIdentity) -> TreePlace {
    let mut segments: Vec<String> = Vec::with_capacity(5);
    if identity.rig.is_some() {
        segments.push(RIGS.to_string());
    }
    segments.extend(identity.address.split('/').map(str::to_string));
    let id = segments.pop().unwrap_or_default();
    TreePlace {
        parents: segments,
        id,
    }
}

/// The tree path of `identity`'s role, e.g. `town/rigs/alpha/crew/max`.
pub fn tree_path(identity: &AgentIdentity) -> String {
    tree_place(identity).path()
}

/// Where the supervisor of rig `rig` sits in the tree: `town/rigs/<rig>`.
pub fn rig_place(rig: &str) -> TreePlace {
    TreePlace {
        parents: vec![RIGS.to_string()],
        id: rig.to_string(),
    }
}

/// The agent whose role is at exactly `path`, or `None` for any other path (the town, a rig,
/// a group of agents, an actor inside a role, or no node of ours at all).
pub fn identity_of_tree_path(path: &str) -> Option<AgentIdentity> {
    let below_town = path.strip_prefix(TOWN)?.strip_prefix('/')?;
    let (address, in_rig) = match below_town
        .strip_prefix(RIGS)
        .and_then(|r| r.strip_prefix('/'))
    {
        Some(address) => (address, true),
        None => (below_town, false),
    };
    let identity = AgentIdentity::parse(address).ok()?;
    (identity.rig.is_some() == in_rig).then_some(identity)
}

/// What a node of the tree is, read from its path alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeNode {
    /// The role of an agent.
    Agent(AgentIdentity),
    /// The supervisor of a rig, `town/rigs/<rig>`.
    Rig(String),
    /// Anything else: the town, `rigs`, a group, an actor of the town or inside a role.
    Other,
}

/// What the node at `path` is.
pub fn tree_node(path: &str) -> TreeNode {
    if let Some(identity) = identity_of_tree_path(path) {
        return TreeNode::Agent(identity);
    }
    let rig = path
        .strip_prefix(TOWN)
        .and_then(|p| p.strip_prefix('/'))
        .and_then(|p| p.strip_prefix(RIGS))
        .and_then(|p| p.strip_prefix('/'));
    match rig {
        Some(rig) if crate::identity::is_simple_name(rig) => TreeNode::Rig(rig.to_string()),
        _ => TreeNode::Other,
    }
}

/// The agent's own directory: its home, except for polecats and crew, whose home is the
/// workspace inside it (`<town>/<rig>/polecats/<name>` holds `rig/`).
pub fn agent_dir(town_root: &Path, identity: &AgentIdentity) -> PathBuf {
    let mut dir = town_root.to_path_buf();
    dir.extend(identity.address.split('/'));
    dir
}

/// Where `identity`'s sessions run: `<town>/mayor`, `<town>/deacon`,
/// `<town>/deacon/dogs/<name>`, `<town>/<rig>/{witness,refinery}`, and the workspace of a
/// polecat or crew member, `<town>/<rig>/{polecats,crew}/<name>/rig`.
pub fn home(town_root: &Path, identity: &AgentIdentity) -> PathBuf {
    let dir = agent_dir(town_root, identity);
    match identity.role {
        Role::Polecat | Role::Crew => dir.join(WORKSPACE),
        _ => dir,
    }
}

/// The agent whose home is exactly `path` (compared as written: no file system access), or
/// `None` for any other path.
pub fn identity_of_home(town_root: &Path, path: &Path) -> Option<AgentIdentity> {
    let mut parts = Vec::new();
    for component in path.strip_prefix(town_root).ok()?.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            _ => return None,
        }
    }
    if let Some(identity) = AgentIdentity::parse(&parts.join("/")).ok()
        && !matches!(identity.role, Role::Polecat | Role::Crew)
    {
        return Some(identity);
    }
    if parts.pop() != Some(WORKSPACE) {
        return None;
    }
    let identity = AgentIdentity::parse(&parts.join("/")).ok()?;
    matches!(identity.role, Role::Polecat | Role::Crew).then_some(identity)
}

/// The id of `identity`'s agent bead in a ledger whose prefix is `prefix`.
pub fn bead_id(prefix: &str, identity: &AgentIdentity) -> String {
    bead_id_of_address(prefix, &identity.address)
}

/// [`bead_id`] of an address as written on a bead (which may predate the address rules):
/// `<prefix>-agent-` and 8 base-36 digits of the address's SHA-256. The ids are in ledgers
/// already, so this may never change.
pub fn bead_id_of_address(prefix: &str, address: &str) -> String {
    let digest = Sha256::digest(address.as_bytes());
    let mut n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes of a 32-byte digest"));
    let mut hash = String::with_capacity(8);
    for _ in 0..8 {
        let d = (n % 36) as u32;
        hash.push(char::from_digit(d, 36).expect("a base-36 digit"));
        n /= 36;
    }
    format!("{prefix}-agent-{hash}")
}

/// The parts of a running agent that register in ractor's registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Registered {
    /// The role's supervisor (restart its session, stop it).
    Role,
    /// The role actor, child `agent` of the role (heartbeats, the runtime it runs).
    Agent,
    /// The session, child `session` of the role (mail notices, peek, nudge, attach).
    Session,
}

impl Registered {
    /// Every part, for round trips.
    pub const ALL: [Registered; 3] = [Registered::Role, Registered::Agent, Registered::Session];

    fn prefix(self) -> &'static str {
        match self {
            Registered::Role => "gastown-role:",
            Registered::Agent => "gastown-agent:",
            Registered::Session => "gastown-session:",
        }
    }
}

/// The registry name of `part` of `identity`'s role, e.g. `gastown-session:alpha/crew/max`.
pub fn registered_name(part: Registered, identity: &AgentIdentity) -> String {
    format!("{}{}", part.prefix(), identity.address)
}

/// Which part of which agent registered under `name`; `None` for every name that is not an
/// agent's (the ledger's, the router's, the patrol's, …).
pub fn identity_of_registered(name: &str) -> Option<(Registered, AgentIdentity)> {
    Registered::ALL.into_iter().find_map(|part| {
        let address = name.strip_prefix(part.prefix())?;
        Some((part, AgentIdentity::parse(address).ok()?))
    })
}

#[cfg(test)]
mod tests;
