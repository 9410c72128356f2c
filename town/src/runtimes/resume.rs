//! The command that resumes an agent's past session in its runtime (`gastown seance`): in a
//! directory that still exists, under the config dir and account the session was kept in, and
//! naming the session the way each CLI finds it from anywhere.

use crate::command::agent::SessionRecord;
use crate::identity::AgentIdentity;
use crate::town::Town;
use std::path::{Path, PathBuf};

/// The command that resumes `session` of `agent` in its runtime, one that works after the
/// agent's home is gone (a polecat's worktree is removed once its work is merged):
///
/// - it starts in the agent's home when that still exists, else in the nearest directory above
///   it that does (`cd <dir> && …`);
/// - it carries the CLI's config-dir variable (`CLAUDE_CONFIG_DIR`, `CODEX_HOME`) where the
///   session was kept: the account's, else the runtime's `env`, else this environment's (the
///   one `gastown run` is usually started in) — and an account's key variable, and what a
///   session gets to start (`IS_SANDBOX=1` for Claude Code as root);
/// - Claude Code looks a session id up under the project directory named after its working
///   directory, which a removed worktree no longer matches: when its transcript
///   (`<config dir>/projects/*/<id>.jsonl`) is found, the command resumes that file
///   (`claude --resume /…/<id>.jsonl`), which works from any directory. Codex finds a session
///   by its id in `$CODEX_HOME/sessions`, from anywhere, and is told to work in the directory
///   it is started in (`-c tui.resume_cwd="current"`; it would ask otherwise).
///
/// `None` when the runtime never told its session id, cannot resume, or is not configured any
/// more.
pub fn command(town: &Town, agent: &str, session: &SessionRecord, exe: &Path) -> Option<String> {
    if session.runtime_session == "-" {
        return None;
    }
    let identity = AgentIdentity::parse(agent).ok()?;
    let runtime = super::by_name(town, &session.runtime, exe).ok()?;
    let home = crate::names::home(&town.root, &identity);
    let cli = super::spec::preset_for_program(&runtime.program).map(|p| p.name);
    let config_var = cli
        .as_deref()
        .and_then(|c| super::accounts::family_vars(c).0);
    // The session lives in its account's config dir: resume it under the same account.
    let account = runtime.accounts.iter().find(|a| a.name == session.account);
    let mut env: Vec<(String, String)> = Vec::new();
    if let Some(var) = config_var {
        let from_runtime = runtime.env.iter().rev().find(|(k, _)| k == var);
        let from_here = std::env::var(var).ok().filter(|v| !v.is_empty());
        let from_account = account.and_then(|a| a.env.iter().find(|(k, _)| k == var));
        if from_account.is_none() {
            match (from_runtime, from_here) {
                (Some((k, v)), _) => env.push((k.clone(), v.clone())),
                (None, Some(v)) => env.push((var.to_string(), v)),
                (None, None) => {}
            }
        }
    }
    if let Some(account) = account {
        env.extend(account.env.iter().cloned());
    }
    // What a session gets to start unattended (IS_SANDBOX=1 for Claude Code as root).
    env.extend(super::clean_start::session_env(
        &runtime,
        &|key| std::env::var(key).ok(),
        super::clean_start::running_as_root(),
    ));
    let mut target = session.runtime_session.clone();
    if cli.as_deref() == Some("claude") {
        let config = env
            .iter()
            .rev()
            .find(|(k, _)| k == "CLAUDE_CONFIG_DIR")
            .map(|(_, v)| PathBuf::from(v))
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".claude")));
        if let Some(path) = config
            .and_then(|c| super::session_files::claude_transcript(&c, &session.runtime_session))
        {
            target = path.to_string_lossy().into_owned();
        }
    }
    let mut argv = vec![runtime.program.clone()];
    argv.extend(runtime.resume_argv(&target)?);
    if cli.as_deref() == Some("codex") {
        // Resumed elsewhere than it ran, Codex asks which directory to work in; the one the
        // command starts in is the one that exists.
        argv.extend(["-c".to_string(), "tui.resume_cwd=\"current\"".to_string()]);
    }
    let mut prefix: String = env
        .iter()
        .map(|(k, v)| format!("{k}={} ", shell_words::quote(v)))
        .collect();
    if let Some((key, source)) = account.and_then(|a| a.key_from.as_ref()) {
        prefix.push_str(&format!("{key}=\"${source}\" "));
    }
    let dir = home
        .ancestors()
        .find(|d| d.is_dir())
        .unwrap_or(&town.root)
        .to_path_buf();
    Some(format!(
        "cd {} && {prefix}{}",
        shell_words::quote(&dir.to_string_lossy()),
        shell_words::join(argv)
    ))
}
