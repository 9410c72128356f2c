//! `gastown dashboard`: the town in a web page (`docs/dashboard.md`). An axum server, its own
//! process, that talks to `gastown run` over the socket like any CLI command (as the overseer):
//!
//! - `GET /` — the page: what needs you first, agents with their hooks and sessions, convoys
//!   with progress bars, the rigs, the spend and budgets, the merge queue, escalations (each
//!   with an ack button), your mail, and a live activity log; server-rendered HTML with one
//!   small script and no build step;
//! - `GET /status` — the page's status part alone (the script swaps it in when events say the
//!   town changed: no reload); `GET /api/status` — the same as `gastown status --json`;
//! - `GET /events` — the event stream as server-sent events (`docs/events.md`);
//! - `GET /screen/<agent>` — an agent's screen, read-only (`gastown peek`);
//! - `POST /escalations/<id>/ack` — ack an escalation (then back to the page).
//!
//! It listens on loopback by default. Bound to any other address it requires a token — printed
//! at start, in the URL it prints — on every request (`?token=`, or the `x-gastown-token`
//! header; the page asks for it with a small form): never an open port by accident.
//!
//! Other web sites are kept out ([`guard`], on every request): on loopback the `Host` must be the
//! address it is bound to (or `localhost` on its port), so a page that rebinds its own name to
//! 127.0.0.1 reads nothing; an `Origin`, when the browser sends one, must be the dashboard's own;
//! and every `POST` carries the run's same-origin token (embedded in the page, sent by its
//! script as the `x-gastown-csrf` header), which no other site can read.

mod page;

use crate::client;
use crate::protocol::{EventFilter, TownReply, TownRequest};
use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use clap::Args;
use gastown_town::command::escalation::EscalateRequest;
use gastown_town::status::TownStatus;
use gastown_town::town::Town;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Where it listens unless told.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7373";

#[derive(Debug, Clone, PartialEq, Args)]
pub struct DashboardArgs {
    /// Address to listen on (`127.0.0.1:0` picks a free port). Anything but loopback requires
    /// the token on every request.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The token to require (default: a random one when not on loopback). Also read from
    /// GASTOWN_DASHBOARD_TOKEN.
    #[arg(long, env = "GASTOWN_DASHBOARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// What every handler shares.
struct Shared {
    town: Town,
    /// Required on every request when set.
    token: Option<String>,
    /// The `Host` values it answers to when on loopback (`None`: any, off loopback).
    hosts: Option<Vec<String>>,
    /// This run's same-origin token: every `POST` carries it (`x-gastown-csrf`).
    csrf: String,
}

/// The `Host` values a dashboard bound to `bound` answers to: on loopback its own address and
/// `localhost` on its port; off loopback any (the token guards it).
fn allowed_hosts(bound: SocketAddr) -> Option<Vec<String>> {
    if !bound.ip().is_loopback() {
        return None;
    }
    let port = bound.port();
    let mut hosts = vec![bound.to_string(), format!("localhost:{port}")];
    if port == 80 {
        // Browsers leave the port out when it is the scheme's default.
        let ip = match bound.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        hosts.extend([ip, "localhost".to_string()]);
    }
    Some(hosts)
}

/// `gastown dashboard`: serve until interrupted.
pub fn run(town: Town, args: DashboardArgs) -> Result<()> {
    // Say at once when there is nothing to show, rather than serving errors.
    drop(client::require(&town)?);
    let token = match args.token {
        Some(t) if t.trim().is_empty() => {
            bail!(
                "--token is empty: give a token of at least 16 characters, or leave it out for a random one"
            )
        }
        Some(t) if t.len() < 16 => bail!(
            "--token is {} characters: use at least 16 (or leave it out for a random one)",
            t.len()
        ),
        Some(t)
            if !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b)) =>
        {
            bail!(
                "--token has characters a URL would have to escape: use letters, digits, '.', '_', '~' and '-'"
            )
        }
        Some(t) => Some(t),
        None if args.listen.ip().is_loopback() => None,
        None => Some(crate::socket::tokens::random_hex(16).context("cannot make a token")?),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("gastown-dashboard")
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve(town, args.listen, token))
}

async fn serve(town: Town, listen: SocketAddr, token: Option<String>) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            format!("cannot listen on {listen} (in use? pick another with --listen)")
        })?;
    let bound = listener.local_addr()?;
    let url = match &token {
        Some(t) => format!("http://{bound}/?token={t}"),
        None => format!("http://{bound}/"),
    };
    let mut said = format!("dashboard for {} at {url}\n", town.root.display());
    if token.is_some() {
        said.push_str(
            "not on loopback: every request needs the token above (the page keeps it in its URL)\n",
        );
    }
    // Said once, in one write; a reader that stopped listening (a closed pipe) must not stop
    // the server it was told about.
    let _ = crate::output::text(&said);
    let csrf = crate::socket::tokens::random_hex(16).context("cannot make a token")?;
    let shared = Arc::new(Shared {
        town,
        token,
        hosts: allowed_hosts(bound),
        csrf,
    });
    let app = Router::new()
        .route("/", get(index))
        .route("/status", get(status_part))
        .route("/api/status", get(status_json))
        .route("/events", get(events))
        .route("/screen/{*agent}", get(screen))
        .route("/escalations/{id}/ack", post(ack))
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), guard))
        .with_state(shared);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the dashboard's server failed")
}

#[derive(Debug, Default, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// A refusal in plain words.
fn refuse(code: StatusCode, why: String) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        why,
    )
        .into_response()
}

/// Every request passes here first: the right `Host` (on loopback), no other site's `Origin`,
/// the token (off loopback; the page's own URL asks for it with a form), and on a `POST` the
/// run's same-origin token.
async fn guard(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let header_of = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let host = header_of(header::HOST.as_str()).unwrap_or_default();
    if let Some(hosts) = &shared.hosts
        && !hosts.iter().any(|h| h.eq_ignore_ascii_case(&host))
    {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this dashboard answers only to http://{}/ (the request named host {host:?}):                  open that address; a page of another site that points its own name here                  reads nothing\n",
                hosts[0]
            ),
        );
    }
    if let Some(origin) = header_of(header::ORIGIN.as_str())
        && !origin.eq_ignore_ascii_case(&format!("http://{host}"))
    {
        return refuse(
            StatusCode::FORBIDDEN,
            format!(
                "refused a request from another site ({origin}): only the dashboard's own page                  (http://{host}/) may ask it\n"
            ),
        );
    }
    if let Some(want) = &shared.token {
        let given = query.token.or_else(|| header_of("x-gastown-token"));
        if !given.as_deref().is_some_and(|g| constant_time_eq(g, want)) {
            if request.method() == axum::http::Method::GET && request.uri().path() == "/" {
                return (
                    StatusCode::UNAUTHORIZED,
                    Html(page::ask_token(given.is_some())),
                )
                    .into_response();
            }
            return refuse(
                StatusCode::UNAUTHORIZED,
                "this dashboard does not listen on loopback, so every request needs its token: \
                 open the URL `gastown dashboard` printed (…/?token=…)\n"
                    .to_string(),
            );
        }
    }
    if request.method() == axum::http::Method::POST {
        let csrf = header_of("x-gastown-csrf");
        if !csrf
            .as_deref()
            .is_some_and(|c| constant_time_eq(c, &shared.csrf))
        {
            return refuse(
                StatusCode::FORBIDDEN,
                "a POST needs the page's own token (the x-gastown-csrf header its script sends): \
                 ack from the dashboard's page, reloaded if it is older than this dashboard\n"
                    .to_string(),
            );
        }
    }
    next.run(request).await
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// One town request, on a blocking thread (the socket client blocks).
async fn ask(shared: &Arc<Shared>, request: TownRequest) -> Result<TownReply, String> {
    let town = shared.town.clone();
    tokio::task::spawn_blocking(move || {
        let mut supervisor = client::require(&town)?;
        client::call(&mut supervisor, request)
    })
    .await
    .map_err(|e| format!("the request's thread failed: {e}"))?
    .map_err(|e| format!("{e:#}"))
}

async fn status(shared: &Arc<Shared>) -> Result<TownStatus, String> {
    match ask(shared, TownRequest::Status).await? {
        TownReply::Status(status) => Ok(*status),
        other => Err(unexpected(&other)),
    }
}

/// A reply of the wrong kind: the supervisor is another version.
fn unexpected(reply: &TownReply) -> String {
    let name = format!("{reply:?}");
    let name = name.split(['(', ' ', '{']).next().unwrap_or("?");
    format!(
        "unexpected reply from the supervisor ({name}): restart `gastown run` with this gastown"
    )
}

fn unavailable(message: String) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, Html(page::error(&message))).into_response()
}

async fn index(State(shared): State<Arc<Shared>>) -> Response {
    match status(&shared).await {
        Ok(s) => Html(page::whole(&s, &shared.csrf)).into_response(),
        Err(e) => unavailable(e),
    }
}

async fn status_part(State(shared): State<Arc<Shared>>) -> Response {
    match status(&shared).await {
        Ok(s) => Html(page::status(&s)).into_response(),
        Err(e) => unavailable(e),
    }
}

async fn status_json(State(shared): State<Arc<Shared>>) -> Response {
    match status(&shared).await {
        Ok(s) => axum::Json(s).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}

async fn screen(State(shared): State<Arc<Shared>>, Path(agent): Path<String>) -> Response {
    let request = TownRequest::Peek {
        agent: agent.clone(),
        lines: None,
    };
    match ask(&shared, request).await {
        Ok(TownReply::Screen { text, .. }) => Html(page::screen(&agent, &text)).into_response(),
        Ok(other) => (StatusCode::BAD_GATEWAY, unexpected(&other)).into_response(),
        Err(e) => (StatusCode::NOT_FOUND, Html(page::error(&e))).into_response(),
    }
}

async fn ack(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let request = TownRequest::Escalate(EscalateRequest::Ack { id });
    match ask(&shared, request).await {
        Ok(_) => {
            let back = match query.token {
                Some(t) => format!("/?token={t}"),
                None => "/".to_string(),
            };
            Redirect::to(&back).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, Html(page::error(&e))).into_response(),
    }
}

/// How often an idle event stream says it is alive (proxies and browsers close silent ones).
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The event stream as server-sent events: each event's JSON as the data of one message.
async fn events(State(shared): State<Arc<Shared>>) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<crate::protocol::TownEvent>>(64);
    let town = shared.town.clone();
    // The socket client blocks: a thread of its own reads the subscription until the page goes
    // away (the channel closes) or `gastown run` stops.
    let opened = tokio::task::spawn_blocking(move || -> Result<()> {
        let mut events = client::subscribe(&town, EventFilter::default())?;
        std::thread::spawn(move || {
            while let Ok(Some(batch)) = events.next() {
                if tx.blocking_send(batch).is_err() {
                    return;
                }
            }
        });
        Ok(())
    })
    .await;
    match opened {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return unavailable(format!("{e:#}")),
        Err(e) => return unavailable(format!("the stream's thread failed: {e}")),
    }
    use futures::StreamExt;
    let stream = tokio_stream_of(rx).flat_map(|batch| {
        futures::stream::iter(batch.into_iter().map(|event| {
            let data = serde_json::to_string(&event).unwrap_or_default();
            Ok::<_, std::convert::Infallible>(Event::default().data(data))
        }))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

/// A stream of what arrives on `rx`, until its senders are gone.
fn tokio_stream_of<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
}
