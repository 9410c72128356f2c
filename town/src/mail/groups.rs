//! Mail groups: the built-in ones (`@town`, `@witnesses`, `@polecats`, `@crew`, `@<rig>`) and
//! user groups kept in the ledger.
//!
//! A user group is a message bead without an assignee, labelled `mail:group`, titled `@<name>`,
//! with one member address per line in its description (members may be other groups; cycles are
//! cut). Queue and channel definitions use the same shape (see [`Def`]), so they go to git with
//! the rest of the town and are never ready work nor anyone's inbox.

use super::address::{known_identities, resolve, rigs_on_disk, town_root};
use super::{OVERSEER, Resolved};
use crate::identity::{AgentIdentity, Role, is_simple_name};
use anyhow::{Result, bail};
use gastown_beads::{Bead, BeadPatch, IssueType, Ledger, ListFilter, NewBead};
use std::collections::BTreeSet;

/// Built-in group names.
pub const BUILTIN: [&str; 4] = ["town", "witnesses", "polecats", "crew"];

/// A kind of definition bead: groups, queues, channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Def {
    /// The label marking the definition (`mail:group`).
    pub label: &'static str,
    /// The address prefix (`@`, `queue:`, `channel:`).
    pub prefix: &'static str,
    /// What people call it (`group`).
    pub noun: &'static str,
}

pub const GROUP: Def = Def {
    label: "mail:group",
    prefix: "@",
    noun: "group",
};

impl Def {
    /// Every definition of this kind (open ones).
    pub fn all(&self, ledger: &Ledger) -> Result<Vec<Bead>> {
        Ok(ledger.list(&ListFilter {
            issue_type: Some(IssueType::Message),
            label: Some(self.label.to_string()),
            ..ListFilter::default()
        })?)
    }

    /// The definition named `name`.
    pub fn find(&self, ledger: &Ledger, name: &str) -> Result<Option<Bead>> {
        let title = format!("{}{name}", self.prefix);
        Ok(self.all(ledger)?.into_iter().find(|b| b.title == title))
    }

    /// Names of every definition.
    pub fn names(&self, ledger: &Ledger) -> Result<Vec<String>> {
        Ok(self
            .all(ledger)?
            .into_iter()
            .filter_map(|b| b.title.strip_prefix(self.prefix).map(str::to_string))
            .collect())
    }

    /// Create a definition; refuses a name that is taken or not simple.
    pub fn create(
        &self,
        ledger: &mut Ledger,
        name: &str,
        lines: &[String],
        who: &str,
    ) -> Result<Bead> {
        if !is_simple_name(name) {
            bail!(
                "{} name {name:?} is not a simple name: use lowercase letters, digits, '-' and '_'",
                self.noun
            );
        }
        if self.find(ledger, name)?.is_some() {
            bail!("{} {}{name} exists already", self.noun, self.prefix);
        }
        Ok(ledger.create(
            NewBead {
                title: format!("{}{name}", self.prefix),
                description: lines.join("\n"),
                issue_type: IssueType::Message,
                priority: 2,
                labels: vec![self.label.to_string()],
                ..NewBead::default()
            },
            who,
        )?)
    }

    /// The definition named `name`, or an error that says how to create it.
    pub fn get(&self, ledger: &Ledger, name: &str) -> Result<Bead> {
        match self.find(ledger, name)? {
            Some(b) => Ok(b),
            None => bail!(
                "no {} {}{name}: create it with `gastown mail {} create {name}`",
                self.noun,
                self.prefix,
                self.noun
            ),
        }
    }

    /// Replace the member lines of a definition.
    pub fn set_lines(
        &self,
        ledger: &mut Ledger,
        def: &Bead,
        lines: &[String],
        who: &str,
    ) -> Result<Bead> {
        let patch = BeadPatch {
            description: Some(lines.join("\n")),
            ..BeadPatch::default()
        };
        Ok(ledger.update(&def.id, patch, who)?)
    }
}

/// The member lines of a definition bead.
pub fn lines(def: &Bead) -> Vec<String> {
    def.description
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Every group name: built-in, rigs, and user groups.
pub fn names(ledger: &Ledger) -> Result<Vec<String>> {
    let mut all: Vec<String> = BUILTIN.map(String::from).into();
    all.extend(rigs_on_disk(&town_root(ledger)));
    all.extend(GROUP.names(ledger)?);
    Ok(all)
}

/// The members of group `name` (without `@`), or `None` when there is no such group.
pub fn expand(ledger: &Ledger, name: &str) -> Result<Option<Vec<String>>> {
    let mut seen = BTreeSet::new();
    expand_inner(ledger, name, &mut seen)
}

fn expand_inner(
    ledger: &Ledger,
    name: &str,
    seen: &mut BTreeSet<String>,
) -> Result<Option<Vec<String>>> {
    if !seen.insert(name.to_string()) {
        return Ok(Some(Vec::new()));
    }
    let agents = || -> Result<Vec<AgentIdentity>> {
        Ok(known_identities(ledger)?
            .iter()
            .filter_map(|a| AgentIdentity::parse(a).ok())
            .collect())
    };
    let with_role = |role: Role| -> Result<Option<Vec<String>>> {
        Ok(Some(
            agents()?
                .into_iter()
                .filter(|a| a.role == role)
                .map(|a| a.address)
                .collect(),
        ))
    };
    match name {
        "town" => return Ok(Some(agents()?.into_iter().map(|a| a.address).collect())),
        "witnesses" => return with_role(Role::Witness),
        "polecats" => return with_role(Role::Polecat),
        "crew" => return with_role(Role::Crew),
        _ => {}
    }
    if let Some(def) = GROUP.find(ledger, name)? {
        let mut out = BTreeSet::new();
        for member in lines(&def) {
            match member.strip_prefix('@') {
                Some(inner) => out.extend(expand_inner(ledger, inner, seen)?.unwrap_or_default()),
                None => {
                    out.insert(member);
                }
            }
        }
        return Ok(Some(out.into_iter().collect()));
    }
    let members: Vec<String> = agents()?
        .into_iter()
        .filter(|a| a.rig.as_deref() == Some(name))
        .map(|a| a.address)
        .collect();
    let is_rig = rigs_on_disk(&town_root(ledger)).iter().any(|r| r == name);
    Ok((is_rig || !members.is_empty()).then_some(members))
}

/// Check that each address can be a member: a known identity, `overseer`, or a group.
fn check_members(ledger: &Ledger, members: &[String]) -> Result<()> {
    for m in members {
        if let Some(group) = m.strip_prefix('@') {
            if expand(ledger, group)?.is_none() {
                bail!("no group {m}: `gastown mail group list` shows the groups");
            }
            continue;
        }
        match resolve(ledger, m, "")? {
            Resolved::One(_) => {}
            _ => bail!("{m} cannot be a group member: use agent addresses, overseer or @groups"),
        }
    }
    Ok(())
}

/// `mail group create <name> [members…]`.
pub fn create(ledger: &mut Ledger, who: &str, name: &str, members: &[String]) -> Result<String> {
    let name = name.strip_prefix('@').unwrap_or(name);
    let reserved =
        BUILTIN.contains(&name) || rigs_on_disk(&town_root(ledger)).iter().any(|r| r == name);
    if reserved || name == OVERSEER {
        bail!("@{name} is a built-in group: choose another name");
    }
    check_members(ledger, members)?;
    let uniq: BTreeSet<String> = members.iter().cloned().collect();
    let bead = GROUP.create(ledger, name, &uniq.into_iter().collect::<Vec<_>>(), who)?;
    Ok(format!(
        "created group @{name} ({}) with {} member(s)\n",
        bead.id,
        lines(&bead).len()
    ))
}

/// `mail group add|remove <name> <members…>`.
pub fn change(
    ledger: &mut Ledger,
    who: &str,
    name: &str,
    members: &[String],
    add: bool,
) -> Result<String> {
    let name = name.strip_prefix('@').unwrap_or(name);
    if BUILTIN.contains(&name) {
        bail!("@{name} is a built-in group: its members follow the town, they cannot be edited");
    }
    let def = GROUP.get(ledger, name)?;
    let mut set: BTreeSet<String> = lines(&def).into_iter().collect();
    if add {
        check_members(ledger, members)?;
        set.extend(members.iter().cloned());
    } else {
        for m in members {
            if !set.remove(m) {
                bail!("{m} is not a member of @{name}");
            }
        }
    }
    let list: Vec<String> = set.into_iter().collect();
    GROUP.set_lines(ledger, &def, &list, who)?;
    Ok(format!("@{name}: {}\n", list.join(", ")))
}

/// `mail group list [name]`: every group with its members, or one group's members.
pub fn list(ledger: &Ledger, name: Option<&str>) -> Result<String> {
    let names = match name {
        Some(n) => vec![n.strip_prefix('@').unwrap_or(n).to_string()],
        None => names(ledger)?,
    };
    let mut out = String::new();
    for n in names {
        let Some(members) = expand(ledger, &n)? else {
            bail!("no group @{n}: `gastown mail group list` shows the groups");
        };
        out.push_str(&format!("@{n}: {}\n", members.join(", ")));
    }
    Ok(out)
}
