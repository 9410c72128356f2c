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

/// Longest simple name (a rig, polecat, crew member, dog or agent runtime): the one limit for
/// `rig add`, addresses and everything else that takes such a name. The original Gas Town's
/// names are short (`gastown`, `nux`, `furiosa`), so any limit this size is generous; 40 is the
/// limit addresses always had, so every rig and agent that works today keeps working, while
/// the 41–64-character names `rig add` used to accept (whose agents had no valid address) are
/// refused up front.
pub const MAX_NAME_LEN: usize = 40;

/// What makes a name not a simple name; see [`simple_name_problem`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameProblem {
    #[error("it is empty")]
    Empty,
    #[error("it is {0} characters long, over the limit of {MAX_NAME_LEN}")]
    TooLong(usize),
    #[error("it has a path separator")]
    PathSeparator,
    #[error("it has a '.'")]
    Dot,
    #[error("it has whitespace")]
    Whitespace,
    #[error("it has the character {0:?}")]
    Character(char),
    #[error("it does not start with a letter or digit")]
    Start,
}

/// The rule for a simple name, said once for every message that explains it.
pub const SIMPLE_NAME_RULE: &str = "a name is 1 to 40 characters of a-z, 0-9, '-' and '_', \
     starting with a letter or digit";

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error(
        "unknown agent address {0:?}: use mayor, deacon, deacon/dogs/<name>, <rig>/witness, \
         <rig>/refinery, <rig>/polecats/<name> or <rig>/crew/<name>"
    )]
    Unknown(String),
    #[error(
        "{what} {name:?} in address {address:?} is not a simple name: {problem}; \
         {SIMPLE_NAME_RULE}"
    )]
    BadName {
        what: &'static str,
        name: String,
        address: String,
        problem: NameProblem,
    },
}

/// What is wrong with `name` as a simple name, or `None` when it is one: 1 to
/// [`MAX_NAME_LEN`] characters of `a-z 0-9 - _`, starting with a letter or digit. Refuses
/// `..`, `/`, spaces, capitals, the empty name. The one definition every caller uses.
pub fn simple_name_problem(name: &str) -> Option<NameProblem> {
    let Some(first) = name.chars().next() else {
        return Some(NameProblem::Empty);
    };
    let length = name.chars().count();
    if length > MAX_NAME_LEN {
        return Some(NameProblem::TooLong(length));
    }
    if name.contains(['/', '\\']) {
        return Some(NameProblem::PathSeparator);
    }
    if name.contains('.') {
        return Some(NameProblem::Dot);
    }
    if name.chars().any(char::is_whitespace) {
        return Some(NameProblem::Whitespace);
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
    {
        return Some(NameProblem::Character(c));
    }
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
        return Some(NameProblem::Start);
    }
    None
}

/// Is `name` a simple name (a rig, polecat, crew member or dog)? See [`simple_name_problem`].
pub fn is_simple_name(name: &str) -> bool {
    simple_name_problem(name).is_none()
}

impl AgentIdentity {
    /// Parse an address.
    pub fn parse(address: &str) -> Result<AgentIdentity, AddressError> {
        let parts: Vec<&str> = address.split('/').collect();
        let check = |what: &'static str, name: &str| -> Result<(), AddressError> {
            match simple_name_problem(name) {
                None => Ok(()),
                Some(problem) => Err(AddressError::BadName {
                    what,
                    name: name.to_string(),
                    address: address.to_string(),
                    problem,
                }),
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

    #[test]
    fn names_at_the_length_limit() {
        let longest = "x".repeat(MAX_NAME_LEN);
        let too_long = "x".repeat(MAX_NAME_LEN + 1);
        assert_eq!(simple_name_problem(&longest), None);
        assert_eq!(
            simple_name_problem(&too_long),
            Some(NameProblem::TooLong(MAX_NAME_LEN + 1))
        );
        check(
            &format!("{longest}/polecats/{longest}"),
            Ok((Role::Polecat, Some(longest.as_str()), longest.as_str())),
        );
        check(&format!("{too_long}/witness"), Err(()));
        check(&format!("alpha/crew/{too_long}"), Err(()));
        let err = AgentIdentity::parse(&format!("alpha/crew/{too_long}")).expect_err("too long");
        assert!(err.to_string().contains("over the limit of 40"), "{err}");
    }

    #[test]
    fn the_rule_text_names_the_limit() {
        assert!(SIMPLE_NAME_RULE.contains(&format!("1 to {MAX_NAME_LEN} characters")));
    }

    #[test]
    fn each_problem_is_named() {
        for (name, problem) in [
            ("", NameProblem::Empty),
            ("a/b", NameProblem::PathSeparator),
            ("..", NameProblem::Dot),
            (".git", NameProblem::Dot),
            ("a b", NameProblem::Whitespace),
            ("Caps", NameProblem::Character('C')),
            ("-x", NameProblem::Start),
            ("_x", NameProblem::Start),
        ] {
            assert_eq!(simple_name_problem(name), Some(problem), "{name:?}");
        }
        assert_eq!(simple_name_problem("my-rig_2"), None);
        assert_eq!(simple_name_problem("9lives"), None);
    }
}
