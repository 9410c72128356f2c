//! Landing on the source remote, through the binary: a real bare `origin` in a temp dir and a
//! human's clone that pushes to it. Work lands on origin's tip; polecat branches are on origin
//! while in flight and deleted after; an origin that is unreachable, refusing, rewritten, or a
//! non-bare repository with main checked out holds the queue with a clear message naming the
//! remote and what to do — nothing overwritten, nothing lost.

use crate::refinery::{bare, bead, has_mail, inbox, mq_show, process, submit};
use crate::util::{TestTown, stderr, stdout};
use crate::util::{as_agent, git_in};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A bare origin with one commit on main, and a clone of it for the human.
pub struct Origin {
    pub path: PathBuf,
    pub human: PathBuf,
}

impl Origin {
    /// `<dir>/origin.git` (bare) seeded with a README of three lines; `<dir>/human` clones it.
    pub fn new(dir: &Path) -> Origin {
        let path = dir.join("origin.git");
        let human = dir.join("human");
        git_in(
            dir,
            &[
                "init",
                "--quiet",
                "--bare",
                "--initial-branch=main",
                "origin.git",
            ],
        );
        git_in(dir, &["clone", "--quiet", "origin.git", "human"]);
        git_in(&human, &["switch", "--quiet", "-c", "main"]);
        std::fs::write(human.join("README.md"), "one\ntwo\nthree\n").expect("write");
        git_in(&human, &["add", "."]);
        git_in(&human, &["commit", "--quiet", "-m", "first"]);
        git_in(&human, &["push", "--quiet", "origin", "main"]);
        Origin { path, human }
    }

    /// The human commits `file` and pushes main, pulling what landed first (and again when
    /// the refinery pushed in between).
    pub fn human_push(&self, file: &str, subject: &str) {
        std::fs::write(self.human.join(file), format!("{subject}\n")).expect("write");
        git_in(&self.human, &["add", "."]);
        git_in(&self.human, &["commit", "--quiet", "-m", subject]);
        for _ in 0..20 {
            git_in(
                &self.human,
                &["pull", "--quiet", "--rebase", "origin", "main"],
            );
            let pushed = Command::new("git")
                .arg("-C")
                .arg(&self.human)
                .args(["push", "--quiet", "origin", "main"])
                .output()
                .expect("git runs");
            if pushed.status.success() {
                return;
            }
        }
        panic!("the human could not push {subject} in 20 tries");
    }

    /// `git log main` on origin: subjects and bodies.
    pub fn log(&self) -> String {
        git_in(&self.path, &["log", "main", "--format=%s%n%b"])
    }

    /// How many commits on origin's main carry `Gastown-MR: <mr>`.
    pub fn trailers(&self, mr: &str) -> usize {
        self.log()
            .lines()
            .filter(|l| l.trim() == format!("Gastown-MR: {mr}"))
            .count()
    }

    /// Origin's branches under `polecat/`.
    pub fn polecat_branches(&self) -> Vec<String> {
        git_in(
            &self.path,
            &[
                "for-each-ref",
                "--format=%(refname:short)",
                "refs/heads/polecat/",
            ],
        )
        .lines()
        .map(str::to_string)
        .collect()
    }

    pub fn tip(&self, branch: &str) -> String {
        git_in(&self.path, &["rev-parse", branch])
            .trim()
            .to_string()
    }
}

/// A town whose rig `alpha` comes from a bare origin.
pub fn town_on_origin() -> (TestTown, Origin) {
    let town = TestTown::new();
    let origin = Origin::new(town.root.parent().expect("parent"));
    town.ok(&["rig", "add", "alpha", origin.path.to_str().expect("utf-8")]);
    (town, origin)
}

fn mails(town: &TestTown, address: &str, subject: &str) -> Vec<Value> {
    inbox(town, address)
        .into_iter()
        .filter(|m| m["title"].as_str().is_some_and(|t| t.contains(subject)))
        .collect()
}

/// The one mail to each of mayor and overseer with `subject`; returns the mayor's body.
fn told_once(town: &TestTown, subject: &str) -> String {
    let mayor = mails(town, "mayor", subject);
    assert_eq!(mayor.len(), 1, "the mayor is told once: {mayor:?}");
    assert_eq!(
        mails(town, "overseer", subject).len(),
        1,
        "the overseer is told once"
    );
    mayor[0]["description"].as_str().expect("body").to_string()
}

#[test]
fn polecat_branches_are_on_origin_in_flight_and_deleted_after_the_merge() {
    let (town, origin) = town_on_origin();
    let (b, mr) = submit(&town, "nux", "Add a file", &[("new.txt", "hello\n")]);
    let branch = format!("polecat/nux/{b}");
    assert_eq!(origin.polecat_branches(), std::slice::from_ref(&branch));
    let submitted = mq_show(&town, &mr)["commit"]
        .as_str()
        .expect("commit")
        .to_string();
    assert_eq!(
        origin.tip(&branch),
        submitted,
        "the submitted commit is on origin"
    );
    let shown = town.ok(&["mq", "show", &mr]);
    assert!(shown.contains("on origin: yes, at this commit"), "{shown}");
    let rig = town.ok(&["rig", "show", "alpha"]);
    assert!(
        rig.contains("on origin (pushed by `gastown done`)") && rig.contains(&branch),
        "{rig}"
    );
    let summary = process(&town);
    assert_eq!(summary["merged"], 1, "{summary}");
    assert_eq!(origin.trailers(&mr), 1, "landed on origin");
    assert_eq!(bead(&town, &b)["status"], "closed");
    assert!(
        origin.polecat_branches().is_empty(),
        "deleted on origin after the merge"
    );
    assert_eq!(
        git_in(&bare(&town), &["rev-parse", "main"]).trim(),
        origin.tip("main"),
        "the rig's main is origin's"
    );
}

#[test]
fn work_lands_on_top_of_what_humans_pushed_to_origin() {
    let (town, origin) = town_on_origin();
    let (_, first) = submit(&town, "nux", "First", &[("a.txt", "a\n")]);
    origin.human_push("human1.txt", "human one");
    let (_, second) = submit(&town, "slit", "Second", &[("b.txt", "b\n")]);
    origin.human_push("human2.txt", "human two");
    let summary = process(&town);
    assert_eq!(summary["merged"], 2, "{summary}");
    let log = origin.log();
    for subject in ["human one", "human two", "first"] {
        assert!(log.lines().any(|l| l == subject), "{subject} kept:\n{log}");
    }
    assert_eq!(origin.trailers(&first), 1);
    assert_eq!(origin.trailers(&second), 1);
    // Humans keep pushing on top of what landed.
    origin.human_push("human3.txt", "human three");
    assert!(origin.log().contains("human three"));
}

#[test]
fn an_unreachable_origin_holds_the_queue_says_so_once_and_the_work_lands_when_it_is_back() {
    let (town, origin) = town_on_origin();
    let (b, mr) = submit(&town, "nux", "Patient", &[("p.txt", "x\n")]);
    let gone = origin.path.with_extension("gone");
    std::fs::rename(&origin.path, &gone).expect("take origin away");
    let summary = process(&town);
    assert_eq!(summary["merged"], 0, "{summary}");
    assert_eq!(summary["waiting_for_origin"], 1, "{summary}");
    assert_eq!(mq_show(&town, &mr)["state"], "queued");
    assert_eq!(mq_show(&town, &mr)["retry_count"], 0, "not blamed");
    assert_eq!(bead(&town, &b)["status"], "in_progress");
    let body = told_once(&town, "origin is unreachable");
    assert!(
        body.contains(origin.path.to_str().expect("utf-8")),
        "names the remote: {body}"
    );
    assert!(
        body.contains("push = false") && body.contains("stay queued"),
        "{body}"
    );
    process(&town);
    told_once(&town, "origin is unreachable");
    std::fs::rename(&gone, &origin.path).expect("origin back");
    assert_eq!(process(&town)["merged"], 1);
    assert_eq!(origin.trailers(&mr), 1);
}

#[test]
fn done_with_origin_unreachable_files_the_mr_and_warns() {
    let (town, origin) = town_on_origin();
    let b = town.create(&["Offline"]);
    town.ok(&[
        "sling",
        &b,
        "alpha/polecats/nux",
        "--no-formula",
        "--no-convoy",
    ]);
    let wt = town.root.join("alpha/polecats/nux/rig");
    std::fs::write(wt.join("o.txt"), "x\n").expect("write");
    let gone = origin.path.with_extension("gone");
    std::fs::rename(&origin.path, &gone).expect("take origin away");
    let out = as_agent(&town, "alpha/polecats/nux", &["done"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("submitted as"), "{text}");
    assert!(
        text.contains("warning:")
            && text.contains("is not on origin")
            && text.contains("cannot reach"),
        "{text}"
    );
    std::fs::rename(&gone, &origin.path).expect("origin back");
    assert!(origin.polecat_branches().is_empty());
    assert_eq!(process(&town)["merged"], 1, "lands from the town");
}

#[test]
fn an_origin_refusing_the_push_holds_the_queue_and_says_why() {
    let (town, origin) = town_on_origin();
    let hook = origin.path.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'frozen for the release' >&2\nexit 1\n",
    )
    .expect("hook");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let before = origin.tip("main");
    let (_, mr) = submit(&town, "nux", "Refused", &[("r.txt", "x\n")]);
    let summary = process(&town);
    assert_eq!(summary["waiting_for_origin"], 1, "{summary}");
    assert_eq!(origin.tip("main"), before, "nothing pushed");
    assert_eq!(
        git_in(&bare(&town), &["rev-parse", "main"]).trim(),
        before,
        "the rig's main did not move either"
    );
    let body = told_once(&town, "origin refuses the refinery's push");
    assert!(
        body.contains("pre-receive hook declined") && body.contains("frozen for the release"),
        "{body}"
    );
    assert!(
        body.contains(origin.path.to_str().expect("utf-8")),
        "{body}"
    );
    assert_eq!(mq_show(&town, &mr)["state"], "queued");
    std::fs::remove_file(&hook).expect("unfreeze");
    assert_eq!(process(&town)["merged"], 1);
    assert_eq!(origin.trailers(&mr), 1);
}

#[test]
fn an_origin_force_pushed_backwards_lands_nothing_until_the_overseer_accepts_it() {
    let (town, origin) = town_on_origin();
    let (_, landed) = submit(&town, "nux", "Landed", &[("l.txt", "x\n")]);
    assert_eq!(process(&town)["merged"], 1);
    let old_main = git_in(&bare(&town), &["rev-parse", "main"])
        .trim()
        .to_string();
    // A human rewinds origin's main past the landing and adds their own commit.
    git_in(&origin.human, &["fetch", "--quiet", "origin"]);
    let first = git_in(&origin.path, &["rev-list", "--max-parents=0", "main"]);
    git_in(&origin.human, &["reset", "--quiet", "--hard", first.trim()]);
    std::fs::write(origin.human.join("h.txt"), "rewritten\n").expect("write");
    git_in(&origin.human, &["add", "."]);
    git_in(&origin.human, &["commit", "--quiet", "-m", "human rewrite"]);
    git_in(
        &origin.human,
        &["push", "--quiet", "--force", "origin", "main"],
    );
    let rewritten = origin.tip("main");
    let (_, waiting) = submit(&town, "slit", "Waiting", &[("w.txt", "x\n")]);
    let summary = process(&town);
    assert_eq!(summary["waiting_for_origin"], 1, "{summary}");
    assert_eq!(origin.tip("main"), rewritten, "nothing pushed over it");
    let body = told_once(&town, "origin's history was rewritten");
    assert!(
        body.contains("gastown mq accept-origin alpha") && body.contains(&rewritten),
        "{body}"
    );
    process(&town);
    told_once(&town, "origin's history was rewritten");
    let refused = as_agent(
        &town,
        "alpha/polecats/nux",
        &["mq", "accept-origin", "alpha"],
    );
    assert!(!refused.status.success(), "a polecat cannot decide that");
    assert!(
        stderr(&refused).contains("overseer"),
        "{}",
        stderr(&refused)
    );
    let accepted = town.ok(&["mq", "accept-origin", "alpha"]);
    assert!(accepted.contains("refs/gastown/backup/main/"), "{accepted}");
    assert!(
        accepted.contains(&landed),
        "names the landed MR origin dropped: {accepted}"
    );
    let backup = git_in(
        &bare(&town),
        &[
            "for-each-ref",
            "--format=%(objectname)",
            "refs/gastown/backup/",
        ],
    );
    assert_eq!(backup.trim(), old_main, "the rig's old main is saved");
    // slit started on the dropped history: merging as it is would push it back.
    let summary = process(&town);
    assert_eq!(summary["sent_back"], 1, "{summary}");
    assert_eq!(origin.tip("main"), rewritten, "nothing pushed");
    assert!(has_mail(
        &town,
        "alpha/polecats/slit",
        "REWORK",
        "accept-origin"
    ));
    // The polecat moves its own commit onto the new main and submits again: it lands, alone.
    let wt = town.root.join("alpha/polecats/slit/rig");
    git_in(&wt, &["rebase", "--quiet", "--onto", "main", &old_main]);
    let again = as_agent(&town, "alpha/polecats/slit", &["done"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(process(&town)["merged"], 1);
    assert_eq!(origin.trailers(&waiting), 1);
    assert_eq!(
        origin.trailers(&landed),
        0,
        "dropped commits are not pushed back"
    );
    assert!(origin.log().lines().any(|l| l == "human rewrite"));
}

#[test]
fn a_branch_name_already_taken_on_origin_is_left_alone_and_the_mr_is_filed() {
    let (town, origin) = town_on_origin();
    let b = town.create(&["Clash"]);
    let branch = format!("polecat/nux/{b}");
    // Someone else's branch of the same name on origin.
    git_in(&origin.human, &["switch", "--quiet", "-c", &branch]);
    std::fs::write(origin.human.join("theirs.txt"), "theirs\n").expect("write");
    git_in(&origin.human, &["add", "."]);
    git_in(&origin.human, &["commit", "--quiet", "-m", "theirs"]);
    git_in(&origin.human, &["push", "--quiet", "origin", &branch]);
    let theirs = origin.tip(&branch);
    town.ok(&[
        "sling",
        &b,
        "alpha/polecats/nux",
        "--no-formula",
        "--no-convoy",
    ]);
    std::fs::write(town.root.join("alpha/polecats/nux/rig/mine.txt"), "mine\n").expect("write");
    let out = as_agent(&town, "alpha/polecats/nux", &["done"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("submitted as") && text.contains("already has a branch of that name"),
        "{text}"
    );
    assert_eq!(origin.tip(&branch), theirs, "not overwritten");
    assert_eq!(process(&town)["merged"], 1);
    assert_eq!(
        origin.tip(&branch),
        theirs,
        "not deleted after the merge either"
    );
}

#[test]
fn an_origin_with_main_checked_out_is_refused_at_rig_add_with_the_fix() {
    let town = TestTown::new();
    let src = town.root.parent().expect("parent").join("checked-out");
    std::fs::create_dir_all(&src).expect("mkdir");
    git_in(&src, &["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(src.join("README.md"), "x\n").expect("write");
    git_in(&src, &["add", "."]);
    git_in(&src, &["commit", "--quiet", "-m", "first"]);
    let path = src.to_str().expect("utf-8");
    let err = town.fails(&["rig", "add", "alpha", path]);
    assert!(
        err.contains(&format!(
            "git -C {path} config receive.denyCurrentBranch updateInstead"
        )) && err.contains("--no-push"),
        "{err}"
    );
    assert!(!town.root.join("alpha").exists(), "nothing made");
    assert!(
        git_in(&src, &["config", "--list", "--local"])
            .lines()
            .all(|l| !l.starts_with("receive.")),
        "the user's repository config is not changed"
    );
    // --no-push: landed work stays in the town.
    town.ok(&["rig", "add", "alpha", path, "--no-push"]);
    let config = std::fs::read_to_string(town.root.join("alpha/rig.toml")).expect("rig.toml");
    assert!(config.contains("push = false"), "{config}");
    let before = git_in(&src, &["rev-parse", "main"]);
    let b = town.create(&["Local only"]);
    town.ok(&[
        "sling",
        &b,
        "alpha/polecats/nux",
        "--no-formula",
        "--no-convoy",
    ]);
    std::fs::write(town.root.join("alpha/polecats/nux/rig/l.txt"), "x\n").expect("write");
    let out = as_agent(&town, "alpha/polecats/nux", &["done"]);
    assert!(
        !stdout(&out).contains("warning"),
        "no push tried: {}",
        stdout(&out)
    );
    let summary: Value =
        serde_json::from_str(&town.ok(&["mq", "process", "alpha", "--all", "--json"]))
            .expect("JSON");
    assert_eq!(summary["merged"], 1, "{summary}");
    assert_eq!(
        git_in(&src, &["rev-parse", "main"]),
        before,
        "the source is untouched"
    );
}

#[test]
fn an_origin_that_stops_accepting_pushes_to_its_checked_out_main_gets_the_same_fix() {
    let town = TestTown::new();
    let src = town.root.parent().expect("parent").join("source");
    let path = crate::util::source_repo(town.root.parent().expect("parent"));
    town.ok(&["rig", "add", "alpha", &path]);
    git_in(&src, &["config", "--unset", "receive.denyCurrentBranch"]);
    let (_, mr) = submit(&town, "nux", "Blocked", &[("b.txt", "x\n")]);
    assert_eq!(process(&town)["waiting_for_origin"], 1);
    let body = told_once(&town, "origin refuses pushes to a checked-out branch");
    assert!(
        body.contains(&format!(
            "git -C {path} config receive.denyCurrentBranch updateInstead"
        )),
        "{body}"
    );
    assert_eq!(mq_show(&town, &mr)["state"], "queued");
    assert!(has_mail(&town, "overseer", "checked-out", "push = false"));
}

#[test]
fn credentials_in_the_source_url_are_never_printed() {
    let town = TestTown::new();
    let err = town.fails(&["rig", "add", "alpha", "https://me:s3cret@127.0.0.1:1/r.git"]);
    assert!(err.contains("https://***@127.0.0.1:1/r.git"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    // A rig whose recorded URL holds a token: list, show and JSON hide it.
    let (town, _origin) = town_on_origin();
    let path = town.root.join("alpha/rig.toml");
    let text = std::fs::read_to_string(&path).expect("rig.toml");
    let url_line = text
        .lines()
        .find(|l| l.starts_with("url ="))
        .expect("url")
        .to_string();
    let with_token = text.replace(&url_line, "url = \"https://me:s3cret@example.com/r.git\"");
    std::fs::write(&path, with_token).expect("write");
    for args in [
        &["rig", "list"][..],
        &["rig", "list", "--json"],
        &["rig", "show", "alpha"],
        &["rig", "show", "alpha", "--json"],
    ] {
        let out = town.ok(args);
        assert!(out.contains("***@example.com"), "{args:?}: {out}");
        assert!(!out.contains("s3cret"), "{args:?}: {out}");
    }
}
