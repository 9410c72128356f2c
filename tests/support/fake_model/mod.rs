//! A scripted model on 127.0.0.1 for the real agent CLIs: it speaks the Anthropic Messages API
//! (`POST /v1/messages`, JSON or `stream: true` SSE) for Claude Code and the OpenAI Responses
//! API (`POST /v1/responses`, SSE) for Codex. Each request's conversation is read into one
//! shape ([`Conversation`]: user text, the tool calls made and what they returned), a [`Script`]
//! decides the next reply from it — a shell command to run, or text that ends the turn — and
//! the reply is written in the dialect the CLI asked in. So the CLI has a real conversation:
//! what the script does next depends on what the commands it asked for printed.
//!
//! Every request, with its conversation and the reply, is logged for the tests' assertions.
//! Plain HTTP/1.1 with one request per connection (`Connection: close`); no dependencies.

mod anthropic;
mod openai;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub body: Value,
    /// The conversation read from it (model requests only).
    pub conversation: Option<Conversation>,
    /// What was answered (model requests only).
    pub reply: Option<Reply>,
}

/// The running server; it serves until the process ends.
pub struct FakeModel {
    pub port: u16,
    log: Arc<Mutex<Vec<Logged>>>,
}

impl FakeModel {
    /// Listen on 127.0.0.1 (a free port) and answer with `script`.
    pub fn start(script: Script) -> FakeModel {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let served = Arc::clone(&log);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (script, log) = (Arc::clone(&script), Arc::clone(&served));
                std::thread::spawn(move || serve(stream, &script, &log));
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

    /// The conversations of the agent's turns (side requests left out).
    pub fn turns(&self) -> Vec<Conversation> {
        self.requests()
            .into_iter()
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
            out.push_str(&format!("{} {}", r.method, r.path));
            if let Some(c) = &r.conversation {
                let last = c.turns.last().map(|t| format!("{t:?}")).unwrap_or_default();
                let last: String = last.chars().take(300).collect();
                out.push_str(&format!(" aux={} last={last}", c.aux));
            }
            if let Some(reply) = &r.reply {
                out.push_str(&format!(" -> {reply:?}"));
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
    Ok(Request { method, path, body })
}

fn serve(mut stream: TcpStream, script: &Script, log: &Mutex<Vec<Logged>>) {
    let request = match read_request(&stream) {
        Ok(request) => request,
        Err(e) => {
            let _ = respond(&mut stream, 400, "text/plain", e.to_string().as_bytes());
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
    };
    let route = request.path.split('?').next().unwrap_or_default();
    let written = match (request.method.as_str(), route) {
        ("POST", "/v1/messages/count_tokens") => respond(
            &mut stream,
            200,
            "application/json",
            br#"{"input_tokens":100}"#,
        ),
        ("POST", "/v1/messages") => {
            let conversation = anthropic::conversation(&body);
            let reply = script(&conversation);
            let (kind, bytes) = anthropic::render(&body, &reply);
            logged.conversation = Some(conversation);
            logged.reply = Some(reply);
            respond(&mut stream, 200, kind, &bytes)
        }
        ("POST", "/v1/responses") => {
            let conversation = openai::conversation(&body);
            let reply = script(&conversation);
            let bytes = openai::render(&body, &reply);
            logged.conversation = Some(conversation);
            logged.reply = Some(reply);
            respond(&mut stream, 200, "text/event-stream", &bytes)
        }
        _ => respond(
            &mut stream,
            404,
            "application/json",
            br#"{"error":{"type":"not_found_error","message":"the fake model serves POST /v1/messages and /v1/responses"}}"#,
        ),
    };
    log.lock().unwrap_or_else(|e| e.into_inner()).push(logged);
    drop(written);
}

fn respond(stream: &mut TcpStream, status: u16, kind: &str, body: &[u8]) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        _ => "Not Found",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\n\
         cache-control: no-cache\r\nconnection: close\r\n\r\n",
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
