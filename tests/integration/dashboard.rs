//! `gastown dashboard` in a real headless Chromium, driven over its DevTools protocol: the page
//! shows a running sim town's agents and convoy, updates without a reload when the bead lands
//! (server-sent events), acks an escalation from its button, and a screenshot of it is saved as
//! a test artifact. Without a browser: a dashboard off loopback refuses requests without its
//! token, a short token and a missing supervisor are refused with what to do. A demo run is
//! shown on the page while it runs (a second screenshot) and `feed --plain` tells the same
//! events as `feed --json`.
//!
//! Chromium comes from the distribution (`.ci/run` installs it); without one the browser test
//! says `SKIPPED` on stderr, and fails instead under `GASTOWN_REQUIRE_BROWSER=1` (as in CI).

use crate::remote::town_on_origin;
use crate::running::{RunningTown, wait_for};
use crate::util::{TestTown, stderr};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `gastown dashboard <args>` in the town; its URL, from the first line it prints.
struct Dashboard {
    child: Child,
    url: String,
}

impl Dashboard {
    fn start(town: &TestTown, args: &[&str]) -> Dashboard {
        Dashboard::start_in(&town.root, args)
    }

    fn start_in(root: &Path, args: &[&str]) -> Dashboard {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gastown"))
            .current_dir(root)
            .env_remove("GASTOWN_TOWN")
            .env_remove("GASTOWN_DASHBOARD_TOKEN")
            .arg("dashboard")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("gastown dashboard starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("its first line");
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {first:?}"))
            .to_string();
        Dashboard { child, url }
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 request; the status code and the body.
fn http(method: &str, url: &str) -> (u16, String) {
    http_with(method, url, &[])
}

/// A plain HTTP/1.1 request with these headers (a `Host` among them replaces the URL's).
fn http_with(method: &str, url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {host}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("request");
    // Read the head, then the body by its length (DevTools keeps the connection open).
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut buf).expect("response");
        raw.extend_from_slice(&buf[..n]);
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        assert!(n > 0, "the response ended inside its head");
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let length = head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    match length {
        Some(len) => {
            while raw.len() < head_end + len {
                let n = stream.read(&mut buf).expect("body");
                assert!(n > 0, "the body ended early");
                raw.extend_from_slice(&buf[..n]);
            }
        }
        None => {
            stream.read_to_end(&mut raw).expect("body");
        }
    }
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    let body = String::from_utf8_lossy(&raw[head_end..]).to_string();
    (code, body)
}

/// The distribution's Chromium, if there is one.
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
}

/// A headless Chromium and one page of it, over the DevTools websocket.
struct Browser {
    child: Child,
    ws: tungstenite::WebSocket<TcpStream>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start(program: &Path) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(program)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--window-size=1280,900",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let browser_ws = loop {
            let line = lines
                .next()
                .expect("chromium printed its DevTools address")
                .expect("a line");
            if let Some(at) = line.find("ws://") {
                break line[at..].trim().to_string();
            }
        };
        // Keep draining its stderr so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let host = browser_ws["ws://".len()..]
            .split('/')
            .next()
            .expect("host:port")
            .to_string();
        let page_ws = wait_for("a page target", Duration::from_secs(20), || {
            let (_, body) = http("GET", &format!("http://{host}/json/list"));
            let targets: Value = serde_json::from_str(&body).ok()?;
            targets
                .as_array()?
                .iter()
                .find(|t| t["type"] == "page")
                .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                .map(str::to_string)
        });
        let stream = TcpStream::connect(&host).expect("connect to DevTools");
        // A call that never gets its answer fails the test instead of hanging it.
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        let (ws, _) = tungstenite::client(page_ws.as_str(), stream).expect("DevTools websocket");
        Browser {
            child,
            ws,
            next_id: 1,
            _profile: profile,
        }
    }

    /// One DevTools call; its result.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws
            .send(tungstenite::Message::Text(message.into()))
            .expect("send");
        loop {
            let reply = self
                .ws
                .read()
                .unwrap_or_else(|e| panic!("no answer to {method}: {e}"));
            let tungstenite::Message::Text(text) = reply else {
                continue;
            };
            let value: Value = serde_json::from_str(text.as_str()).expect("JSON");
            if value["id"] == id {
                assert!(value.get("error").is_none(), "{method}: {value}");
                return value["result"].clone();
            }
        }
    }

    /// Evaluate `expression` in the page; its value.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        result["result"]["value"].clone()
    }

    fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
        wait_for("the page loaded", Duration::from_secs(20), || {
            (self.eval("document.readyState") == "complete").then_some(())
        });
    }

    fn screenshot(&mut self, to: &Path) {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64_decode(shot["data"].as_str().expect("base64 data"));
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
        std::fs::create_dir_all(to.parent().expect("a dir")).expect("artifact dir");
        std::fs::write(to, png).expect("screenshot saved");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = text.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let v: Vec<u32> = chunk.iter().map(|c| u32::from(value(*c))).collect();
        let n = v
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, x)| n | (x << (18 - 6 * i)));
        let take = chunk.len() - 1;
        out.extend_from_slice(&n.to_be_bytes()[1..=take]);
    }
    out
}

/// Hold the rig's test gate until `release` exists, so the bead stays in flight.
fn hold_gate(town: &TestTown, release: &Path) {
    let gate = format!(
        "test = \"while [ ! -e {} ]; do sleep 0.05; done\"",
        release.display()
    );
    crate::refinery::configure(town, 1, "merge", &gate);
}

#[test]
fn the_dashboard_in_a_real_browser_shows_the_town_updates_live_and_acks() {
    let Some(program) = chromium() else {
        assert!(
            std::env::var_os("GASTOWN_REQUIRE_BROWSER").is_none(),
            "GASTOWN_REQUIRE_BROWSER is set but no chromium is on PATH"
        );
        eprintln!(
            "SKIPPED the_dashboard_in_a_real_browser…: no chromium on PATH (apt-get install chromium)"
        );
        return;
    };
    let (town, _origin) = town_on_origin();
    let release = town.root.parent().expect("parent").join("release");
    hold_gate(&town, &release);
    // The sim costs money here ($1.20 a step), its usage collected every second, under a budget
    // far off: the spend panel has something to show.
    let config = town.root.join("town.toml");
    let mut text = std::fs::read_to_string(&config).expect("town.toml");
    text.push_str(
        "\n[prices.\"sim\"]\ninput = 10000.0\noutput = 0.0\n\n[dogs.costs]\nevery = \"1s\"\n\n[budget]\ntotal = 1000.0\n",
    );
    std::fs::write(&config, text).expect("write town.toml");
    let bead = town.create(&["Add a greeting"]);
    town.ok(&["escalate", "-s", "high", "the gate is slow"]);
    let t = RunningTown::start_in(town);
    t.town.ok(&["sling", &bead, "alpha"]);
    let dash = Dashboard::start(&t.town, &["--listen", "127.0.0.1:0"]);
    let mut browser = Browser::start(&program);
    browser.navigate(&dash.url);

    // The town as it stands: the polecat with the bead on its hook, the convoy, live events.
    wait_for(
        "the page shows the polecat and the convoy",
        Duration::from_secs(60),
        || {
            let shown = browser.eval(&format!(
                "!!document.querySelector('tr[data-agent^=\"alpha/polecats/\"]') \
             && document.body.innerText.includes('{bead}') \
             && !!document.querySelector('tr[data-convoy]') \
             && document.body.dataset.live === 'yes'"
            ));
            if shown == true {
                return Some(());
            }
            browser.eval("location.reload()");
            std::thread::sleep(Duration::from_millis(300));
            None
        },
    );
    browser.eval("window.__sameLoad = 42");

    // The bead lands: the page follows by itself.
    std::fs::write(&release, "").expect("release the gate");
    wait_for("the landing on the page", Duration::from_secs(90), || {
        let landed = browser.eval(&format!(
            "!!document.querySelector('.event[data-kind=\"mq.landed\"]') \
             && (document.querySelector('tr[data-rig=\"alpha\"] .landing') || {{}}).textContent.includes('{bead}')"
        ));
        (landed == true).then_some(())
    });
    assert_eq!(
        browser.eval("window.__sameLoad"),
        42,
        "updated without a reload"
    );
    assert!(
        browser
            .eval("Number(document.body.dataset.refreshed || 0)")
            .as_u64()
            > Some(0),
        "the status part was swapped in"
    );
    // The spend panel: what the work cost today, and the town's budget in use.
    wait_for("the spend on the page", Duration::from_secs(30), || {
        let today = browser.eval(
            "(document.querySelector('#spend tr[data-spend=\"town\"] .today') || {}).textContent || ''",
        );
        let today = today.as_str().unwrap_or("").to_string();
        let budget = browser.eval(
            "(document.querySelector('#spend tr[data-budget=\"town\"]') || {}).textContent || ''",
        );
        (today.starts_with('$')
            && !today.starts_with("$0.00")
            && today.contains("today")
            && budget
                .as_str()
                .is_some_and(|b| b.contains("total $1000.00") && b.contains("ok")))
        .then_some(())
    });
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts/dashboard.png");
    browser.screenshot(&shot);

    // Ack from the page.
    let id = browser
        .eval(
            "document.querySelector('tr[data-escalation][data-state=\"open\"]').dataset.escalation",
        )
        .as_str()
        .expect("an open escalation on the page")
        .to_string();
    browser.eval(&format!(
        "document.querySelector('tr[data-escalation=\"{id}\"] form.ack button').click()"
    ));
    wait_for("the escalation acked", Duration::from_secs(30), || {
        let shown: Value =
            serde_json::from_str(&t.town.ok(&["escalate", "show", &id, "--json"])).ok()?;
        (shown["state"] == "acked").then_some(())
    });
    wait_for("the page shows it acked", Duration::from_secs(30), || {
        let state = browser.eval(&format!(
            "document.querySelector('tr[data-escalation=\"{id}\"]').dataset.state"
        ));
        (state == "acked").then_some(())
    });
}

#[test]
fn off_loopback_every_request_needs_the_token() {
    let town = crate::util::town_with_rig();
    let t = RunningTown::start_in(town);
    let dash = Dashboard::start(&t.town, &["--listen", "0.0.0.0:0"]);
    let token = dash
        .url
        .split("token=")
        .nth(1)
        .expect("the URL carries a token")
        .to_string();
    assert!(token.len() >= 32, "{token}");
    let port = dash
        .url
        .split(':')
        .nth(2)
        .and_then(|p| p.split('/').next())
        .expect("a port")
        .to_string();
    let base = format!("http://127.0.0.1:{port}");
    for path in ["/", "/api/status", "/events", "/status"] {
        let (code, body) = http("GET", &format!("{base}{path}"));
        assert_eq!(code, 401, "{path}: {body}");
        assert!(body.contains("token"), "{body}");
        let (code, _) = http("GET", &format!("{base}{path}?token=wrong{}", &token[5..]));
        assert_eq!(code, 401, "{path} with a wrong token");
    }
    let (code, body) = http("POST", &format!("{base}/escalations/gt-x/ack"));
    assert_eq!(code, 401, "{body}");
    let (code, body) = http("GET", &format!("{base}/api/status?token={token}"));
    assert_eq!(code, 200, "{body}");
    let status: Value = serde_json::from_str(&body).expect("status JSON");
    assert_eq!(status["live"], true);
    // On loopback no token is asked.
    let local = Dashboard::start(&t.town, &["--listen", "127.0.0.1:0"]);
    assert!(!local.url.contains("token="));
    let (code, body) = http("GET", &format!("{}api/status", local.url));
    assert_eq!(code, 200, "{body}");
}

/// The port of a dashboard's URL.
fn port_of(url: &str) -> String {
    url.split(':')
        .nth(2)
        .and_then(|p| p.split('/').next())
        .expect("a port")
        .to_string()
}

#[test]
fn other_sites_are_kept_out_and_the_pages_own_ack_still_works() {
    let town = crate::util::town_with_rig();
    town.ok(&["escalate", "-s", "high", "the gate is slow"]);
    let t = RunningTown::start_in(town);
    let dash = Dashboard::start(&t.town, &["--listen", "127.0.0.1:0"]);
    let port = port_of(&dash.url);
    let base = format!("http://127.0.0.1:{port}");
    // DNS rebinding: another site's name pointed at 127.0.0.1 reads nothing.
    for path in ["/", "/api/status", "/events", "/status", "/screen/mayor"] {
        let (code, body) = http_with(
            "GET",
            &format!("{base}{path}"),
            &[("Host", &format!("evil.example:{port}"))],
        );
        assert_eq!(code, 421, "{path}: {body}");
        assert!(
            body.contains(&format!("127.0.0.1:{port}")) && body.contains("evil.example"),
            "{body}"
        );
    }
    // `localhost` on its port is itself.
    let (code, body) = http_with(
        "GET",
        &format!("{base}/api/status"),
        &[("Host", &format!("localhost:{port}"))],
    );
    assert_eq!(code, 200, "{body}");
    // Another site's page may not ask it, not even to read.
    let (code, body) = http_with(
        "GET",
        &format!("{base}/api/status"),
        &[("Origin", "http://evil.example")],
    );
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("evil.example"), "{body}");
    // The page carries this run's same-origin token; an ack without it is refused, also from
    // the dashboard's own origin (a form another site posts here has no way to learn it).
    let (code, page) = http("GET", &format!("{base}/"));
    assert_eq!(code, 200);
    let csrf = page
        .split("name=\"gastown-csrf\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries its token")
        .to_string();
    assert!(csrf.len() >= 32, "{csrf}");
    let id = serde_json::from_str::<Value>(&t.town.ok(&["escalate", "list", "--json"]))
        .expect("json")
        .as_array()
        .and_then(|a| a.first().cloned())
        .and_then(|e| e["id"].as_str().map(str::to_string))
        .expect("an open escalation");
    let ack = format!("{base}/escalations/{id}/ack");
    let own = format!("http://127.0.0.1:{port}");
    for headers in [
        vec![],
        vec![("Origin", own.as_str())],
        vec![
            ("Origin", own.as_str()),
            ("x-gastown-csrf", "0123456789abcdef0123456789abcdef"),
        ],
        vec![
            ("Origin", "http://evil.example"),
            ("x-gastown-csrf", csrf.as_str()),
        ],
    ] {
        let (code, body) = http_with("POST", &ack, &headers);
        assert_eq!(code, 403, "{headers:?}: {body}");
    }
    let shown: Value =
        serde_json::from_str(&t.town.ok(&["escalate", "show", &id, "--json"])).expect("json");
    assert_eq!(shown["state"], "open", "no refused ack went through");
    // What the page's script sends.
    let (code, body) = http_with(
        "POST",
        &ack,
        &[("Origin", own.as_str()), ("x-gastown-csrf", csrf.as_str())],
    );
    assert_eq!(code, 303, "{body}");
    let shown: Value =
        serde_json::from_str(&t.town.ok(&["escalate", "show", &id, "--json"])).expect("json");
    assert_eq!(shown["state"], "acked");
    // Off loopback the page asks for the token with a form rather than a bare refusal.
    let open = Dashboard::start(&t.town, &["--listen", "0.0.0.0:0"]);
    let (code, body) = http("GET", &format!("http://127.0.0.1:{}/", port_of(&open.url)));
    assert_eq!(code, 401, "{body}");
    assert!(
        body.contains("<form id=\"ask-token\"") && body.contains("name=\"token\""),
        "{body}"
    );
    let (code, body) = http(
        "GET",
        &format!(
            "http://127.0.0.1:{}/?token=wrong-token-0123456789",
            port_of(&open.url)
        ),
    );
    assert_eq!(code, 401);
    assert!(body.contains("not this dashboard"), "{body}");
}

#[test]
fn the_peek_page_shows_an_agents_screen_read_only_and_off_loopback_needs_the_token() {
    let t = RunningTown::start();
    t.town.ok(&[
        "config",
        "agent",
        "set",
        "--ready-marker",
        "READY",
        "echoer",
        "sh -c 'echo \"READY <b>bold</b>\"; exec cat'",
    ]);
    t.town
        .ok(&["agent", "spawn", "alpha/crew/max", "--runtime", "echoer"]);
    let dash = Dashboard::start(&t.town, &["--listen", "127.0.0.1:0"]);
    let page = wait_for("the screen on the page", Duration::from_secs(30), || {
        let (code, body) = http("GET", &format!("{}screen/alpha/crew/max", dash.url));
        (code == 200 && body.contains("READY")).then_some(body)
    });
    assert!(page.contains("read-only screen"), "{page}");
    assert!(page.contains("<title>alpha/crew/max</title>"), "{page}");
    // The screen's text is text: escaped, and nothing on the page types or posts.
    assert!(page.contains("READY &lt;b&gt;bold&lt;/b&gt;"), "{page}");
    assert!(!page.contains("<b>bold"), "{page}");
    for active in ["<form", "<script", "<input"] {
        assert!(!page.contains(active), "{active}: {page}");
    }
    // The agents part links each agent to its screen.
    let (_, part) = http("GET", &format!("{}status", dash.url));
    assert!(part.contains("/screen/alpha/crew/max"), "{part}");
    // An agent with no session: a 404 that says so.
    let (code, body) = http("GET", &format!("{}screen/alpha/crew/nobody", dash.url));
    assert_eq!(code, 404, "{body}");
    // Off loopback the screen needs the token like every route.
    let open = Dashboard::start(&t.town, &["--listen", "0.0.0.0:0"]);
    let token = open
        .url
        .split("token=")
        .nth(1)
        .expect("the URL carries a token")
        .to_string();
    let base = format!("http://127.0.0.1:{}", port_of(&open.url));
    let (code, _) = http("GET", &format!("{base}/screen/alpha/crew/max"));
    assert_eq!(code, 401);
    let (code, body) = http(
        "GET",
        &format!("{base}/screen/alpha/crew/max?token={token}"),
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("READY &lt;b&gt;bold"), "{body}");
}

#[test]
fn a_short_token_or_no_supervisor_is_refused_with_what_to_do() {
    let town = crate::util::town_with_rig();
    let out = town.run(&["dashboard", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("gastown run"), "{}", stderr(&out));
    let t = RunningTown::start_in(town);
    let out = t
        .town
        .run(&["dashboard", "--listen", "0.0.0.0:0", "--token", "short"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("at least 16"), "{}", stderr(&out));
    let out = t.town.run(&[
        "dashboard",
        "--listen",
        "0.0.0.0:0",
        "--token",
        "long-enough but&spaced",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("letters, digits"), "{}", stderr(&out));
    let out = t.town.run(&["dashboard", "--listen", "not-an-address"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--listen"), "{}", stderr(&out));
}

/// `gastown <args>` in `dir` with stdout piped: a long-running reader.
fn piped(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(dir)
        .env_remove("GASTOWN_TOWN")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gastown starts")
}

/// A plain feed line split into its time, kind and text (`HH:MM:SS.mmm  kind  text`).
fn plain_parts(line: &str) -> (String, String, String) {
    let (time, rest) = line.split_once("  ").unwrap_or_else(|| panic!("{line:?}"));
    let rest = rest.trim_start();
    let (kind, text) = rest.split_once(' ').unwrap_or((rest, ""));
    (
        time.to_string(),
        kind.to_string(),
        text.trim_start().to_string(),
    )
}

#[test]
fn a_demo_run_as_the_feed_tells_it_and_the_dashboard_shows_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo_dir = dir.path().join("demo");
    let demo = piped(
        dir.path(),
        &[
            "demo",
            "--dir",
            demo_dir.to_str().expect("utf-8"),
            "--beads",
            "12",
            "--agents",
            "2",
            "--timeout",
            "5m",
        ],
    );
    let root = demo_dir.join("town");
    wait_for("the demo's supervisor", Duration::from_secs(120), || {
        (root.join("town.toml").exists()
            && crate::util::gastown(&root, &["actors"]).status.success())
        .then_some(())
    });
    // The same stream twice: as lines and as JSON.
    let plain = piped(&root, &["feed", "--plain"]);
    let json = piped(&root, &["feed", "--json"]);

    // While the demo runs: the dashboard in a browser, and its picture.
    if let Some(program) = chromium() {
        let dash = Dashboard::start_in(&root, &["--listen", "127.0.0.1:0"]);
        let mut browser = Browser::start(&program);
        browser.navigate(&dash.url);
        wait_for(
            "the demo's polecats on the page",
            Duration::from_secs(60),
            || {
                let shown = browser.eval(
                    "!!document.querySelector('tr[data-agent^=\"sample/polecats/\"]') \
                 && !!document.querySelector('tr[data-convoy]') \
                 && document.body.dataset.live === 'yes' \
                 && document.querySelectorAll('.event').length >= 3",
                );
                (shown == true).then_some(())
            },
        );
        let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts/dashboard-demo.png");
        browser.screenshot(&shot);
        assert!(std::fs::metadata(&shot).expect("saved").len() > 1000);
    } else {
        assert!(
            std::env::var_os("GASTOWN_REQUIRE_BROWSER").is_none(),
            "GASTOWN_REQUIRE_BROWSER is set but no chromium is on PATH"
        );
        eprintln!("SKIPPED the demo's dashboard screenshot: no chromium on PATH");
    }

    let out = demo.wait_with_output().expect("the demo ends");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    // Both feeds end with the supervisor.
    let plain = plain.wait_with_output().expect("feed --plain ends");
    let json = json.wait_with_output().expect("feed --json ends");
    let lines: Vec<(String, String, String)> = String::from_utf8_lossy(&plain.stdout)
        .lines()
        .map(plain_parts)
        .collect();
    let events: Vec<Value> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect();
    let from_json: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            let at = e["at"].as_str().expect("at");
            (
                at.get(11..23).unwrap_or(at).to_string(),
                e["kind"].as_str().expect("kind").to_string(),
                e["text"].as_str().expect("text").to_string(),
            )
        })
        .collect();
    // Started a moment apart, one may have seen a few more events at the start: the other's
    // events are its tail, line for line.
    let (longer, shorter) = if lines.len() >= from_json.len() {
        (&lines, &from_json)
    } else {
        (&from_json, &lines)
    };
    assert!(shorter.len() > 10, "the feed saw the demo: {shorter:?}");
    assert_eq!(
        &longer[longer.len() - shorter.len()..],
        &shorter[..],
        "feed --plain tells the events feed --json gives"
    );
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in ["hook.set", "mq.landed", "convoy.landed"] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
}
