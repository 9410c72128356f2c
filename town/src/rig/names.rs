//! Names of rigs, polecats and crew: simple names that are safe as directory names, path
//! segments of agent addresses (`<rig>/polecats/<name>`) and parts of git branch names.

use super::error::{Result, RigError};
use crate::identity::simple_name_problem;

/// Names a rig cannot take: the town's own directories and the town-level addresses.
pub const RESERVED_RIG_NAMES: &[&str] = &[
    "mayor", "deacon", "overseer", "town", "dogs", "boot", "rigs", "runtime",
];

/// The default polecat name pool (the original's Mad Max names, short and distinct).
pub const DEFAULT_POLECAT_NAMES: &[&str] = &[
    "nux", "furiosa", "slit", "toast", "rictus", "capable", "ace", "dag", "cheedo", "morsov",
    "keeper", "valkyrie", "angharad", "glory", "max", "scabrous", "corpus", "organic", "coma",
    "splendid",
];

/// Check a simple name (the one rule of [`crate::identity::simple_name_problem`], so
/// what `rig add` accepts is exactly what an address accepts). `what` says what the name is for
/// in the error ("rig", "polecat", "crew").
pub fn validate_name(what: &'static str, name: &str) -> Result<()> {
    match simple_name_problem(name) {
        None => Ok(()),
        Some(problem) => Err(RigError::InvalidName {
            what,
            name: name.to_string(),
            why: problem.to_string(),
        }),
    }
}

/// Check a rig name: a simple name that is not one of the town's own ([`RESERVED_RIG_NAMES`]).
pub fn validate_rig_name(name: &str) -> Result<()> {
    validate_name("rig", name)?;
    if RESERVED_RIG_NAMES.contains(&name) {
        return Err(RigError::InvalidName {
            what: "rig",
            name: name.to_string(),
            why: "the town uses that name itself".to_string(),
        });
    }
    Ok(())
}

/// The first name of `pool` not in `in_use`, or `None` when every name is taken.
pub fn first_free_name(pool: &[String], in_use: &[String]) -> Option<String> {
    pool.iter().find(|n| !in_use.contains(n)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, expected_why: Option<&str>) {
        match (validate_rig_name(name), expected_why) {
            (Ok(()), None) => {}
            (Err(e), Some(why)) => assert!(e.to_string().contains(why), "{name:?}: {e}"),
            (got, want) => panic!("{name:?}: got {got:?}, wanted an error with {want:?}"),
        }
    }

    #[test]
    fn simple_names_only() {
        check("myrig", None);
        check("my-rig_2", None);
        check("9lives", None);
        check("", Some("empty"));
        check("..", Some("'.'"));
        check(".runtime", Some("'.'"));
        check("a/b", Some("path separator"));
        check("with space", Some("whitespace"));
        check("Caps", Some("'C'"));
        check("-flag", Some("does not start"));
        check("_x", Some("does not start"));
        check("mayor", Some("the town uses"));
        check("deacon", Some("the town uses"));
        check(&"x".repeat(65), Some("over the limit"));
    }

    #[test]
    fn rig_names_end_where_addresses_end() {
        use crate::identity::{AgentIdentity, MAX_NAME_LEN};
        let longest = "r".repeat(MAX_NAME_LEN);
        check(&longest, None);
        AgentIdentity::parse(&format!("{longest}/polecats/nux")).expect("the longest rig name");
        let too_long = "r".repeat(MAX_NAME_LEN + 1);
        check(&too_long, Some("over the limit of 40"));
        assert!(AgentIdentity::parse(&format!("{too_long}/polecats/nux")).is_err());
        // Every length the rig accepts, the address accepts, and the other way round.
        for len in 1..=64 {
            let name = "a".repeat(len);
            assert_eq!(
                validate_rig_name(&name).is_ok(),
                AgentIdentity::parse(&format!("{name}/witness")).is_ok(),
                "length {len}"
            );
        }
    }

    #[test]
    fn the_default_pool_is_valid_and_distinct() {
        for (i, n) in DEFAULT_POLECAT_NAMES.iter().enumerate() {
            validate_name("polecat", n).expect("a valid default name");
            assert!(!DEFAULT_POLECAT_NAMES[..i].contains(n), "{n} twice");
        }
    }

    #[test]
    fn first_free_name_skips_names_in_use() {
        let pool: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(first_free_name(&pool, &[]), Some("a".into()));
        assert_eq!(
            first_free_name(&pool, &["a".into(), "c".into()]),
            Some("b".into())
        );
        assert_eq!(first_free_name(&pool, &pool), None);
    }
}
