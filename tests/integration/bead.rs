//! The ledger through the CLI, as a new user meets it: install, create with dependencies, watch
//! `ready` change as blockers close, find the beads in git history with a clean work tree.

use crate::util::{TestTown, gastown, ids, stderr};

#[test]
fn ready_changes_as_blockers_close_and_git_has_the_beads() {
    let town = TestTown::new();
    let design = town.create(&["Design the API", "-p", "1"]);
    let build = town.create(&["Implement it", "--deps", &design]);
    let docs = town.create(&["Write docs", "--deps", &format!("blocks:{build}")]);

    let ready = ids(&town.ok(&["bead", "ready", "--json"]));
    assert_eq!(ready, vec![design.clone()]);
    let blocked = ids(&town.ok(&["bead", "blocked", "--json"]));
    assert_eq!(blocked.len(), 2, "{blocked:?}");

    town.ok(&["bead", "close", &design, "--reason", "agreed"]);
    assert_eq!(
        ids(&town.ok(&["bead", "ready", "--json"])),
        vec![build.clone()]
    );
    town.ok(&["bead", "close", &build]);
    assert_eq!(
        ids(&town.ok(&["bead", "ready", "--json"])),
        vec![docs.clone()]
    );

    // Closed beads leave the default list, --all brings them back.
    assert_eq!(
        ids(&town.ok(&["bead", "list", "--json"])),
        vec![docs.clone()]
    );
    assert_eq!(ids(&town.ok(&["bead", "list", "--all", "--json"])).len(), 3);

    let log = town.git(&["log", "--all", "-p"]);
    for id in [&design, &build, &docs] {
        assert!(
            log.contains(&format!("\"id\":\"{id}\"")),
            "{id} not in git history"
        );
    }
    assert!(
        log.contains("\"status\":\"closed\""),
        "closing is in git history"
    );
    assert_eq!(
        town.git(&["status", "--porcelain"]),
        "",
        "the town's work tree stays clean"
    );
}

#[test]
fn show_and_create_print_the_jsonl_object() {
    let town = TestTown::new();
    let id = town.create(&[
        "A bug",
        "-t",
        "bug",
        "-p",
        "P0",
        "-d",
        "it breaks",
        "-l",
        "ui,urgent",
    ]);
    let shown: serde_json::Value =
        serde_json::from_str(&town.ok(&["bead", "show", &id, "--json"])).expect("json");
    assert_eq!(shown["issue_type"], "bug");
    assert_eq!(shown["priority"], 0);
    assert_eq!(shown["description"], "it breaks");
    assert_eq!(shown["labels"], serde_json::json!(["ui", "urgent"]));
    assert!(shown.get("closed_at").is_none());

    town.ok(&[
        "bead",
        "update",
        &id,
        "--status",
        "in_progress",
        "--assignee",
        "rig/crew/max",
    ]);
    town.ok(&["bead", "comment", &id, "looking at it"]);
    town.ok(&["bead", "label", "remove", &id, "urgent"]);
    let shown: serde_json::Value =
        serde_json::from_str(&town.ok(&["bead", "show", &id, "--json"])).expect("json");
    assert_eq!(shown["status"], "in_progress");
    assert_eq!(shown["assignee"], "rig/crew/max");
    assert_eq!(shown["labels"], serde_json::json!(["ui"]));
    assert_eq!(shown["comments"][0]["text"], "looking at it");

    let closed: serde_json::Value =
        serde_json::from_str(&town.ok(&["bead", "close", &id, "--json"])).expect("json");
    assert!(closed["closed_at"].is_string());
    let reopened: serde_json::Value =
        serde_json::from_str(&town.ok(&["bead", "reopen", &id, "--json"])).expect("json");
    assert!(reopened.get("closed_at").is_none());
    assert_eq!(reopened["status"], "open");
}

#[test]
fn export_then_import_into_another_town_round_trips() {
    let a = TestTown::new();
    let first = a.create(&["one"]);
    a.create(&["two", "--deps", &first]);
    let export = a.root.join("export.jsonl");
    a.ok(&["bead", "export", "-o", export.to_str().expect("utf-8")]);

    let b = TestTown::new();
    b.ok(&["bead", "import", export.to_str().expect("utf-8")]);
    assert_eq!(
        a.ok(&["bead", "list", "--all", "--json"]),
        b.ok(&["bead", "list", "--all", "--json"])
    );
    assert_eq!(ids(&b.ok(&["bead", "ready", "--json"])), vec![first]);
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let town = TestTown::new();
    let a = town.create(&["a"]);
    let b = town.create(&["b", "--deps", &a]);

    // A dependency on an unknown bead.
    let err = town.fails(&["bead", "dep", "add", &a, "gt-zzzzz"]);
    assert!(err.contains("gt-zzzzz"), "{err}");
    // A blocking dependency that would close a cycle names the cycle.
    let err = town.fails(&["bead", "dep", "add", &a, &b]);
    assert!(
        err.contains("cycle") && err.contains(&a) && err.contains(&b),
        "{err}"
    );
    // Invalid ids and priorities.
    let err = town.fails(&["bead", "show", "../etc"]);
    assert!(err.contains("../etc") && err.contains("invalid"), "{err}");
    let err = town.fails(&["bead", "close", "no spaces"]);
    assert!(err.contains("no spaces"), "{err}");
    let err = town.fails(&["bead", "create", "x", "-p", "9"]);
    assert!(err.contains("priority"), "{err}");
    let err = town.fails(&["bead", "create", "x", "--deps", "nonsense:gt-abc"]);
    assert!(err.contains("dependency type"), "{err}");
    // Nothing half-made: still exactly the two beads, b still blocked by a.
    assert_eq!(ids(&town.ok(&["bead", "list", "--json"])).len(), 2);
    assert_eq!(ids(&town.ok(&["bead", "ready", "--json"])), vec![a]);
}

#[test]
fn an_empty_or_blank_title_is_refused_on_create_and_update() {
    let town = TestTown::new();
    for blank in ["", "   "] {
        let err = town.fails(&["bead", "create", blank]);
        assert!(err.contains("needs a title"), "{err}");
    }
    assert_eq!(ids(&town.ok(&["bead", "list", "--json"])).len(), 0);
    let a = town.create(&["Keep this title"]);
    let err = town.fails(&["bead", "update", &a, "--title", " "]);
    assert!(err.contains("needs a title"), "{err}");
    let shown: serde_json::Value =
        serde_json::from_str(&town.ok(&["bead", "show", &a, "--json"])).expect("json");
    assert_eq!(shown["title"], "Keep this title", "nothing was changed");
}

#[test]
fn a_malformed_import_names_the_line_and_imports_nothing() {
    let town = TestTown::new();
    let file = town.root.join("bad.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"id":"gt-aaa","title":"fine","status":"open","priority":2,"issue_type":"task","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}"#,
            "\n",
            r#"{"id":"gt-bbb","title":"broken","#,
            "\n"
        ),
    )
    .expect("write");
    let err = town.fails(&["bead", "import", file.to_str().expect("utf-8")]);
    assert!(err.contains("bad.jsonl") && err.contains('2'), "{err}");
    assert_eq!(ids(&town.ok(&["bead", "list", "--all", "--json"])).len(), 0);
}

/// A bead line with `status`, `priority` and `created_at` as given.
fn import_line(id: &str, status: &str, priority: u8, created_at: &str, deps: &str) -> String {
    format!(
        r#"{{"id":"{id}","title":"Bead {id}","status":"{status}","priority":{priority},"issue_type":"task","created_at":"{created_at}"{deps}}}"#
    )
}

fn blocks(id: &str, on: &str) -> String {
    format!(
        r#","dependencies":[{{"issue_id":"{id}","depends_on_id":"{on}","type":"blocks","created_at":"2026-01-01T00:00:00Z"}}]"#
    )
}

/// What the CLI refuses, an import refuses too, with the line of every bad record, with or
/// without the supervisor (the socket's request runs the same ledger write).
#[test]
fn an_import_refuses_what_the_cli_refuses_with_every_line_and_imports_nothing() {
    let t = crate::running::RunningTown::start();
    let when = "2026-01-01T00:00:00Z";
    let lines = [
        import_line("gt-ok1", "open", 2, when, ""),
        import_line("gt-st1", "weird", 2, when, ""),
        import_line("gt-pr1", "open", 9, when, ""),
        import_line("gt-ti1", "open", 2, "yesterday", ""),
        import_line("gt-cy1", "open", 2, when, &blocks("gt-cy1", "gt-cy2")),
        import_line("gt-cy2", "open", 2, when, &blocks("gt-cy2", "gt-cy1")),
        import_line("gt-da1", "open", 2, when, &blocks("gt-da1", "gt-gone")),
        import_line("gt-tl1", "open", 2, when, "").replace("Bead gt-tl1", &"T".repeat(600)),
    ];
    let file = t.town.root.join("bad.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("write");
    let path = file.to_str().expect("utf-8");
    let err = t.town.fails(&["bead", "import", path]);
    for needle in [
        "6 invalid records, so nothing was imported",
        "line 2: gt-st1: status",
        "line 3: gt-pr1: priority",
        "line 4: gt-ti1: created_at",
        "line 5: gt-cy1: dependencies: blocking dependencies form a cycle",
        "line 7: gt-da1: dependencies: depends on gt-gone",
        "line 8: gt-tl1: title: is 600 characters long",
    ] {
        assert!(err.contains(needle), "{needle:?} missing:\n{err}");
    }
    let all = t.town.ok(&["bead", "list", "--all", "--json"]);
    assert!(!all.contains("gt-ok1"), "nothing imported: {all}");
    // The CLI refuses the same title.
    let err = t.town.fails(&["bead", "create", &"T".repeat(600)]);
    assert!(err.contains("600 characters long"), "{err}");
    drop(t);
}

/// A zero-length index (a crash, a full disk, a bad copy) is refused with what to run; it is
/// never silently replaced by an empty one.
#[test]
fn an_emptied_index_is_refused_with_the_command_to_run() {
    let town = TestTown::new();
    let id = town.create(&["Survives in git"]);
    let index = town.root.join(".runtime").join("ledger.redb");
    std::fs::File::create(&index).expect("truncate the index");
    let err = town.fails(&["bead", "list"]);
    assert!(err.contains("empty (0 bytes)"), "{err}");
    assert!(err.contains("not silently replaced"), "{err}");
    let mv = format!("mv {} {}.damaged", index.display(), index.display());
    assert!(err.contains(&mv), "{err}");
    assert_eq!(std::fs::metadata(&index).expect("kept").len(), 0);
    std::fs::rename(&index, index.with_extension("redb.damaged")).expect("mv");
    let shown = town.ok(&["bead", "show", &id]);
    assert!(shown.contains("Survives in git"), "{shown}");
}

#[test]
fn the_town_is_found_by_flag_env_or_walking_up() {
    let town = TestTown::new();
    let id = town.create(&["findable"]);
    let sub = town.root.join("mayor");
    let out = gastown(&sub, &["bead", "show", &id]);
    assert!(out.status.success(), "walk up: {}", stderr(&out));

    let elsewhere = tempfile::tempdir().expect("temp dir");
    let out = gastown(elsewhere.path(), &["bead", "list"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("gastown install"), "{}", stderr(&out));
    let root = town.root.to_str().expect("utf-8");
    let out = gastown(elsewhere.path(), &["--town", root, "bead", "show", &id]);
    assert!(out.status.success(), "--town: {}", stderr(&out));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(elsewhere.path())
        .env("GASTOWN_TOWN", root)
        .args(["bead", "show", &id])
        .output()
        .expect("runs");
    assert!(out.status.success(), "GASTOWN_TOWN: {}", stderr(&out));
}

#[test]
fn install_refuses_an_existing_town_and_a_bad_prefix() {
    let town = TestTown::new();
    let out = gastown(&town.root, &["install", town.root.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already a town"), "{}", stderr(&out));
    let dir = tempfile::tempdir().expect("temp dir");
    let out = gastown(dir.path(), &["install", "t2", "--prefix", "Bad Prefix"]);
    assert!(!out.status.success());
    assert!(
        !dir.path().join("t2").join("town.toml").exists(),
        "nothing half-made"
    );
}

#[test]
fn install_makes_the_town_private_and_an_open_town_gets_a_warning_with_the_chmod() {
    use std::os::unix::fs::PermissionsExt;
    let town = TestTown::new();
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("town dir").permissions().mode() & 0o777;
    assert_eq!(mode(&town.root), 0o700, "install makes the town 0700");
    let out = town.run(&["bead", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("warning"),
        "a private town warns of nothing: {}",
        stderr(&out)
    );

    std::fs::set_permissions(&town.root, std::fs::Permissions::from_mode(0o755))
        .expect("chmod 755");
    let out = town.run(&["bead", "list"]);
    assert!(
        out.status.success(),
        "the warning does not stop the command"
    );
    let err = stderr(&out);
    assert!(err.contains("mode 0755"), "{err}");
    assert!(err.contains("other users can read"), "{err}");
    let chmod = format!(
        "chmod 700 {}",
        town.root.canonicalize().expect("root").display()
    );
    assert!(err.contains(&chmod), "says the chmod to run: {err}");
    assert_eq!(err.matches("warning: the town").count(), 1, "once: {err}");
}

#[test]
fn completions_are_generated() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = gastown(dir.path(), &["completions", "bash"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("gastown"));
}
