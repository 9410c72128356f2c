//! `gastown sling`, `hook`, `prime`, `done`, `handoff`, `seance`: putting work on hooks and
//! finishing it. Through the supervisor when it runs (it then starts the sessions), else on the
//! ledger directly (sessions start when `gastown run` comes up). `hook` (show) and `seance` are
//! views of the ledger (`gastown_town::command::agent`), rendered here.

use super::routed::{self, caller_from_env, unexpected};
use crate::client;
use crate::output;
use crate::protocol::{TownReply, TownRequest};
use anyhow::Result;
use gastown_town::command::agent::{self, HookView, Seance, SessionRecord};
use gastown_town::town::Town;
use gastown_town::work::{self, WorkCommand};
use std::path::{Path, PathBuf};

/// Run a work command the same way with or without a supervisor.
pub fn run(town: &Town, cmd: WorkCommand) -> Result<()> {
    if let Some(mut supervisor) = client::connect(town)? {
        return match client::call(&mut supervisor, TownRequest::Work(cmd))? {
            TownReply::Work { text } => Ok(output::text(&text)?),
            other => Err(unexpected(&other)),
        };
    }
    let caller = caller_from_env()?;
    let mut ledger = town.open_ledger()?;
    let result = work::apply(&mut ledger, town, cmd, &caller);
    let closed = ledger.close_ledger();
    let outcome = result?;
    closed?;
    output::text(&outcome.text)?;
    // The ledger is closed: the network work of the command (a branch push) runs now.
    let (pushed, left) = work::Effect::carry_out_without_supervisor(town, outcome.effects);
    output::text(&pushed)?;
    let (escalations, left): (Vec<_>, Vec<_>) = left
        .into_iter()
        .partition(|e| matches!(e, work::Effect::Escalate { .. }));
    for effect in escalations {
        if let work::Effect::Escalate {
            escalation,
            outside,
        } = effect
        {
            crate::cli::escalate::deliver_now(town, *escalation, outside)?;
        }
    }
    if !left.is_empty() {
        eprintln!("(no supervisor is running: sessions start when `gastown run` comes up)");
    }
    Ok(())
}

/// `gastown hook` (show): an agent's hook.
pub fn show_hook(town: &Town, agent: Option<String>, json: bool) -> Result<()> {
    let request = TownRequest::Hook {
        agent: agent.clone(),
    };
    let reply = routed::run(town, request, |ledger, caller| {
        agent::hook(ledger, caller, agent.as_deref()).map(TownReply::Hook)
    })?;
    let TownReply::Hook(hook) = reply else {
        return Err(unexpected(&reply));
    };
    output::text(&render_hook(&hook, json)?)?;
    Ok(())
}

/// `gastown seance <agent>`: an identity's earlier sessions.
pub fn seance(town: &Town, agent: String, json: bool) -> Result<()> {
    let request = TownRequest::Seance {
        agent: agent.clone(),
    };
    let reply = routed::run(town, request, |ledger, _| {
        agent::seance(ledger, &agent).map(TownReply::Seance)
    })?;
    let TownReply::Seance(seance) = reply else {
        return Err(unexpected(&reply));
    };
    let resume = seance
        .sessions
        .last()
        .and_then(|last| resume_command(town, &seance.agent, last));
    output::text(&render_seance(&seance, resume.as_deref(), json)?)?;
    Ok(())
}

/// The command that resumes `session` of `agent` in its runtime, one that works after the
/// agent's home is gone (a polecat's worktree is removed once its work is merged):
///
/// - it starts in the agent's home when that still exists, else in the nearest directory above
///   it that does (`cd <dir> && …`);
/// - it carries the CLI's config-dir variable (`CLAUDE_CONFIG_DIR`, `CODEX_HOME`) where the
///   session was kept: the account's, else the runtime's `env`, else this environment's (the
///   one `gastown run` is usually started in) — and an account's key variable, and what a
///   session gets to start (`IS_SANDBOX=1` for Claude Code as root);
/// - Claude Code looks a session id up under the project directory named after its working
///   directory, which a removed worktree no longer matches: when its transcript
///   (`<config dir>/projects/*/<id>.jsonl`) is found, the command resumes that file
///   (`claude --resume /…/<id>.jsonl`), which works from any directory. Codex finds a session
///   by its id in `$CODEX_HOME/sessions`, from anywhere, and is told to work in the directory
///   it is started in (`-c tui.resume_cwd="current"`; it would ask otherwise).
///
/// `None` when the runtime never told its session id, cannot resume, or is not configured any
/// more.
fn resume_command(town: &Town, agent: &str, session: &SessionRecord) -> Option<String> {
    if session.runtime_session == "-" {
        return None;
    }
    let identity = gastown_town::identity::AgentIdentity::parse(agent).ok()?;
    let exe = std::env::current_exe().ok()?;
    let runtime = gastown_town::runtimes::by_name(town, &session.runtime, &exe).ok()?;
    let home = gastown_town::names::home(&town.root, &identity);
    let cli = gastown_town::runtimes::spec::preset_for_program(&runtime.program).map(|p| p.name);
    let config_var = match cli.as_deref() {
        Some("claude") => Some("CLAUDE_CONFIG_DIR"),
        Some("codex") => Some("CODEX_HOME"),
        _ => None,
    };
    // The session lives in its account's config dir: resume it under the same account.
    let account = runtime.accounts.iter().find(|a| a.name == session.account);
    let mut env: Vec<(String, String)> = Vec::new();
    if let Some(var) = config_var {
        let from_runtime = runtime.env.iter().rev().find(|(k, _)| k == var);
        let from_here = std::env::var(var).ok().filter(|v| !v.is_empty());
        let from_account = account.and_then(|a| a.env.iter().find(|(k, _)| k == var));
        if from_account.is_none() {
            match (from_runtime, from_here) {
                (Some((k, v)), _) => env.push((k.clone(), v.clone())),
                (None, Some(v)) => env.push((var.to_string(), v)),
                (None, None) => {}
            }
        }
    }
    if let Some(account) = account {
        env.extend(account.env.iter().cloned());
    }
    // What a session gets to start unattended (IS_SANDBOX=1 for Claude Code as root).
    env.extend(gastown_town::runtimes::clean_start::session_env(
        &runtime,
        &|key| std::env::var(key).ok(),
        gastown_town::runtimes::clean_start::running_as_root(),
    ));
    let mut target = session.runtime_session.clone();
    if cli.as_deref() == Some("claude") {
        let config = env
            .iter()
            .rev()
            .find(|(k, _)| k == "CLAUDE_CONFIG_DIR")
            .map(|(_, v)| PathBuf::from(v))
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".claude")));
        if let Some(path) = config.and_then(|c| claude_transcript(&c, &session.runtime_session)) {
            target = path.to_string_lossy().into_owned();
        }
    }
    let mut argv = vec![runtime.program.clone()];
    argv.extend(runtime.resume_argv(&target)?);
    if cli.as_deref() == Some("codex") {
        // Resumed elsewhere than it ran, Codex asks which directory to work in; the one the
        // command starts in is the one that exists.
        argv.extend(["-c".to_string(), "tui.resume_cwd=\"current\"".to_string()]);
    }
    let mut prefix: String = env
        .iter()
        .map(|(k, v)| format!("{k}={} ", shell_words::quote(v)))
        .collect();
    if let Some((key, source)) = account.and_then(|a| a.key_from.as_ref()) {
        prefix.push_str(&format!("{key}=\"${source}\" "));
    }
    let dir = home
        .ancestors()
        .find(|d| d.is_dir())
        .unwrap_or(&town.root)
        .to_path_buf();
    Some(format!(
        "cd {} && {prefix}{}",
        shell_words::quote(&dir.to_string_lossy()),
        shell_words::join(argv)
    ))
}

/// Claude Code's transcript of session `id` under its config dir `config`:
/// `projects/<project>/<id>.jsonl`, whichever project (working directory) it ran in.
fn claude_transcript(config: &Path, id: &str) -> Option<PathBuf> {
    // An id is a file name, never a path.
    if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') {
        return None;
    }
    let file = format!("{id}.jsonl");
    std::fs::read_dir(config.join("projects"))
        .ok()?
        .flatten()
        .map(|project| project.path().join(&file))
        .find(|path| path.is_file())
}

/// `gastown hook session-start`: Claude Code's SessionStart hook. Reads the hook's JSON on stdin
/// and records its `session_id` (the runtime's own id of this session, for `gastown seance`) and
/// its `transcript_path` (where the runtime records the session's usage, for `gastown costs`),
/// then primes the session (prints what `gastown prime` prints, which Claude adds to its
/// context). Recording is best effort: a hook that fails would only cost the session its prime.
pub fn session_start(town: &Town) -> Result<()> {
    use std::io::{IsTerminal, Read};
    let mut input = String::new();
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let _ = stdin.lock().take(1 << 20).read_to_string(&mut input);
    }
    match hook_session_id(&input) {
        Some(id) => {
            let transcript = hook_transcript(&input);
            if let Err(e) = record_runtime_session(town, &id, transcript) {
                eprintln!("gastown: the runtime session id {id} was not recorded: {e:#}");
            }
        }
        None => eprintln!(
            "gastown: no session_id in the SessionStart hook input on stdin; `gastown seance` will not know how to resume this session"
        ),
    }
    run(town, WorkCommand::Prime)
}

/// The `session_id` of a hook's JSON input (else the id in its `transcript_path`,
/// `…/<session id>.jsonl`).
fn hook_session_id(input: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(input.trim()).ok()?;
    if let Some(id) = json["session_id"].as_str().filter(|id| !id.is_empty()) {
        return Some(id.to_string());
    }
    let transcript = json["transcript_path"].as_str()?;
    let stem = std::path::Path::new(transcript).file_stem()?;
    Some(stem.to_string_lossy().into_owned())
}

/// The `transcript_path` of a hook's JSON input.
fn hook_transcript(input: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(input.trim()).ok()?;
    json["transcript_path"]
        .as_str()
        .filter(|p| !p.is_empty())
        .map(str::to_string)
}

fn record_runtime_session(town: &Town, id: &str, transcript: Option<String>) -> Result<()> {
    let request = TownRequest::RuntimeSession {
        id: id.to_string(),
        transcript: transcript.clone(),
    };
    let reply = routed::run(town, request, |ledger, caller| {
        agent::runtime_session(ledger, caller, id, transcript.as_deref()).map(|()| TownReply::Done)
    })?;
    match reply {
        TownReply::Done => Ok(()),
        other => Err(unexpected(&other)),
    }
}

fn render_hook(hook: &HookView, json: bool) -> Result<String> {
    if json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(hook)?));
    }
    let address = &hook.address;
    if hook.beads.is_empty() {
        return Ok(format!("{address}'s hook is empty\n"));
    }
    Ok(hook
        .beads
        .iter()
        .map(|b| format!("{address} hook: {} {}\n", b.id, b.title))
        .collect())
}

fn render_seance(seance: &Seance, resume: Option<&str>, json: bool) -> Result<String> {
    if json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(seance)?));
    }
    let agent = &seance.agent;
    let Some(state) = &seance.state else {
        return Ok(format!("{agent} has had no sessions in this town\n"));
    };
    let mut out = format!(
        "{agent}: {} session(s), state {state}\n",
        seance.sessions.len()
    );
    for s in &seance.sessions {
        out.push_str(&format!("  {}  runtime {}", s.id, s.runtime));
        if s.account != "-" {
            out.push_str(&format!("  account {}", s.account));
        }
        out.push_str(&format!(
            "  started {}  ended {}  exit {}",
            s.started_at, s.ended_at, s.exit
        ));
        if s.runtime_session != "-" {
            out.push_str(&format!("  runtime session {}", s.runtime_session));
        }
        out.push('\n');
    }
    if let Some(command) = resume {
        out.push_str(&format!("To talk to a predecessor: {command}\n"));
    } else if let Some(last) = seance.sessions.last() {
        let hint = match last.runtime.as_str() {
            "claude" => "resume it with `claude --resume <runtime session id>` in the agent's home",
            "codex" => "resume it with `codex resume <runtime session id>` in the agent's home",
            "sim" => "sim sessions are stateless: a new one reads the same hook",
            _ => "resume it with the runtime's resume flag (see `gastown config agent list`)",
        };
        out.push_str(&format!("To talk to a predecessor: {hint}\n"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gastown_beads::Bead;

    /// Claude Code's transcript of a session is found under whichever project it ran in (the
    /// project named after a worktree that is gone, say); an id is a file name, never a path.
    #[test]
    fn a_claude_transcript_is_found_by_its_session_id_in_any_project() {
        let dir = tempfile::tempdir().expect("temp dir");
        let id = "1802160b-27ac-4d48-92a1-ce90ca1e9e11";
        let project = dir.path().join("projects/-tmp-town-alpha-polecats-nux-rig");
        std::fs::create_dir_all(dir.path().join("projects/-elsewhere")).expect("mkdir");
        std::fs::create_dir_all(&project).expect("mkdir");
        std::fs::write(project.join(format!("{id}.jsonl")), "{}\n").expect("write");
        assert_eq!(
            claude_transcript(dir.path(), id),
            Some(project.join(format!("{id}.jsonl")))
        );
        assert_eq!(claude_transcript(dir.path(), "no-such-session"), None);
        assert_eq!(claude_transcript(dir.path(), "../x"), None);
        assert_eq!(claude_transcript(&dir.path().join("none"), id), None);
    }
    use gastown_town::command::agent::SessionRecord;

    #[test]
    fn a_hook_and_a_seance_render_as_before() {
        let empty = HookView {
            address: "alpha/crew/max".into(),
            beads: Vec::new(),
        };
        assert_eq!(
            render_hook(&empty, false).expect("text"),
            "alpha/crew/max's hook is empty\n"
        );
        let held = HookView {
            address: "alpha/crew/max".into(),
            beads: vec![Bead::new("gt-a", "Fix it".to_string())],
        };
        assert_eq!(
            render_hook(&held, false).expect("text"),
            "alpha/crew/max hook: gt-a Fix it\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render_hook(&held, true).expect("json")).expect("JSON");
        assert_eq!(json["beads"][0]["id"], "gt-a");

        let never = Seance {
            agent: "alpha/crew/max".into(),
            state: None,
            sessions: Vec::new(),
        };
        assert_eq!(
            render_seance(&never, None, false).expect("text"),
            "alpha/crew/max has had no sessions in this town\n"
        );
        let one = Seance {
            agent: "alpha/crew/max".into(),
            state: Some("idle".into()),
            sessions: vec![SessionRecord {
                id: "s1".into(),
                runtime: "sim".into(),
                account: "-".into(),
                started_at: "t0".into(),
                ended_at: "t1".into(),
                exit: "0".into(),
                runtime_session: "-".into(),
            }],
        };
        let text = render_seance(&one, None, false).expect("text");
        assert!(
            text.starts_with("alpha/crew/max: 1 session(s), state idle\n"),
            "{text}"
        );
        assert!(text.ends_with("a new one reads the same hook\n"), "{text}");
        let mut resumable = one.clone();
        resumable.sessions[0].runtime = "claude".into();
        resumable.sessions[0].runtime_session = "abc-123".into();
        let text = render_seance(
            &resumable,
            Some("cd /t/mayor && claude --resume abc-123"),
            false,
        )
        .expect("text");
        assert!(text.contains("  runtime session abc-123\n"), "{text}");
        assert!(
            text.ends_with("To talk to a predecessor: cd /t/mayor && claude --resume abc-123\n"),
            "{text}"
        );
    }

    #[test]
    fn the_session_start_hook_input_gives_the_session_id() {
        assert_eq!(
            hook_session_id(r#"{"session_id":"abc-1","transcript_path":"/x/def.jsonl"}"#)
                .as_deref(),
            Some("abc-1")
        );
        assert_eq!(
            hook_session_id(r#"{"transcript_path":"/p/0199-aa.jsonl"}"#).as_deref(),
            Some("0199-aa")
        );
        assert_eq!(hook_session_id("not json"), None);
        assert_eq!(
            hook_transcript(r#"{"session_id":"a","transcript_path":"/x/a.jsonl"}"#).as_deref(),
            Some("/x/a.jsonl")
        );
        assert_eq!(hook_transcript(r#"{"session_id":"a"}"#), None);
    }
}
