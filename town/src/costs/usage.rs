//! What a runtime itself records of the tokens its sessions used, read incrementally:
//!
//! - **Claude Code** writes a transcript (JSONL) per session; every assistant message carries
//!   `message.usage` (`input_tokens`, `output_tokens`, `cache_creation_input_tokens`,
//!   `cache_read_input_tokens`) and `message.model`. One message may be written as several lines
//!   (one per content block), each repeating the same usage: a message counts once, by its
//!   `message.id`.
//! - **Codex** writes a rollout file per session; its `token_count` events carry the session's
//!   running total (`info.total_token_usage`: `input_tokens` including `cached_input_tokens`,
//!   `output_tokens`), and `turn_context` lines name the model. What a read adds is the growth
//!   of that total since the last read.
//!
//! A read starts where the last one stopped (a byte offset) and only takes complete lines: a
//! line being written (no newline yet) is left for the next read, so a transcript truncated
//! mid-line is never half-counted. A file shorter than the offset was rotated or rewritten: it
//! is read again from the start, and messages already counted (by id) are not counted twice.

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Tokens, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tokens {
    /// Input tokens not read from the cache.
    pub input: u64,
    pub output: u64,
    /// Input written to the prompt cache.
    pub cache_write: u64,
    /// Input read from the prompt cache.
    pub cache_read: u64,
}

impl Tokens {
    pub fn add(&mut self, other: &Tokens) {
        self.input += other.input;
        self.output += other.output;
        self.cache_write += other.cache_write;
        self.cache_read += other.cache_read;
    }

    pub fn total(&self) -> u64 {
        self.input + self.output + self.cache_write + self.cache_read
    }

    pub fn is_zero(&self) -> bool {
        self.total() == 0
    }
}

/// Tokens one model used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelTokens {
    pub model: String,
    pub tokens: Tokens,
}

/// Where a transcript was read up to, kept between reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    /// Bytes of complete lines read.
    pub offset: u64,
    /// Complete lines read (for line numbers in what is reported).
    #[serde(default)]
    pub lines: u64,
    /// Claude: the ids of the messages counted (so a re-read never counts one twice).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub counted: BTreeSet<String>,
    /// Codex: the session's running total at the last read, per model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub totals: Vec<(String, Tokens)>,
}

/// What one read found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    /// New usage since the cursor, per model (models in first-seen order).
    pub usage: Vec<ModelTokens>,
    /// Lines that are not JSON or not what the runtime writes: skipped, by line number.
    pub skipped: Vec<(u64, String)>,
    /// The file was missing (nothing read; the cursor is kept).
    pub missing: bool,
    /// The file was shorter than the cursor: read again from the start.
    pub rewound: bool,
}

fn add_usage(usage: &mut Vec<ModelTokens>, model: &str, tokens: &Tokens) {
    match usage.iter_mut().find(|m| m.model == model) {
        Some(m) => m.tokens.add(tokens),
        None => usage.push(ModelTokens {
            model: model.to_string(),
            tokens: *tokens,
        }),
    }
}

/// The complete lines of `path` after `cursor.offset` (rewinding when the file shrank), parsed,
/// with their line numbers; lines that are not JSON go to `read.skipped`. Moves the cursor to the
/// end of the last complete line; `None` when the file is missing.
fn new_lines(
    path: &Path,
    cursor: &mut Cursor,
    read: &mut Reading,
) -> std::io::Result<Option<Vec<(u64, serde_json::Value)>>> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            read.missing = true;
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    if len < cursor.offset {
        read.rewound = true;
        cursor.offset = 0;
        cursor.lines = 0;
        cursor.totals.clear();
    }
    file.seek(SeekFrom::Start(cursor.offset))?;
    let mut bytes = Vec::new();
    file.take(len - cursor.offset).read_to_end(&mut bytes)?;
    let complete = bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |last| last + 1);
    bytes.truncate(complete);
    cursor.offset += complete as u64;
    let mut parsed = Vec::new();
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        cursor.lines += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice(line) {
            Ok(value) => parsed.push((cursor.lines, value)),
            Err(e) => read.skipped.push((cursor.lines, format!("not JSON: {e}"))),
        }
    }
    Ok(Some(parsed))
}

/// New usage in a Claude Code transcript since `cursor` (which it moves on).
pub fn read_claude(path: &Path, cursor: &mut Cursor) -> std::io::Result<Reading> {
    let mut read = Reading::default();
    let Some(lines) = new_lines(path, cursor, &mut read)? else {
        return Ok(read);
    };
    for (number, value) in lines {
        if value["type"] != "assistant" {
            continue;
        }
        let message = &value["message"];
        let Some(usage) = message.get("usage").filter(|u| u.is_object()) else {
            continue;
        };
        let count = |key: &str| usage[key].as_u64().unwrap_or(0);
        let tokens = Tokens {
            input: count("input_tokens"),
            output: count("output_tokens"),
            cache_write: count("cache_creation_input_tokens"),
            cache_read: count("cache_read_input_tokens"),
        };
        // A message without an id is counted by its line's own id (uuid), else its position.
        let id = message["id"]
            .as_str()
            .or_else(|| value["uuid"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!("line:{number}"));
        if !cursor.counted.insert(id) {
            continue;
        }
        let model = message["model"].as_str().unwrap_or("unknown");
        add_usage(&mut read.usage, model, &tokens);
    }
    Ok(read)
}

/// New usage in a Codex rollout since `cursor` (which it moves on): the growth of the
/// session's running total.
pub fn read_codex(path: &Path, cursor: &mut Cursor) -> std::io::Result<Reading> {
    let mut read = Reading::default();
    let Some(lines) = new_lines(path, cursor, &mut read)? else {
        return Ok(read);
    };
    let mut model = cursor
        .totals
        .last()
        .map(|(m, _)| m.clone())
        .unwrap_or_else(|| "unknown".to_string());
    for (_, value) in lines {
        let payload = &value["payload"];
        match (value["type"].as_str(), payload["type"].as_str()) {
            (Some("turn_context"), _) => {
                if let Some(m) = payload["model"].as_str() {
                    model = m.to_string();
                }
            }
            (Some("event_msg"), Some("token_count")) => {
                let total = &payload["info"]["total_token_usage"];
                if !total.is_object() {
                    continue;
                }
                let count = |key: &str| total[key].as_u64().unwrap_or(0);
                let cached = count("cached_input_tokens");
                let now = Tokens {
                    input: count("input_tokens").saturating_sub(cached),
                    output: count("output_tokens"),
                    cache_write: 0,
                    cache_read: cached,
                };
                // The running total is the session's (all models): the growth goes to the
                // model of the turn that made it.
                let before = cursor
                    .totals
                    .iter()
                    .fold(Tokens::default(), |mut sum, (_, t)| {
                        sum.add(t);
                        sum
                    });
                let grown = Tokens {
                    input: now.input.saturating_sub(before.input),
                    output: now.output.saturating_sub(before.output),
                    cache_write: 0,
                    cache_read: now.cache_read.saturating_sub(before.cache_read),
                };
                if grown.is_zero() {
                    continue;
                }
                add_usage(&mut read.usage, &model, &grown);
                match cursor.totals.iter_mut().find(|(m, _)| *m == model) {
                    Some((_, t)) => t.add(&grown),
                    None => cursor.totals.push((model.clone(), grown)),
                }
            }
            _ => {}
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn claude_line(id: &str, model: &str, input: u64, output: u64) -> String {
        format!(
            r#"{{"type":"assistant","uuid":"u-{id}","message":{{"id":"{id}","model":"{model}","usage":{{"input_tokens":{input},"output_tokens":{output},"cache_creation_input_tokens":10,"cache_read_input_tokens":20}}}}}}"#
        )
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open");
        f.write_all(text.as_bytes()).expect("write");
    }

    #[test]
    fn claude_messages_count_once_each_across_reads_and_a_half_line_waits() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.jsonl");
        // One message written as two lines (two content blocks), then another.
        append(
            &path,
            "{\"type\":\"user\",\"message\":{\"content\":\"hi\"}}\n",
        );
        append(
            &path,
            &format!("{}\n", claude_line("m1", "claude-sonnet-4-5", 100, 7)),
        );
        append(
            &path,
            &format!("{}\n", claude_line("m1", "claude-sonnet-4-5", 100, 7)),
        );
        let half = claude_line("m2", "claude-sonnet-4-5", 50, 3);
        append(&path, &half[..20]);
        let mut cursor = Cursor::default();
        let read = read_claude(&path, &mut cursor).expect("read");
        assert_eq!(read.usage.len(), 1);
        let t = read.usage[0].tokens;
        assert_eq!(
            (t.input, t.output, t.cache_write, t.cache_read),
            (100, 7, 10, 20)
        );
        assert!(read.skipped.is_empty(), "a half line is not a bad line");

        append(&path, &format!("{}\n", &half[20..]));
        let read = read_claude(&path, &mut cursor).expect("read");
        assert_eq!(
            read.usage[0].tokens.input, 50,
            "the finished line counts now"
        );
        let again = read_claude(&path, &mut cursor).expect("read");
        assert!(again.usage.is_empty(), "nothing new: nothing counted twice");

        // Rotated: the file starts over with the old messages and a new one.
        std::fs::write(
            &path,
            format!(
                "{}\n{}\n",
                claude_line("m1", "claude-sonnet-4-5", 100, 7),
                claude_line("m3", "claude-opus-4-1", 1, 1)
            ),
        )
        .expect("rewrite");
        let read = read_claude(&path, &mut cursor).expect("read");
        assert!(read.rewound);
        assert_eq!(read.usage.len(), 1, "{read:?}");
        assert_eq!(read.usage[0].model, "claude-opus-4-1");
    }

    #[test]
    fn a_missing_transcript_or_a_bad_line_is_reported_not_fatal() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("gone.jsonl");
        let mut cursor = Cursor::default();
        let read = read_claude(&path, &mut cursor).expect("read");
        assert!(read.missing && read.usage.is_empty());
        append(&path, "not json\n");
        append(&path, &format!("{}\n", claude_line("m1", "x", 1, 2)));
        let read = read_claude(&path, &mut cursor).expect("read");
        assert_eq!(read.skipped.len(), 1);
        assert_eq!(read.skipped[0].0, 1, "line numbers from 1");
        assert_eq!(read.usage[0].tokens.output, 2);
        append(&path, "{truncated\n");
        let read = read_claude(&path, &mut cursor).expect("read");
        assert_eq!(
            read.skipped[0].0, 3,
            "numbered in the whole file, not from the last read"
        );
    }

    #[test]
    fn codex_counts_the_growth_of_its_running_total() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("rollout.jsonl");
        let count = |input: u64, cached: u64, output: u64| {
            format!(
                r#"{{"type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{{"input_tokens":{input},"cached_input_tokens":{cached},"output_tokens":{output}}}}}}}}}"#
            )
        };
        append(
            &path,
            "{\"type\":\"turn_context\",\"payload\":{\"model\":\"gpt-5-codex\"}}\n",
        );
        append(&path, &format!("{}\n", count(1000, 400, 50)));
        append(&path, &format!("{}\n", count(1000, 400, 50)));
        let mut cursor = Cursor::default();
        let read = read_codex(&path, &mut cursor).expect("read");
        let t = read.usage[0].tokens;
        assert_eq!((t.input, t.cache_read, t.output), (600, 400, 50));
        append(&path, &format!("{}\n", count(1500, 900, 80)));
        let read = read_codex(&path, &mut cursor).expect("read");
        let t = read.usage[0].tokens;
        // 500 more input, all of it read from the cache.
        assert_eq!((t.input, t.cache_read, t.output), (0, 500, 30));
        assert!(
            read_codex(&path, &mut cursor)
                .expect("read")
                .usage
                .is_empty()
        );
    }
}
