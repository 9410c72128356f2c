//! Unit tests of runtime resolution, custom agents, town.toml edits and role homes.

use super::home::GENERATED_MARKER;
use super::*;
use crate::git_cli::git;
use crate::identity::AgentIdentity;
use std::fs;

const EXE: &str = "/usr/bin/gastown";

/// A town repository in a temp dir with `town_toml` committed, and rigs with the given
/// `runtime` lines (`None`: a rig.toml without one).
fn town_with(town_toml: &str, rigs: &[(&str, Option<&str>)]) -> (tempfile::TempDir, Town) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    fs::write(root.join("town.toml"), town_toml).expect("write town.toml");
    for (rig, runtime) in rigs {
        fs::create_dir_all(root.join(rig)).expect("rig dir");
        let line = runtime
            .map(|r| format!("runtime = \"{r}\"\n"))
            .unwrap_or_default();
        let text = format!("name = \"{rig}\"\nurl = \"/x\"\ndefault_branch = \"main\"\n{line}");
        fs::write(root.join(rig).join("rig.toml"), text).expect("write rig.toml");
    }
    git(root, &["init", "--quiet", "--initial-branch=main"]).expect("git init");
    git(root, &["add", "."]).expect("git add");
    git(root, &["commit", "--quiet", "-m", "town"]).expect("git commit");
    let town = Town::load(root).expect("a valid town");
    (dir, town)
}

const BASE: &str = "# my town\nname = \"t\"\nprefix = \"gt\"\n";

#[test]
fn resolution_order_is_flag_then_rig_then_town_default_then_sim() {
    let with_default = format!("{BASE}default_agent = \"codex\"\n");
    let rigs = [("withrt", Some("gemini")), ("plain", None)];
    let (_a, defaulted) = town_with(&with_default, &rigs);
    let (_b, bare) = town_with(BASE, &rigs);
    let check =
        |town: &Town, rig: Option<&str>, flag: Option<&str>, expected: &str, origin: Origin| {
            let (rt, got) = resolve_explained(town, rig, flag, Path::new(EXE)).expect("resolves");
            assert_eq!(
                (rt.name.as_str(), got),
                (expected, origin),
                "rig {rig:?} flag {flag:?}"
            );
        };
    check(&defaulted, Some("withrt"), Some("amp"), "amp", Origin::Flag);
    check(
        &defaulted,
        Some("withrt"),
        None,
        "gemini",
        Origin::Rig("withrt".into()),
    );
    check(
        &defaulted,
        Some("plain"),
        None,
        "codex",
        Origin::TownDefault,
    );
    check(
        &defaulted,
        Some("norig"),
        None,
        "codex",
        Origin::TownDefault,
    );
    check(&defaulted, None, None, "codex", Origin::TownDefault);
    check(
        &bare,
        Some("withrt"),
        None,
        "gemini",
        Origin::Rig("withrt".into()),
    );
    check(&bare, None, Some("sim"), "sim", Origin::Flag);
    // Nothing chose one: no silent `sim`, an error that says how to choose.
    for rig in [Some("plain"), None] {
        let err = resolve_explained(&bare, rig, None, Path::new(EXE)).expect_err("no runtime");
        let msg = err.to_string();
        assert!(
            msg.contains("--runtime") && msg.contains("gastown config default-agent"),
            "{msg}"
        );
    }
}

#[test]
fn unknown_names_list_the_known_ones_and_say_where_they_came_from() {
    let text = format!("{BASE}default_agent = \"nope\"\n\n[agents.mine]\ncommand = \"x\"\n");
    let (_d, town) = town_with(&text, &[("r", Some("ghost"))]);
    let err =
        resolve_explained(&town, Some("r"), None, Path::new(EXE)).expect_err("ghost is unknown");
    let msg = err.to_string();
    assert!(msg.contains("\"ghost\"") && msg.contains("rig r"), "{msg}");
    assert!(
        msg.contains("sim, claude, codex") && msg.contains("mine"),
        "{msg}"
    );
    let err = resolve_explained(&town, None, None, Path::new(EXE)).expect_err("nope is unknown");
    assert!(err.to_string().contains("default_agent"), "{err}");
}

#[test]
fn custom_agents_inherit_from_the_preset_of_their_program() {
    let check = |cfg: AgentConfig, prompt: PromptMode, marker: Option<&str>, hooks: HookSupport| {
        let rt = custom("x", &cfg).expect("builds");
        assert_eq!(rt.name, "x");
        assert_eq!(rt.program, cfg.command);
        assert_eq!(rt.args, cfg.args, "arguments are used exactly as written");
        assert_eq!(
            (rt.prompt, rt.ready_marker.as_deref(), rt.hooks),
            (prompt, marker, hooks),
            "{cfg:?}"
        );
    };
    let cfg = |command: &str, args: &[&str]| AgentConfig {
        command: command.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        ..AgentConfig::default()
    };
    let claude = HookSupport::ClaudeSettings;
    check(
        cfg("claude", &["--model", "opus"]),
        PromptMode::Argument,
        Some("❯"),
        claude,
    );
    check(
        cfg("codex", &["--thinking", "low"]),
        PromptMode::Typed,
        Some("›"),
        HookSupport::None,
    );
    check(
        cfg("claude-glm", &[]),
        PromptMode::Typed,
        None,
        HookSupport::None,
    );
    let like = AgentConfig {
        preset: Some("claude".into()),
        ..cfg("claude-glm", &["--model", "glm-4"])
    };
    check(like, PromptMode::Argument, Some("❯"), claude);
    let overridden = AgentConfig {
        prompt: Some(PromptMode::Typed),
        ready_marker: Some("> ".into()),
        ..cfg("claude", &[])
    };
    check(overridden, PromptMode::Typed, Some("> "), claude);
}

#[test]
fn broken_custom_agents_say_what_is_wrong() {
    let check = |cfg: AgentConfig, needle: &str| {
        let err = custom("x", &cfg).expect_err("refused").to_string();
        assert!(err.contains(needle), "{err}");
    };
    check(AgentConfig::default(), "empty command");
    let bad_preset = AgentConfig {
        command: "x".into(),
        preset: Some("clod".into()),
        ..AgentConfig::default()
    };
    check(bad_preset, "unknown preset \"clod\"");
    let bad_quiet = AgentConfig {
        command: "x".into(),
        quiet_period: Some("soon".into()),
        ..AgentConfig::default()
    };
    check(bad_quiet, "quiet_period");
}

#[test]
fn a_custom_agent_may_shadow_a_preset_but_not_sim() {
    let text = format!("{BASE}\n[agents.claude]\ncommand = \"/opt/claude\"\n");
    let (_d, town) = town_with(&text, &[]);
    let rt = by_name(&town, "claude", Path::new(EXE)).expect("resolves");
    assert_eq!(rt.program, "/opt/claude");
    assert_eq!(rt.hooks, HookSupport::ClaudeSettings);
    let rows = list(&town, Path::new(EXE));
    let claude = rows.iter().find(|r| r.name == "claude").expect("listed");
    assert_eq!(claude.kind, Kind::Override);
    assert_eq!(rows.iter().filter(|r| r.name == "claude").count(), 1);
    assert!(
        rows.iter().all(|r| !r.default),
        "nothing is the default until one is chosen, not even sim"
    );
    let err = set_agent(&town, "sim", &["x".into()], &SetOptions::default()).expect_err("sim");
    assert!(err.to_string().contains("built-in scripted agent"), "{err}");
}

fn status(town: &Town) -> String {
    git(&town.root, &["status", "--porcelain"]).expect("git status")
}

#[test]
fn edits_keep_comments_and_are_committed() {
    let text = format!("{BASE}\n# how we log\n[run]\nlog = \"debug\"  # noisy on purpose\n");
    let (_d, town) = town_with(&text, &[]);
    let words = ["codex --thinking 'very low'".to_string()];
    let change = set_agent(&town, "codex-low", &words, &SetOptions::default()).expect("set");
    assert_eq!(change, Change::Committed);
    let town = Town::load(&town.root).expect("still valid");
    let after = fs::read_to_string(town.root.join("town.toml")).expect("read");
    assert!(after.starts_with("# my town\n"), "{after}");
    assert!(
        after.contains("log = \"debug\"  # noisy on purpose"),
        "{after}"
    );
    assert!(
        !after.contains("[agents]\n"),
        "no empty [agents] header: {after}"
    );
    let cfg = &town.config.agents["codex-low"];
    assert_eq!(
        (cfg.command.as_str(), cfg.args.clone()),
        (
            "codex",
            vec!["--thinking".to_string(), "very low".to_string()]
        )
    );
    assert_eq!(status(&town), "");
    let same = set_agent(&town, "codex-low", &words, &SetOptions::default()).expect("again");
    assert_eq!(same, Change::Unchanged);

    set_default_agent(&town, "codex-low", Path::new(EXE)).expect("default");
    let town = Town::load(&town.root).expect("valid");
    assert_eq!(town.config.default_agent.as_deref(), Some("codex-low"));
    let err = remove_agent(&town, "codex-low").expect_err("the default stays");
    assert!(err.to_string().contains("default agent"), "{err}");
    set_default_agent(&town, "claude", Path::new(EXE)).expect("default");
    let town = Town::load(&town.root).expect("valid");
    remove_agent(&town, "codex-low").expect("removed");
    let town = Town::load(&town.root).expect("valid");
    assert!(town.config.agents.is_empty());
    let after = fs::read_to_string(town.root.join("town.toml")).expect("read");
    assert!(!after.contains("agents"), "{after}");
    assert_eq!(status(&town), "");
    let log = git(&town.root, &["log", "--format=%s"]).expect("log");
    assert!(log.contains("gastown config agent set codex-low"), "{log}");
}

#[test]
fn bad_edits_change_nothing() {
    let (_d, town) = town_with(BASE, &[]);
    let before = fs::read_to_string(town.root.join("town.toml")).expect("read");
    let check = |result: anyhow::Result<Change>, needle: &str| {
        let err = format!("{:#}", result.expect_err("refused"));
        assert!(err.contains(needle), "{err}");
    };
    let none = SetOptions::default();
    check(set_agent(&town, "x", &["".into()], &none), "empty command");
    check(
        set_agent(&town, "x", &["  ".into()], &none),
        "empty command",
    );
    check(
        set_agent(&town, "x", &["codex 'open".into()], &none),
        "split",
    );
    check(
        set_agent(&town, "Bad/Name", &["codex".into()], &none),
        "simple name",
    );
    let like = SetOptions {
        preset: Some("clod".into()),
        ..SetOptions::default()
    };
    check(
        set_agent(&town, "x", &["codex".into()], &like),
        "unknown preset",
    );
    check(remove_agent(&town, "claude"), "built-in");
    check(remove_agent(&town, "sim"), "built-in");
    check(remove_agent(&town, "ghost"), "no custom agent");
    check(
        set_default_agent(&town, "ghost", Path::new(EXE)),
        "sim, claude",
    );
    let after = fs::read_to_string(town.root.join("town.toml")).expect("read");
    assert_eq!(before, after);
    assert_eq!(status(&town), "");
}

/// The gastown binary the tests' hooks call.
const GASTOWN: &str = "/opt/gastown/bin/gastown";

/// A session set up with its HOME in `dir` (never the real one: Claude's and Codex's state
/// files are written there).
fn setup(dir: &Path) -> SessionSetup {
    SessionSetup {
        gastown: PathBuf::from(GASTOWN),
        env: [(
            "HOME".to_string(),
            dir.join("user").to_string_lossy().into_owned(),
        )]
        .into(),
    }
}

fn identity(address: &str) -> AgentIdentity {
    AgentIdentity::parse(address).expect("a valid address")
}

#[test]
fn prepare_home_writes_claude_settings_and_instructions_idempotently() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("polecats/nux");
    let claude = spec::preset("claude").expect("preset");
    let who = identity("alpha/polecats/nux");
    prepare_home(&home, &who, &claude, &setup(dir.path())).expect("prepared");
    let settings = fs::read_to_string(home.join(".claude/settings.json")).expect("settings");
    let value: serde_json::Value = serde_json::from_str(&settings).expect("JSON");
    let command = |event: &str| value["hooks"][event][0]["hooks"][0]["command"].clone();
    assert_eq!(
        command("SessionStart"),
        format!("{GASTOWN} hook session-start")
    );
    assert_eq!(
        command("UserPromptSubmit"),
        format!("{GASTOWN} mail check --inject")
    );
    assert_eq!(
        value["hooks"]["SessionStart"][0]["hooks"][0]["type"],
        "command"
    );
    let md = fs::read_to_string(home.join("CLAUDE.md")).expect("CLAUDE.md");
    assert!(
        md.contains(GENERATED_MARKER) && md.contains("alpha/polecats/nux"),
        "{md}"
    );
    assert!(
        md.contains("If there is work on your hook, you must run it"),
        "{md}"
    );
    assert!(!home.join("AGENTS.md").exists());
    prepare_home(&home, &who, &claude, &setup(dir.path())).expect("again");
    let again = fs::read_to_string(home.join(".claude/settings.json")).expect("settings");
    assert_eq!(settings, again, "a second run changes nothing");
}

#[test]
fn prepare_home_keeps_what_people_wrote() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path();
    fs::write(home.join("CLAUDE.md"), "# my own rules\n").expect("write");
    fs::create_dir_all(home.join(".claude")).expect("dir");
    let mine = r#"{"model":"opus","hooks":{"SessionStart":[{"hooks":[{"type":"command","command":"echo hi"}]},{"hooks":[{"type":"command","command":"gastown prime --old"}]}]}}"#;
    fs::write(home.join(".claude/settings.json"), mine).expect("write");
    let claude = spec::preset("claude").expect("preset");
    prepare_home(home, &identity("mayor"), &claude, &setup(dir.path())).expect("prepared");
    assert_eq!(
        fs::read_to_string(home.join("CLAUDE.md")).expect("read"),
        "# my own rules\n"
    );
    let text = fs::read_to_string(home.join(".claude/settings.json")).expect("read");
    let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(value["model"], "opus");
    let starts = value["hooks"]["SessionStart"].as_array().expect("array");
    let commands: Vec<_> = starts
        .iter()
        .map(|g| g["hooks"][0]["command"].as_str().expect("command"))
        .collect();
    assert_eq!(
        commands,
        ["echo hi", &format!("{GASTOWN} hook session-start")]
    );
    fs::write(home.join(".claude/settings.json"), "not json").expect("write");
    prepare_home(home, &identity("mayor"), &claude, &setup(dir.path()))
        .expect("a broken file is left alone");
    assert_eq!(
        fs::read_to_string(home.join(".claude/settings.json")).expect("read"),
        "not json"
    );
}

#[test]
fn prepare_home_for_runtimes_without_hooks_writes_agents_md_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let codex = spec::preset("codex").expect("preset");
    let who = identity("alpha/witness");
    prepare_home(dir.path(), &who, &codex, &setup(dir.path())).expect("prepared");
    assert!(!dir.path().join(".claude").exists());
    let md = fs::read_to_string(dir.path().join("AGENTS.md")).expect("AGENTS.md");
    assert!(
        md.contains("Witness of rig alpha") && md.contains("gastown done"),
        "{md}"
    );
    fs::write(
        dir.path().join("AGENTS.md"),
        md.replace("Witness", "Watcher"),
    )
    .expect("edit");
    prepare_home(dir.path(), &who, &codex, &setup(dir.path())).expect("again");
    let md = fs::read_to_string(dir.path().join("AGENTS.md")).expect("AGENTS.md");
    assert!(
        md.contains("Witness of rig"),
        "a marked file is gastown's to rewrite: {md}"
    );
}

#[test]
fn runtimes_serialize_with_the_new_fields_and_read_the_old_shape() {
    let old = r#"{"name":"x","program":"x","args":[],"prompt":"typed",
        "ready_marker":null,"quiet_period":"1s"}"#;
    let rt: Runtime = serde_json::from_str(old).expect("old shape still reads");
    assert_eq!(rt.hooks, HookSupport::None);
    assert_eq!(rt.instructions_file, InstructionsFile::AgentsMd);
    let claude = spec::preset("claude").expect("preset");
    let text = serde_json::to_string(&claude).expect("serializes");
    assert!(
        text.contains(r#""instructions_file":"CLAUDE.md""#),
        "{text}"
    );
    let back: Runtime = serde_json::from_str(&text).expect("reads back");
    assert_eq!(back, claude);
}

#[test]
fn prepare_home_never_dirties_a_work_tree_nor_touches_tracked_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path().join("repo");
    fs::create_dir_all(repo.join(".claude")).expect("dir");
    fs::write(repo.join(".claude/settings.json"), "{}\n").expect("write");
    fs::write(repo.join("README"), "project\n").expect("write");
    git(
        dir.path(),
        &["init", "--quiet", "--initial-branch=main", "repo"],
    )
    .expect("init");
    git(&repo, &["add", "."]).expect("add");
    git(&repo, &["commit", "--quiet", "-m", "project"]).expect("commit");
    git(&repo, &["worktree", "add", "--quiet", "../wt"]).expect("worktree");
    let claude = spec::preset("claude").expect("preset");
    let check = |home: &Path, who: &str| {
        prepare_home(home, &identity(who), &claude, &setup(dir.path())).expect("prepared");
        prepare_home(home, &identity(who), &claude, &setup(dir.path())).expect("prepared twice");
        assert_eq!(
            git(home, &["status", "--porcelain"]).expect("status"),
            "",
            "{home:?}"
        );
        assert_eq!(
            fs::read_to_string(home.join(".claude/settings.json")).expect("read"),
            "{}\n",
            "a tracked settings file is the project's"
        );
        assert!(home.join("CLAUDE.md").is_file(), "{home:?}");
    };
    check(&dir.path().join("wt"), "alpha/polecats/nux");
    check(&repo, "alpha/crew/max");
    let sub = repo.join("mayor");
    let codex = spec::preset("codex").expect("preset");
    prepare_home(&sub, &identity("mayor"), &codex, &setup(dir.path())).expect("prepared");
    assert!(sub.join("AGENTS.md").is_file());
    assert_eq!(git(&repo, &["status", "--porcelain"]).expect("status"), "");
    let exclude = fs::read_to_string(repo.join(".git/info/exclude")).expect("exclude");
    assert!(exclude.contains("/mayor/AGENTS.md\n"), "{exclude}");
    assert_eq!(exclude.matches("/CLAUDE.md\n").count(), 1, "{exclude}");
}

#[test]
fn an_identitys_runtime_is_decided_once_recorded_and_then_kept() {
    let (_d, town) = town_with(BASE, &[("alpha", Some("amp")), ("plain", None)]);
    let mut ledger = town.open_ledger().expect("ledger");
    let max = identity("alpha/crew/max");
    let ask = |flag, bead, use_recorded| Ask {
        flag,
        bead,
        use_recorded,
    };
    let decided = decide_and_record(&mut ledger, &town, &max, ask(None, None, true))
        .expect("the rig's runtime");
    assert_eq!(
        (decided.name.as_str(), decided.origin),
        ("amp", Origin::Rig("alpha".into()))
    );
    decide_and_record(&mut ledger, &town, &max, ask(Some("codex"), None, true)).expect("flag");
    let kept = decide_and_record(&mut ledger, &town, &max, ask(None, None, true)).expect("kept");
    assert_eq!(
        (kept.name.as_str(), kept.origin),
        ("codex", Origin::Recorded)
    );
    // town.toml is read afresh, and a rig-picked polecat does not inherit its last runtime.
    set_default_agent(&town, "gemini", Path::new(EXE)).expect("default");
    let nux = identity("plain/polecats/nux");
    decide_and_record(&mut ledger, &town, &nux, ask(Some("claude"), None, true)).expect("flag");
    let fresh = decide_and_record(&mut ledger, &town, &nux, ask(None, None, false)).expect("new");
    assert_eq!(
        (fresh.name.as_str(), fresh.origin),
        ("gemini", Origin::TownDefault)
    );
    // A bead that asked for a runtime gets it.
    let mut extra = serde_json::Map::new();
    extra.insert(REQUESTED_RUNTIME.into(), serde_json::json!("cursor"));
    let bead = ledger
        .create(
            gastown_beads::NewBead {
                title: "queued".into(),
                priority: 2,
                extra,
                ..gastown_beads::NewBead::default()
            },
            "t",
        )
        .expect("bead");
    let asked = decide_and_record(&mut ledger, &town, &nux, ask(None, Some(&bead), true))
        .expect("the bead's");
    assert_eq!(asked.origin, Origin::Bead(bead.id.clone()));
    assert_eq!(asked.name, "cursor");
    let err = decide_and_record(&mut ledger, &town, &nux, ask(Some("ghost"), None, true))
        .expect_err("unknown");
    assert!(
        err.to_string().contains("given on the command line"),
        "{err}"
    );
    ledger.close_ledger().expect("closed");
}

#[test]
fn a_runtime_whose_program_is_missing_is_refused_with_what_to_do() {
    let missing = custom(
        "ghost",
        &AgentConfig {
            command: "gastown-no-such-agent-cli".into(),
            ..AgentConfig::default()
        },
    )
    .expect("a runtime");
    let msg = check_program(&missing)
        .expect_err("not on PATH")
        .to_string();
    assert!(
        msg.contains("gastown-no-such-agent-cli")
            && msg.contains("PATH")
            && msg.contains("--runtime"),
        "{msg}"
    );
    let by_path = custom(
        "abs",
        &AgentConfig {
            command: "/nonexistent/agent".into(),
            ..AgentConfig::default()
        },
    )
    .expect("a runtime");
    assert!(
        check_program(&by_path)
            .expect_err("no file")
            .to_string()
            .contains("does not exist")
    );
    let sh = custom(
        "sh",
        &AgentConfig {
            command: "sh".into(),
            ..AgentConfig::default()
        },
    )
    .expect("a runtime");
    assert!(check_program(&sh).is_ok(), "sh is on PATH");
}

#[test]
fn a_claude_session_starts_with_no_dialog_and_the_users_keys_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("polecats/nux");
    let user = dir.path().join("user");
    fs::create_dir_all(user.join(".claude")).expect("dir");
    fs::write(
        user.join(".claude.json"),
        r#"{"oauthAccount":{"email":"me@example.com"},"customApiKeyResponses":{"approved":["old-key"]},"projects":{"/elsewhere":{"allowedTools":["x"]}}}"#,
    )
    .expect("write");
    fs::write(user.join(".claude/settings.json"), r#"{"theme":"dark"}"#).expect("write");
    let mut setup = setup(dir.path());
    let key = "sk-ant-api03-abcdefghij0123456789ZYXWVUTSRQ";
    setup.env.insert("ANTHROPIC_API_KEY".into(), key.into());
    let claude = spec::preset("claude").expect("preset");
    let who = identity("alpha/polecats/nux");
    prepare_home(&home, &who, &claude, &setup).expect("prepared");
    let state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(user.join(".claude.json")).expect("state"))
            .expect("JSON");
    assert_eq!(state["hasCompletedOnboarding"], true);
    assert_eq!(state["oauthAccount"]["email"], "me@example.com", "kept");
    assert_eq!(state["projects"]["/elsewhere"]["allowedTools"][0], "x");
    let trusted = home.canonicalize().expect("home exists");
    assert_eq!(
        state["projects"][trusted.to_string_lossy().as_ref()]["hasTrustDialogAccepted"],
        true,
        "{state}"
    );
    assert_eq!(
        state["customApiKeyResponses"]["approved"],
        serde_json::json!(["old-key", &key[key.len() - 20..]])
    );
    let settings: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(user.join(".claude/settings.json")).expect("s"))
            .expect("JSON");
    assert_eq!(settings["theme"], "dark");
    assert_eq!(settings["skipDangerousModePermissionPrompt"], true);
    let before = fs::read_to_string(user.join(".claude.json")).expect("state");
    prepare_home(&home, &who, &claude, &setup).expect("again");
    assert_eq!(
        before,
        fs::read_to_string(user.join(".claude.json")).expect("state"),
        "a second start changes nothing"
    );
}

#[test]
fn claude_state_goes_to_claude_config_dir_and_a_rejected_key_stays_rejected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("claude-config");
    fs::create_dir_all(&config).expect("dir");
    let key = "sk-ant-rejected-key-0123456789abcdefghij";
    let suffix = &key[key.len() - 20..];
    fs::write(
        config.join(".claude.json"),
        format!(r#"{{"customApiKeyResponses":{{"rejected":["{suffix}"]}}}}"#),
    )
    .expect("write");
    let mut setup = setup(dir.path());
    setup.env.insert("ANTHROPIC_API_KEY".into(), key.into());
    let mut claude = spec::preset("claude").expect("preset");
    claude.env.push((
        "CLAUDE_CONFIG_DIR".into(),
        config.to_string_lossy().into_owned(),
    ));
    claude.args.clear();
    prepare_home(dir.path(), &identity("mayor"), &claude, &setup).expect("prepared");
    let state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(config.join(".claude.json")).expect("state"))
            .expect("JSON");
    assert_eq!(state["customApiKeyResponses"]["rejected"][0], suffix);
    assert!(
        state["customApiKeyResponses"]["approved"].is_null(),
        "{state}"
    );
    assert_eq!(state["hasCompletedOnboarding"], true);
    assert!(
        !config.join("settings.json").exists(),
        "no bypass flag, nothing to accept"
    );
    assert!(
        !dir.path().join("user/.claude.json").exists(),
        "HOME untouched"
    );
}

#[test]
fn a_codex_session_trusts_its_worktree_and_keeps_the_users_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    let codex_home = dir.path().join("codex");
    fs::create_dir_all(&codex_home).expect("dir");
    fs::write(
        codex_home.join("config.toml"),
        "# my settings\nmodel = \"o3\"\n\n[projects.\"/elsewhere\"]\ntrust_level = \"untrusted\"\n",
    )
    .expect("write");
    let mut setup = setup(dir.path());
    setup.env.insert(
        "CODEX_HOME".into(),
        codex_home.to_string_lossy().into_owned(),
    );
    let home = dir.path().join("polecats/nux");
    let codex = spec::preset("codex").expect("preset");
    prepare_home(&home, &identity("alpha/polecats/nux"), &codex, &setup).expect("prepared");
    let text = fs::read_to_string(codex_home.join("config.toml")).expect("config");
    assert!(
        text.starts_with("# my settings\nmodel = \"o3\"\n"),
        "{text}"
    );
    let config: toml::Table = text.parse().expect("TOML");
    let trust = |dir: &str| {
        config["projects"][dir]["trust_level"]
            .as_str()
            .map(str::to_string)
    };
    assert_eq!(trust("/elsewhere").as_deref(), Some("untrusted"), "{text}");
    let trusted = home.canonicalize().expect("home exists");
    assert_eq!(
        trust(&trusted.to_string_lossy()).as_deref(),
        Some("trusted"),
        "{text}"
    );
    prepare_home(&home, &identity("alpha/polecats/nux"), &codex, &setup).expect("again");
    assert_eq!(
        text,
        fs::read_to_string(codex_home.join("config.toml")).expect("config"),
        "a second start changes nothing"
    );
}

#[test]
fn only_the_real_cli_gets_its_state_prepared_not_a_runtime_dressed_as_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut dressed = spec::preset("claude").expect("preset");
    dressed.program = "/opt/gastown/bin/gastown".into();
    dressed.args = vec!["sim-agent".into()];
    prepare_home(dir.path(), &identity("mayor"), &dressed, &setup(dir.path())).expect("prepared");
    assert!(
        dir.path().join(".claude/settings.json").is_file(),
        "hooks still written"
    );
    assert!(!dir.path().join("user").exists(), "no CLI state: {dir:?}");
    let mut wrapped = spec::preset("codex").expect("preset");
    wrapped.program = "/usr/local/bin/codex".into();
    prepare_home(dir.path(), &identity("mayor"), &wrapped, &setup(dir.path())).expect("prepared");
    assert!(dir.path().join("user/.codex/config.toml").is_file());
}

/// Codex with only `OPENAI_API_KEY` in its environment shows its login screen: gastown writes
/// the `auth.json` that `codex login --with-api-key` writes (private to the user), once — an
/// existing login is never replaced, and with no key nothing is written.
#[test]
fn a_codex_session_is_logged_in_with_the_environments_key_unless_already_logged_in() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let codex = spec::preset("codex").expect("preset");
    let home = dir.path().join("polecats/nux");
    let who = identity("alpha/polecats/nux");
    let auth = dir.path().join("user/.codex/auth.json");

    prepare_home(&home, &who, &codex, &setup(dir.path())).expect("no key");
    assert!(!auth.exists(), "no key, no login written");

    let mut keyed = setup(dir.path());
    keyed
        .env
        .insert("OPENAI_API_KEY".into(), "sk-test-first".into());
    prepare_home(&home, &who, &codex, &keyed).expect("prepared");
    let written: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&auth).expect("auth.json")).expect("JSON");
    assert_eq!(
        written,
        serde_json::json!({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-test-first"})
    );
    let mode = fs::metadata(&auth).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the key is private to its user");

    // A login already there (the user's own, another key) stays as it is.
    fs::write(&auth, "{\"auth_mode\":\"chatgpt\",\"tokens\":{}}\n").expect("user's login");
    keyed
        .env
        .insert("OPENAI_API_KEY".into(), "sk-test-second".into());
    prepare_home(&home, &who, &codex, &keyed).expect("again");
    assert_eq!(
        fs::read_to_string(&auth).expect("auth.json"),
        "{\"auth_mode\":\"chatgpt\",\"tokens\":{}}\n"
    );
}

/// An account's key (`api_key_env`) reaches the runtime's env as `OPENAI_API_KEY`, and its
/// `config_dir` is the Codex home the login is written to.
#[test]
fn a_codex_account_is_logged_in_in_its_own_home_with_its_own_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let account_home = dir.path().join("codex-work");
    let mut codex = spec::preset("codex").expect("preset");
    codex.env = vec![
        (
            "CODEX_HOME".into(),
            account_home.to_string_lossy().into_owned(),
        ),
        ("OPENAI_API_KEY".into(), "sk-account-key".into()),
    ];
    start_clean(
        &dir.path().join("w"),
        &codex,
        &setup(dir.path()).with_env(&codex.env),
    )
    .expect("prepared");
    let written = fs::read_to_string(account_home.join("auth.json")).expect("auth.json");
    assert!(written.contains("sk-account-key"), "{written}");
    assert!(!dir.path().join("user/.codex/auth.json").exists());
}

/// Claude Code run with `--dangerously-skip-permissions` by root gets `IS_SANDBOX=1` (it
/// refuses the flag otherwise); not when the user set it, not when not root, not without the
/// flag, and not for another CLI.
#[test]
fn claude_as_root_with_the_bypass_flag_gets_is_sandbox_unless_set() {
    let claude = spec::preset("claude").expect("preset");
    let unset = |_: &str| None;
    let wanted = vec![("IS_SANDBOX".to_string(), "1".to_string())];
    assert_eq!(clean_start::session_env(&claude, &unset, true), wanted);
    assert!(clean_start::session_env(&claude, &unset, false).is_empty());
    let user_set = |k: &str| (k == "IS_SANDBOX").then(|| "0".to_string());
    assert!(clean_start::session_env(&claude, &user_set, true).is_empty());
    let mut own = claude.clone();
    own.env.push(("IS_SANDBOX".into(), "0".into()));
    assert!(clean_start::session_env(&own, &unset, true).is_empty());
    let mut careful = claude.clone();
    careful
        .args
        .retain(|a| a != "--dangerously-skip-permissions");
    assert!(clean_start::session_env(&careful, &unset, true).is_empty());
    let codex = spec::preset("codex").expect("preset");
    assert!(clean_start::session_env(&codex, &unset, true).is_empty());
}
