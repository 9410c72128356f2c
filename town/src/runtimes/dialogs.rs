//! The screens a CLI shows that wait for a human and are not its prompt: trust of a folder,
//! login, onboarding, an update, a usage limit, the bypass-permissions acceptance, a permission
//! prompt. Some contain the CLI's ready marker (Claude's trust dialog shows `❯` before its first
//! option, Codex's `›`), so readiness alone would type the startup prompt and nudges into them.
//!
//! A session whose screen shows one of these is never typed into (it is not idle), shows as
//! `blocked: <the dialog's line>` in `gastown actors`, and is answered by the session when the
//! dialog has a safe answer: trusting the session's own directory, which gastown made (a rig's
//! worktree, a role's home) and already marks trusted before the session starts
//! (`clean_start`). Every other dialog waits for a human (`gastown attach`).
//!
//! The texts were read off the real screens (Claude Code 2.1.197, Codex 0.171.0, and the other
//! presets' first screens offline, `docs/runtimes.md`) where the harness could show them; the
//! others follow the CLIs' wording and are marked so.

use crate::limits::signals::USAGE_LIMIT;
use crate::runtimes::spec::{Runtime, SIM_NAME, preset_for_program};

/// One blocking screen of a runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialog {
    /// What it asks, in a word or two (`trust`, `login`, …).
    pub name: &'static str,
    /// Text whose presence on the screen means the dialog is up.
    pub pattern: &'static str,
    /// Keys that answer it safely, if gastown may; `None`: a human must.
    pub answer: Option<&'static str>,
}

const fn dialog(name: &'static str, pattern: &'static str) -> Dialog {
    Dialog {
        name,
        pattern,
        answer: None,
    }
}

/// Claude Code's: the first five seen on its screen, the rest from its wording.
const CLAUDE: &[Dialog] = &[
    // "Quick safety check: Is this a project you created or one you trust?" — option 1, "Yes,
    // I trust this folder", is selected: Enter trusts the session's own directory.
    Dialog {
        name: "trust",
        pattern: "Is this a project you created or one you trust?",
        answer: Some("\r"),
    },
    dialog("api key", "Detected a custom API key in your environment"),
    dialog("bypass permissions", "running in Bypass Permissions mode"),
    dialog("onboarding", "Unable to connect to Anthropic services"),
    dialog("theme", "Choose the text style that looks best"),
    dialog("login", "Select login method"),
    dialog(USAGE_LIMIT, "usage limit reached"),
    // Seen: an API-key session after the API's 429 and the CLI's own retries.
    dialog(USAGE_LIMIT, "API Error: Request rejected (429)"),
    // A subscription's limit, from its code: "You've hit your session limit · resets 5pm
    // (UTC)" — or weekly, Opus, usage, monthly spend limit, or plain "limit".
    dialog(USAGE_LIMIT, "You've hit your "),
    dialog("permission", "Do you want to proceed?"),
];

/// Codex's: trust and login seen on its screen, the rest from its wording.
const CODEX: &[Dialog] = &[
    // "Trust this folder?" with "› 1. Trust and continue" selected.
    Dialog {
        name: "trust",
        pattern: "Trust this folder?",
        answer: Some("\r"),
    },
    dialog("login", "Sign in with ChatGPT"),
    dialog("update", "Update available!"),
    // Seen: "■ You’ve hit your usage limit. Upgrade to Pro (…) or try again at 2:11 AM." —
    // with a typographic apostrophe, so the pattern starts after it.
    dialog(USAGE_LIMIT, "hit your usage limit"),
    // Seen: an API-key provider's 429 `rate_limit_exceeded`, not retried, no reset shown.
    dialog(USAGE_LIMIT, "exceeded retry limit, last status: 429"),
    dialog("permission", "Would you like to run the following command?"),
];

/// Gemini CLI 0.61.0's login screen, seen offline with only `GEMINI_API_KEY` set (the key must
/// also be chosen in its settings).
const GEMINI: &[Dialog] = &[dialog("login", "How would you like to authenticate")];

/// Auggie 0.36.0's login screen, seen without an Augment session.
const AUGGIE: &[Dialog] = &[dialog("login", "Login to continue")];

/// Amp's login question, seen without a key.
const AMP: &[Dialog] = &[dialog("login", "Would you like to log in to Amp?")];

/// Copilot 1.0.102's folder trust, seen in a new folder despite `--yolo`. Which option it has
/// selected was not seen, so a human answers it (or trusts the folder in Copilot beforehand).
const COPILOT: &[Dialog] = &[dialog("trust", "Do you trust the files in this folder?")];

/// The built-in sim's, shown by its `GASTOWN_SIM_DIALOG` knob (`src/sim.rs`).
const SIM: &[Dialog] = &[
    Dialog {
        name: "trust",
        pattern: "[sim dialog: trust]",
        answer: Some("\r"),
    },
    dialog("login", "[sim dialog: login]"),
    dialog(USAGE_LIMIT, "[sim limit:"),
];

/// The blocking screens of `runtime`: by the CLI it runs (`claude`, `/opt/bin/codex`), else by
/// its name; none for a CLI nobody described.
pub fn dialogs(runtime: &Runtime) -> &'static [Dialog] {
    let by_program = preset_for_program(&runtime.program).map(|p| p.name);
    match by_program.as_deref().unwrap_or(runtime.name.as_str()) {
        "claude" => CLAUDE,
        "codex" => CODEX,
        "gemini" => GEMINI,
        "auggie" => AUGGIE,
        "amp" => AMP,
        "copilot" => COPILOT,
        SIM_NAME => SIM,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtimes::spec::preset;
    use std::path::PathBuf;

    #[test]
    fn claude_codex_and_sim_know_their_dialogs_and_only_trust_is_answered() {
        for (runtime, count) in [
            (preset("claude").expect("preset"), CLAUDE.len()),
            (preset("codex").expect("preset"), CODEX.len()),
            (Runtime::sim(PathBuf::from("/bin/gastown")), SIM.len()),
        ] {
            let found = dialogs(&runtime);
            assert_eq!(found.len(), count, "{}", runtime.name);
            for d in found {
                assert!(!d.pattern.trim().is_empty(), "{d:?}");
                assert_eq!(d.answer.is_some(), d.name == "trust", "{d:?}");
            }
        }
        // The other presets' screens as seen; only a trust whose safe option is known is answered.
        for (name, expected) in [
            ("gemini", "login"),
            ("auggie", "login"),
            ("amp", "login"),
            ("copilot", "trust"),
        ] {
            let found = dialogs(&preset(name).expect("preset"));
            assert_eq!(found.len(), 1, "{name}");
            assert_eq!(found[0].name, expected, "{name}");
            assert_eq!(found[0].answer, None, "{name}: a human answers");
        }
        assert!(dialogs(&preset("opencode").expect("preset")).is_empty());
        let mut custom = preset("gemini").expect("preset");
        custom.program = "/opt/bin/claude".into();
        assert_eq!(dialogs(&custom), CLAUDE, "by the program it runs");
    }

    #[test]
    fn the_ready_marker_is_no_dialog() {
        for name in ["claude", "codex"] {
            let runtime = preset(name).expect("preset");
            let marker = runtime.ready_marker.clone().expect("a marker");
            for d in dialogs(&runtime) {
                assert!(!d.pattern.contains(&marker), "{name}: {d:?}");
            }
        }
    }
}
