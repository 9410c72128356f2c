//! The rework loop (issue 12): a polecat that runs `done` again without a new commit while its
//! merge request waits for rework is told so (the hook kept, the MR still in rework), and `mq
//! retry` never resets the try count, so "escalate at the 3rd try" is reached.

use crate::refinery::{bead, configure, has_mail, mq_show, process, submit, worktree};
use crate::util::{stderr, stdout};
use std::process::Command;

const FAILING: &str = "test = \"if [ -f bad.txt ]; then echo 'bad.txt is still here'; exit 1; fi\"";

fn done_as(town: &crate::util::TestTown, agent: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(&town.root)
        .env_remove("GASTOWN_TOWN")
        .env("GASTOWN_AGENT", agent)
        .arg("done")
        .output()
        .expect("gastown runs")
}

#[test]
fn done_without_a_new_commit_while_in_rework_is_refused_and_keeps_the_hook() {
    let town = crate::refinery::town();
    configure(&town, 1, "merge", FAILING);
    let (b, mr) = submit(&town, "nux", "Break it", &[("bad.txt", "x\n")]);
    assert_eq!(process(&town)["sent_back"], 1);
    let sent_back_at = mq_show(&town, &mr)["commit"]
        .as_str()
        .expect("commit")
        .to_string();
    assert_eq!(mq_show(&town, &mr)["state"], "rework");
    assert_eq!(bead(&town, &b)["status"], "hooked");
    // The polecat runs done again without changing anything.
    let out = done_as(&town, "alpha/polecats/nux");
    assert!(!out.status.success(), "refused: {}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("nothing changed since") && err.contains(&mr) && err.contains(&sent_back_at),
        "names the MR and the commit: {err}"
    );
    assert_eq!(bead(&town, &b)["status"], "hooked", "the hook is kept");
    assert_eq!(
        mq_show(&town, &mr)["state"],
        "rework",
        "still waiting for a fix"
    );
    // A real fix is accepted.
    std::fs::remove_file(worktree(&town, "nux").join("bad.txt")).expect("fix");
    let out = done_as(&town, "alpha/polecats/nux");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mq_show(&town, &mr)["state"], "queued");
    assert_eq!(process(&town)["merged"], 1);
}

#[test]
fn mq_retry_keeps_the_try_count_so_the_third_failure_escalates() {
    let town = crate::refinery::town();
    configure(&town, 1, "merge", FAILING);
    let (_, mr) = submit(&town, "nux", "Stubborn", &[("bad.txt", "x\n")]);
    for tries in 1..=2 {
        assert_eq!(process(&town)["sent_back"], 1, "try {tries}");
        let shown = mq_show(&town, &mr);
        assert_eq!(shown["retry_count"], tries, "{shown}");
        assert_eq!(shown["state"], "rework");
        // Someone puts it back in the queue by hand, without a fix.
        let out = town.ok(&["mq", "retry", &mr]);
        assert!(out.contains("so far"), "{out}");
        assert_eq!(mq_show(&town, &mr)["retry_count"], tries, "not reset");
    }
    process(&town);
    let shown = mq_show(&town, &mr);
    assert_eq!(shown["retry_count"], 3, "{shown}");
    assert_eq!(shown["state"], "escalated", "escalated at the 3rd try");
    assert!(has_mail(&town, "mayor", "HELP", &mr));
}
