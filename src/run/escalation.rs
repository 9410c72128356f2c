//! Escalations' outside channels — bell, notify command, webhook — carried out away from the
//! ledger (see `docs/escalation.md`): `gastown run` spawns [`deliver`] as a task of its own once
//! the ledger actor has recorded (and mailed) an escalation, so a slow notify command or a dead
//! webhook never holds the ledger or a patrol; the CLI without a supervisor runs it to the end.
//!
//! Every outside step is bounded by `[escalation] timeout`: a notify command past it has its
//! process group killed; a webhook attempt past it (or refused, or answered with no 2xx) is
//! retried [`WEBHOOK_ATTEMPTS`] times in all with doubling pauses, then given up with a log
//! line. Only `http://` webhooks are supported (a hand-written HTTP/1.1 POST).

use anyhow::{Context, Result, anyhow, bail};
use gastown_town::escalation::Escalation;
use gastown_town::escalation::routing::{self, Outside};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Webhook attempts before giving up.
pub const WEBHOOK_ATTEMPTS: u32 = 3;
/// The pause after the first failed webhook attempt (doubling after each).
const WEBHOOK_BACKOFF: Duration = Duration::from_millis(200);

/// Carry out `outside` for `e`; each failure is logged (and returned, for tests), never fatal.
pub async fn deliver(
    root: PathBuf,
    timeout: Duration,
    e: Escalation,
    outside: Vec<Outside>,
) -> Vec<String> {
    let mut failures = Vec::new();
    for channel in outside {
        let result = match &channel {
            Outside::Bell => {
                eprintln!("\x07{}", routing::bell_line(&e));
                tracing::warn!(escalation = %e.id, "{}", routing::bell_line(&e));
                Ok(())
            }
            Outside::Notify { command } => notify(&root, command, &e, timeout).await,
            Outside::Webhook { url } => webhook(url, &e, timeout).await,
        };
        if let Err(err) = result {
            tracing::warn!(escalation = %e.id, "escalation channel failed: {err:#}");
            eprintln!("warning: escalation {}: {err:#}", e.id);
            failures.push(format!("{err:#}"));
        }
    }
    failures
}

/// What an escalation raised from inside the supervisor is about.
pub enum About {
    Nothing,
    Bead(String),
    /// The bead on this address's hook, if any (read in the ledger, at the raise).
    HookOf(String),
}

/// Raise an escalation from inside the supervisor (a patrol, a dog, a blocked session) as
/// `source`: recorded and mailed in the ledger actor by its severity's routing (a repeat of an
/// open one folds into it and is not routed again), its outside channels run on a task of their
/// own. Failures are logged, never returned: the caller's patrol goes on.
pub async fn raise_from_supervisor(
    ledger: &gastown_actors::ledger::LedgerHandle,
    town: &gastown_town::Town,
    severity: gastown_town::escalation::Severity,
    source: &str,
    about: About,
    message: String,
) {
    use gastown_town::escalation::{self, Raise};
    let (for_ledger, who) = (town.clone(), source.to_string());
    let raised = ledger
        .call("escalation: raise", move |l| {
            let bead = match about {
                About::Nothing => None,
                About::Bead(id) => Some(id),
                About::HookOf(address) => gastown_town::work::hooked(l, &address)?
                    .into_iter()
                    .next()
                    .map(|b| b.id),
            };
            let raised = escalation::raise(
                l,
                &Raise {
                    severity,
                    source: &who,
                    bead: bead.as_deref(),
                    message: &message,
                },
                &who,
            )?;
            if !raised.route {
                return anyhow::Ok(None);
            }
            let (_, outside) = routing::route_in_ledger(l, &for_ledger, &raised.escalation, &who)?;
            anyhow::Ok(Some((raised.escalation, outside)))
        })
        .await;
    match raised {
        Ok(Ok(Some((e, outside)))) if !outside.is_empty() => {
            tokio::spawn(deliver(
                town.root.clone(),
                town.config.escalation.timeout.0,
                e,
                outside,
            ));
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(%source, "cannot escalate: {e:#}"),
        Err(e) => tracing::warn!(%source, "cannot escalate: {e}"),
    }
}

/// `gastown run`'s stale timer. Each tick it reads town.toml and the rigs' rig.toml afresh (an
/// unreadable town.toml keeps the last good one), lets the ledger release the escalations whose
/// witness agent's time ran out ([`routing::release_expired`]) and re-raise the ones nobody
/// acknowledged for `[escalation] stale_after` (a severity up, mailed again); their outside
/// channels run in tasks of their own. It ticks every quarter of the shortest of `stale_after`
/// and the rigs' `[witness] judge_for`, at least every minute and at most every 50 ms.
pub async fn stale_timer(town: gastown_town::Town, ledger: gastown_actors::ledger::LedgerHandle) {
    let mut town = town;
    loop {
        tokio::time::sleep(tick_of(&town)).await;
        match gastown_town::Town::load(&town.root) {
            Ok(fresh) => town = fresh,
            Err(e) => tracing::warn!(
                "town.toml unreadable; escalation timers keep the last good [escalation]: {e:#}"
            ),
        }
        let stale_after = town.config.escalation.stale_after.0;
        let for_ledger = town.clone();
        let raised = ledger
            .call("escalation: release and re-raise", move |l| {
                let mut out = routing::release_expired(l, &for_ledger)?;
                out.extend(routing::reraise_stale(l, &for_ledger, stale_after)?);
                anyhow::Ok(out)
            })
            .await;
        let raised = match raised {
            Ok(Ok(raised)) => raised,
            Ok(Err(e)) => {
                tracing::warn!("cannot re-raise stale escalations: {e:#}");
                continue;
            }
            Err(e) => {
                tracing::warn!("cannot re-raise stale escalations: {e}");
                continue;
            }
        };
        if raised.is_empty() {
            continue;
        }
        // Their urgent mail may be waiting for a live session.
        if let Some(router) = ractor::registry::where_is(super::router::ROUTER_NAME) {
            let router: ractor::ActorRef<super::router::RouterMsg> = router.into();
            let _ = router.send_message(super::router::RouterMsg::Deliver);
        }
        let timeout = town.config.escalation.timeout.0;
        for (e, outside) in raised {
            if !outside.is_empty() {
                tokio::spawn(deliver(town.root.clone(), timeout, e, outside));
            }
        }
    }
}

/// How long the stale timer sleeps: a quarter of the shortest of `stale_after` and every rig's
/// `judge_for` (rigs with a witness agent only), between 50 ms and a minute.
fn tick_of(town: &gastown_town::Town) -> Duration {
    let mut shortest = town.config.escalation.stale_after.0;
    for rig in gastown_town::rig::Rig::list(town).unwrap_or_default() {
        if gastown_town::witness::agent_runtime(town, &rig.config).is_some() {
            shortest = shortest.min(rig.config.witness.judge_for.0);
        }
    }
    (shortest / 4).clamp(Duration::from_millis(50), Duration::from_secs(60))
}

/// Run the notify command with the escalation in its environment, in a process group of its
/// own, killed (the whole group) past `timeout`.
async fn notify(
    root: &std::path::Path,
    command: &str,
    e: &Escalation,
    timeout: Duration,
) -> Result<()> {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    for (key, value) in routing::notify_env(e) {
        cmd.env(key, value);
    }
    let mut child = cmd.spawn().with_context(|| {
        format!(
            "cannot start the escalation notify command {command:?} ([escalation] notify_command)"
        )
    })?;
    let pid = child.id();
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => {
            let status = status.context("cannot wait for the escalation notify command")?;
            if !status.success() {
                bail!("the escalation notify command {command:?} exited with {status}");
            }
            Ok(())
        }
        Err(_) => {
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                // SAFETY: killpg only sends a signal to the group the child leads.
                unsafe {
                    libc::killpg(pid, libc::SIGKILL);
                }
            }
            let _ = child.wait().await;
            bail!(
                "the escalation notify command {command:?} ran past {} and was killed",
                humantime::format_duration(timeout)
            )
        }
    }
}

/// POST the escalation as JSON, retried with backoff.
async fn webhook(url: &str, e: &Escalation, timeout: Duration) -> Result<()> {
    let body = serde_json::to_string(e)?;
    let mut pause = WEBHOOK_BACKOFF;
    let mut last = anyhow!("no attempt");
    for attempt in 1..=WEBHOOK_ATTEMPTS {
        match tokio::time::timeout(timeout, post(url, &body)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(err)) => last = err,
            Err(_) => last = anyhow!("no answer within {}", humantime::format_duration(timeout)),
        }
        if attempt < WEBHOOK_ATTEMPTS {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
    Err(last.context(format!(
        "the escalation webhook {url} failed {WEBHOOK_ATTEMPTS} times"
    )))
}

/// `http://host[:port][/path]` as (host:port, host, path).
fn parse_url(url: &str) -> Result<(String, String, String)> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("webhook URL {url:?} is not http://: https is not supported");
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        bail!("webhook URL {url:?} names no host");
    }
    let addr = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((addr, authority.to_string(), path.to_string()))
}

/// One HTTP/1.1 POST; a 2xx status is success.
async fn post(url: &str, body: &str) -> Result<()> {
    let (addr, host, path) = parse_url(url)?;
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: gastown\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > 8192 {
            break;
        }
    }
    let line = String::from_utf8_lossy(&head);
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| anyhow!("no HTTP status from {addr}"))?;
    if !(200..300).contains(&status) {
        bail!("{addr} answered HTTP {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gastown_town::escalation::{Severity, State};
    use tokio::net::TcpListener;

    fn escalation() -> Escalation {
        Escalation {
            id: "gt-esc".to_string(),
            severity: Severity::Critical,
            source: "alpha/witness".to_string(),
            bead: Some("gt-a".to_string()),
            message: "the gate hangs".to_string(),
            state: State::Open,
            count: 1,
            raised_at: "2026-01-02T03:04:05Z".to_string(),
            last_raised_at: "2026-01-02T03:04:05Z".to_string(),
            acked_by: None,
            acked_at: None,
            closed_reason: None,
            judge: None,
            judge_until: None,
            judge_released: None,
            judge_note: None,
        }
    }

    #[tokio::test]
    async fn the_webhook_receives_the_escalation_as_json_on_a_loopback_server() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            loop {
                let n = socket.read(&mut buf).await.expect("read");
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).to_string();
                if let Some(i) = text.find("\r\n\r\n")
                    && text[i + 4..].ends_with('}')
                {
                    break;
                }
                if n == 0 {
                    break;
                }
            }
            socket
                .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                .await
                .expect("write");
            String::from_utf8_lossy(&got).to_string()
        });
        let failures = deliver(
            PathBuf::from("/"),
            Duration::from_secs(5),
            escalation(),
            vec![Outside::Webhook { url }],
        )
        .await;
        assert!(failures.is_empty(), "{failures:?}");
        let got = server.await.expect("server");
        assert!(got.starts_with("POST /hook HTTP/1.1\r\n"), "{got}");
        let body = &got[got.find("\r\n\r\n").expect("body") + 4..];
        let json: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(json["id"], "gt-esc");
        assert_eq!(json["severity"], "critical");
        assert_eq!(json["message"], "the gate hangs");
    }

    // Real time with a short timeout (paused time would need tokio's `test-util` here).
    #[tokio::test]
    async fn a_webhook_that_hangs_is_given_up_after_its_attempts() {
        // Accepts and never answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        let _server = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let failures = deliver(
            PathBuf::from("/"),
            Duration::from_millis(200),
            escalation(),
            vec![Outside::Webhook { url }, Outside::Bell],
        )
        .await;
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].contains("failed 3 times"), "{failures:?}");
        assert!(
            failures[0].contains("no answer within 200ms"),
            "{failures:?}"
        );
    }

    #[tokio::test]
    async fn a_refused_webhook_fails_cleanly_and_https_is_refused() {
        // A port nobody listens on: bind, note it, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let failures = deliver(
            PathBuf::from("/"),
            Duration::from_secs(2),
            escalation(),
            vec![
                Outside::Webhook {
                    url: format!("http://127.0.0.1:{port}/"),
                },
                Outside::Webhook {
                    url: "https://example.com/".to_string(),
                },
            ],
        )
        .await;
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(failures[0].contains("cannot connect"), "{failures:?}");
        assert!(
            failures[1].contains("https is not supported"),
            "{failures:?}"
        );
    }

    #[tokio::test]
    async fn the_notify_command_gets_the_escalation_and_one_that_hangs_is_killed() {
        let dir = tempfile::tempdir().expect("dir");
        let out = dir.path().join("out");
        let command = format!(
            "printf '%s|%s|%s|%s|%s' \"$GASTOWN_ESCALATION_ID\" \"$GASTOWN_ESCALATION_SEVERITY\" \"$GASTOWN_ESCALATION_MESSAGE\" \"$GASTOWN_ESCALATION_BEAD\" \"$GASTOWN_ESCALATION_SOURCE\" > {}",
            out.display()
        );
        let failures = deliver(
            dir.path().to_path_buf(),
            Duration::from_secs(10),
            escalation(),
            vec![Outside::Notify { command }],
        )
        .await;
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(
            std::fs::read_to_string(&out).expect("out"),
            "gt-esc|critical|the gate hangs|gt-a|alpha/witness"
        );
        // A command that hangs (with a child of its own) is killed at the timeout, group and all.
        let pidfile = dir.path().join("pid");
        let hang = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
        let started = std::time::Instant::now();
        let failures = deliver(
            dir.path().to_path_buf(),
            Duration::from_millis(300),
            escalation(),
            vec![
                Outside::Notify { command: hang },
                Outside::Notify {
                    command: "exit 3".to_string(),
                },
            ],
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(30));
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(failures[0].contains("was killed"), "{failures:?}");
        assert!(failures[1].contains("exit status: 3"), "{failures:?}");
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .expect("pid")
            .trim()
            .parse()
            .expect("a pid");
        // SAFETY: signal 0 only checks whether the process exists.
        let gone = (0..200).any(|_| {
            let alive = unsafe { libc::kill(pid, 0) } == 0 && !is_zombie(pid);
            if alive {
                std::thread::sleep(Duration::from_millis(10));
            }
            !alive
        });
        assert!(
            gone,
            "the notify command's child {pid} outlived the timeout"
        );
    }

    fn is_zombie(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.split(") ").nth(1).is_some_and(|r| r.starts_with('Z')))
            .unwrap_or(true)
    }
}
