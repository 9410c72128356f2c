//! The screen lines that say a runtime's usage limit is hit. They are blocking dialogs named
//! [`USAGE_LIMIT`] in each CLI's list (`runtimes::dialogs`), so a session showing one is never
//! typed into; the supervisor reads the line's reset and marks the runtime limited.
//!
//! | CLI | line | source |
//! |---|---|---|
//! | Claude Code (API key) | `API Error: Request rejected (429) · <the API's message>` | seen: 2.1.197 against a 429 `rate_limit_error`. It retries a 429 first: `CLAUDE_CODE_MAX_RETRIES` times (10 by default, at most 15), waiting the larger of `retry-after` and 0.5 s doubling to 32 s (about 2.5 min in all); a `retry-after` over 60 s makes it give up at once. The reset is read from the API's message when it says one (`… try again in 10s`); the real API's usually does not, so backoff |
//! | Claude Code (subscription) | `You've hit your session limit · resets 5pm (UTC)` (or weekly, Opus, usage, monthly spend, plain `limit`), `usage limit reached` | its code (`anthropic-ratelimit-unified-reset`), not seen: the fake model cannot log in |
//! | Codex | `■ You’ve hit your usage limit. Upgrade to Pro (…) or try again at 2:11 AM.` (typographic apostrophe; `Dec 7 2:11 AM` on another day, from its format strings) | seen: 0.171.0 against a 429 `usage_limit_reached` with `resets_at`, with an API key. Not retried; the reset is local time, to the minute, and the CLI wraps the line before it (read whole: `actors` `session::screen`) |
//! | Codex (API key) | `■ exceeded retry limit, last status: 429 Too Many Requests` | seen: 0.171.0 against a 429 `rate_limit_exceeded`. Not retried: one request, with the default `request_max_retries` and with 1; the API's message is not shown, so backoff |
//! | sim | `[sim limit: <reset>]` | its `limit` script step (`src/sim.rs`) |

/// The name of the dialogs that are usage limits.
pub const USAGE_LIMIT: &str = "usage limit";

/// How the line of a session gastown holds behind a recorded limit begins (a session started
/// while its runtime is limited: `usage limit: held by gastown: claude limited until …`). Its
/// limit is recorded already; the line is not a new sighting.
pub const HELD: &str = "held by gastown: ";

/// The line a session is held behind while `key`'s limit holds (`describe`d).
pub fn held_line(key: &str, limit: &str) -> String {
    format!("{HELD}{key} {limit}; it gets its prompt at the reset")
}

/// Whether a session's blocked line (`<dialog>: <line>`, as `gastown actors` shows it) is a
/// usage limit.
pub fn is_limit(blocked: &str) -> bool {
    blocked
        .strip_prefix(USAGE_LIMIT)
        .is_some_and(|rest| rest.starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_usage_limit_dialogs_are_limits() {
        assert!(is_limit("usage limit: API Error: Request rejected (429)"));
        assert!(!is_limit("login: Select login method"));
        assert!(!is_limit("usage limits: x"));
    }
}
