//! `gastown doctor` through the real binary: all ok on a healthy town; on a town with each fault
//! it names the fault, `--fix` repairs what it safely can (nothing that could hold work is
//! removed) and leaves the rest reported; exit codes 0/1/2.

use crate::running::RunningTown;
use crate::util::{TestTown, stderr, stdout, town_with_rig};
use serde_json::Value;

/// `gastown doctor [extra] --json` → (exit code, checks by name).
fn doctor(town: &TestTown, extra: &[&str]) -> (i32, Vec<Value>) {
    let mut args = vec!["doctor", "--json"];
    args.extend_from_slice(extra);
    let out = town.run(&args);
    let checks: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}{}",
            stdout(&out),
            stderr(&out)
        )
    });
    (
        out.status.code().expect("an exit code"),
        checks.as_array().expect("array").clone(),
    )
}

fn check<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {checks:?}"))
}

#[test]
fn a_healthy_town_is_all_ok_and_with_a_supervisor_its_ledger_is_left_to_it() {
    let town = town_with_rig();
    let (code, checks) = doctor(&town, &[]);
    let bad: Vec<&Value> = checks.iter().filter(|c| c["status"] != "ok").collect();
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(code, 0);
    for name in [
        "git",
        "disk",
        "town-config",
        "rig-config alpha",
        "ledger",
        "origin alpha",
    ] {
        check(&checks, name);
    }
    let plain = town.ok(&["doctor"]);
    assert!(plain.contains("0 error(s), 0 warning(s)"), "{plain}");
    let t = RunningTown::start_in(town);
    let (code, checks) = doctor(&t.town, &[]);
    assert_eq!(code, 0, "{checks:?}");
    assert_eq!(
        check(&checks, "ledger")["found"],
        "held by the running supervisor"
    );
    assert!(
        checks.iter().all(|c| c["name"] != "stale-socket"),
        "{checks:?}"
    );
}

#[test]
fn each_fault_is_named_and_fix_repairs_only_what_cannot_lose_work() {
    let town = town_with_rig();
    let bead = town.create(&["Work for a rig that will vanish"]);
    // A rig whose directory is gone, with a bead still hooked to one of its polecats.
    let elsewhere = town.root.parent().expect("parent").join("b");
    let src = crate::util::source_repo(&elsewhere);
    town.ok(&["rig", "add", "beta", &src]);
    town.ok(&["sling", &bead, "beta/polecats/nux", "--no-formula"]);
    std::fs::remove_dir_all(town.root.join("beta")).expect("the rig vanishes");
    // A stale socket file, a worktree turned into a plain directory, a runtime with no program.
    std::fs::write(town.root.join(".runtime/gastown.sock"), "").expect("socket file");
    let plain = town.root.join("alpha/polecats/ghost/rig");
    std::fs::create_dir_all(&plain).expect("mkdir");
    std::fs::write(plain.join("notes.txt"), "keep me\n").expect("write");
    let config = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&config).expect("town.toml");
    text.push_str(
        "\n[agents.ghostly]\ncommand = \"gastown-no-such-program\"\nprompt = \"typed\"\n",
    );
    text = text.replace("[roles]\n", "[roles]\ndeacon = \"ghostly\"\n");
    std::fs::write(&config, text).expect("write");

    let (code, checks) = doctor(&town, &[]);
    assert_eq!(code, 2, "{checks:?}");
    assert_eq!(check(&checks, "stale-socket")["status"], "warn");
    assert_eq!(check(&checks, "stale-hooks")["status"], "warn");
    assert!(
        check(&checks, "stale-hooks")["found"]
            .as_str()
            .unwrap_or_default()
            .contains(&bead)
    );
    assert_eq!(check(&checks, "orphans")["status"], "warn");
    assert_eq!(check(&checks, "runtime ghostly")["status"], "error");
    assert!(
        check(&checks, "runtime ghostly")["fix"]
            .as_str()
            .unwrap_or_default()
            .contains("gastown config agent set ghostly")
    );

    // A polecat may not --fix.
    let out = crate::util::as_agent(&town, "alpha/polecats/nux", &["doctor", "--fix"]);
    assert!(
        stderr(&out).contains("only the overseer"),
        "{}",
        stderr(&out)
    );

    let (code, checks) = doctor(&town, &["--fix"]);
    assert_eq!(code, 2, "the runtime is still missing: {checks:?}");
    assert_eq!(check(&checks, "stale-socket")["fixed"], true);
    assert_eq!(check(&checks, "stale-hooks")["fixed"], true);
    assert_eq!(check(&checks, "orphans")["fixed"], false, "never removed");
    assert!(!town.root.join(".runtime/gastown.sock").exists());
    assert_eq!(
        std::fs::read_to_string(plain.join("notes.txt")).expect("kept"),
        "keep me\n"
    );
    let shown: Value =
        serde_json::from_str(&town.ok(&["bead", "show", &bead, "--json"])).expect("json");
    assert_eq!(
        shown["status"], "open",
        "released back to ready, kept: {shown}"
    );
    // What is left is reported again.
    let (_, checks) = doctor(&town, &[]);
    assert_eq!(check(&checks, "runtime ghostly")["status"], "error");
    assert!(checks.iter().all(|c| c["name"] != "stale-socket"));
    assert_eq!(check(&checks, "stale-hooks")["status"], "ok");
}

#[test]
fn broken_configs_and_a_damaged_index_are_named_and_the_index_rebuilt_from_git() {
    let town = town_with_rig();
    let bead = town.create(&["Kept in git"]);
    town.ok(&["sync"]);
    // A truncated redb index: an error, then moved aside (kept) and rebuilt from git.
    let index = town.root.join(".runtime/ledger.redb");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&index)
        .expect("index");
    f.set_len(100).expect("truncate");
    let (code, checks) = doctor(&town, &[]);
    assert_eq!(code, 2);
    assert_eq!(check(&checks, "ledger")["status"], "error");
    let (code, checks) = doctor(&town, &["--fix"]);
    assert_eq!(check(&checks, "ledger")["fixed"], true, "{checks:?}");
    assert!(
        check(&checks, "ledger")["found"]
            .as_str()
            .unwrap_or_default()
            .contains(
                "changes acknowledged but not yet committed to git, and wisps, are only in it"
            ),
        "never claims nothing was lost: {checks:?}"
    );
    assert_eq!(code, 0, "{checks:?}");
    let aside = std::fs::read_dir(town.root.join(".runtime"))
        .expect("runtime dir")
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains("damaged"));
    assert!(aside, "the damaged index is kept");
    assert!(town.ok(&["bead", "show", &bead]).contains("Kept in git"));
    // A rig.toml that does not parse, then a town.toml that does not: named, the rest still run.
    std::fs::write(town.root.join("alpha/rig.toml"), "name = \n").expect("write");
    let (code, checks) = doctor(&town, &[]);
    assert_eq!(code, 2);
    assert_eq!(check(&checks, "rig-config alpha")["status"], "error");
    std::fs::write(town.root.join("town.toml"), "[[[ not toml").expect("write");
    let (code, checks) = doctor(&town, &[]);
    assert_eq!(code, 2);
    assert_eq!(check(&checks, "town-config")["status"], "error");
    assert!(
        check(&checks, "town-config")["found"]
            .as_str()
            .unwrap_or_default()
            .contains("town.toml")
    );
    check(&checks, "git");
    check(&checks, "disk");
}

#[test]
fn the_doctor_dog_escalates_a_finding_once_however_often_it_runs() {
    let town = town_with_rig();
    let config = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&config).expect("town.toml");
    text.push_str(
        "\n[agents.ghostly]\ncommand = \"gastown-no-such-program\"\nprompt = \"typed\"\n",
    );
    text.push_str("\n[dogs.doctor]\nevery = \"1h\"\n");
    std::fs::write(&config, text).expect("write");
    // The broken runtime is the rig's: the doctor finds it.
    let rig_toml = town.root.join("alpha/rig.toml");
    let rig = std::fs::read_to_string(&rig_toml).expect("rig.toml");
    std::fs::write(&rig_toml, format!("runtime = \"ghostly\"\n{rig}")).expect("write");
    let t = RunningTown::start_in(town);
    for _ in 0..3 {
        let ran: Value =
            serde_json::from_str(&t.town.ok(&["dog", "run", "doctor", "--json"])).expect("json");
        assert_eq!(ran["last_ok"], true, "{ran}");
    }
    let list: Value =
        serde_json::from_str(&t.town.ok(&["escalate", "list", "--json"])).expect("json");
    let from_doctor: Vec<&Value> = list
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| e["source"] == "deacon/dogs/doctor")
        .collect();
    assert_eq!(from_doctor.len(), 1, "one finding, one escalation: {list}");
    assert_eq!(from_doctor[0]["severity"], "high");
    assert_eq!(from_doctor[0]["count"], 3, "the repeats folded into it");
    assert!(
        from_doctor[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("runtime ghostly")
    );
}

#[test]
fn duplicate_agent_beads_are_named_and_fix_folds_them() {
    let town = town_with_rig();
    // The state older ledgers left: a stray agent bead made by hand beside the one sling makes.
    let stray = town.create(&["alpha/crew/zoe", "-t", "agent", "-l", "dnd"]);
    town.ok(&["sling", &town.create(&["Zoe's job"]), "alpha/crew/zoe"]);
    let (code, checks) = doctor(&town, &[]);
    let dup = check(&checks, "duplicate-agents");
    assert_eq!(dup["status"], "warn", "{dup}");
    let found = dup["found"].as_str().unwrap_or_default();
    assert!(
        found.contains("alpha/crew/zoe") && found.contains(&stray) && found.contains("-agent-"),
        "names the address, the stray and the bead kept: {found}"
    );
    assert!(
        dup["fix"].as_str().unwrap_or_default().contains("--fix"),
        "{dup}"
    );
    assert_eq!(code, 1, "a warning: {checks:?}");

    let (_, checks) = doctor(&town, &["--fix"]);
    assert_eq!(check(&checks, "duplicate-agents")["fixed"], true);
    let shown: Value =
        serde_json::from_str(&town.ok(&["bead", "show", &stray, "--json"])).expect("json");
    assert_eq!(shown["status"], "closed", "folded, not deleted: {shown}");
    let agents: Vec<Value> =
        serde_json::from_str(&town.ok(&["bead", "list", "-t", "agent", "--json"])).expect("json");
    let zoe: Vec<&Value> = agents
        .iter()
        .filter(|b| b["address"] == "alpha/crew/zoe" || b["title"] == "alpha/crew/zoe")
        .collect();
    assert_eq!(zoe.len(), 1, "{zoe:?}");
    assert!(
        zoe[0]["labels"].to_string().contains("dnd"),
        "labels kept: {zoe:?}"
    );

    let (code, checks) = doctor(&town, &[]);
    assert_eq!(check(&checks, "duplicate-agents")["status"], "ok");
    assert_eq!(code, 0, "{checks:?}");
}

/// Issue 20: an account whose key variable is not set, or whose config dir does not exist,
/// cannot take a session: doctor names it; a good account beside it is listed; a malformed
/// account is refused with what to fix.
#[test]
fn accounts_that_cannot_take_a_session_are_named() {
    let town = town_with_rig();
    let config = town.root.join("town.toml");
    let original = std::fs::read_to_string(&config).expect("town.toml");
    let dir = town.root.join("claude-ok");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let accounts = format!(
        "\n[agents.claude]\n\n[[agents.claude.accounts]]\nname = \"ok\"\nconfig_dir = \"{}\"\n\n\
         [[agents.claude.accounts]]\nname = \"keyless\"\n\
         api_key_env = \"GASTOWN_TEST_NO_SUCH_KEY\"\n\n[[agents.claude.accounts]]\n\
         name = \"gone\"\nconfig_dir = \"/nonexistent/claude-gone\"\n",
        dir.display()
    );
    let text = original.replace("default_agent = \"sim\"", "default_agent = \"claude\"");
    assert_ne!(
        text, original,
        "the town's default agent is set: {original}"
    );
    std::fs::write(&config, format!("{text}{accounts}")).expect("write");
    let (_, checks) = doctor(&town, &[]);
    let accounts = check(&checks, "accounts claude");
    assert_eq!(accounts["status"], "warn", "{accounts}");
    let found = accounts["found"].as_str().expect("found");
    for needle in [
        "3 account(s): ok, keyless, gone",
        "$GASTOWN_TEST_NO_SUCH_KEY",
        "/nonexistent/claude-gone does not exist",
    ] {
        assert!(found.contains(needle), "{needle}: {found}");
    }
    let listed = town.ok(&["config", "agent", "list"]);
    assert!(listed.contains("(accounts: ok, keyless, gone)"), "{listed}");
    let listed: serde_json::Value =
        serde_json::from_str(&town.ok(&["config", "agent", "list", "--json"])).expect("json");
    let claude = listed
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == "claude"))
        .expect("claude");
    assert_eq!(
        claude["accounts"][1]["api_key_env"], "GASTOWN_TEST_NO_SUCH_KEY",
        "{claude}"
    );
    // Two accounts of one name: the runtime does not resolve, and the error says why.
    let twice = "\n[agents.claude]\n\n[[agents.claude.accounts]]\nname = \"a\"\n\
                 env = { X = \"1\" }\n\n[[agents.claude.accounts]]\nname = \"a\"\n\
                 env = { X = \"2\" }\n";
    std::fs::write(&config, format!("{text}{twice}")).expect("write");
    let (code, checks) = doctor(&town, &[]);
    assert_eq!(code, 2, "{checks:?}");
    let runtime = check(&checks, "runtime claude");
    assert!(
        runtime["found"].as_str().is_some_and(
            |f| f.contains("account \"a\" of agent \"claude\" in town.toml is listed twice")
        ),
        "{runtime}"
    );
}

/// Where the running supervisor's socket is (recorded in `socket.path` when it did not fit in
/// the runtime dir).
fn socket_of(town: &TestTown) -> std::path::PathBuf {
    let runtime = town.root.join(".runtime");
    match std::fs::read_to_string(runtime.join("socket.path")) {
        Ok(path) if !path.trim().is_empty() => path.trim().into(),
        _ => runtime.join("gastown.sock"),
    }
}

#[test]
fn a_broken_town_toml_under_a_running_supervisor_leaves_its_live_socket_alone() {
    let t = RunningTown::start_in(town_with_rig());
    let socket = socket_of(&t.town);
    assert!(socket.exists(), "{}", socket.display());
    let config = t.town.root.join("town.toml");
    let good = std::fs::read_to_string(&config).expect("town.toml");
    std::fs::write(&config, "[[[ not toml").expect("break town.toml");
    let (code, checks) = doctor(&t.town, &["--fix"]);
    assert_eq!(code, 2, "{checks:?}");
    assert_eq!(check(&checks, "town-config")["status"], "error");
    assert!(
        checks.iter().all(|c| c["name"] != "stale-socket"),
        "a live socket is no stale one: {checks:?}"
    );
    assert!(socket.exists(), "the live socket is kept");
    // The supervisor still answers on it once town.toml is whole again.
    std::fs::write(&config, good).expect("mend town.toml");
    t.town.ok(&["status"]);
}

#[test]
fn one_broken_rig_toml_is_reported_and_the_other_rigs_are_still_checked() {
    let town = town_with_rig();
    let elsewhere = town.root.parent().expect("parent").join("b");
    let src = crate::util::source_repo(&elsewhere);
    town.ok(&["rig", "add", "beta", &src]);
    std::fs::write(town.root.join("alpha/rig.toml"), "name = \n").expect("break alpha");
    let (code, checks) = doctor(&town, &[]);
    assert_eq!(code, 2, "{checks:?}");
    assert_eq!(check(&checks, "rig-config alpha")["status"], "error");
    assert_eq!(check(&checks, "rig-config beta")["status"], "ok");
    let origin = check(&checks, "origin beta");
    assert_eq!(
        origin["status"], "ok",
        "the good rig's origin is checked: {origin}"
    );
    assert!(
        checks.iter().all(|c| c["name"] != "origin alpha"),
        "{checks:?}"
    );
}

#[test]
fn an_index_disagreeing_with_git_is_named_and_only_fix_rebuilds_it() {
    let town = town_with_rig();
    let bead = town.create(&["The title git has"]);
    // Every CLI command closes the ledger, so git has the bead. Now the index alone changes,
    // behind the ledger's back: its title rewritten, and a bead git never had.
    let index = town.root.join(".runtime/ledger.redb");
    {
        let mut store = gastown_beads::store::Store::open(&index).expect("index");
        let (mut changed, _) = store.get(&bead).expect("get").expect("the bead");
        changed.title = "A title only the index has".to_string();
        let mut stray = changed.clone();
        stray.id = format!("{bead}-stray");
        let batch = gastown_beads::store::Batch {
            puts: [changed, stray]
                .into_iter()
                .map(|bead| gastown_beads::store::Put {
                    bead,
                    journal: false,
                })
                .collect(),
            ..gastown_beads::store::Batch::default()
        };
        store.write(&batch).expect("write the index alone");
    }
    let (code, checks) = doctor(&town, &[]);
    let ledger = check(&checks, "ledger");
    assert_eq!(ledger["status"], "warn", "{ledger}");
    let found = ledger["found"].as_str().unwrap_or_default();
    assert!(
        found.contains("disagrees with git")
            && found.contains(&format!("different in the index: {bead}"))
            && found.contains(&format!("in the index, not in git: {bead}-stray")),
        "{found}"
    );
    assert_eq!(code, 1, "{checks:?}");
    // A doctor without --fix changed nothing: it is still found.
    let (_, checks) = doctor(&town, &[]);
    assert_eq!(check(&checks, "ledger")["status"], "warn");

    let (code, checks) = doctor(&town, &["--fix"]);
    let ledger = check(&checks, "ledger");
    assert_eq!(ledger["fixed"], true, "{ledger}");
    assert!(
        ledger["found"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("git never had ({bead}-stray)")),
        "says what only the old index has: {ledger}"
    );
    assert_eq!(code, 0, "{checks:?}");
    assert!(
        town.ok(&["bead", "show", &bead])
            .contains("The title git has"),
        "git wins"
    );
    let aside = std::fs::read_dir(town.root.join(".runtime"))
        .expect("runtime dir")
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains("disagreed"));
    assert!(aside, "the old index is kept");
    let (code, checks) = doctor(&town, &[]);
    assert_eq!(check(&checks, "ledger")["status"], "ok", "{checks:?}");
    assert_eq!(code, 0);
}

#[test]
fn a_deleted_index_is_named_and_rebuilt_from_git_only_with_fix() {
    let town = town_with_rig();
    let bead = town.create(&["Kept in git"]);
    let index = town.root.join(".runtime/ledger.redb");
    std::fs::remove_file(&index).expect("delete the index");
    let (code, checks) = doctor(&town, &[]);
    let ledger = check(&checks, "ledger");
    assert_eq!(ledger["status"], "warn", "{ledger}");
    assert!(
        ledger["found"]
            .as_str()
            .unwrap_or_default()
            .contains("is missing"),
        "{ledger}"
    );
    assert_eq!(check(&checks, "ledger-checks")["status"], "warn");
    assert_eq!(code, 1, "{checks:?}");
    assert!(!index.exists(), "a doctor without --fix rebuilds nothing");
    let (code, checks) = doctor(&town, &["--fix"]);
    assert_eq!(check(&checks, "ledger")["fixed"], true, "{checks:?}");
    assert!(index.exists());
    assert!(
        checks.iter().all(|c| c["name"] != "ledger-checks"),
        "the ledger's checks ran after the rebuild: {checks:?}"
    );
    check(&checks, "stale-hooks");
    assert_eq!(code, 0, "{checks:?}");
    assert!(town.ok(&["bead", "show", &bead]).contains("Kept in git"));
}

#[test]
fn under_gastown_run_the_doctor_dog_sees_the_ledgers_findings_and_escalates_once() {
    let town = town_with_rig();
    let config = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&config).expect("town.toml");
    text.push_str("\n[dogs.doctor]\nevery = \"1h\"\n");
    std::fs::write(&config, text).expect("write");
    let t = RunningTown::start_in(town);
    // Made while the supervisor holds the ledger: two agent beads for one identity.
    t.town.create(&["alpha/crew/zoe", "-t", "agent"]);
    t.town.create(&["alpha/crew/zoe", "-t", "agent"]);
    for _ in 0..2 {
        let ran: Value =
            serde_json::from_str(&t.town.ok(&["dog", "run", "doctor", "--json"])).expect("json");
        assert_eq!(ran["last_ok"], true, "{ran}");
    }
    let list: Value =
        serde_json::from_str(&t.town.ok(&["escalate", "list", "--json"])).expect("json");
    let duplicates: Vec<&Value> = list
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| {
            e["source"] == "deacon/dogs/doctor"
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("duplicate-agents"))
        })
        .collect();
    assert_eq!(duplicates.len(), 1, "found, escalated once: {list}");
    assert_eq!(
        duplicates[0]["count"], 2,
        "the repeat folded into it: {list}"
    );
}

/// A change the ledger acknowledged but had not committed to git yet, then the supervisor is
/// killed and the index truncated: the index cannot be read, so the change cannot be recovered
/// from it. `--fix` rebuilds from git and says plainly that such changes are only in the
/// damaged index it kept — it never claims nothing was lost.
#[test]
fn a_truncated_index_with_an_unsynced_change_is_rebuilt_and_the_loss_is_said() {
    let town = town_with_rig();
    let config = town.root.join("town.toml");
    let text = std::fs::read_to_string(&config).expect("town.toml");
    let slow = text.replace("commit_delay = \"1s\"", "commit_delay = \"1h\"");
    assert_ne!(slow, text, "town.toml sets the commit delay: {text}");
    std::fs::write(&config, slow).expect("write");
    // Made by the CLI, which commits when it closes the ledger: git has it.
    let synced = town.create(&["In git before the run"]);
    let t = RunningTown::start_in(town);
    let bead = t.town.create(&["Acknowledged, not yet in git"]);
    let git_has = |id: &str| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&t.town.root)
            .args(["grep", "-q", id, "refs/heads/beads", "--"])
            .stderr(std::process::Stdio::null())
            .status()
            .expect("git grep")
            .success()
    };
    assert!(
        git_has(&synced),
        "the ledger's ref exists and holds the first"
    );
    assert!(!git_has(&bead), "the change is acknowledged, not committed");
    // The supervisor dies without a word (no orderly close commits the journal).
    let pid_file = std::fs::read_to_string(t.town.root.join(".runtime/run.pid")).expect("run.pid");
    let pid: i32 = pid_file
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a pid");
    // SAFETY: signalling the `gastown run` this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    crate::running::wait_for(
        "the supervisor gone",
        std::time::Duration::from_secs(20),
        || {
            // SAFETY: signal 0 only checks for existence (a zombie until reaped still counts, so
            // the socket refusing is what is waited for).
            let gone = unsafe { libc::kill(pid, 0) } != 0
                || !t.town.run(&["actors", "--json"]).status.success();
            gone.then_some(())
        },
    );
    let index = t.town.root.join(".runtime/ledger.redb");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&index)
        .expect("index")
        .set_len(100)
        .expect("truncate");
    let (_, checks) = doctor(&t.town, &["--fix"]);
    let ledger = check(&checks, "ledger");
    assert_eq!(ledger["fixed"], true, "{ledger}");
    let found = ledger["found"].as_str().unwrap_or_default();
    assert!(
        found.contains(
            "changes acknowledged but not yet committed to git, and wisps, are only in it"
        ),
        "{found}"
    );
    assert!(
        !found.contains("nothing"),
        "no claim that nothing is lost: {found}"
    );
    // What happened, plainly: the change never reached git and is not in the rebuilt index.
    assert!(!git_has(&bead));
    assert!(!t.town.run(&["bead", "show", &bead]).status.success());
    assert!(
        t.town
            .ok(&["bead", "show", &synced])
            .contains("In git before the run"),
        "what git had is all back"
    );
}

/// A supervisor killed with `kill -9` leaves its pid file, `socket.path` and (its runtime dir's
/// path too long for a socket) the fallback dir with its socket: each named, `--fix` removes
/// them, and a new `gastown run` starts.
#[test]
fn a_killed_supervisors_runtime_leftovers_are_named_and_removed_with_fix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir
        .path()
        .join("a-town-whose-path-is-too-long-for-a-unix-socket".repeat(2));
    let town = TestTown::install_at(dir, root);
    let src = crate::util::source_repo(town.root.parent().expect("parent"));
    town.ok(&["rig", "add", "alpha", &src]);
    let t = RunningTown::start_in(town);
    let socket = socket_of(&t.town);
    let fallback = socket.parent().expect("its dir").to_path_buf();
    assert_ne!(
        fallback,
        t.town.root.join(".runtime"),
        "the socket did not fit in the runtime dir"
    );
    let pid: i32 = std::fs::read_to_string(t.town.root.join(".runtime/run.pid"))
        .expect("run.pid")
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a pid");
    // SAFETY: signalling the `gastown run` this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    crate::running::wait_for(
        "the supervisor gone",
        std::time::Duration::from_secs(20),
        || {
            std::os::unix::net::UnixStream::connect(&socket)
                .is_err()
                .then_some(())
        },
    );
    // A process-group record whose leader is gone and whose token nothing carries (the
    // sessions' shims end their groups when the supervisor dies).
    let groups = t.town.root.join(".runtime/groups");
    std::fs::create_dir_all(&groups).expect("mkdir");
    std::fs::write(
        groups.join("999999999-1"),
        "kind=session\nlabel=gone\ntoken=doctor-test-no-such-token\n",
    )
    .expect("record");
    let (code, checks) = doctor(&t.town, &[]);
    assert_eq!(code, 1, "{checks:?}");
    assert_eq!(check(&checks, "stale-socket")["status"], "warn");
    let stale = check(&checks, "stale-runtime");
    let found = stale["found"].as_str().unwrap_or_default();
    for needle in [
        "run.pid (process",
        "socket.path",
        &format!("fallback dir {}", fallback.display()),
        "process-group record(s)",
    ] {
        assert!(found.contains(needle), "{needle}: {found}");
    }
    let (code, checks) = doctor(&t.town, &["--fix"]);
    assert_eq!(check(&checks, "stale-runtime")["fixed"], true, "{checks:?}");
    assert_eq!(check(&checks, "stale-socket")["fixed"], true, "{checks:?}");
    assert_eq!(code, 0, "{checks:?}");
    assert!(!fallback.exists(), "the empty fallback dir is gone");
    assert!(!t.town.root.join(".runtime/run.pid").exists());
    assert!(!t.town.root.join(".runtime/socket.path").exists());
    assert_eq!(
        std::fs::read_dir(&groups).map(|d| d.count()).unwrap_or(0),
        0,
        "the records are gone"
    );
    let (code, checks) = doctor(&t.town, &[]);
    assert_eq!(code, 0, "all clean now: {checks:?}");
}

#[test]
fn a_known_polecats_worktree_turned_plain_directory_is_named_and_moved_aside_with_fix() {
    let town = town_with_rig();
    let bead = town.create(&["Nux's job"]);
    town.ok(&["sling", &bead, "alpha/polecats/nux", "--no-formula"]);
    let worktree = town.root.join("alpha/polecats/nux/rig");
    // Its worktree, if sling made one, loses its `.git`: what is left is a plain directory.
    std::fs::create_dir_all(&worktree).expect("mkdir");
    let dotgit = worktree.join(".git");
    if dotgit.is_file() {
        std::fs::remove_file(&dotgit).expect("unlink .git");
    }
    std::fs::write(worktree.join("notes.txt"), "keep me\n").expect("write");
    let (code, checks) = doctor(&town, &[]);
    let found = check(&checks, "worktrees");
    assert_eq!(found["status"], "warn", "{found}");
    assert!(
        found["found"].as_str().is_some_and(
            |f| f.contains("alpha/polecats/nux's worktree") && f.contains("a plain directory")
        ),
        "{found}"
    );
    assert_eq!(code, 1, "{checks:?}");
    let (_, checks) = doctor(&town, &["--fix"]);
    assert_eq!(check(&checks, "worktrees")["fixed"], true, "{checks:?}");
    assert!(!worktree.exists(), "moved aside");
    let aside: Vec<std::path::PathBuf> = std::fs::read_dir(town.root.join("alpha/polecats/nux"))
        .expect("home")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("rig.plain-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        std::fs::read_to_string(aside[0].join("notes.txt")).expect("kept"),
        "keep me\n"
    );
    let (_, checks) = doctor(&town, &[]);
    assert_eq!(check(&checks, "worktrees")["status"], "ok", "{checks:?}");
}

#[test]
fn fix_removes_clean_merged_orphans_checkpoints_dirty_ones_and_never_deletes_unmerged_commits() {
    let town = town_with_rig();
    let bare = town.root.join("alpha/.repo.git");
    let tip = crate::util::git_in(&bare, &["rev-parse", "HEAD"]);
    let tip = tip.trim();
    let wt = |path: &std::path::Path, branch: &str| {
        crate::util::git_in(
            &bare,
            &[
                "worktree",
                "add",
                "--quiet",
                "-b",
                branch,
                &path.to_string_lossy(),
                tip,
            ],
        );
    };
    // A clean worktree on a merged branch, belonging to nobody.
    let clean = town.root.join("alpha/leftover");
    wt(&clean, "polecat/old/gt-1");
    // A polecat worktree of nobody with uncommitted work.
    let dirty = town.root.join("alpha/polecats/ghost/rig");
    wt(&dirty, "polecat/ghost/gt-2");
    std::fs::write(dirty.join("plan.md"), "unsaved\n").expect("write");
    // A branch with a commit that is on no other branch, and a merged one.
    let unmerged = crate::util::git_in(
        &bare,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit-tree",
            &format!("{tip}^{{tree}}"),
            "-p",
            tip,
            "-m",
            "work",
        ],
    );
    let unmerged = unmerged.trim();
    crate::util::git_in(&bare, &["branch", "polecat/zed/gt-3", unmerged]);
    crate::util::git_in(&bare, &["branch", "polecat/done/gt-4", tip]);

    let (_, checks) = doctor(&town, &[]);
    let found = check(&checks, "orphans")["found"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for needle in ["leftover", "polecat/zed/gt-3", "polecat/done/gt-4", "ghost"] {
        assert!(found.contains(needle), "{needle}: {found}");
    }
    let (_, checks) = doctor(&town, &["--fix"]);
    let orphans = check(&checks, "orphans");
    assert_eq!(orphans["fixed"], false, "some are kept: {orphans}");
    let said = orphans["found"].as_str().unwrap_or_default();
    assert!(said.contains("removed worktree"), "{said}");
    assert!(said.contains("deleted branch polecat/done/gt-4"), "{said}");
    assert!(said.contains("checkpointed"), "{said}");
    assert!(said.contains("polecat/zed/gt-3: commits not on"), "{said}");
    // The clean, merged worktree and branch are gone.
    assert!(!clean.exists(), "{said}");
    let branches = crate::util::git_in(&bare, &["branch", "--list", "polecat/*"]);
    assert!(!branches.contains("polecat/done/gt-4"), "{branches}");
    // The unmerged commit's branch is never deleted; the dirty worktree is kept, its work
    // checkpointed.
    assert_eq!(
        crate::util::git_in(&bare, &["rev-parse", "polecat/zed/gt-3"]).trim(),
        unmerged
    );
    assert_eq!(
        std::fs::read_to_string(dirty.join("plan.md")).expect("kept"),
        "unsaved\n"
    );
    let saved = crate::util::git_in(
        &bare,
        &[
            "show",
            "refs/gastown/checkpoints/alpha/polecats/ghost:plan.md",
        ],
    );
    assert_eq!(saved.trim(), "unsaved");
}

#[test]
fn an_unreachable_origin_warns_and_a_missing_target_branch_is_an_error() {
    let town = town_with_rig();
    // beta's origin is a real bare repository.
    let elsewhere = town.root.parent().expect("parent").join("b");
    let src = crate::util::source_repo(&elsewhere);
    let origin = elsewhere.join("origin.git");
    crate::util::git_in(
        &elsewhere,
        &[
            "clone",
            "--quiet",
            "--bare",
            &src,
            &origin.to_string_lossy(),
        ],
    );
    town.ok(&["rig", "add", "beta", &origin.to_string_lossy()]);
    let (_, checks) = doctor(&town, &[]);
    assert_eq!(check(&checks, "origin beta")["status"], "ok", "{checks:?}");
    // The target branch deleted at the origin.
    crate::util::git_in(&origin, &["update-ref", "-d", "refs/heads/main"]);
    let (code, checks) = doctor(&town, &[]);
    let c = check(&checks, "origin beta");
    assert_eq!(c["status"], "error", "{c}");
    assert!(
        c["found"]
            .as_str()
            .is_some_and(|f| f.contains("no branch main")),
        "{c}"
    );
    assert_eq!(code, 2);
    assert_eq!(
        check(&checks, "origin alpha")["status"],
        "ok",
        "the other rig's origin"
    );
    // The origin gone altogether: unreachable, a warning (landings wait).
    std::fs::remove_dir_all(&origin).expect("remove the origin");
    let (_, checks) = doctor(&town, &[]);
    let c = check(&checks, "origin beta");
    assert_eq!(c["status"], "warn", "{c}");
    assert!(
        c["fix"]
            .as_str()
            .is_some_and(|f| f.contains("check the network")),
        "{c}"
    );
}

/// `gastown doctor` while `gastown run` holds the ledger: the ledger's checks are asked of the
/// supervisor (the same ones its doctor dog runs), not skipped — a duplicate agent bead made
/// under the running town is named, and the overseer's `--fix` folds it through the supervisor.
#[test]
fn under_gastown_run_doctor_asks_the_supervisor_for_the_ledgers_checks_and_fix_repairs_them() {
    let t = RunningTown::start_in(town_with_rig());
    t.town.create(&["alpha/crew/zoe", "-t", "agent"]);
    t.town.create(&["alpha/crew/zoe", "-t", "agent"]);
    let (code, checks) = doctor(&t.town, &[]);
    assert_eq!(check(&checks, "ledger")["status"], "ok", "{checks:?}");
    let duplicates = check(&checks, "duplicate-agents");
    assert_eq!(duplicates["status"], "warn", "{checks:?}");
    assert!(
        duplicates["found"]
            .as_str()
            .is_some_and(|f| f.contains("alpha/crew/zoe")),
        "{duplicates}"
    );
    for name in ["stale-hooks", "orphans", "worktrees"] {
        check(&checks, name);
    }
    assert!(code >= 1, "a warning: {checks:?}");

    let (_, fixed) = doctor(&t.town, &["--fix"]);
    assert_eq!(
        check(&fixed, "duplicate-agents")["fixed"],
        true,
        "{fixed:?}"
    );
    let (_, after) = doctor(&t.town, &[]);
    assert_eq!(
        check(&after, "duplicate-agents")["status"],
        "ok",
        "folded by the supervisor: {after:?}"
    );
}
