//! `gastown sling`, `hook`, `prime`, `done`, `handoff`, `seance`: putting work on hooks and
//! finishing it. Through the supervisor when it runs (it then starts the sessions), else on the
//! ledger directly (sessions start when `gastown run` comes up). `hook` (show) and `seance` are
//! views of the ledger (`gastown_town::command::agent`), rendered here.

use super::routed::{self, caller_from_env, unexpected};
use crate::client;
use crate::output;
use crate::protocol::{TownReply, TownRequest};
use anyhow::Result;
use gastown_town::command::agent::{self, HookView, Seance};
use gastown_town::town::Town;
use gastown_town::work::{self, WorkCommand};

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
    let resume = seance.sessions.last().and_then(|last| {
        let exe = std::env::current_exe().ok()?;
        gastown_town::runtimes::resume::command(town, &seance.agent, last, &exe)
    });
    output::text(&render_seance(&seance, resume.as_deref(), json)?)?;
    Ok(())
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
