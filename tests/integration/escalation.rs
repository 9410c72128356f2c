//! Escalations through the real binary: raise, fold, list, show, ack, close, with and without
//! `gastown run`; routing by severity to the mayor's and the overseer's inboxes, the bell, the
//! notify command and a webhook on a loopback HTTP server; bad input and who may ack/close.

use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, as_agent, as_agent_ok, stderr};
use serde_json::Value;
use std::io::{Read, Write};
use std::time::Duration;

fn json(town: &TestTown, args: &[&str]) -> Value {
    let text = town.ok(args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {text}"))
}

fn inbox_titles(town: &TestTown, who: &str) -> Vec<String> {
    let text = if who == "overseer" {
        town.ok(&["mail", "inbox", "--json"])
    } else {
        town.ok(&["mail", "inbox", who, "--json"])
    };
    let v: Value = serde_json::from_str(&text).expect("json");
    v.as_array()
        .expect("array")
        .iter()
        .map(|m| m["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn add_config(town: &TestTown, section: &str) {
    let config = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&config).expect("town.toml");
    text.push_str(section);
    std::fs::write(&config, text).expect("write town.toml");
}

#[test]
fn raise_fold_list_show_ack_and_close_without_a_supervisor() {
    let town = TestTown::new();
    let bead = town.create(&["Flaky gate"]);
    let raised = as_agent_ok(
        &town,
        "alpha/polecats/nux",
        &["escalate", "--bead", &bead, "the gate hangs", "--json"],
    );
    let e: Value = serde_json::from_str(&raised).expect("json");
    let id = e["id"].as_str().expect("id").to_string();
    assert_eq!(e["severity"], "medium");
    assert_eq!(e["source"], "alpha/polecats/nux");
    assert_eq!(e["bead"], bead.as_str());
    // Medium goes to the mayor only.
    assert!(
        inbox_titles(&town, "mayor")
            .iter()
            .any(|t| t.starts_with(&format!("ESCALATION {id} [medium]"))),
        "{:?}",
        inbox_titles(&town, "mayor")
    );
    assert!(inbox_titles(&town, "overseer").is_empty());

    let again = as_agent_ok(
        &town,
        "alpha/polecats/nux",
        &["escalate", "--bead", &bead, "The  gate hangs"],
    );
    assert!(
        again.contains(&format!("folded into {id} (raised 2 times)")),
        "{again}"
    );
    let list = json(&town, &["escalate", "list", "--json"]);
    assert_eq!(list.as_array().expect("array").len(), 1);
    assert_eq!(list[0]["count"], 2);
    // The fold did not mail the mayor again.
    assert_eq!(inbox_titles(&town, "mayor").len(), 1);

    let shown = town.ok(&["escalate", "show", &id]);
    assert!(
        shown.contains("the gate hangs") && shown.contains("×2"),
        "{shown}"
    );

    // A polecat may not ack; the mayor may.
    let refused = as_agent(&town, "alpha/polecats/nux", &["escalate", "ack", &id]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("only the mayor and the overseer may"),
        "{}",
        stderr(&refused)
    );
    let acked = as_agent_ok(&town, "mayor", &["escalate", "ack", &id]);
    assert!(
        acked.contains("acknowledged") && acked.contains("mayor"),
        "{acked}"
    );
    assert_eq!(
        json(&town, &["escalate", "show", &id, "--json"])["state"],
        "acked"
    );

    let closed = town.ok(&["escalate", "close", &id, "--reason", "gate fixed"]);
    assert!(closed.contains("gate fixed"), "{closed}");
    assert!(
        town.ok(&["escalate", "list"])
            .contains("no open escalations")
    );
    assert!(town.ok(&["escalate", "list", "--all"]).contains(&id));
    // Escalations are not work: not ready, not in `bead list`'s default view.
    assert!(!town.ok(&["bead", "ready"]).contains(&id));
    assert!(!town.ok(&["bead", "list"]).contains(&id));
    assert!(
        town.ok(&["bead", "list", "--all", "--type", "escalation"])
            .contains(&id)
    );
    // An agent may not forge one with `bead create`.
    let forged = as_agent(
        &town,
        "alpha/polecats/nux",
        &["bead", "create", "fake", "--type", "escalation"],
    );
    assert!(!forged.status.success());
    assert!(stderr(&forged).contains("forbidden"), "{}", stderr(&forged));
}

#[test]
fn bad_input_gets_clear_errors_and_records_nothing() {
    let town = TestTown::new();
    let err = town.fails(&["escalate", "   "]);
    assert!(err.contains("says nothing"), "{err}");
    let err = town.fails(&["escalate"]);
    assert!(err.contains("say what is wrong"), "{err}");
    let err = town.fails(&["escalate", "-s", "urgent", "x"]);
    assert!(err.contains("unknown severity \"urgent\""), "{err}");
    let err = town.fails(&["escalate", "--bead", "gt-nope", "x"]);
    assert!(err.contains("no bead \"gt-nope\""), "{err}");
    let err = town.fails(&["escalate", "ack", "gt-nope"]);
    assert!(err.contains("no escalation"), "{err}");
    assert!(
        town.ok(&["escalate", "list", "--all"])
            .contains("no escalations")
    );

    let id = json(&town, &["escalate", "x", "--json"])["id"]
        .as_str()
        .expect("id")
        .to_string();
    town.ok(&["escalate", "close", &id]);
    let err = town.fails(&["escalate", "close", &id]);
    assert!(err.contains("already closed"), "{err}");
    let err = town.fails(&["escalate", "ack", &id]);
    assert!(err.contains("is closed"), "{err}");
    let bead = town.create(&["work"]);
    let err = town.fails(&["escalate", "close", &bead]);
    assert!(err.contains("not an escalation"), "{err}");
    // A bad channel in town.toml is an error at load that says what is allowed.
    add_config(&town, "\n[escalation]\nhigh = [\"pager\"]\n");
    let err = town.fails(&["escalate", "list"]);
    assert!(
        err.contains("unknown escalation channel \"pager\""),
        "{err}"
    );
}

#[test]
fn high_goes_to_the_mayor_the_overseer_and_the_bell() {
    let town = TestTown::new();
    let out = as_agent(
        &town,
        "alpha/witness",
        &["escalate", "-s", "high", "rig is wedged"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains('\x07'),
        "the bell rings: {}",
        stderr(&out)
    );
    let mayor = inbox_titles(&town, "mayor");
    let overseer = inbox_titles(&town, "overseer");
    assert!(
        mayor
            .iter()
            .any(|t| t.contains("[high] from alpha/witness")),
        "{mayor:?}"
    );
    assert!(
        overseer
            .iter()
            .any(|t| t.contains("[high] from alpha/witness")),
        "{overseer:?}"
    );
}

/// A loopback HTTP server that answers each request with 200 and hands the body over.
fn webhook_server() -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/escalations",
        listener.local_addr().expect("addr")
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { return };
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = socket.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).to_string();
                if let Some(i) = text.find("\r\n\r\n") {
                    let length = text[..i]
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|n| n.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if got.len() >= i + 4 + length {
                        let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                        let _ = tx.send(text[i + 4..].to_string());
                        break;
                    }
                }
            }
        }
    });
    (url, rx)
}

#[test]
fn with_gastown_run_a_critical_escalation_reaches_the_webhook_and_the_notify_command() {
    let town = TestTown::new();
    let (url, bodies) = webhook_server();
    let out_file = town.root.parent().expect("parent").join("notified.txt");
    add_config(
        &town,
        &format!(
            "\n[escalation]\nwebhook_url = \"{url}\"\nnotify_command = 'printf \"%s|%s|%s\" \"$GASTOWN_ESCALATION_ID\" \"$GASTOWN_ESCALATION_SEVERITY\" \"$GASTOWN_ESCALATION_SOURCE\" > {}'\n",
            out_file.display()
        ),
    );
    let t = RunningTown::start_in(town);
    let e: Value = serde_json::from_str(&t.town.ok(&[
        "escalate",
        "-s",
        "critical",
        "the ledger disk is full",
        "--json",
    ]))
    .expect("json");
    let id = e["id"].as_str().expect("id").to_string();
    let body = bodies
        .recv_timeout(Duration::from_secs(20))
        .expect("the webhook is posted");
    let posted: Value = serde_json::from_str(&body).expect("the webhook body is JSON");
    assert_eq!(posted["id"], id.as_str());
    assert_eq!(posted["severity"], "critical");
    assert_eq!(posted["message"], "the ledger disk is full");
    let written = wait_for("the notify command", Duration::from_secs(20), || {
        std::fs::read_to_string(&out_file)
            .ok()
            .filter(|t| !t.is_empty())
    });
    assert_eq!(written, format!("{id}|critical|overseer"));
    assert!(
        inbox_titles(&t.town, "mayor")
            .iter()
            .any(|t| t.starts_with(&format!("ESCALATION {id} [critical]")))
    );
    wait_for("the bell in run's log", Duration::from_secs(20), || {
        t.log()
            .contains(&format!("ESCALATION {id} [critical]"))
            .then_some(())
    });
}

#[test]
fn with_gastown_run_a_webhook_that_hangs_does_not_hold_the_command() {
    let town = TestTown::new();
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for socket in listener.incoming() {
            held.push(socket);
        }
    });
    add_config(
        &town,
        &format!("\n[escalation]\nwebhook_url = \"{url}\"\ntimeout = \"30s\"\n"),
    );
    let t = RunningTown::start_in(town);
    let started = std::time::Instant::now();
    t.town.ok(&["escalate", "-s", "critical", "stuck"]);
    // The webhook's attempts take 30s each; the command does not wait for them.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    // And the ledger answers meanwhile.
    assert!(t.town.ok(&["escalate", "list"]).contains("stuck"));
}

#[test]
fn done_escalated_keeps_the_help_mail_and_raises_an_escalation_for_the_mayor_and_the_overseer() {
    let town = crate::util::town_with_rig();
    let (bead, out) = crate::util::polecat_escalates(&town);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = crate::util::stdout(&out);
    assert!(said.contains("HELP sent to alpha/witness"), "{said}");
    assert!(
        said.contains("escalation") && said.contains("[high]"),
        "{said}"
    );
    assert!(
        stderr(&out).contains('\x07'),
        "high rings the bell: {}",
        stderr(&out)
    );
    let list = json(&town, &["escalate", "list", "--json"]);
    let e = &list[0];
    assert_eq!(e["severity"], "high");
    assert_eq!(e["source"], "alpha/polecats/nux");
    assert_eq!(e["bead"], bead.as_str());
    assert_eq!(e["message"], "the schema is locked");
    let id = e["id"].as_str().expect("id");
    // The HELP protocol mail is kept; the escalation's urgent mail goes to the mayor and the
    // overseer by the default routing of `high`.
    let mayor = inbox_titles(&town, "mayor");
    assert!(mayor.iter().any(|t| t == "HELP"), "{mayor:?}");
    assert!(
        mayor
            .iter()
            .any(|t| t.starts_with(&format!("ESCALATION {id} [high]"))),
        "{mayor:?}"
    );
    let overseer = inbox_titles(&town, "overseer");
    assert!(
        overseer
            .iter()
            .any(|t| t.starts_with(&format!("ESCALATION {id} [high]"))),
        "{overseer:?}"
    );
    assert!(
        inbox_titles(&town, "alpha/witness")
            .iter()
            .any(|t| t == "HELP")
    );
}

#[test]
fn with_gastown_run_an_unacknowledged_escalation_is_raised_again_a_severity_up() {
    let town = TestTown::new();
    add_config(&town, "\n[escalation]\nstale_after = \"400ms\"\n");
    let t = RunningTown::start_in(town);
    let raise = |message: &str| -> String {
        json(&t.town, &["escalate", "-s", "low", message, "--json"])["id"]
            .as_str()
            .expect("id")
            .to_string()
    };
    let ignored = raise("nobody looks");
    let seen = raise("someone looks");
    t.town.ok(&["escalate", "ack", &seen]);
    let severity = |id: &str| -> String {
        json(&t.town, &["escalate", "show", id, "--json"])["severity"]
            .as_str()
            .expect("severity")
            .to_string()
    };
    wait_for("a re-raise to medium", Duration::from_secs(20), || {
        (severity(&ignored) != "low").then_some(())
    });
    wait_for("a re-raise up to critical", Duration::from_secs(20), || {
        (severity(&ignored) == "critical").then_some(())
    });
    // Each re-raise mailed the mayor again (low, medium, high, critical: four mails at least;
    // once per stale_after, so not one per tick of the timer).
    let mails = inbox_titles(&t.town, "mayor")
        .into_iter()
        .filter(|m| m.starts_with(&format!("ESCALATION {ignored}")))
        .count();
    assert!((4..=12).contains(&mails), "{mails} mails");
    assert!(
        inbox_titles(&t.town, "overseer")
            .iter()
            .any(|m| m.starts_with(&format!("ESCALATION {ignored} [high]"))),
        "high reached the overseer"
    );
    // The acknowledged one was left alone.
    assert_eq!(severity(&seen), "low");
}

#[test]
fn an_escalation_reaches_the_running_mayor_session_like_urgent_mail() {
    let town = TestTown::new();
    let path = town.root.join("town.toml");
    let text = std::fs::read_to_string(&path).expect("town.toml");
    assert!(text.contains("[roles]\n"), "{text}");
    std::fs::write(
        &path,
        text.replace("[roles]\n", "[roles]\nmayor = \"sim\"\n"),
    )
    .expect("write town.toml");
    let t = RunningTown::start_in(town);
    wait_for("the mayor's prompt", Duration::from_secs(30), || {
        t.town.ok(&["peek", "mayor"]).contains("sim>").then_some(())
    });
    let raised = json(
        &t.town,
        &[
            "escalate",
            "-s",
            "high",
            "--json",
            "the build on main is red",
        ],
    );
    let id = raised["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an id: {raised}"))
        .to_string();
    // Typed into the mayor's session (the sim reads the mail it is told of and prints it).
    wait_for("the mayor to read it", Duration::from_secs(30), || {
        let screen = t.town.ok(&["peek", "mayor", "-n", "60"]);
        (screen.contains("MAIL:") && screen.contains("the build on main is red")).then_some(())
    });
    let shown = t.town.ok(&["escalate", "show", &id]);
    assert!(shown.contains("the build on main is red"), "{shown}");
}

#[test]
fn a_rig_with_a_witness_agent_hears_its_escalations_first_and_what_it_leaves_goes_up() {
    let town = crate::util::town_with_rig();
    // alpha runs a sim witness agent that has 2 s to judge an escalation.
    let path = town.root.join("alpha").join("rig.toml");
    let mut rig: toml::Table = toml::from_str(&std::fs::read_to_string(&path).expect("rig.toml"))
        .expect("rig.toml parses");
    let mut roles = toml::Table::new();
    roles.insert("witness".into(), "sim".into());
    rig.insert("roles".into(), roles.into());
    rig.entry("witness")
        .or_insert_with(|| toml::Table::new().into())
        .as_table_mut()
        .expect("[witness] is a table")
        .insert("judge_for".into(), "2s".into());
    std::fs::write(&path, toml::to_string(&rig).expect("toml")).expect("write rig.toml");

    // Without a supervisor: the polecat's escalation is held for alpha/witness.
    let (_bead, out) = crate::util::polecat_escalates(&town);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = crate::util::stdout(&out);
    assert!(said.contains("alpha/witness (judges it first"), "{said}");
    assert!(!stderr(&out).contains('\x07'), "no bell while judged");
    let id = json(&town, &["escalate", "list", "--json"])[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let shown = json(&town, &["escalate", "show", &id, "--json"]);
    assert_eq!(shown["judge"], "alpha/witness", "{shown}");
    let escalated_to = |who: &str| {
        inbox_titles(&town, who)
            .iter()
            .any(|t| t.starts_with(&format!("ESCALATION {id}")))
    };
    assert!(escalated_to("alpha/witness"));
    assert!(!escalated_to("mayor") && !escalated_to("overseer"));

    // With `gastown run`: the witness agent's session runs and is told; nobody settles it in
    // 2 s, so it goes up to the mayor and the overseer by itself.
    let t = RunningTown::start_in(town);
    wait_for(
        "the witness agent to read it",
        Duration::from_secs(30),
        || {
            let screen = t.town.ok(&["peek", "alpha/witness", "-n", "80"]);
            (screen.contains("MAIL:") && screen.contains("the schema is locked")).then_some(())
        },
    );
    let up = |who: &str| {
        inbox_titles(&t.town, who)
            .iter()
            .any(|t| t.starts_with(&format!("ESCALATION {id}")))
    };
    wait_for("the escalation to go up", Duration::from_secs(30), || {
        (up("mayor") && up("overseer")).then_some(())
    });
    let shown = json(&t.town, &["escalate", "show", &id, "--json"]);
    assert!(shown["judge_released"].is_string(), "{shown}");
    assert!(
        t.town
            .ok(&["escalate", "show", &id])
            .contains("judged:    by alpha/witness, went up at")
    );
    // The witness is a role now: its agent session and its mechanical patrol side by side.
    assert!(t.node("town/rigs/alpha/witness/session").is_some());
    assert!(t.node("town/rigs/alpha/witness/patrol").is_some());
}
