//! The refinery through the binary: real sling → work → `gastown done` merge requests in a town
//! with a local rig, landed by `gastown mq process` (the three phases the live refinery runs),
//! with every failure path: conflicts, failing and hanging gates, vanished branches, a crash
//! between the merge and the bookkeeping, batches bisected, a target that is already broken.

use crate::util::TestTown;
use crate::util::{as_agent_ok, git_in};
use serde_json::Value;
use std::path::PathBuf;

/// A town with rig `alpha` from a source repository whose README has three lines (main
/// checked out, accepting the refinery's pushes: its work tree follows them).
pub fn town() -> TestTown {
    let town = TestTown::new();
    let src = town.root.parent().expect("parent").join("source");
    std::fs::create_dir_all(&src).expect("mkdir");
    git_in(&src, &["init", "--quiet", "--initial-branch=main"]);
    git_in(
        &src,
        &["config", "receive.denyCurrentBranch", "updateInstead"],
    );
    std::fs::write(src.join("README.md"), "one\ntwo\nthree\n").expect("write");
    git_in(&src, &["add", "."]);
    git_in(&src, &["commit", "--quiet", "-m", "first"]);
    town.ok(&["rig", "add", "alpha", src.to_str().expect("utf-8")]);
    town
}

/// Rewrite rig.toml: `batch`, `merge_strategy` and the `[gates]` table body.
pub fn configure(town: &TestTown, batch: usize, strategy: &str, gates: &str) {
    let path = town.root.join("alpha/rig.toml");
    let text = std::fs::read_to_string(&path).expect("rig.toml");
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("batch =") {
            out.push_str(&format!("batch = {batch}\n"));
        } else if line.starts_with("merge_strategy =") {
            out.push_str(&format!("merge_strategy = \"{strategy}\"\n"));
        } else if line.starts_with("[gates]") {
            // The table's body is replaced by `gates`.
            out.push_str("[gates]\n");
            break;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !gates.contains("timeout") {
        out.push_str("timeout = \"1m\"\n");
    }
    out.push_str(gates);
    out.push('\n');
    std::fs::write(&path, out).expect("write rig.toml");
}

pub fn bare(town: &TestTown) -> PathBuf {
    town.root.join("alpha/.repo.git")
}

pub fn worktree(town: &TestTown, polecat: &str) -> PathBuf {
    town.root.join(format!("alpha/polecats/{polecat}/rig"))
}

pub fn mr_of(town: &TestTown, bead: &str) -> Value {
    let all: Vec<Value> = serde_json::from_str(&town.ok(&[
        "bead",
        "list",
        "--all",
        "--type",
        "merge-request",
        "--json",
    ]))
    .expect("JSON");
    all.into_iter()
        .find(|m| m["source_bead"] == bead)
        .unwrap_or_else(|| panic!("no merge request for {bead}"))
}

/// Work `files` in polecat `polecat`'s worktree and `gastown done`; returns (bead, MR id).
pub fn submit_bead(town: &TestTown, polecat: &str, bead: &str, files: &[(&str, &str)]) -> String {
    let wt = worktree(town, polecat);
    for (path, text) in files {
        std::fs::write(wt.join(path), text).expect("write work");
    }
    as_agent_ok(town, &format!("alpha/polecats/{polecat}"), &["done"]);
    mr_of(town, bead)["id"].as_str().expect("id").to_string()
}

pub fn submit(
    town: &TestTown,
    polecat: &str,
    title: &str,
    files: &[(&str, &str)],
) -> (String, String) {
    let bead = town.create(&[title]);
    town.ok(&[
        "sling",
        &bead,
        &format!("alpha/polecats/{polecat}"),
        "--no-formula",
        "--no-convoy",
    ]);
    let mr = submit_bead(town, polecat, &bead, files);
    (bead, mr)
}

pub fn process(town: &TestTown) -> Value {
    serde_json::from_str(&town.ok(&["mq", "process", "alpha", "--all", "--json"])).expect("JSON")
}

pub fn bead(town: &TestTown, id: &str) -> Value {
    serde_json::from_str(&town.ok(&["bead", "show", id, "--json"])).expect("JSON")
}

pub fn mq_show(town: &TestTown, id: &str) -> Value {
    serde_json::from_str(&town.ok(&["mq", "show", id, "--json"])).expect("JSON")
}

/// How many commits on main carry `Gastown-MR: <mr>`.
fn trailers(town: &TestTown, mr: &str) -> usize {
    git_in(&bare(town), &["log", "main", "--format=%B"])
        .lines()
        .filter(|l| l.trim() == format!("Gastown-MR: {mr}"))
        .count()
}

pub fn inbox(town: &TestTown, address: &str) -> Vec<Value> {
    serde_json::from_str(&town.ok(&["mail", "inbox", address, "--all", "--json"])).expect("JSON")
}

pub fn has_mail(town: &TestTown, address: &str, subject: &str, text: &str) -> bool {
    inbox(town, address).iter().any(|m| {
        m["title"].as_str().is_some_and(|t| t.contains(subject))
            && m["description"].as_str().is_some_and(|d| d.contains(text))
    })
}

/// A protocol wisp `kind` about `about` was sent to `address` and closed as handled.
fn wisp_handled(town: &TestTown, address: &str, kind: &str, about: &str) -> bool {
    let all: Vec<Value> =
        serde_json::from_str(&town.ok(&["bead", "list", "--all", "--type", "message", "--json"]))
            .expect("JSON");
    all.iter().any(|m| {
        m["title"] == kind
            && m["assignee"] == address
            && m["status"] == "closed"
            && m["description"].as_str().is_some_and(|d| d.contains(about))
    })
}

/// The content of `path` on the rig's `main`, exactly (no trimming).
fn main_file(town: &TestTown, path: &str) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(bare(town))
        .args(["show", &format!("main:{path}")])
        .output()
        .expect("git runs");
    assert!(out.status.success(), "no {path} on main");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_clean_mr_lands_with_its_trailer_and_closes_its_source_bead() {
    let town = town();
    let (b, mr) = submit(&town, "nux", "Add a file", &[("new.txt", "hello\n")]);
    let queue = town.ok(&["mq", "list", "alpha"]);
    assert!(queue.contains(&mr) && queue.contains("queued"), "{queue}");
    let summary = process(&town);
    assert_eq!(summary["merged"], 1, "{summary}");
    assert_eq!(trailers(&town, &mr), 1);
    assert_eq!(main_file(&town, "new.txt"), "hello\n");
    let head_parents = git_in(&bare(&town), &["log", "-1", "--format=%P", "main"]);
    assert_eq!(head_parents.split_whitespace().count(), 2, "a merge commit");
    assert_eq!(bead(&town, &b)["status"], "closed");
    assert!(
        bead(&town, &b)["close_reason"]
            .as_str()
            .expect("reason")
            .contains("merged in")
    );
    assert_eq!(bead(&town, &mr)["status"], "closed");
    // MERGED went to the polecat and the witness, and was closed as handled once the polecat
    // was recycled (protocol wisps do not pile up).
    assert!(wisp_handled(&town, "alpha/polecats/nux", "MERGED", &mr));
    assert!(wisp_handled(&town, "alpha/witness", "MERGED", &mr));
    assert!(!has_mail(&town, "alpha/witness", "MERGED", &mr));
    assert!(
        !worktree(&town, "nux").exists(),
        "sandbox removed once merged"
    );
    let branch = mr_of(&town, &b)["branch"]
        .as_str()
        .expect("branch")
        .to_string();
    let branches = git_in(&bare(&town), &["branch", "--list", &branch]);
    assert!(
        branches.trim().is_empty(),
        "branch deleted after the merge: {branches}"
    );
    assert!(town.ok(&["mq", "list", "alpha"]).contains("empty"));
    // Processing again changes nothing: merged exactly once.
    assert_eq!(process(&town)["merged"], 0);
    assert_eq!(trailers(&town, &mr), 1);
}

#[test]
fn the_queue_is_ordered_by_priority_then_age() {
    let town = town();
    let (_, first) = submit(&town, "nux", "Old", &[("a.txt", "a\n")]);
    let (_, second) = submit(&town, "slit", "Newer", &[("b.txt", "b\n")]);
    let urgent = town.create(&["Urgent", "--priority", "0"]);
    town.ok(&[
        "sling",
        &urgent,
        "alpha/polecats/ace",
        "--no-formula",
        "--no-convoy",
    ]);
    let third = submit_bead(&town, "ace", &urgent, &[("c.txt", "c\n")]);
    let list: Vec<Value> = serde_json::from_str(&town.ok(&["mq", "list", "--json"])).expect("JSON");
    let order: Vec<&str> = list.iter().map(|m| m["id"].as_str().expect("id")).collect();
    assert_eq!(order, [third.as_str(), first.as_str(), second.as_str()]);
    let out = town.ok(&["mq", "process", "alpha"]);
    assert!(
        out.contains(&format!("{third}: merged")),
        "one batch, the urgent one: {out}"
    );
}

#[test]
fn two_mrs_on_the_same_lines_one_lands_the_other_is_reworked_and_lands_after() {
    let town = town();
    let (b1, mr1) = submit(
        &town,
        "nux",
        "First",
        &[("README.md", "one\nTWO from nux\nthree\n")],
    );
    let (b2, mr2) = submit(
        &town,
        "slit",
        "Second",
        &[("README.md", "one\nTWO from slit\nthree\n")],
    );
    let summary = process(&town);
    assert_eq!(summary["merged"], 1, "{summary}");
    assert_eq!(summary["sent_back"], 1, "{summary}");
    assert_eq!(trailers(&town, &mr1), 1);
    assert_eq!(trailers(&town, &mr2), 0);
    assert_eq!(bead(&town, &b1)["status"], "closed");
    // Sent back: REWORK naming the file, the bead on slit's hook again, the MR waiting.
    assert!(has_mail(
        &town,
        "alpha/polecats/slit",
        "REWORK",
        "README.md"
    ));
    let source = bead(&town, &b2);
    assert_eq!(source["status"], "hooked");
    assert_eq!(source["assignee"], "alpha/polecats/slit");
    assert!(
        source["notes"]
            .as_str()
            .expect("notes")
            .contains("README.md")
    );
    let waiting = mq_show(&town, &mr2);
    assert_eq!(waiting["state"], "rework");
    assert_eq!(waiting["retry_count"], 1);
    assert_eq!(
        process(&town)["merged"],
        0,
        "nothing to do until the polecat resubmits"
    );
    // The polecat rebases (by hand here), resolving the conflict, and submits again.
    let wt = worktree(&town, "slit");
    git_in(&wt, &["reset", "--quiet", "--hard", "main"]);
    let again = submit_bead(
        &town,
        "slit",
        &b2,
        &[("README.md", "one\nTWO from nux and slit\nthree\n")],
    );
    assert_eq!(again, mr2, "the same merge request, refreshed");
    assert_eq!(process(&town)["merged"], 1);
    assert_eq!(trailers(&town, &mr2), 1);
    assert_eq!(
        main_file(&town, "README.md"),
        "one\nTWO from nux and slit\nthree\n"
    );
    assert_eq!(bead(&town, &b2)["status"], "closed");
}

#[test]
fn a_failing_gate_sends_the_work_back_with_its_output_and_escalates_after_three_tries() {
    let town = town();
    configure(
        &town,
        1,
        "merge",
        "test = \"if [ -f bad.txt ]; then echo 'assertion failed: bad.txt'; exit 1; fi\"",
    );
    let (b, mr) = submit(&town, "nux", "Break it", &[("bad.txt", "x\n")]);
    let summary = process(&town);
    assert_eq!(summary["sent_back"], 1, "{summary}");
    assert_eq!(trailers(&town, &mr), 0);
    assert!(has_mail(
        &town,
        "alpha/polecats/nux",
        "REWORK",
        "assertion failed: bad.txt"
    ));
    assert_eq!(bead(&town, &b)["status"], "hooked");
    assert!(
        worktree(&town, "nux").exists(),
        "sandbox kept: nothing merged"
    );
    // Two more failing rounds: escalated to the mayor, the MR blocked.
    for round in 2..=3 {
        submit_bead(
            &town,
            "nux",
            &b,
            &[("bad.txt", &format!("round {round}\n"))],
        );
        process(&town);
    }
    let shown = mq_show(&town, &mr);
    assert_eq!(shown["state"], "escalated", "{shown}");
    assert!(has_mail(&town, "mayor", "HELP", &mr));
    assert!(town.ok(&["mq", "list"]).contains("escalated"));
    // The escalation is a record too, about the MR, that the overseer sees in `escalate list`.
    let open = town.ok(&["escalate", "list", "--json"]);
    assert!(
        open.contains(&mr) && open.contains("alpha/refinery"),
        "{open}"
    );
    // The overseer fixes the gate and retries: it lands. The tries are kept (never reset).
    configure(&town, 1, "merge", "test = \"true\"");
    let retried = town.ok(&["mq", "retry", &mr]);
    assert!(retried.contains("3 tries so far"), "{retried}");
    assert_eq!(mq_show(&town, &mr)["retry_count"], 3);
    assert_eq!(process(&town)["merged"], 1);
    assert_eq!(trailers(&town, &mr), 1);
}

#[test]
fn a_hanging_gate_is_killed_at_the_rig_timeout() {
    let town = town();
    configure(
        &town,
        1,
        "merge",
        "test = \"if [ -f hang.txt ]; then sleep 60; fi\"\ntimeout = \"1s\"",
    );
    let (_, ok) = submit(&town, "nux", "Fine", &[("fine.txt", "x\n")]);
    let (b, mr) = submit(&town, "slit", "Hangs", &[("hang.txt", "x\n")]);
    let start = std::time::Instant::now();
    let summary = process(&town);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(30),
        "killed, not waited for"
    );
    assert_eq!(summary["merged"], 1, "{summary}");
    assert_eq!(summary["sent_back"], 1, "{summary}");
    assert_eq!(trailers(&town, &ok), 1);
    assert_eq!(trailers(&town, &mr), 0);
    assert!(has_mail(&town, "alpha/polecats/slit", "REWORK", "timeout"));
    assert_eq!(bead(&town, &b)["status"], "hooked");
}

#[test]
fn an_mr_whose_branch_vanished_is_closed_as_failed() {
    let town = town();
    let (b, mr) = submit(&town, "nux", "Lost", &[("lost.txt", "x\n")]);
    let branch = mr_of(&town, &b)["branch"]
        .as_str()
        .expect("branch")
        .to_string();
    let wt = worktree(&town, "nux");
    git_in(&wt, &["checkout", "--quiet", "--detach"]);
    git_in(&bare(&town), &["branch", "-D", &branch]);
    let summary = process(&town);
    assert_eq!(summary["failed"], 1, "{summary}");
    let closed = bead(&town, &mr);
    assert_eq!(closed["status"], "closed");
    let reason = closed["close_reason"].as_str().expect("reason");
    assert!(
        reason.contains(&branch) && reason.contains("no longer exists"),
        "{reason}"
    );
    assert!(has_mail(
        &town,
        "alpha/polecats/nux",
        "MERGE_FAILED",
        &branch
    ));
    assert_eq!(
        bead(&town, &b)["status"],
        "open",
        "the work is back in the ready pool"
    );
}

#[test]
fn a_crash_between_merge_and_bookkeeping_is_finished_on_restart_and_merged_once() {
    let town = town();
    let (b, mr) = submit(&town, "nux", "Crashy", &[("c.txt", "x\n")]);
    let out = town.ok(&["mq", "process", "alpha", "--land-only"]);
    assert!(out.contains("stopped before the bookkeeping"), "{out}");
    assert_eq!(trailers(&town, &mr), 1, "the target moved");
    assert_eq!(
        bead(&town, &mr)["status"],
        "open",
        "but nothing was recorded"
    );
    assert_eq!(bead(&town, &b)["status"], "in_progress");
    let summary = process(&town);
    assert_eq!(summary["recovered"], 1, "{summary}");
    assert_eq!(trailers(&town, &mr), 1, "merged exactly once");
    assert_eq!(bead(&town, &mr)["status"], "closed");
    assert_eq!(bead(&town, &b)["status"], "closed");
    assert!(has_mail(&town, "alpha/polecats/nux", "MERGED", &mr));
}

#[test]
fn a_batch_of_four_with_one_breaking_mr_bisects_and_lands_the_other_three() {
    let town = town();
    configure(&town, 4, "merge", "test = \"test ! -f bad.txt\"");
    let mut mrs = Vec::new();
    for (i, name) in ["nux", "slit", "ace", "dag"].iter().enumerate() {
        let own = format!("{name}.txt");
        let mut files = vec![(own.as_str(), "x\n")];
        if i == 2 {
            files.push(("bad.txt", "breaks the test gate\n"));
        }
        let (_, mr) = submit(&town, name, &format!("Part {i}"), &files);
        mrs.push(mr);
    }
    let summary = process(&town);
    assert_eq!(summary["batches"], 1, "{summary}");
    assert_eq!(
        summary["merged"].as_u64().expect("n") + summary["sent_back"].as_u64().expect("n"),
        4,
        "{summary}"
    );
    for (i, mr) in mrs.iter().enumerate() {
        let landed = trailers(&town, mr);
        if i == 2 {
            assert_eq!(landed, 0, "the breaking MR is found");
            assert!(has_mail(&town, "alpha/polecats/ace", "REWORK", "test"));
        } else {
            assert_eq!(landed, 1, "MR {i} landed");
        }
    }
    assert!(summary["gate_runs"].as_u64().expect("n") <= 6, "{summary}");
}

#[test]
fn a_gate_that_fails_on_the_target_itself_is_reported_to_the_mayor_not_blamed() {
    let town = town();
    configure(
        &town,
        1,
        "merge",
        "test = \"echo 'target is broken'; false\"",
    );
    let (b, mr) = submit(&town, "nux", "Innocent", &[("ok.txt", "x\n")]);
    let summary = process(&town);
    assert_eq!(summary["held"], 1, "{summary}");
    assert_eq!(summary["sent_back"], 0, "{summary}");
    let shown = mq_show(&town, &mr);
    assert_eq!(shown["state"], "queued");
    assert_eq!(shown["retry_count"], 0, "not blamed");
    assert!(has_mail(
        &town,
        "mayor",
        "fails its test gate",
        "target is broken"
    ));
    assert!(
        inbox(&town, "alpha/polecats/nux")
            .iter()
            .all(|m| m["title"] != "REWORK")
    );
    assert_eq!(bead(&town, &b)["status"], "in_progress");
    // Held (no gate run) until the target changes; the mayor is told once.
    let again = process(&town);
    assert_eq!(again["gate_runs"], 0, "{again}");
    let told = inbox(&town, "mayor").len();
    process(&town);
    assert_eq!(inbox(&town, "mayor").len(), told);
    // The gate is fixed: the MR lands.
    configure(&town, 1, "merge", "test = \"true\"");
    town.ok(&["mq", "retry", &mr]);
    assert_eq!(process(&town)["merged"], 1);
}

#[test]
fn squash_and_rebase_strategies_land_with_the_trailer() {
    for strategy in ["squash", "rebase"] {
        let town = town();
        configure(&town, 1, strategy, "");
        let bead_id = town.create(&["Two commits"]);
        town.ok(&[
            "sling",
            &bead_id,
            "alpha/polecats/nux",
            "--no-formula",
            "--no-convoy",
        ]);
        let wt = worktree(&town, "nux");
        std::fs::write(wt.join("one.txt"), "1\n").expect("write");
        git_in(&wt, &["add", "."]);
        git_in(&wt, &["commit", "--quiet", "-m", "first part"]);
        let mr = submit_bead(&town, "nux", &bead_id, &[("two.txt", "2\n")]);
        assert_eq!(process(&town)["merged"], 1, "{strategy}");
        assert_eq!(trailers(&town, &mr), 1, "{strategy}");
        let log = git_in(&bare(&town), &["log", "--format=%P|%s", "main"]);
        assert!(
            log.lines().all(|l| l
                .split('|')
                .next()
                .expect("parents")
                .split_whitespace()
                .count()
                <= 1),
            "{strategy}: linear history\n{log}"
        );
        let new_commits = log.lines().count() - 1;
        assert_eq!(
            new_commits,
            if strategy == "squash" { 1 } else { 2 },
            "{strategy}\n{log}"
        );
        assert_eq!(main_file(&town, "one.txt"), "1\n");
        assert_eq!(main_file(&town, "two.txt"), "2\n");
        assert!(
            !worktree(&town, "nux").exists(),
            "{strategy}: sandbox removed (force)"
        );
    }
}

#[test]
fn reject_closes_the_mr_and_returns_the_work() {
    let town = town();
    let (b, mr) = submit(&town, "nux", "Unwanted", &[("u.txt", "x\n")]);
    let out = town.ok(&["mq", "reject", &mr, "--reason", "not needed"]);
    assert!(out.contains("rejected"), "{out}");
    let closed = bead(&town, &mr);
    assert_eq!(closed["status"], "closed");
    assert!(
        closed["close_reason"]
            .as_str()
            .expect("r")
            .contains("not needed")
    );
    assert_eq!(bead(&town, &b)["status"], "open");
    assert!(has_mail(
        &town,
        "alpha/polecats/nux",
        "MERGE_FAILED",
        "not needed"
    ));
    assert!(
        worktree(&town, "nux").exists(),
        "the branch and sandbox are kept"
    );
    assert!(town.fails(&["mq", "retry", &mr]).contains("closed"));
    assert!(
        town.fails(&["mq", "show", &b])
            .contains("not a merge request")
    );
    assert_eq!(process(&town)["merged"], 0);
}

#[test]
fn a_target_moved_during_the_gates_is_not_overwritten_the_batch_lands_on_the_new_tip() {
    let town = town();
    let marker = town.root.parent().expect("parent").join("moved-once");
    // The gate itself moves the rig's main once, between the refinery reading the tip and its
    // compare-and-swap. (A rig that lands only in the town: with push, origin is the target;
    // see the test below.)
    let gate = format!(
        "if [ ! -e {m} ]; then touch {m}; git update-ref refs/heads/main $(git commit-tree -p main -m outside 'main^{{tree}}'); fi",
        m = marker.display()
    );
    configure(
        &town,
        1,
        "merge",
        &format!("test = {gate:?}\n[refinery]\npush = false"),
    );
    let (_, mr) = submit(&town, "nux", "Racy", &[("r.txt", "x\n")]);
    let summary = process(&town);
    assert_eq!(summary["merged"], 1, "{summary}");
    assert_eq!(summary["cas_retries"], 1, "{summary}");
    assert_eq!(trailers(&town, &mr), 1);
    let subjects = git_in(&bare(&town), &["log", "main", "--format=%s"]);
    assert!(
        subjects.lines().any(|l| l == "outside"),
        "the other commit is kept:\n{subjects}"
    );
    let first_parent = git_in(&bare(&town), &["log", "-1", "--format=%s", "main^1"]);
    assert_eq!(first_parent.trim(), "outside", "landed on the new tip");
}

#[test]
fn origin_moved_during_the_gates_fails_the_lease_and_the_batch_lands_on_its_new_tip() {
    let town = town();
    let src = town.root.parent().expect("parent").join("source");
    let marker = town.root.parent().expect("parent").join("pushed-once");
    // The gate pushes a commit to origin's main once (a human's push), between the refinery's
    // fetch and its push: the lease must fail, nothing be overwritten, and the batch land on
    // top of the human's commit after a new fetch and gate run.
    let gate = format!(
        "if [ ! -e {m} ]; then touch {m}; git push -q origin $(git commit-tree -p origin/main -m outside 'origin/main^{{tree}}'):refs/heads/main; fi",
        m = marker.display()
    );
    configure(&town, 1, "merge", &format!("test = {gate:?}"));
    let (_, mr) = submit(&town, "nux", "Racy", &[("r.txt", "x\n")]);
    let summary = process(&town);
    assert_eq!(summary["merged"], 1, "{summary}");
    assert_eq!(summary["cas_retries"], 1, "{summary}");
    assert_eq!(
        summary["gate_runs"], 2,
        "gated again on the new tip: {summary}"
    );
    let on_origin = git_in(&src, &["log", "main", "--format=%s%n%b"]);
    assert!(on_origin.lines().any(|l| l == "outside"), "{on_origin}");
    assert_eq!(
        on_origin.matches(&format!("Gastown-MR: {mr}")).count(),
        1,
        "{on_origin}"
    );
    let first_parent = git_in(&src, &["log", "-1", "--format=%s", "main^1"]);
    assert_eq!(first_parent.trim(), "outside", "landed on origin's new tip");
    assert_eq!(
        git_in(&src, &["rev-parse", "main"]),
        git_in(&bare(&town), &["rev-parse", "main"]),
        "the rig's main follows origin"
    );
}
