//! A scripted model on 127.0.0.1 for the real agent CLIs: it speaks the Anthropic Messages API
//! (`POST /v1/messages`, JSON or `stream: true` SSE) for Claude Code and the OpenAI Responses
//! API (`POST /v1/responses`, SSE; a WebSocket upgrade on `GET` is refused with 426) for Codex. Each request's conversation is read into one
//! shape ([`Conversation`]: user text, the tool calls made and what they returned), a [`Script`]
//! decides the next reply from it — a shell command to run, or text that ends the turn — and
//! the reply is written in the dialect the CLI asked in. So the CLI has a real conversation:
//! what the script does next depends on what the commands it asked for printed.
//!
//! A [`Gate`] the test sets may refuse a model request the way the API does when a rate or usage
//! limit is hit: HTTP 429 with the API's error body ([`RateLimited`]), decided per request from
//! the caller's API key, so one account can be limited and another not.
//!
//! Every request, with its conversation, a short hash of its key and the reply, is logged for the
//! tests' assertions. Plain HTTP/1.1 with one request per connection (`Connection: close`); no
//! dependencies.

mod anthropic;
mod openai;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Which API a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Anthropic Messages (Claude Code).
    Anthropic,
    /// OpenAI Responses (Codex).
    OpenAi,
}

/// One step of a conversation, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// Text from the user (the startup prompt, a nudge, hook context).
    User(String),
    /// Text the model said.
    Assistant(String),
    /// A shell command the model asked for (`Bash` / `exec_command`), or another tool, written
    /// as `<tool> <input JSON>`.
    Call { id: String, command: String },
    /// What a call returned.
    Result { id: String, output: String },
}

/// A request's conversation, in one shape for both APIs.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub api: Api,
    /// A side request, not the agent's turn (Codex's title request, a Claude request without
    /// tools): answered with short text.
    pub aux: bool,
    pub turns: Vec<Turn>,
}

impl Conversation {
    /// All user text, joined.
    pub fn user_text(&self) -> String {
        self.turns
            .iter()
            .filter_map(|t| match t {
                Turn::User(text) => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The last turn's user text, when the conversation ends with the user speaking (a new
    /// prompt, not a tool result).
    pub fn new_user_text(&self) -> Option<&str> {
        match self.turns.last()? {
            Turn::User(text) => Some(text),
            _ => None,
        }
    }

    /// The new prompt, when the conversation ends with the user speaking: every user text since
    /// the last assistant turn or tool result, joined (a prompt and the context its hooks added
    /// may come as separate blocks).
    pub fn prompt(&self) -> Option<String> {
        let start = self
            .turns
            .iter()
            .rposition(|t| !matches!(t, Turn::User(_)))
            .map_or(0, |i| i + 1);
        let texts: Vec<&str> = self.turns[start..]
            .iter()
            .filter_map(|t| match t {
                Turn::User(text) => Some(text.as_str()),
                _ => None,
            })
            .collect();
        (!texts.is_empty()).then(|| texts.join("\n"))
    }

    /// The last call made and its output (empty if none came back).
    pub fn last_call(&self) -> Option<(&str, &str)> {
        let (id, command) = self.turns.iter().rev().find_map(|t| match t {
            Turn::Call { id, command } => Some((id, command)),
            _ => None,
        })?;
        let output = self
            .turns
            .iter()
            .find_map(|t| match t {
                Turn::Result { id: rid, output } if rid == id => Some(output.as_str()),
                _ => None,
            })
            .unwrap_or("");
        Some((command.as_str(), output))
    }

    /// Every command called, in order.
    pub fn calls(&self) -> Vec<&str> {
        self.turns
            .iter()
            .filter_map(|t| match t {
                Turn::Call { command, .. } => Some(command.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// What the model does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Say this and end the turn.
    Text(String),
    /// Run this shell command (the CLI's shell tool) and come back with its output.
    Shell(String),
}

/// Decides each next reply from the conversation so far.
pub type Script = Arc<dyn Fn(&Conversation) -> Reply + Send + Sync>;

/// Who is asking: the API and the key the request carried (`x-api-key`, else `Authorization:
/// Bearer …`; empty when neither).
#[derive(Debug, Clone)]
pub struct Caller {
    pub api: Api,
    pub key: String,
}

/// A refusal of the API's kind for a hit limit: HTTP 429 with its error body (Anthropic:
/// `rate_limit_error`; OpenAI: `rate_limit_exceeded`) saying `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimited {
    /// The API's message, which the CLI shows.
    pub message: String,
    /// A `retry-after` header (seconds), when set.
    pub retry_after: Option<u64>,
    /// A usage limit (OpenAI: `usage_limit_reached`, as a ChatGPT plan's is answered) that
    /// resets at this Unix time, rather than a rate limit.
    pub resets_at: Option<u64>,
}

/// Decides, before the script, whether a model request is refused (`Some`) or answered.
pub type Gate = Arc<dyn Fn(&Caller) -> Option<RateLimited> + Send + Sync>;

/// A short, stable hash of an API key, for the log (the key itself is not kept).
pub fn key_hash(key: &str) -> String {
    // FNV-1a, 32 bits: stable across runs, unlike the std hasher's seed.
    let hash = key.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("{hash:08x}")
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub body: Value,
    /// The conversation read from it (model requests only).
    pub conversation: Option<Conversation>,
    /// What was answered (model requests the gate let through).
    pub reply: Option<Reply>,
    /// The [`key_hash`] of the request's API key.
    pub key: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The gate's refusal, when it refused.
    pub refused: Option<RateLimited>,
    /// When the request was read.
    pub at: SystemTime,
}

/// The running server; it serves until the process ends.
pub struct FakeModel {
    pub port: u16,
    log: Arc<Mutex<Vec<Logged>>>,
}

impl FakeModel {
    /// Listen on 127.0.0.1 (a free port) and answer with `script`.
    pub fn start(script: Script) -> FakeModel {
        FakeModel::start_gated(script, Arc::new(|_: &Caller| None))
    }

    /// [`FakeModel::start`], with `gate` asked first for every model request.
    pub fn start_gated(script: Script, gate: Gate) -> FakeModel {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let served = Arc::clone(&log);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (script, gate, log) =
                    (Arc::clone(&script), Arc::clone(&gate), Arc::clone(&served));
                std::thread::spawn(move || serve(stream, &script, &gate, &log));
            }
        });
        FakeModel { port, log }
    }

    /// The base URL (no path).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Logged> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The conversations of the agent's turns that were answered (side requests and refused
    /// requests left out).
    pub fn turns(&self) -> Vec<Conversation> {
        self.requests()
            .into_iter()
            .filter(|r| r.refused.is_none())
            .filter_map(|r| r.conversation)
            .filter(|c| !c.aux)
            .collect()
    }

    /// Every reply sent, in order.
    pub fn replies(&self) -> Vec<Reply> {
        self.requests()
            .into_iter()
            .filter_map(|r| r.reply)
            .collect()
    }

    /// A readable summary of the traffic, for failure messages.
    pub fn transcript(&self) -> String {
        let mut out = String::new();
        for r in self.requests() {
            out.push_str(&format!("{} {} key={}", r.method, r.path, r.key));
            if let Some(c) = &r.conversation {
                let last = c.turns.last().map(|t| format!("{t:?}")).unwrap_or_default();
                let last: String = last.chars().take(300).collect();
                out.push_str(&format!(" aux={} last={last}", c.aux));
            }
            if let Some(reply) = &r.reply {
                out.push_str(&format!(" -> {reply:?}"));
            }
            if let Some(refused) = &r.refused {
                out.push_str(&format!(" -> {} {:?}", r.status, refused.message));
            }
            out.push('\n');
        }
        out
    }

    /// Wait until `check` holds for the log, or panic with the transcript after `limit`.
    pub fn wait_for(&self, what: &str, limit: Duration, check: impl Fn(&[Logged]) -> bool) {
        assert!(
            self.holds_within(limit, check),
            "timed out after {limit:?} waiting for {what}; the model saw:\n{}",
            self.transcript()
        );
    }

    /// Whether `check` holds for the log within `limit` (polled every 100 ms).
    pub fn holds_within(&self, limit: Duration, check: impl Fn(&[Logged]) -> bool) -> bool {
        let start = Instant::now();
        while !check(&self.requests()) {
            if start.elapsed() >= limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        true
    }
}

/// An HTTP request, read off the socket.
struct Request {
    method: String,
    path: String,
    /// The API key: `x-api-key`, else `Authorization: Bearer …`.
    key: String,
    body: Vec<u8>,
}

fn read_request(stream: &TcpStream) -> std::io::Result<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let (mut length, mut chunked, mut encoding) = (0usize, false, None);
    let (mut api_key, mut bearer) = (None, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            match name.as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "content-encoding" => encoding = Some(value.to_string()),
                "x-api-key" => api_key = Some(value.to_string()),
                "authorization" => {
                    bearer = value
                        .strip_prefix("Bearer ")
                        .or_else(|| value.strip_prefix("bearer "))
                        .map(|k| k.trim().to_string())
                }
                _ => {}
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    if let Some(encoding) = encoding {
        return Err(std::io::Error::other(format!(
            "request body in content-encoding {encoding}: the fake model reads plain JSON only"
        )));
    }
    let key = api_key.or(bearer).unwrap_or_default();
    Ok(Request {
        method,
        path,
        key,
        body,
    })
}

fn serve(mut stream: TcpStream, script: &Script, gate: &Gate, log: &Mutex<Vec<Logged>>) {
    let request = match read_request(&stream) {
        Ok(request) => request,
        Err(e) => {
            let _ = respond(
                &mut stream,
                400,
                "text/plain",
                &[],
                e.to_string().as_bytes(),
            );
            return;
        }
    };
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let mut logged = Logged {
        method: request.method.clone(),
        path: request.path.clone(),
        body: body.clone(),
        conversation: None,
        reply: None,
        key: key_hash(&request.key),
        status: 200,
        refused: None,
        at: SystemTime::now(),
    };
    let route = request.path.split('?').next().unwrap_or_default();
    let api = match (request.method.as_str(), route) {
        ("POST", "/v1/messages") => Some(Api::Anthropic),
        ("POST", "/v1/responses") => Some(Api::OpenAi),
        _ => None,
    };
    let caller = api.map(|api| Caller {
        api,
        key: request.key.clone(),
    });
    let refused = caller.as_ref().and_then(|caller| gate(caller));
    let written = match (api, refused) {
        (Some(api), Some(refused)) => {
            logged.conversation = Some(match api {
                Api::Anthropic => anthropic::conversation(&body),
                Api::OpenAi => openai::conversation(&body),
            });
            logged.status = 429;
            let error = match api {
                Api::Anthropic => anthropic::rate_limited(&refused.message),
                Api::OpenAi => openai::rate_limited(&refused.message, refused.resets_at),
            };
            let retry_after = refused.retry_after.map(|s| s.to_string());
            let headers: Vec<(&str, &str)> = retry_after
                .as_deref()
                .map(|s| ("retry-after", s))
                .into_iter()
                .collect();
            logged.refused = Some(refused);
            respond(
                &mut stream,
                429,
                "application/json",
                &headers,
                error.to_string().as_bytes(),
            )
        }
        (Some(Api::Anthropic), None) => {
            let conversation = anthropic::conversation(&body);
            let reply = script(&conversation);
            let (kind, bytes) = anthropic::render(&body, &reply);
            logged.conversation = Some(conversation);
            logged.reply = Some(reply);
            respond(&mut stream, 200, kind, &[], &bytes)
        }
        (Some(Api::OpenAi), None) => {
            let conversation = openai::conversation(&body);
            let reply = script(&conversation);
            let bytes = openai::render(&body, &reply);
            logged.conversation = Some(conversation);
            logged.reply = Some(reply);
            respond(&mut stream, 200, "text/event-stream", &[], &bytes)
        }
        (None, _) if request.method == "POST" && route == "/v1/messages/count_tokens" => respond(
            &mut stream,
            200,
            "application/json",
            &[],
            br#"{"input_tokens":100}"#,
        ),
        // Codex's built-in OpenAI provider tries a WebSocket on the same path first; 426
        // (what a server without WebSockets answers) makes it fall back to HTTP at once
        // (a 404 costs it five reconnects, some seconds, every session).
        (None, _) if request.method == "GET" && route == "/v1/responses" => {
            logged.status = 426;
            respond(
                &mut stream,
                426,
                "application/json",
                &[],
                br#"{"error":{"type":"invalid_request_error","message":"the fake model speaks HTTP, not WebSockets"}}"#,
            )
        }
        (None, _) => {
            logged.status = 404;
            respond(
                &mut stream,
                404,
                "application/json",
                &[],
                br#"{"error":{"type":"not_found_error","message":"the fake model serves POST /v1/messages and /v1/responses"}}"#,
            )
        }
    };
    log.lock().unwrap_or_else(|e| e.into_inner()).push(logged);
    drop(written);
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    kind: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        429 => "Too Many Requests",
        _ => "Not Found",
    };
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\n\
         cache-control: no-cache\r\nconnection: close\r\n{extra}\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// `event: <name>` / `data: <json>` pairs as one SSE body.
fn sse(events: &[(&str, Value)]) -> Vec<u8> {
    let mut out = String::new();
    for (name, data) in events {
        out.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    }
    out.into_bytes()
}

/// A fresh id with `prefix`.
fn new_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{prefix}_{:016x}{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
