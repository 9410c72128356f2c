//! Agent runtimes: how to start an agent CLI in a session, how it takes its startup prompt, how
//! to tell that it waits at its prompt, how to resume one of its earlier sessions, and what it
//! reads from the role's home (hook settings, an instructions file).
//!
//! The built-in `sim` runtime runs this very binary's hidden `sim-agent` command: a scripted
//! agent that behaves like a CLI agent in a PTY, so everything runs with no real agent installed.
//! [`preset`] knows the real CLIs (claude, codex, gemini, cursor, auggie, amp, opencode,
//! copilot); custom runtimes from `town.toml` are built on top of these (`super`).
//!
//! ```
//! use gastown_town::runtimes::spec::{preset, PromptMode};
//! let claude = preset("claude").expect("claude is a preset");
//! assert_eq!(claude.prompt, PromptMode::Argument);
//! assert_eq!(
//!     claude.resume_argv("abc").expect("claude can resume"),
//!     ["--resume", "abc", "--dangerously-skip-permissions"]
//! );
//! ```

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// How a session receives its startup (GUPP) prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptMode {
    /// Appended as the last command-line argument.
    Argument,
    /// Typed into the PTY once the session is ready.
    Typed,
}

/// Which lifecycle hooks a runtime can run for us.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookSupport {
    /// None: the startup prompt and typed nudges are all the agent gets.
    #[default]
    None,
    /// Claude Code's `.claude/settings.json` hooks (SessionStart, UserPromptSubmit).
    ClaudeSettings,
}

/// The file in a role's home the runtime reads its standing instructions from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstructionsFile {
    /// Claude Code's `CLAUDE.md`.
    #[serde(rename = "CLAUDE.md")]
    ClaudeMd,
    /// `AGENTS.md`, read by Codex, Cursor, Amp, opencode, Copilot and others.
    #[default]
    #[serde(rename = "AGENTS.md")]
    AgentsMd,
}

impl InstructionsFile {
    /// The file name.
    pub fn file_name(self) -> &'static str {
        match self {
            InstructionsFile::ClaudeMd => "CLAUDE.md",
            InstructionsFile::AgentsMd => "AGENTS.md",
        }
    }
}

/// The placeholder in [`Runtime::resume_args`] that stands for the runtime's own session id.
pub const SESSION_PLACEHOLDER: &str = "{session}";

/// One runtime: a command line and how to talk to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Runtime {
    /// The name it is configured under (`sim`, `claude`, …).
    pub name: String,
    /// The program to run.
    pub program: String,
    /// Arguments before the prompt.
    pub args: Vec<String>,
    /// Extra environment (e.g. the sim's fault knobs, opencode's permission setting).
    #[serde(default)]
    pub env: Vec<(String, String)>,
    pub prompt: PromptMode,
    /// Text that shows the agent is at its prompt (`None`: quiet output alone means idle).
    pub ready_marker: Option<String>,
    /// How long without output counts as idle.
    #[serde(with = "humantime_serde_compat")]
    pub quiet_period: Duration,
    /// Arguments that resume the runtime's session [`SESSION_PLACEHOLDER`], put before `args`
    /// (`["--resume", "{session}"]`, `["resume", "{session}"]`); empty: it cannot resume.
    #[serde(default)]
    pub resume_args: Vec<String>,
    /// Hooks the runtime runs for us; decides whether the role's home gets hook settings.
    #[serde(default)]
    pub hooks: HookSupport,
    /// Where the role's instructions go in its home.
    #[serde(default)]
    pub instructions_file: InstructionsFile,
    /// The accounts its sessions rotate between (`super::accounts`); none: the environment's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<super::accounts::Account>,
    /// The account a session runs under, chosen when it starts (`None` on the role's runtime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

impl Runtime {
    /// The built-in scripted agent: `<exe> sim-agent`.
    pub fn sim(exe: PathBuf) -> Runtime {
        Runtime {
            name: "sim".to_string(),
            program: exe.to_string_lossy().into_owned(),
            args: vec!["sim-agent".to_string()],
            env: Vec::new(),
            prompt: PromptMode::Typed,
            ready_marker: Some(SIM_PROMPT.trim_end().to_string()),
            quiet_period: Duration::from_millis(150),
            resume_args: Vec::new(),
            hooks: HookSupport::None,
            instructions_file: InstructionsFile::AgentsMd,
            accounts: Vec::new(),
            account: None,
        }
    }

    /// The arguments that resume `session` (the runtime's own session id): the resume template
    /// with the id filled in, then the usual arguments. `None` when the runtime cannot resume.
    pub fn resume_argv(&self, session: &str) -> Option<Vec<String>> {
        if self.resume_args.is_empty() {
            return None;
        }
        let mut argv: Vec<String> = self
            .resume_args
            .iter()
            .map(|a| a.replace(SESSION_PLACEHOLDER, session))
            .collect();
        argv.extend(self.args.iter().cloned());
        Some(argv)
    }

    /// The whole command line (program first) that resumes `session`, for people to read or run.
    pub fn resume_command(&self, session: &str) -> Option<Vec<String>> {
        let mut argv = vec![self.program.clone()];
        argv.extend(self.resume_argv(session)?);
        Some(argv)
    }

    /// The command line that starts a fresh session, without the startup prompt.
    pub fn command(&self) -> Vec<String> {
        let mut argv = vec![self.program.clone()];
        argv.extend(self.args.iter().cloned());
        argv
    }
}

/// The sim agent's prompt (what it prints when it waits for input).
pub const SIM_PROMPT: &str = "sim> ";

/// The name of the built-in scripted runtime.
pub const SIM_NAME: &str = "sim";

/// The preset names, in the order they are listed.
pub const PRESET_NAMES: [&str; 8] = [
    "claude", "codex", "gemini", "cursor", "auggie", "amp", "opencode", "copilot",
];

/// Quiet period of a CLI with a readiness marker: the marker does most of the work.
const MARKED_QUIET: Duration = Duration::from_millis(1000);
/// Quiet period of a CLI without one: long enough to outlast its start-up rendering.
const UNMARKED_QUIET: Duration = Duration::from_millis(3000);

/// One row of the preset table.
struct PresetRow {
    name: &'static str,
    program: &'static str,
    /// The arguments that let it work unattended.
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    prompt: PromptMode,
    ready_marker: Option<&'static str>,
    resume_args: &'static [&'static str],
    hooks: HookSupport,
    instructions_file: InstructionsFile,
}

/// The presets. Flags follow the original Gas Town's presets and each CLI's own help: the
/// unattended-mode flag, how to resume session X, whether the first prompt can be an argument
/// of the interactive command (otherwise it is typed once the session is quiet or shows its
/// prompt). Markers are set only where the CLI's prompt is known and stable.
const PRESETS: [PresetRow; 8] = [
    PresetRow {
        name: "claude",
        program: "claude",
        args: &["--dangerously-skip-permissions"],
        env: &[],
        prompt: PromptMode::Argument,
        ready_marker: Some("❯"),
        resume_args: &["--resume", SESSION_PLACEHOLDER],
        hooks: HookSupport::ClaudeSettings,
        instructions_file: InstructionsFile::ClaudeMd,
    },
    PresetRow {
        name: "codex",
        program: "codex",
        // Its commands run in a plain shell (a login shell's profile may reset PATH and lose
        // gastown), and it does not look for updates at startup (a dialog otherwise).
        args: &[
            "--dangerously-bypass-approvals-and-sandbox",
            "-c",
            "allow_login_shell=false",
            "-c",
            "check_for_update_on_startup=false",
        ],
        env: &[],
        prompt: PromptMode::Typed,
        ready_marker: Some("›"),
        resume_args: &["resume", SESSION_PLACEHOLDER],
        hooks: HookSupport::None,
        instructions_file: InstructionsFile::AgentsMd,
    },
    PresetRow {
        name: "gemini",
        program: "gemini",
        // `--skip-trust`: folder trust is on by default (0.61), and an untrusted worktree
        // otherwise stops at a trust dialog.
        args: &["--approval-mode", "yolo", "--skip-trust"],
        env: &[],
        // In a terminal a positional prompt starts an interactive session with it as the first
        // message (gemini 0.61: "Positional arguments now default to interactive mode"); with
        // `CI=true` in its environment gemini runs headless and exits after answering.
        prompt: PromptMode::Argument,
        ready_marker: None,
        resume_args: &["--resume", SESSION_PLACEHOLDER],
        hooks: HookSupport::None,
        instructions_file: InstructionsFile::AgentsMd,
    },
    PresetRow {
        name: "cursor",
        program: "cursor-agent",
        args: &["-f"],
        env: &[],
        prompt: PromptMode::Argument,
        ready_marker: None,
        resume_args: &["--resume", SESSION_PLACEHOLDER],
        hooks: HookSupport::None,
        instructions_file: InstructionsFile::AgentsMd,
    },
    PresetRow {
        name: "auggie",
        program: "auggie",
        args: &["--allow-indexing"],
        env: &[],
        prompt: PromptMode::Argument,
        ready_marker: None,
        resume_args: &["--resume", SESSION_PLACEHOLDER],
        hooks: HookSupport::None,
        instructions_file: InstructionsFile::AgentsMd,
    },
    PresetRow {
        name: "amp",
        program: "amp",
        args: &["--dangerously-allow-all", "--no-ide"],
        env: &[],
        prompt: PromptMode::Typed,
        ready_marker: None,
        resume_args: &["threads", "continue", SESSION_PLACEHOLDER],
        hooks: HookSupport::None,
        instructions_file: InstructionsFile::AgentsMd,
    },
    PresetRow {
        name: "opencode",
        program: "opencode",
        args: &[],
        // Its unattended mode is a setting, not a flag.
        env: &[("OPENCODE_PERMISSION", r#"{"*":"allow"}"#)],
        // A positional argument is a project directory to opencode, so the prompt is typed.
        prompt: PromptMode::Typed,
        ready_marker: None,
        resume_args: &["--session", SESSION_PLACEHOLDER],
        hooks: HookSupport::None,
        instructions_file: InstructionsFile::AgentsMd,
    },
    PresetRow {
        name: "copilot",
        program: "copilot",
        args: &["--yolo"],
        env: &[],
        prompt: PromptMode::Typed,
        ready_marker: None,
        resume_args: &["--resume", SESSION_PLACEHOLDER],
        hooks: HookSupport::None,
        instructions_file: InstructionsFile::AgentsMd,
    },
];

impl PresetRow {
    fn runtime(&self) -> Runtime {
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        Runtime {
            name: self.name.to_string(),
            program: self.program.to_string(),
            args: strings(self.args),
            env: self
                .env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            prompt: self.prompt,
            ready_marker: self.ready_marker.map(str::to_string),
            quiet_period: if self.ready_marker.is_some() {
                MARKED_QUIET
            } else {
                UNMARKED_QUIET
            },
            resume_args: strings(self.resume_args),
            hooks: self.hooks,
            instructions_file: self.instructions_file,
            accounts: Vec::new(),
            account: None,
        }
    }
}

/// The preset called `name`, if there is one (`sim` is not a preset: see [`Runtime::sim`]).
pub fn preset(name: &str) -> Option<Runtime> {
    PRESETS
        .iter()
        .find(|p| p.name == name)
        .map(PresetRow::runtime)
}

/// Every preset, in [`PRESET_NAMES`] order.
pub fn presets() -> Vec<Runtime> {
    PRESETS.iter().map(PresetRow::runtime).collect()
}

/// The preset whose program is `program` (compared by file name, so `/opt/bin/claude` is
/// claude's): custom runtimes that run a preset's CLI behave like that preset.
pub fn preset_for_program(program: &str) -> Option<Runtime> {
    let file_name = program.rsplit('/').next().unwrap_or(program);
    PRESETS
        .iter()
        .find(|p| p.program == file_name)
        .map(PresetRow::runtime)
}

/// The behaviour of a runtime nobody described: typed prompt, quiet output means idle, no
/// resume, no hooks, `AGENTS.md`.
pub fn plain(name: &str, program: &str, args: Vec<String>) -> Runtime {
    Runtime {
        name: name.to_string(),
        program: program.to_string(),
        args,
        env: Vec::new(),
        prompt: PromptMode::Typed,
        ready_marker: None,
        quiet_period: UNMARKED_QUIET,
        resume_args: Vec::new(),
        hooks: HookSupport::None,
        instructions_file: InstructionsFile::AgentsMd,
        accounts: Vec::new(),
        account: None,
    }
}

mod humantime_serde_compat {
    //! Durations as humantime text (`150ms`) in JSON and TOML.
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_complete() {
        let all = presets();
        assert_eq!(
            all.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            PRESET_NAMES
        );
        for rt in &all {
            assert!(!rt.program.is_empty(), "{} has no program", rt.name);
            assert!(
                !rt.program.contains(' '),
                "{}: program is one word",
                rt.name
            );
            assert!(
                rt.resume_args
                    .iter()
                    .any(|a| a.contains(SESSION_PLACEHOLDER)),
                "{}: resume template {:?} lacks {SESSION_PLACEHOLDER}",
                rt.name,
                rt.resume_args
            );
            assert!(rt.quiet_period >= Duration::from_millis(500), "{}", rt.name);
            if let Some(marker) = &rt.ready_marker {
                assert!(!marker.trim().is_empty(), "{}: blank marker", rt.name);
            }
            assert_eq!(preset(&rt.name).as_ref(), Some(rt));
        }
    }

    #[test]
    fn only_claude_has_hooks_and_claude_md() {
        for rt in presets() {
            let claude = rt.name == "claude";
            assert_eq!(
                rt.hooks == HookSupport::ClaudeSettings,
                claude,
                "{}",
                rt.name
            );
            assert_eq!(
                rt.instructions_file == InstructionsFile::ClaudeMd,
                claude,
                "{}",
                rt.name
            );
        }
    }

    #[test]
    fn resume_puts_the_template_first() {
        let check = |name: &str, expected: &[&str]| {
            let rt = preset(name).expect("a preset");
            assert_eq!(rt.resume_command("S1").expect("resumable"), expected);
        };
        check(
            "claude",
            &["claude", "--resume", "S1", "--dangerously-skip-permissions"],
        );
        check(
            "codex",
            &[
                "codex",
                "resume",
                "S1",
                "--dangerously-bypass-approvals-and-sandbox",
                "-c",
                "allow_login_shell=false",
                "-c",
                "check_for_update_on_startup=false",
            ],
        );
        check(
            "amp",
            &[
                "amp",
                "threads",
                "continue",
                "S1",
                "--dangerously-allow-all",
                "--no-ide",
            ],
        );
        check("opencode", &["opencode", "--session", "S1"]);
    }

    /// Each preset's argv and prompt mode as checked against the CLI's own `--help` (versions
    /// and what was verified: docs/runtimes.md, "Presets checked against their CLIs").
    #[test]
    fn preset_argv_matches_the_clis_help() {
        let check = |name: &str, command: &[&str], prompt: PromptMode, resume: &[&str]| {
            let rt = preset(name).expect("a preset");
            assert_eq!(rt.command(), command, "{name}");
            assert_eq!(rt.prompt, prompt, "{name}");
            assert_eq!(rt.resume_args, resume, "{name}");
        };
        use PromptMode::{Argument, Typed};
        check(
            "gemini",
            &["gemini", "--approval-mode", "yolo", "--skip-trust"],
            Argument,
            &["--resume", SESSION_PLACEHOLDER],
        );
        check(
            "auggie",
            &["auggie", "--allow-indexing"],
            Argument,
            &["--resume", SESSION_PLACEHOLDER],
        );
        check(
            "amp",
            &["amp", "--dangerously-allow-all", "--no-ide"],
            Typed,
            &["threads", "continue", SESSION_PLACEHOLDER],
        );
        check(
            "opencode",
            &["opencode"],
            Typed,
            &["--session", SESSION_PLACEHOLDER],
        );
        let opencode = preset("opencode").expect("a preset");
        assert_eq!(
            opencode.env,
            [(
                "OPENCODE_PERMISSION".to_string(),
                r#"{"*":"allow"}"#.to_string()
            )]
        );
        check(
            "copilot",
            &["copilot", "--yolo"],
            Typed,
            &["--resume", SESSION_PLACEHOLDER],
        );
        check(
            "cursor",
            &["cursor-agent", "-f"],
            Argument,
            &["--resume", SESSION_PLACEHOLDER],
        );
    }

    #[test]
    fn sim_cannot_resume_and_is_not_a_preset() {
        let sim = Runtime::sim(PathBuf::from("/bin/gastown"));
        assert_eq!(sim.resume_argv("x"), None);
        assert_eq!(sim.command(), ["/bin/gastown", "sim-agent"]);
        assert_eq!(preset(SIM_NAME), None);
    }

    #[test]
    fn program_lookup_uses_the_file_name() {
        let check = |program: &str, expected: Option<&str>| {
            let found = preset_for_program(program).map(|r| r.name);
            assert_eq!(found.as_deref(), expected, "{program}");
        };
        check("claude", Some("claude"));
        check("/opt/bin/claude", Some("claude"));
        check("cursor-agent", Some("cursor"));
        check("claude-glm", None);
        check("cursor", None);
    }
}
