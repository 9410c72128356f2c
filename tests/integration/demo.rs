//! `gastown demo`, the README's first command: it lands its convoy, also under chaos, with every
//! bead merged exactly once and no protocol wisp of its polecat cycles left open.

use crate::util::gastown;

fn check(args: &[&str]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let town = dir.path().join("demo");
    let mut full = vec![
        "demo",
        "--dir",
        town.to_str().expect("utf-8"),
        "--timeout",
        "5m",
    ];
    full.extend_from_slice(args);
    let out = gastown(dir.path(), &full);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Convoy landed."), "{stdout}");
    let beads: usize = args
        .windows(2)
        .find(|w| w[0] == "--beads")
        .map(|w| w[1].parse().expect("a number"))
        .unwrap_or(12);
    assert!(
        stdout.contains(&format!("beads merged:     {beads}/{beads}")),
        "{stdout}"
    );
    // Count the trailers ourselves: each bead merged exactly once.
    let log = std::process::Command::new("git")
        .arg("-C")
        .arg(town.join("town/sample/.repo.git"))
        .args(["log", "main", "--format=%B"])
        .output()
        .expect("git");
    let trailers = String::from_utf8_lossy(&log.stdout)
        .matches("Gastown-MR:")
        .count();
    assert_eq!(trailers, beads);
    // Every polecat cycle's protocol wisps were handled and closed (issue 14): none pile up.
    let listed = gastown(
        &town.join("town"),
        &["bead", "list", "--type", "message", "--json"],
    );
    let open: Vec<serde_json::Value> =
        serde_json::from_slice(&listed.stdout).expect("bead list --json");
    let piling: Vec<String> = open
        .iter()
        .filter(|m| {
            ["MERGE_READY", "POLECAT_DONE", "MERGED"].contains(&m["title"].as_str().unwrap_or(""))
        })
        .map(|m| format!("{} to {}", m["title"], m["assignee"]))
        .collect();
    assert!(
        piling.is_empty(),
        "open protocol wisps after {beads} cycles: {piling:?}"
    );
}

#[test]
fn demo_lands_its_convoy() {
    check(&["--agents", "2", "--beads", "4"]);
}

#[test]
fn demo_lands_under_chaos_with_each_bead_merged_once() {
    check(&["--agents", "3", "--beads", "6", "--chaos"]);
}
