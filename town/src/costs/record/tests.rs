//! The collector on a real ledger: attribution to the hooked bead, never counting twice, a
//! missing or rewritten transcript; and the grouping `gastown costs` prints.

use super::*;
use crate::agents::AgentState;
use crate::costs::prices::{Price, PriceTable};
use crate::identity::AgentIdentity;
use std::io::Write;

fn line(id: &str, model: &str, input: u64, output: u64) -> String {
    format!(
        r#"{{"type":"assistant","message":{{"id":"{id}","model":"{model}","usage":{{"input_tokens":{input},"output_tokens":{output},"cache_creation_input_tokens":0,"cache_read_input_tokens":5}}}}}}"#
    ) + "\n"
}

fn append(path: &std::path::Path, text: &str) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open")
        .write_all(text.as_bytes())
        .expect("append");
}

fn usage_of(ledger: &Ledger, address: &str) -> Vec<UsageEntry> {
    agents::find(ledger, address)
        .expect("read")
        .expect("agent")
        .usage
}

#[test]
fn tokens_go_to_the_hooked_bead_once_and_then_to_the_agent() {
    let (dir, _town, mut ledger) = crate::testing::town();
    let identity = AgentIdentity::parse("alpha/polecats/p1").expect("address");
    agents::session_started(&mut ledger, &identity, "9.1-1", ("sim", None), "9.1-")
        .expect("started");
    let transcript = dir.path().join("t.jsonl");
    let path = transcript.to_string_lossy().into_owned();
    agents::runtime_session_seen(&mut ledger, &identity.address, None, "s1", Some(&path))
        .expect("seen");
    agents::set_state(&mut ledger, &identity, AgentState::Working, Some("gt-work"))
        .expect("hooked");
    append(&transcript, &line("m1", "sim", 100, 10));
    append(&transcript, &line("m2", "sim", 50, 5));

    let done = collect(&mut ledger, "2026-01-02").expect("collect");
    assert_eq!((done.agents, done.tokens), (1, 100 + 10 + 5 + 50 + 5 + 5));
    let usage = usage_of(&ledger, &identity.address);
    assert_eq!(usage.len(), 1, "{usage:?}");
    assert_eq!(usage[0].bead, "gt-work");
    assert_eq!((usage[0].tokens.input, usage[0].tokens.output), (150, 15));
    assert_eq!(
        (usage[0].runtime.as_str(), usage[0].day.as_str()),
        ("sim", "2026-01-02")
    );

    let again = collect(&mut ledger, "2026-01-02").expect("collect");
    assert_eq!(again.agents, 0, "nothing new: nothing written");
    assert_eq!(
        usage_of(&ledger, &identity.address),
        usage,
        "not counted twice"
    );

    // Unhooked: what comes later is the agent's own.
    agents::set_state(&mut ledger, &identity, AgentState::Idle, Some("")).expect("idle");
    append(&transcript, &line("m3", "sim", 7, 1));
    collect_agent(&mut ledger, &identity.address, "2026-01-03").expect("collect");
    let usage = usage_of(&ledger, &identity.address);
    let agent_bead = agents::find(&ledger, &identity.address)
        .expect("read")
        .expect("agent")
        .id;
    let own: Vec<_> = usage.iter().filter(|e| e.bead == agent_bead).collect();
    assert_eq!(own.len(), 1, "{usage:?}");
    assert_eq!(
        (own[0].tokens.input, own[0].day.as_str()),
        (7, "2026-01-03")
    );

    // Rewritten from the start with an old message and a new one: only the new one counts.
    std::fs::write(
        &transcript,
        line("m1", "sim", 100, 10) + &line("m4", "sim", 1, 1),
    )
    .expect("rewrite");
    collect(&mut ledger, "2026-01-03").expect("collect");
    let usage = usage_of(&ledger, &identity.address);
    let own: Vec<_> = usage.iter().filter(|e| e.bead == agent_bead).collect();
    assert_eq!(own[0].tokens.input, 8, "m1 is not counted again: {usage:?}");
}

#[test]
fn a_half_line_waits_and_a_missing_transcript_is_reported_with_nothing_lost() {
    let (dir, _town, mut ledger) = crate::testing::town();
    let identity = AgentIdentity::parse("mayor").expect("address");
    agents::session_started(&mut ledger, &identity, "9.1-1", ("claude", None), "9.1-")
        .expect("started");
    let transcript = dir.path().join("c.jsonl");
    let path = transcript.to_string_lossy().into_owned();
    agents::runtime_session_seen(&mut ledger, "mayor", None, "s1", Some(&path)).expect("seen");

    let missing = collect(&mut ledger, "2026-01-02").expect("collect");
    assert_eq!(missing.problems.len(), 1, "{missing:?}");
    assert!(missing.problems[0].contains("is missing"), "{missing:?}");

    let whole = line("m1", "claude-sonnet-4-5", 1000, 100);
    append(&transcript, &whole[..30]);
    let half = collect(&mut ledger, "2026-01-02").expect("collect");
    assert_eq!(half.tokens, 0, "a line still being written waits");
    assert!(half.problems.is_empty(), "{half:?}");
    append(&transcript, &whole[30..]);
    append(&transcript, "not json\n");
    let full = collect(&mut ledger, "2026-01-02").expect("collect");
    assert_eq!(full.tokens, 1105);
    assert_eq!(full.problems.len(), 1, "{full:?}");
    assert!(full.problems[0].contains("line 2 skipped"), "{full:?}");
}

fn row(agent: &str, rig: &str, model: &str, day: &str, bead: &str, input: u64) -> UsageRow {
    UsageRow {
        agent: agent.to_string(),
        rig: rig.to_string(),
        convoy: String::new(),
        entry: UsageEntry {
            runtime: "claude".to_string(),
            model: model.to_string(),
            day: day.to_string(),
            bead: bead.to_string(),
            tokens: Tokens {
                input,
                ..Tokens::default()
            },
        },
    }
}

#[test]
fn groups_add_up_to_the_total_and_an_unknown_model_has_no_price() {
    let mut overrides = BTreeMap::new();
    overrides.insert(
        "m-priced".to_string(),
        Price {
            input: 2.0,
            output: 0.0,
            cache_write: 0.0,
            cache_read: 0.0,
        },
    );
    let prices = PriceTable::with(&overrides).expect("prices");
    let rows = vec![
        row(
            "alpha/polecats/a",
            "alpha",
            "m-priced",
            "2026-01-01",
            "gt-1",
            1_000_000,
        ),
        row(
            "alpha/polecats/a",
            "alpha",
            "m-unknown",
            "2026-01-02",
            "gt-1",
            10,
        ),
        row("mayor", "", "m-priced", "2026-01-02", "gt-2", 500_000),
    ];
    let by_agent = report(&rows, GroupBy::Agent, &prices);
    assert_eq!(by_agent.by, "agent");
    assert_eq!(by_agent.groups.len(), 2);
    assert_eq!(by_agent.groups[0].key, "alpha/polecats/a");
    assert_eq!(by_agent.groups[0].tokens.input, 1_000_010);
    assert_eq!(by_agent.groups[0].dollars, 2.0);
    assert_eq!(by_agent.groups[0].unpriced, vec!["m-unknown".to_string()]);
    assert_eq!(by_agent.groups[1].dollars, 1.0);
    assert!(by_agent.groups[1].unpriced.is_empty());
    assert_eq!(by_agent.total.tokens.input, 1_500_010);
    assert_eq!(by_agent.total.dollars, 3.0);

    let by_rig = report(&rows, GroupBy::Rig, &prices);
    let keys: Vec<&str> = by_rig.groups.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, ["(town)", "alpha"]);
    let by_day = report(&rows, GroupBy::Day, &prices);
    assert_eq!(by_day.groups[1].tokens.input, 500_010);
    assert_eq!(report(&rows, GroupBy::Bead, &prices).groups.len(), 2);
    assert!(GroupBy::parse("team").is_err());
    assert_eq!(GroupBy::parse("model").expect("model"), GroupBy::Model);
}
