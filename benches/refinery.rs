//! Refinery benchmark: the real `gastown` binary landing a rig's merge queue with the hidden
//! `gastown mq process <rig> --all` (the same next_batch / land / record phases the live
//! refinery runs).
//!
//! Each scenario builds a fresh town with a local rig, N branches of one new file each (one
//! `git fast-import`) and N merge-request beads plus their source beads (one `gastown bead
//! import`), then times `mq process`:
//!
//! - N = 100 with a trivial gate (`true`), batch 1: the < 20 s target;
//! - N = 100 without gates, merged in memory (`git merge-tree`) vs with `git merge` in the
//!   refinery's worktree (`--worktree-merge`): the ratio;
//! - N = 20 with a gate costing T = `sleep 0.2`, batch 1, 5 and 20: ≈ ⌈N/batch⌉·T;
//! - N = 20, batch 5, one MR in four breaking the gate: bisection's cost;
//! - N = 100 with a trivial gate, landing on a local bare origin (`[refinery] push = true`:
//!   a fetch before and a push with a lease after each batch) vs in the town only: the cost
//!   of landing on the source remote. Every other row lands in the town only (`push = false`).
//!
//! Run: `cargo bench -p gastown --bench refinery` (REFINERY_BENCH_N scales the 100).

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::ok;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=b", "-c", "user.email=b@b"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Town {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

/// A town with rig `alpha` (a bare origin of 200 small files) and `n` queued MRs; MR `i` breaks
/// the gate `test ! -f bad.txt` when `breaks(i)`; `push`: land on origin, else in the town only.
fn town(
    n: usize,
    batch: usize,
    gate: Option<&str>,
    breaks: impl Fn(usize) -> bool,
    push: bool,
) -> Town {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("source");
    std::fs::create_dir_all(src.join("src")).expect("mkdir");
    git(&src, &["init", "--quiet", "--initial-branch=main"]);
    for i in 0..200 {
        std::fs::write(src.join(format!("src/m{i}.txt")), format!("module {i}\n")).expect("write");
    }
    git(&src, &["add", "."]);
    git(&src, &["commit", "--quiet", "-m", "first"]);
    let origin = dir.path().join("origin.git");
    git(
        dir.path(),
        &["clone", "--quiet", "--bare", "source", "origin.git"],
    );
    let root = dir.path().join("town");
    ok(
        dir.path(),
        &["install", root.to_str().expect("utf-8"), "--agent", "sim"],
    );
    ok(
        &root,
        &["rig", "add", "alpha", origin.to_str().expect("utf-8")],
    );
    configure(&root, batch, gate, push);
    let bare = root.join("alpha/.repo.git");
    let main = git(&bare, &["rev-parse", "main"]);
    let mut stream = String::new();
    let mut jsonl = String::new();
    for i in 0..n {
        let branch = format!("polecat/p{i}/gt-src{i}");
        let content = format!("work {i}\n");
        let msg = format!("gt-src{i}: work {i}\n");
        stream.push_str(&format!(
            "commit refs/heads/{branch}\ncommitter b <b@b> 1700000000 +0000\ndata {}\n{msg}from {main}\nM 100644 inline work/f{i}.txt\ndata {}\n{content}\n",
            msg.len(),
            content.len()
        ));
        if breaks(i) {
            stream.push_str("M 100644 inline bad.txt\ndata 4\nbad\n\n");
        }
        let at = format!("2026-01-01T00:{:02}:{:02}Z", i / 60, i % 60);
        jsonl.push_str(&format!(
            "{{\"id\":\"gt-src{i}\",\"title\":\"work {i}\",\"status\":\"in_progress\",\"priority\":2,\"issue_type\":\"task\",\"created_at\":\"{at}\"}}\n"
        ));
        jsonl.push_str(&format!(
            "{{\"id\":\"gt-mr{i}\",\"title\":\"Merge {branch}: work {i}\",\"status\":\"open\",\"priority\":2,\"issue_type\":\"merge-request\",\"assignee\":\"alpha/refinery\",\"created_at\":\"{at}\",\"rig\":\"alpha\",\"branch\":\"{branch}\",\"target\":\"main\",\"source_bead\":\"gt-src{i}\",\"worker\":\"alpha/polecats/p{i}\",\"commit\":\"\",\"retry_count\":0}}\n"
        ));
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(&bare)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stream.as_bytes())
        .expect("feed fast-import");
    assert!(child.wait().expect("fast-import").success());
    let file = dir.path().join("mrs.jsonl");
    std::fs::write(&file, jsonl).expect("write jsonl");
    ok(&root, &["bead", "import", file.to_str().expect("utf-8")]);
    Town { _dir: dir, root }
}

fn configure(root: &Path, batch: usize, gate: Option<&str>, push: bool) {
    let path = root.join("alpha/rig.toml");
    let text = std::fs::read_to_string(&path).expect("rig.toml");
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("batch =") {
            out.push_str(&format!("batch = {batch}\n"));
        } else if line.starts_with("[gates]") {
            break;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("[gates]\ntimeout = \"1m\"\n");
    if let Some(g) = gate {
        out.push_str(&format!("test = {g:?}\n"));
    }
    out.push_str(&format!("[refinery]\npush = {push}\n"));
    std::fs::write(&path, out).expect("write rig.toml");
}

/// Time `mq process alpha --all` and check what landed.
fn process(t: &Town, extra: &[&str], expect_merged: usize) -> (Duration, serde_json::Value) {
    let mut args = vec!["mq", "process", "alpha", "--all", "--json"];
    args.extend_from_slice(extra);
    let start = Instant::now();
    let out = ok(&t.root, &args);
    let elapsed = start.elapsed();
    let summary: serde_json::Value = serde_json::from_str(&out).expect("JSON summary");
    assert_eq!(summary["merged"], expect_merged, "{summary}");
    let trailers = git(
        &t.root.join("alpha/.repo.git"),
        &["log", "main", "--format=%B"],
    )
    .lines()
    .filter(|l| l.starts_with("Gastown-MR: "))
    .count();
    assert_eq!(trailers, expect_merged, "each landed MR exactly once");
    (elapsed, summary)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() {
    let n: usize = std::env::var("REFINERY_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    println!("refinery benchmark: real `gastown mq process alpha --all`, fresh town per row");
    println!(
        "{:<58} {:>9} {:>10} {:>6} {:>8} {:>8} {:>8}",
        "scenario", "wall s", "ms / MR", "gates", "batches", "land ms", "ledgr ms"
    );
    let row = |name: &str, d: Duration, s: &serde_json::Value, n: usize| {
        println!(
            "{:<58} {:>9.2} {:>10.1} {:>6} {:>8} {:>8} {:>8}",
            name,
            secs(d),
            secs(d) * 1000.0 / n as f64,
            s["gate_runs"],
            s["batches"],
            s["land_ms"],
            s["ledger_ms"]
        );
        if std::env::var_os("REFINERY_BENCH_NOTES").is_some() {
            for note in s["notes"].as_array().into_iter().flatten() {
                println!("    {}", note.as_str().unwrap_or_default());
            }
        }
    };

    let (local, s) = process(&town(n, 1, Some("true"), |_| false, false), &[], n);
    row(
        &format!("{n} MRs, gate `true`, batch 1, in memory"),
        local,
        &s,
        n,
    );
    let pushed_town = town(n, 1, Some("true"), |_| false, true);
    let (pushed, s) = process(&pushed_town, &[], n);
    row(
        &format!("{n} MRs, gate `true`, batch 1, landed on a local bare origin"),
        pushed,
        &s,
        n,
    );
    let origin = pushed_town
        .root
        .parent()
        .expect("parent")
        .join("origin.git");
    let on_origin = git(&origin, &["log", "main", "--format=%B"])
        .lines()
        .filter(|l| l.starts_with("Gastown-MR: "))
        .count();
    assert_eq!(on_origin, n, "every MR on origin exactly once");
    println!(
        "  fetch + push per batch = {:.1} ms",
        (secs(pushed) - secs(local)) * 1000.0 / n as f64
    );

    let (mem, s) = process(&town(n, 1, None, |_| false, false), &[], n);
    row(
        &format!("{n} MRs, no gate, in memory (merge-tree)"),
        mem,
        &s,
        n,
    );
    let (wt, s) = process(
        &town(n, 1, None, |_| false, false),
        &["--worktree-merge"],
        n,
    );
    row(
        &format!("{n} MRs, no gate, `git merge` in the worktree"),
        wt,
        &s,
        n,
    );
    println!(
        "  work-tree merge / in-memory merge = {:.2}x",
        secs(wt) / secs(mem)
    );

    let g = 20;
    let t = 0.2;
    for batch in [1, 5, 20] {
        let (d, s) = process(&town(g, batch, Some("sleep 0.2"), |_| false, false), &[], g);
        let expected = g.div_ceil(batch) as f64 * t;
        row(
            &format!("{g} MRs, gate `sleep 0.2`, batch {batch} (⌈N/b⌉·T = {expected:.1} s)"),
            d,
            &s,
            g,
        );
    }
    let gate = "sleep 0.2; test ! -f bad.txt";
    let (d, s) = process(
        &town(g, 5, Some(gate), |i| i % 4 == 3, false),
        &[],
        g - g / 4,
    );
    row(
        &format!("{g} MRs, gate `sleep 0.2` + 1 in 4 breaks it, batch 5"),
        d,
        &s,
        g,
    );
}
