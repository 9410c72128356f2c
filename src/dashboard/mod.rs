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
//! header): never an open port by accident.

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
    let shared = Arc::new(Shared { town, token });
    let app = Router::new()
        .route("/", get(index))
        .route("/status", get(status_part))
        .route("/api/status", get(status_json))
        .route("/events", get(events))
        .route("/screen/{*agent}", get(screen))
        .route("/escalations/{id}/ack", post(ack))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            check_token,
        ))
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

/// Refuse a request without the token when one is required.
async fn check_token(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let Some(want) = &shared.token else {
        return next.run(request).await;
    };
    let given = query.token.or_else(|| {
        headers
            .get("x-gastown-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    if given.as_deref().is_some_and(|g| constant_time_eq(g, want)) {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "this dashboard does not listen on loopback, so every request needs its token: open the URL `gastown dashboard` printed (…/?token=…)\n",
    )
        .into_response()
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
        Ok(s) => Html(page::whole(&s)).into_response(),
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
