//! What a real agent CLI needs written down before it reaches its prompt with nobody at the
//! keyboard — found by running each CLI against a scripted model (`docs/runtimes.md`, "Sessions
//! start clean"):
//!
//! - **Claude Code** keeps its state in `.claude.json` (in `$CLAUDE_CONFIG_DIR`, else `$HOME`)
//!   and its user settings in `settings.json` (in `$CLAUDE_CONFIG_DIR`, else `$HOME/.claude`).
//!   Without `hasCompletedOnboarding` it runs its first-run screens (and a connectivity check
//!   to api.anthropic.com); without `projects.<dir>.hasTrustDialogAccepted` it asks whether to
//!   trust the folder; an `ANTHROPIC_API_KEY` not listed in `customApiKeyResponses.approved`
//!   (its last 20 characters) is asked about; `--dangerously-skip-permissions` asks for the
//!   acceptance `skipDangerousModePermissionPrompt` records.
//! - **Codex** asks to trust every folder that is not `trust_level = "trusted"` under
//!   `[projects."<dir>"]` of `$CODEX_HOME/config.toml` (default `$HOME/.codex`). It does not
//!   read `OPENAI_API_KEY` from its environment: it shows its login screen until someone runs
//!   `codex login --with-api-key`, which writes `$CODEX_HOME/auth.json` as
//!   `{"auth_mode": "apikey", "OPENAI_API_KEY": "<key>"}` (mode 0600; read off Codex 0.171.0).
//!   When the session's environment has the key (the supervisor's, or an account's
//!   `api_key_env`) and the Codex home has no `auth.json`, gastown writes that same file; an
//!   existing one (a ChatGPT login, another key) is never touched.
//! - **Claude Code as root** refuses `--dangerously-skip-permissions` unless `IS_SANDBOX=1`:
//!   [`session_env`] adds it to such a session's environment unless the user set it.
//!
//! Every file is merged, never replaced: the user's keys (and keys we do not know) are kept, a
//! key already answered is not answered again, an API key the user rejected stays rejected (the
//! dialog then shows, and the session is reported blocked), and a file that cannot be parsed is
//! left alone with a warning. Writes go through a temporary file and a rename, so a CLI reading
//! concurrently never sees half a file.

use anyhow::{Context, Result};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What a session will run with, as far as preparing for it goes.
#[derive(Debug, Clone, Default)]
pub struct SessionSetup {
    /// The `gastown` binary sessions call (hooks run it by this absolute path).
    pub gastown: PathBuf,
    /// The session's environment: the supervisor's, with the runtime's `env` on top.
    pub env: BTreeMap<String, String>,
}

impl SessionSetup {
    /// The setup of a session started by this process: its environment and `gastown` binary.
    pub fn current(gastown: PathBuf) -> SessionSetup {
        SessionSetup {
            gastown,
            env: std::env::vars().collect(),
        }
    }

    /// This setup with the runtime's own environment on top.
    pub fn with_env(&self, extra: &[(String, String)]) -> SessionSetup {
        let mut env = self.env.clone();
        env.extend(extra.iter().cloned());
        SessionSetup {
            gastown: self.gastown.clone(),
            env,
        }
    }

    fn var(&self, key: &str) -> Option<&str> {
        self.env
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn home(&self) -> Option<PathBuf> {
        self.var("HOME").map(PathBuf::from)
    }
}

/// Where Claude Code keeps its state and user settings for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaudeFiles {
    /// `.claude.json`: onboarding, per-project trust, API-key answers.
    pub state: PathBuf,
    /// The user's `settings.json`.
    pub settings: PathBuf,
}

/// Claude Code's files for `setup`: under `$CLAUDE_CONFIG_DIR` when set, else `$HOME`.
pub fn claude_files(setup: &SessionSetup) -> Option<ClaudeFiles> {
    if let Some(dir) = setup.var("CLAUDE_CONFIG_DIR") {
        let dir = PathBuf::from(dir);
        return Some(ClaudeFiles {
            state: dir.join(".claude.json"),
            settings: dir.join("settings.json"),
        });
    }
    let home = setup.home()?;
    Some(ClaudeFiles {
        state: home.join(".claude.json"),
        settings: home.join(".claude").join("settings.json"),
    })
}

/// Codex's home for `setup`: `$CODEX_HOME`, else `$HOME/.codex`.
pub fn codex_home(setup: &SessionSetup) -> Option<PathBuf> {
    match setup.var("CODEX_HOME") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => Some(setup.home()?.join(".codex")),
    }
}

/// Codex's `config.toml` for `setup`: `$CODEX_HOME/config.toml`, else `$HOME/.codex/config.toml`.
pub fn codex_config(setup: &SessionSetup) -> Option<PathBuf> {
    Some(codex_home(setup)?.join("config.toml"))
}

/// The variable Codex's API key is taken from (an account's `api_key_env` lands in it too).
pub const OPENAI_KEY: &str = "OPENAI_API_KEY";

/// Claude Code's flag for running with no permission prompts.
pub const CLAUDE_BYPASS: &str = "--dangerously-skip-permissions";

/// What Claude Code as root needs in its environment to accept [`CLAUDE_BYPASS`].
pub const IS_SANDBOX: &str = "IS_SANDBOX";

/// The variables gastown adds to a session of `runtime` so that its CLI starts with no human:
/// `IS_SANDBOX=1` for Claude Code run with [`CLAUDE_BYPASS`] by root (it refuses the flag
/// otherwise and exits), unless the runtime's environment or `inherited` (the supervisor's)
/// sets it already. `root` says whether sessions run as root.
pub fn session_env(
    runtime: &crate::runtimes::spec::Runtime,
    inherited: &dyn Fn(&str) -> Option<String>,
    root: bool,
) -> Vec<(String, String)> {
    let claude = crate::runtimes::spec::preset_for_program(&runtime.program)
        .is_some_and(|p| p.name == "claude");
    let bypass = runtime.args.iter().any(|a| a == CLAUDE_BYPASS);
    let set = runtime.env.iter().any(|(k, _)| k == IS_SANDBOX) || inherited(IS_SANDBOX).is_some();
    if claude && bypass && root && !set {
        vec![(IS_SANDBOX.to_string(), "1".to_string())]
    } else {
        Vec::new()
    }
}

/// Whether this process runs as root (its sessions then do too).
pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Sessions start concurrently and share these files: one read-modify-write at a time, so no
/// session's trust is lost to another's.
static WRITING: Mutex<()> = Mutex::new(());

/// How many trailing characters of an API key Claude Code records when it is approved.
const CLAUDE_KEY_SUFFIX: usize = 20;

/// Make Claude Code start in `dirs` without a dialog: onboarding done, each directory trusted,
/// the environment's API key approved, and (when `bypass` — it runs with
/// `--dangerously-skip-permissions`) the bypass-permissions mode accepted.
pub fn prepare_claude(setup: &SessionSetup, dirs: &[PathBuf], bypass: bool) -> Result<()> {
    let _one_writer = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    let Some(files) = claude_files(setup) else {
        tracing::warn!(
            "neither CLAUDE_CONFIG_DIR nor HOME is set: Claude Code's state not prepared"
        );
        return Ok(());
    };
    let key = setup.var("ANTHROPIC_API_KEY").map(str::to_string);
    merge_json(&files.state, |state| {
        claude_state(state, dirs, key.as_deref())
    })?;
    if bypass {
        merge_json(&files.settings, |settings| {
            set_if_absent(
                settings,
                "skipDangerousModePermissionPrompt",
                Value::Bool(true),
            )
        })?;
    }
    Ok(())
}

/// The changes to `.claude.json`; true when anything changed.
pub fn claude_state(state: &mut Map<String, Value>, dirs: &[PathBuf], key: Option<&str>) -> bool {
    let mut changed = set_if_absent(state, "hasCompletedOnboarding", Value::Bool(true));
    let projects = object_at(state, "projects", &mut changed);
    for dir in dirs {
        let project = object_at(projects, &dir.to_string_lossy(), &mut changed);
        if project.get("hasTrustDialogAccepted") != Some(&Value::Bool(true)) {
            project.insert("hasTrustDialogAccepted".into(), Value::Bool(true));
            changed = true;
        }
    }
    if let Some(key) = key {
        let start = key
            .char_indices()
            .rev()
            .nth(CLAUDE_KEY_SUFFIX - 1)
            .map_or(0, |(i, _)| i);
        let suffix = Value::String(key[start..].to_string());
        let responses = object_at(state, "customApiKeyResponses", &mut changed);
        let listed = |responses: &Map<String, Value>, list: &str| {
            responses
                .get(list)
                .and_then(Value::as_array)
                .is_some_and(|l| l.contains(&suffix))
        };
        // A key the user turned down stays turned down.
        if !listed(responses, "approved") && !listed(responses, "rejected") {
            let approved = responses
                .entry("approved")
                .or_insert_with(|| Value::Array(Vec::new()));
            if !approved.is_array() {
                *approved = Value::Array(Vec::new());
            }
            if let Value::Array(list) = approved {
                list.push(suffix);
            }
            responses
                .entry("rejected")
                .or_insert_with(|| Value::Array(Vec::new()));
            changed = true;
        }
    }
    changed
}

/// Make Codex start in `dirs` without asking to trust them, and logged in with the
/// environment's API key when it has no login yet ([`codex_login`]).
pub fn prepare_codex(setup: &SessionSetup, dirs: &[PathBuf]) -> Result<()> {
    let _one_writer = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    let Some(home) = codex_home(setup) else {
        tracing::warn!("neither CODEX_HOME nor HOME is set: Codex's trust and login not prepared");
        return Ok(());
    };
    codex_login(&home, setup.var(OPENAI_KEY))?;
    let path = home.join("config.toml");
    let existing = read_optional(&path)?;
    let mut doc = match existing
        .as_deref()
        .unwrap_or("")
        .parse::<toml_edit::DocumentMut>()
    {
        Ok(doc) => doc,
        Err(e) => {
            tracing::warn!(path = %path.display(), "not valid TOML ({e}); Codex's trust not added");
            return Ok(());
        }
    };
    if !codex_trust(&mut doc, dirs) {
        return Ok(());
    }
    write_atomic(&path, &doc.to_string())
}

/// What `codex login --with-api-key` does: write `<home>/auth.json` with `key` — unless there
/// is no key, or the file is there already (any login, the user's: never replaced). True when
/// written.
pub fn codex_login(home: &Path, key: Option<&str>) -> Result<bool> {
    let Some(key) = key else {
        return Ok(false);
    };
    let path = home.join("auth.json");
    if fs::symlink_metadata(&path).is_ok() {
        return Ok(false);
    }
    let auth = serde_json::json!({ "auth_mode": "apikey", OPENAI_KEY: key });
    let mut text = serde_json::to_string_pretty(&auth).context("cannot render auth.json")?;
    text.push('\n');
    write_atomic(&path, &text)?;
    Ok(true)
}

/// Mark each of `dirs` trusted in a Codex `config.toml`; true when anything changed. A table
/// that is not a table (someone's odd file) is left alone.
pub fn codex_trust(doc: &mut toml_edit::DocumentMut, dirs: &[PathBuf]) -> bool {
    use toml_edit::{Item, Table, value};
    let root = doc.as_table_mut();
    if !root.contains_key("projects") {
        let mut projects = Table::new();
        projects.set_implicit(true);
        root.insert("projects", Item::Table(projects));
    }
    let Some(projects) = root.get_mut("projects").and_then(Item::as_table_mut) else {
        return false;
    };
    let mut changed = false;
    for dir in dirs {
        let key = dir.to_string_lossy();
        if !projects.contains_key(&key) {
            projects.insert(&key, Item::Table(Table::new()));
        }
        let Some(project) = projects.get_mut(&key).and_then(Item::as_table_like_mut) else {
            continue;
        };
        if project.get("trust_level").and_then(Item::as_str) != Some("trusted") {
            project.insert("trust_level", value("trusted"));
            changed = true;
        }
    }
    changed
}

/// Insert `key = value` unless the key is there; true when inserted.
fn set_if_absent(map: &mut Map<String, Value>, key: &str, value: Value) -> bool {
    if map.contains_key(key) {
        return false;
    }
    map.insert(key.to_string(), value);
    true
}

/// The object under `key`, made (or, when not an object, replaced) as needed.
fn object_at<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
    changed: &mut bool,
) -> &'a mut Map<String, Value> {
    let entry = map.entry(key.to_string()).or_insert_with(|| {
        *changed = true;
        Value::Object(Map::new())
    });
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
        *changed = true;
    }
    entry.as_object_mut().expect("made an object above")
}

/// Apply `change` to the JSON object in `path` (none yet: an empty one) and write it back when
/// it changed. A file that is not a JSON object is left alone.
fn merge_json(path: &Path, change: impl FnOnce(&mut Map<String, Value>) -> bool) -> Result<()> {
    let existing = read_optional(path)?;
    let mut map = match existing.as_deref().map(serde_json::from_str::<Value>) {
        None => Map::new(),
        Some(Ok(Value::Object(map))) => map,
        Some(_) => {
            tracing::warn!(path = %path.display(), "not a JSON object; left alone");
            return Ok(());
        }
    };
    if !change(&mut map) {
        return Ok(());
    }
    let mut text =
        serde_json::to_string_pretty(&Value::Object(map)).context("cannot render JSON")?;
    text.push('\n');
    write_atomic(path, &text)
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Write through a temporary file beside `path` and a rename, keeping the file's permissions
/// (Claude's state is private to its user: new files get 0600).
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mode = fs::metadata(path).map_or(0o600, |m| m.permissions().mode() & 0o777);
    let name = path.file_name().map_or_else(
        || "config".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let tmp = dir.join(format!(".{name}.gastown-{}", std::process::id()));
    fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}
