//! The screen lines that say a runtime's usage limit is hit. They are blocking dialogs named
//! [`USAGE_LIMIT`] in each CLI's list (`runtimes::dialogs`), so a session showing one is never
//! typed into; the supervisor reads the line's reset and marks the runtime limited.
//!
//! | CLI | line | source |
//! |---|---|---|
//! | Claude Code (API key) | `API Error: Request rejected (429) · <the API's message>` | seen: 2.1.197 against a 429 `rate_limit_error` (it retries first; the reset is not shown, so backoff) |
//! | Claude Code (subscription) | `You've hit your limit · resets 5pm (UTC)`, `usage limit reached` | its code (`anthropic-ratelimit-unified-reset`), not seen: the fake model cannot log in |
//! | Codex | `You've hit your usage limit. … Try again at <time>.` | its code (`usage_limit_reached`), not seen: needs a ChatGPT login |
//! | Codex (API key) | `exceeded retry limit, last status: 429 Too Many Requests` | its code |
//! | sim | `[sim limit: <reset>]` | its `limit` script step (`src/sim.rs`) |

/// The name of the dialogs that are usage limits.
pub const USAGE_LIMIT: &str = "usage limit";

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
