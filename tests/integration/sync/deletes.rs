//! A bead deleted in one town and edited in another: the compactor dog is the CLI's one path
//! that deletes persistent beads (a compacted molecule's steps, `docs/ledger.md` "Removing
//! beads"). When another town edited such a step meanwhile, the sync keeps the edit, says so,
//! and every town ends with the edited step.

use super::{Remote, ledger};
use crate::mol::compactor::{backdate, finish, pour};
use crate::util::TestTown;

#[test]
fn a_step_the_compactor_deleted_and_another_town_edited_keeps_the_edit() {
    let remote = Remote::new();
    let a = TestTown::new();
    let path = a.root.join("town.toml");
    let mut config = std::fs::read_to_string(&path).expect("town.toml");
    config.push_str("\n[dogs.compactor]\nevery = \"6h\"\nolder_than = \"1h\"\n");
    std::fs::write(&path, config).expect("write town.toml");
    let (mol, steps) = pour(&a, "sync");
    finish(&a, &steps);
    a.ok(&["remote", "add", "origin", remote.url()]);
    a.ok(&["sync"]);
    let b = TestTown::joined(remote.url());
    let step = &steps[0];
    assert!(ledger(&b).contains_key(step), "b has the step");

    // a compacts the molecule: its steps leave a's ledger, and the remote's.
    backdate(&a, &mol);
    let ran = a.ok(&["dog", "run", "compactor"]);
    assert!(ran.contains("1 molecule(s) squashed"), "{ran}");
    assert!(!ledger(&a).contains_key(step), "deleted on a");
    a.ok(&["sync"]);
    // b, meanwhile, wrote a note on one step.
    b.ok(&[
        "bead",
        "update",
        step,
        "--notes",
        "found on b: the flaky test",
    ]);

    let out = b.ok(&["sync"]);
    assert!(
        out.contains(&format!(
            "kept {step}: deleted on one side, edited on the other"
        )),
        "{out}"
    );
    a.ok(&["sync"]);
    let (la, lb) = (ledger(&a), ledger(&b));
    assert_eq!(la, lb, "the ledgers agree");
    assert_eq!(
        la[step]["notes"], "found on b: the flaky test",
        "{}",
        la[step]
    );
    for other in &steps[1..] {
        assert!(
            !la.contains_key(other),
            "{other}, edited nowhere, stays deleted"
        );
    }
}
