//! Agent runtimes: how to start an agent CLI in a session and how it takes its startup prompt.
//!
//! The built-in `sim` runtime runs this very binary's hidden `sim-agent` command: a scripted
//! agent that behaves like a CLI agent in a PTY, so everything runs with no real agent installed.
//! Presets for real CLIs (claude, codex, …) and custom commands come with rig configuration.

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

/// One runtime: a command line and how to talk to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Runtime {
    /// The name it is configured under (`sim`, `claude`, …).
    pub name: String,
    /// The program to run.
    pub program: String,
    /// Arguments before the prompt.
    pub args: Vec<String>,
    /// Extra environment (e.g. the sim's fault knobs).
    #[serde(default)]
    pub env: Vec<(String, String)>,
    pub prompt: PromptMode,
    /// Text that shows the agent is at its prompt.
    pub ready_marker: Option<String>,
    /// How long without output counts as idle.
    #[serde(with = "humantime_serde_compat")]
    pub quiet_period: Duration,
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
        }
    }
}

/// The sim agent's prompt (what it prints when it waits for input).
pub const SIM_PROMPT: &str = "sim> ";

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
