//! The Anthropic Messages API as Claude Code uses it: `messages` of text, `tool_use` and
//! `tool_result` blocks in; a message with a text or a `Bash` tool_use block out, as JSON or as
//! the SSE sequence message_start, content_block_start, content_block_delta, content_block_stop,
//! message_delta, message_stop.

use super::{Api, Conversation, Reply, Turn, new_id, sse};
use serde_json::{Value, json};

/// The shell tool Claude Code offers.
const SHELL_TOOL: &str = "Bash";

/// Read a Messages request into a conversation.
pub fn conversation(body: &Value) -> Conversation {
    let aux = body["tools"].as_array().is_none_or(|t| t.is_empty());
    let mut turns = Vec::new();
    for message in body["messages"].as_array().into_iter().flatten() {
        let assistant = message["role"] == "assistant";
        let text_turn = |text: String| {
            if assistant {
                Turn::Assistant(text)
            } else {
                Turn::User(text)
            }
        };
        match &message["content"] {
            Value::String(text) => turns.push(text_turn(text.clone())),
            Value::Array(blocks) => {
                for block in blocks {
                    match block["type"].as_str() {
                        Some("text") => {
                            turns.push(text_turn(block["text"].as_str().unwrap_or("").into()))
                        }
                        Some("tool_use") => {
                            let input = &block["input"];
                            let command = match (block["name"].as_str(), input["command"].as_str())
                            {
                                (Some(SHELL_TOOL), Some(command)) => command.to_string(),
                                (name, _) => format!("{} {input}", name.unwrap_or("?")),
                            };
                            turns.push(Turn::Call {
                                id: block["id"].as_str().unwrap_or("").into(),
                                command,
                            });
                        }
                        Some("tool_result") => turns.push(Turn::Result {
                            id: block["tool_use_id"].as_str().unwrap_or("").into(),
                            output: text_of(&block["content"]),
                        }),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Conversation {
        api: Api::Anthropic,
        aux,
        turns,
    }
}

/// A tool result's content: a string, or text blocks.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The reply as (content type, body): SSE when the request asked to stream, else JSON.
pub fn render(request: &Value, reply: &Reply) -> (&'static str, Vec<u8>) {
    let model = request["model"].as_str().unwrap_or("fake-model");
    let id = new_id("msg");
    let (block, stop_reason) = match reply {
        Reply::Text(text) => (json!({"type": "text", "text": text}), "end_turn"),
        Reply::Shell(command) => (
            json!({
                "type": "tool_use",
                "id": new_id("toolu"),
                "name": SHELL_TOOL,
                "input": {"command": command, "description": "Run a shell command"},
            }),
            "tool_use",
        ),
    };
    let usage = json!({"input_tokens": 100, "output_tokens": 20});
    if request["stream"] != true {
        let message = json!({
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [block], "stop_reason": stop_reason, "stop_sequence": null,
            "usage": usage,
        });
        return ("application/json", message.to_string().into_bytes());
    }
    let (start, delta) = match reply {
        Reply::Text(text) => (
            json!({"type": "text", "text": ""}),
            json!({"type": "text_delta", "text": text}),
        ),
        Reply::Shell(_) => (
            json!({"type": "tool_use", "id": block["id"], "name": SHELL_TOOL, "input": {}}),
            json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
        ),
    };
    let events = [
        (
            "message_start",
            json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 100, "output_tokens": 1},
            }}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": start}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                "usage": {"output_tokens": 20}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    ("text/event-stream", sse(&events))
}

/// The Messages API's body for a hit rate limit (HTTP 429).
pub fn rate_limited(message: &str) -> Value {
    json!({
        "type": "error",
        "error": {"type": "rate_limit_error", "message": message},
        "request_id": new_id("req"),
    })
}
