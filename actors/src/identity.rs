//! Agent identities and their addresses: `mayor`, `deacon`, `<rig>/witness`, `<rig>/refinery`,
//! `<rig>/polecats/<name>`, `<rig>/crew/<name>`, `deacon/dogs/<name>`.
//!
//! An identity is durable (it outlives every session); an address names it everywhere: in mail,
//! in hooks (`assignee`), in the supervision tree and in a session's `GASTOWN_AGENT`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The roles of Gas Town.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Mayor,
    Deacon,
    Dog,
    Witness,
    Refinery,
    Polecat,
    Crew,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Mayor => "mayor",
            Role::Deacon => "deacon",
            Role::Dog => "dog",
            Role::Witness => "witness",
            Role::Refinery => "refinery",
            Role::Polecat => "polecat",
            Role::Crew => "crew",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One agent identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AgentIdentity {
    /// The canonical address, e.g. `alpha/crew/max`.
    pub address: String,
    pub role: Role,
    /// The rig, for rig-level roles.
    pub rig: Option<String>,
    /// The agent's own name (`max`), or the role's name for singletons (`mayor`, `witness`).
    pub name: String,
}

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error(
        "unknown agent address {0:?}: use mayor, deacon, deacon/dogs/<name>, <rig>/witness, \
         <rig>/refinery, <rig>/polecats/<name> or <rig>/crew/<name>"
    )]
    Unknown(String),
    #[error(
        "{what} {name:?} in address {address:?} is not a simple name: use lowercase letters, \
         digits, '-' and '_' (not starting with '-' or '_', at most 40 characters)"
    )]
    BadName {
        what: &'static str,
        name: String,
        address: String,
    },
}

/// Is `name` a simple name (a rig, polecat, crew member or dog)? Refuses `..`, `/`, spaces, empty.
pub fn is_simple_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    name.len() <= 40
        && (first.is_ascii_lowercase() || first.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

impl AgentIdentity {
    /// Parse an address.
    pub fn parse(address: &str) -> Result<AgentIdentity, AddressError> {
        let parts: Vec<&str> = address.split('/').collect();
        let check = |what: &'static str, name: &str| -> Result<(), AddressError> {
            if is_simple_name(name) {
                Ok(())
            } else {
                Err(AddressError::BadName {
                    what,
                    name: name.to_string(),
                    address: address.to_string(),
                })
            }
        };
        let identity = |role, rig: Option<&str>, name: &str| AgentIdentity {
            address: address.to_string(),
            role,
            rig: rig.map(str::to_string),
            name: name.to_string(),
        };
        match parts.as_slice() {
            ["mayor"] => Ok(identity(Role::Mayor, None, "mayor")),
            ["deacon"] => Ok(identity(Role::Deacon, None, "deacon")),
            ["deacon", "dogs", name] => {
                check("dog name", name)?;
                Ok(identity(Role::Dog, None, name))
            }
            [rig, "witness"] => {
                check("rig name", rig)?;
                Ok(identity(Role::Witness, Some(rig), "witness"))
            }
            [rig, "refinery"] => {
                check("rig name", rig)?;
                Ok(identity(Role::Refinery, Some(rig), "refinery"))
            }
            [rig, "polecats", name] => {
                check("rig name", rig)?;
                check("polecat name", name)?;
                Ok(identity(Role::Polecat, Some(rig), name))
            }
            [rig, "crew", name] => {
                check("rig name", rig)?;
                check("crew name", name)?;
                Ok(identity(Role::Crew, Some(rig), name))
            }
            _ => Err(AddressError::Unknown(address.to_string())),
        }
    }
}

impl fmt::Display for AgentIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(address: &str, expected: Result<(Role, Option<&str>, &str), ()>) {
        let got = AgentIdentity::parse(address)
            .map(|i| (i.role, i.rig.clone(), i.name.clone()))
            .map_err(|_| ());
        let expected = expected.map(|(r, rig, n)| (r, rig.map(str::to_string), n.to_string()));
        assert_eq!(got, expected, "{address}");
    }

    #[test]
    fn addresses() {
        check("mayor", Ok((Role::Mayor, None, "mayor")));
        check("deacon", Ok((Role::Deacon, None, "deacon")));
        check("deacon/dogs/rex", Ok((Role::Dog, None, "rex")));
        check(
            "alpha/witness",
            Ok((Role::Witness, Some("alpha"), "witness")),
        );
        check(
            "alpha/refinery",
            Ok((Role::Refinery, Some("alpha"), "refinery")),
        );
        check(
            "alpha/polecats/nux",
            Ok((Role::Polecat, Some("alpha"), "nux")),
        );
        check("alpha/crew/max", Ok((Role::Crew, Some("alpha"), "max")));
        for bad in [
            "",
            "..",
            "alpha/crew/..",
            "alpha/crew/",
            "a b/crew/max",
            "alpha/crew/max/x",
            "Alpha/crew/max",
            "alpha/crew/-x",
            "alpha/boss",
            "/crew/max",
        ] {
            check(bad, Err(()));
        }
    }
}
