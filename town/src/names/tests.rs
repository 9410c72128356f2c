//! Round trips of every name of every role (mayor, deacon, dogs, witness, refinery, polecats,
//! crew), the edges (names at the length limit, paths and homes that are no agent's), and the
//! agreement of homes with the rig layout on disk.

use super::*;
use std::path::Path;

/// One agent's names, as written in the docs.
struct Names<'a> {
    address: &'a str,
    tree_path: &'a str,
    /// Below the town's directory.
    home: &'a str,
    /// With the prefix `gt`.
    bead_id: &'a str,
}

fn identity(address: &str) -> AgentIdentity {
    AgentIdentity::parse(address).expect("a valid address")
}

/// Every name of `expected.address` is the expected one, and each turns back into the identity.
fn check(expected: Names<'_>) {
    let town = Path::new("/towns/t");
    let who = identity(expected.address);
    assert_eq!(tree_path(&who), expected.tree_path);
    assert_eq!(identity_of_tree_path(expected.tree_path), Some(who.clone()));
    assert_eq!(tree_node(expected.tree_path), TreeNode::Agent(who.clone()));
    let home_path = town.join(expected.home);
    assert_eq!(home(town, &who), home_path);
    assert_eq!(identity_of_home(town, &home_path), Some(who.clone()));
    assert_eq!(bead_id("gt", &who), expected.bead_id);
    assert_eq!(bead_id_of_address("gt", expected.address), expected.bead_id);
    for part in Registered::ALL {
        let name = registered_name(part, &who);
        assert!(name.ends_with(expected.address), "{name}");
        assert_eq!(identity_of_registered(&name), Some((part, who.clone())));
    }
}

#[test]
fn every_role_round_trips() {
    check(Names {
        address: "mayor",
        tree_path: "town/mayor",
        home: "mayor",
        bead_id: "gt-agent-utmjghgb",
    });
    check(Names {
        address: "deacon",
        tree_path: "town/deacon",
        home: "deacon",
        bead_id: "gt-agent-j2pxgl1h",
    });
    check(Names {
        address: "deacon/dogs/rex",
        tree_path: "town/deacon/dogs/rex",
        home: "deacon/dogs/rex",
        bead_id: "gt-agent-uxg4qxru",
    });
    check(Names {
        address: "alpha/witness",
        tree_path: "town/rigs/alpha/witness",
        home: "alpha/witness",
        bead_id: "gt-agent-r96orpc8",
    });
    check(Names {
        address: "alpha/refinery",
        tree_path: "town/rigs/alpha/refinery",
        home: "alpha/refinery",
        bead_id: "gt-agent-7h4u1ui2",
    });
    check(Names {
        address: "alpha/polecats/nux",
        tree_path: "town/rigs/alpha/polecats/nux",
        home: "alpha/polecats/nux/rig",
        bead_id: "gt-agent-40qobl7w",
    });
    check(Names {
        address: "alpha/crew/max",
        tree_path: "town/rigs/alpha/crew/max",
        home: "alpha/crew/max/rig",
        bead_id: "gt-agent-357ymuww",
    });
}

#[test]
fn names_at_the_length_limit_round_trip() {
    let longest = "x".repeat(crate::identity::MAX_NAME_LEN);
    let address = format!("{longest}/polecats/{longest}");
    let bead = bead_id("gt", &identity(&address));
    check(Names {
        address: &address,
        tree_path: &format!("town/rigs/{longest}/polecats/{longest}"),
        home: &format!("{longest}/polecats/{longest}/rig"),
        bead_id: &bead,
    });
    gastown_beads::id::validate_id(&bead).expect("a valid bead id");
    let too_long = format!("{longest}x");
    assert_eq!(
        identity_of_tree_path(&format!("town/rigs/{too_long}/crew/max")),
        None
    );
    assert_eq!(tree_node(&format!("town/rigs/{too_long}")), TreeNode::Other);
    assert_eq!(
        identity_of_registered(&format!("gastown-agent:alpha/crew/{too_long}")),
        None
    );
}

#[test]
fn a_path_that_is_no_agents_names_no_agent() {
    for path in [
        "",
        "town",
        "town/",
        "town/ledger",
        "town/router",
        "town/socket",
        "town/rigs",
        "town/rigs/alpha",
        "town/rigs/alpha/crew",
        "town/rigs/alpha/polecats",
        "town/deacon/dogs",
        "town/deacon/patrol",
        "town/mayor/session",
        "town/rigs/alpha/crew/max/session",
        "town/rigs/alpha/crew/max/agent",
        // The agents of a rig live under `rigs/`, the town's own never do.
        "town/alpha/crew/max",
        "town/rigs/mayor",
        "town/rigs/deacon/dogs/rex",
        // The prefixed paths of old.
        "town/rigs/rig:alpha/crew/crew:max",
        "town/deacon/dogs/dog:rex",
        // Not below the town, or not a simple name.
        "mayor",
        "alpha/crew/max",
        "other/mayor",
        "townx/mayor",
        "town/rigs/Alpha/crew/max",
        "town/rigs/alpha/crew/..",
        "town//mayor",
    ] {
        assert_eq!(identity_of_tree_path(path), None, "{path:?}");
        assert!(!matches!(tree_node(path), TreeNode::Agent(_)), "{path:?}");
    }
}

#[test]
fn rigs_and_other_nodes_are_told_apart() {
    assert_eq!(rig_place("alpha").path(), "town/rigs/alpha");
    assert_eq!(tree_node("town/rigs/alpha"), TreeNode::Rig("alpha".into()));
    for other in [
        "town",
        "town/rigs",
        "town/ledger",
        "town/rigs/alpha/crew",
        "town/rigs/rig:alpha",
    ] {
        assert_eq!(tree_node(other), TreeNode::Other, "{other}");
    }
    let place = tree_place(&identity("alpha/crew/max"));
    assert_eq!(place.parents, ["rigs", "alpha", "crew"]);
    assert_eq!(place.id, "max");
    let place = tree_place(&identity("deacon/dogs/rex"));
    assert_eq!(place.parents, ["deacon", "dogs"]);
    assert_eq!(place.id, "rex");
    assert!(tree_place(&identity("mayor")).parents.is_empty());
}

#[test]
fn a_home_that_is_no_agents_names_no_agent() {
    let town = Path::new("/towns/t");
    for path in [
        "/towns/t",
        "/towns/t/alpha",
        // A polecat's or crew member's own directory is not its home: the workspace is.
        "/towns/t/alpha/polecats/nux",
        "/towns/t/alpha/crew/max",
        "/towns/t/alpha/crew/max/rig/src",
        "/towns/t/mayor/rig",
        "/towns/t/alpha/witness/rig",
        "/towns/t/alpha/.repo.git",
        "/towns/t/alpha/crew/../crew/max/rig",
        "/towns/other/mayor",
        "/elsewhere/mayor",
    ] {
        assert_eq!(identity_of_home(town, Path::new(path)), None, "{path}");
    }
}

#[test]
fn names_that_are_not_an_agents_are_not_taken_for_one() {
    for name in [
        "gastown-ledger",
        "gastown-router",
        "gastown-deacon-patrol",
        "gastown-role",
        "gastown-role:",
        "gastown-agent:town/rigs/alpha/crew/max",
        "gastown-session:alpha/crew",
        "alpha/crew/max",
        "mayor",
    ] {
        assert_eq!(identity_of_registered(name), None, "{name}");
    }
    // Every part of every agent has a name of its own.
    let mut seen = std::collections::HashSet::new();
    for address in [
        "mayor",
        "deacon",
        "deacon/dogs/mayor",
        "mayor/witness",
        "a/crew/b",
    ] {
        for part in Registered::ALL {
            assert!(seen.insert(registered_name(part, &identity(address))));
        }
    }
}

#[test]
fn homes_are_where_the_rig_layout_puts_workspaces() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("source");
    std::fs::create_dir(&source).expect("mkdir");
    crate::git_cli::git(&source, &["init", "--quiet", "--initial-branch=main"]).expect("init");
    std::fs::write(source.join("README.md"), "hello\n").expect("write");
    crate::git_cli::commit_all(&source, "first").expect("commit");
    let town = crate::town::install(
        &dir.path().join("town"),
        &crate::town::InstallOptions {
            prefix: "gt".to_string(),
            name: None,
            agent: crate::town::DefaultAgent::Named("sim".to_string()),
        },
    )
    .expect("install");
    let rig = crate::rig::add_rig(
        &town,
        &crate::rig::AddOptions {
            name: "alpha".to_string(),
            source: source.to_string_lossy().into_owned(),
            branch: None,
            runtime: None,
            prefix: None,
            no_push: true,
        },
    )
    .expect("rig add");
    let root = &town.root;
    let nux = identity("alpha/polecats/nux");
    let max = identity("alpha/crew/max");
    assert_eq!(home(root, &nux), rig.polecat_worktree("nux"));
    assert_eq!(agent_dir(root, &nux), rig.polecat_dir("nux"));
    assert_eq!(home(root, &max), rig.crew_clone("max"));
    assert_eq!(agent_dir(root, &max), rig.crew_dir("max"));
    assert_eq!(home(root, &identity("alpha/refinery")), rig.refinery_dir());
}
