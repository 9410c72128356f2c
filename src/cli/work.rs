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
    output::text(&render_seance(&seance, json)?)?;
    Ok(())
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

fn render_seance(seance: &Seance, json: bool) -> Result<String> {
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
        out.push_str(&format!(
            "  {}  runtime {}  started {}  ended {}  exit {}\n",
            s.id, s.runtime, s.started_at, s.ended_at, s.exit
        ));
    }
    if let Some(last) = seance.sessions.last() {
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
            render_seance(&never, false).expect("text"),
            "alpha/crew/max has had no sessions in this town\n"
        );
        let one = Seance {
            agent: "alpha/crew/max".into(),
            state: Some("idle".into()),
            sessions: vec![SessionRecord {
                id: "s1".into(),
                runtime: "sim".into(),
                started_at: "t0".into(),
                ended_at: "t1".into(),
                exit: "0".into(),
            }],
        };
        let text = render_seance(&one, false).expect("text");
        assert!(
            text.starts_with("alpha/crew/max: 1 session(s), state idle\n"),
            "{text}"
        );
        assert!(text.ends_with("a new one reads the same hook\n"), "{text}");
    }
}
