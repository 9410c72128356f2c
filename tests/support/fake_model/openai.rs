//! The OpenAI Responses API as Codex 0.171 uses it (seen by logging its requests): `input`
//! items of messages, `function_call` and `function_call_output` in; an SSE stream out of
//! response.created, response.output_item.added, a delta, response.output_item.done and
//! response.completed, whose item is an assistant message or an `exec_command` function call
//! (`{"cmd": …}`). A request asking for a JSON-schema answer (`text.format`, Codex's thread
//! title) is a side request.

use super::{Api, Conversation, Reply, Turn, new_id, sse};
use serde_json::{Value, json};

/// The shell tool Codex offers.
const SHELL_TOOL: &str = "exec_command";

/// Read a Responses request into a conversation.
pub fn conversation(body: &Value) -> Conversation {
    let aux = body["text"]["format"]["type"] == "json_schema";
    let mut turns = Vec::new();
    for item in body["input"].as_array().into_iter().flatten() {
        match item["type"].as_str() {
            Some("message") => {
                let text = item["content"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n");
                match item["role"].as_str() {
                    Some("user") => turns.push(Turn::User(text)),
                    Some("assistant") => turns.push(Turn::Assistant(text)),
                    // The developer and system messages are Codex's own instructions.
                    _ => {}
                }
            }
            Some("function_call") => {
                let arguments: Value = item["arguments"]
                    .as_str()
                    .and_then(|a| serde_json::from_str(a).ok())
                    .unwrap_or(Value::Null);
                let command = match (item["name"].as_str(), arguments["cmd"].as_str()) {
                    (Some(SHELL_TOOL), Some(cmd)) => cmd.to_string(),
                    (name, _) => format!("{} {arguments}", name.unwrap_or("?")),
                };
                turns.push(Turn::Call {
                    id: item["call_id"].as_str().unwrap_or("").into(),
                    command,
                });
            }
            Some("function_call_output") => {
                let output = match &item["output"] {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                turns.push(Turn::Result {
                    id: item["call_id"].as_str().unwrap_or("").into(),
                    output,
                });
            }
            _ => {}
        }
    }
    Conversation {
        api: Api::OpenAi,
        aux,
        turns,
    }
}

/// The reply as an SSE body.
pub fn render(request: &Value, reply: &Reply) -> Vec<u8> {
    let model = request["model"].as_str().unwrap_or("fake-model");
    let response_id = new_id("resp");
    let (added, delta, done) = match reply {
        Reply::Text(text) => {
            let id = new_id("msg");
            let item = |text: &str, status: &str| {
                json!({"type": "message", "id": id, "role": "assistant", "status": status,
                    "content": [{"type": "output_text", "text": text, "annotations": []}]})
            };
            (
                item("", "in_progress"),
                (
                    "response.output_text.delta",
                    json!({"type": "response.output_text.delta", "item_id": id,
                        "output_index": 0, "content_index": 0, "delta": text}),
                ),
                item(text, "completed"),
            )
        }
        Reply::Shell(command) => {
            let (id, call_id) = (new_id("fc"), new_id("call"));
            let arguments = json!({"cmd": command}).to_string();
            let item = |arguments: &str, status: &str| {
                json!({"type": "function_call", "id": id, "call_id": call_id,
                    "name": SHELL_TOOL, "arguments": arguments, "status": status})
            };
            (
                item("", "in_progress"),
                (
                    "response.function_call_arguments.delta",
                    json!({"type": "response.function_call_arguments.delta", "item_id": id,
                        "output_index": 0, "delta": arguments}),
                ),
                item(&arguments, "completed"),
            )
        }
    };
    let response = |status: &str, output: Value| {
        json!({"id": response_id, "object": "response", "created_at": 0, "status": status,
            "model": model, "output": output,
            "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 120}})
    };
    let events = [
        (
            "response.created",
            json!({"type": "response.created", "response": response("in_progress", json!([]))}),
        ),
        (
            "response.output_item.added",
            json!({"type": "response.output_item.added", "output_index": 0, "item": added}),
        ),
        delta,
        (
            "response.output_item.done",
            json!({"type": "response.output_item.done", "output_index": 0, "item": done}),
        ),
        (
            "response.completed",
            json!({"type": "response.completed",
                "response": response("completed", json!([done]))}),
        ),
    ];
    sse(&events)
}

/// The OpenAI API's body for a hit rate limit (HTTP 429); with `resets_at`, a hit usage limit
/// instead (`usage_limit_reached`, its reset as a Unix time).
pub fn rate_limited(message: &str, resets_at: Option<u64>) -> Value {
    match resets_at {
        Some(at) => json!({
            "error": {
                "type": "usage_limit_reached",
                "message": message,
                "plan_type": "plus",
                "resets_at": at,
            }
        }),
        None => json!({
            "error": {
                "message": message,
                "type": "requests",
                "param": null,
                "code": "rate_limit_exceeded",
            }
        }),
    }
}
