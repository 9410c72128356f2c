//! A runtime's own session id, read from the files it keeps, for resuming a session
//! (`gastown seance`), and the file that records its usage (`gastown costs`).
//!
//! Codex writes each session to `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl`
//! (`CODEX_HOME` defaults to `~/.codex`); its first line is the session's `session_meta`, with the
//! session `id` and the `cwd` it ran in. Several sessions share one `CODEX_HOME`, so a session is
//! found by its working directory and its time: the newest rollout in that directory written
//! since the session started. (Claude Code tells its id itself, to its SessionStart hook; its
//! transcript `<config dir>/projects/<project>/<id>.jsonl` is found by that id, for resuming.)

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How many day directories (newest first) are searched: a session that ran past midnight
/// writes in the day it started.
const DAYS_SEARCHED: usize = 3;

/// The Codex home of a session with environment `env` (its `CODEX_HOME`, else `$HOME/.codex`,
/// the session's `HOME` first, then the supervisor's).
pub fn codex_home(env: &[(String, String)]) -> Option<PathBuf> {
    let var = |key: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(key).ok())
            .filter(|v| !v.is_empty())
    };
    var("CODEX_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| Path::new(&home).join(".codex")))
}

/// The id of the newest Codex session that ran in `cwd` and was written at or after `since`,
/// from the rollout files under `codex_home`; `None` when there is none.
pub fn codex_session_id(codex_home: &Path, cwd: &Path, since: SystemTime) -> Option<String> {
    codex_session(codex_home, cwd, since).map(|(id, _)| id)
}

/// Like [`codex_session_id`], with the rollout file itself (where the session's usage is
/// recorded, for `gastown costs`).
pub fn codex_session(
    codex_home: &Path,
    cwd: &Path,
    since: SystemTime,
) -> Option<(String, PathBuf)> {
    let cwd = cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf());
    let mut best: Option<(SystemTime, String, PathBuf)> = None;
    for day in day_dirs(&codex_home.join("sessions")) {
        let Ok(entries) = std::fs::read_dir(&day) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with("rollout-") && name.ends_with(".jsonl")) {
                continue;
            }
            let Some(written) = entry.metadata().and_then(|m| m.modified()).ok() else {
                continue;
            };
            if written < since || best.as_ref().is_some_and(|(t, _, _)| *t >= written) {
                continue;
            }
            if let Some(id) = session_in(&path, &name, &cwd) {
                best = Some((written, id, path));
            }
        }
    }
    best.map(|(_, id, path)| (id, path))
}

/// The newest `DAYS_SEARCHED` `YYYY/MM/DD` directories under `sessions`.
fn day_dirs(sessions: &Path) -> Vec<PathBuf> {
    let mut days = Vec::new();
    for year in sorted_dirs(sessions).into_iter().rev() {
        for month in sorted_dirs(&year).into_iter().rev() {
            for day in sorted_dirs(&month).into_iter().rev() {
                days.push(day);
                if days.len() == DAYS_SEARCHED {
                    return days;
                }
            }
        }
    }
    days
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// The session id of rollout `path` when it ran in `cwd`: the `session_meta` line's `id`, else
/// the UUID at the end of the file name.
fn session_in(path: &Path, name: &str, cwd: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut first = String::new();
    std::io::BufReader::new(file).read_line(&mut first).ok()?;
    let meta: serde_json::Value = serde_json::from_str(&first).ok()?;
    let payload = &meta["payload"];
    let ran_in = Path::new(payload["cwd"].as_str()?);
    let ran_in = ran_in
        .canonicalize()
        .unwrap_or_else(|_| ran_in.to_path_buf());
    if ran_in != cwd {
        return None;
    }
    payload["id"]
        .as_str()
        .map(str::to_string)
        .or_else(|| uuid_of(name))
}

/// The UUID that ends a rollout file name (`rollout-2026-12-04T18-00-00-<uuid>.jsonl`).
fn uuid_of(name: &str) -> Option<String> {
    let stem = name.strip_suffix(".jsonl")?;
    let uuid = stem.get(stem.len().checked_sub(36)?..)?;
    (uuid.chars().filter(|c| *c == '-').count() == 4).then(|| uuid.to_string())
}

/// Claude Code's transcript of session `id` under its config dir `config`:
/// `projects/<project>/<id>.jsonl`, whichever project (working directory) it ran in.
pub fn claude_transcript(config: &Path, id: &str) -> Option<PathBuf> {
    // An id is a file name, never a path.
    if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') {
        return None;
    }
    let file = format!("{id}.jsonl");
    std::fs::read_dir(config.join("projects"))
        .ok()?
        .flatten()
        .map(|project| project.path().join(&file))
        .find(|path| path.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const A: &str = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    const B: &str = "0199a1b2-c3d4-7e5f-8a9b-ffffffffffff";

    fn rollout(home: &Path, day: &str, uuid: &str, cwd: &Path, meta_id: bool) -> PathBuf {
        let dir = home.join("sessions").join(day);
        std::fs::create_dir_all(&dir).expect("day dir");
        let path = dir.join(format!("rollout-2026-12-04T18-00-00-{uuid}.jsonl"));
        let id = if meta_id {
            format!("\"id\":\"{uuid}\",")
        } else {
            String::new()
        };
        let meta = format!(
            "{{\"type\":\"session_meta\",\"payload\":{{{id}\"cwd\":\"{}\"}}}}\n{{\"type\":\"event\"}}\n",
            cwd.display()
        );
        std::fs::write(&path, meta).expect("rollout");
        path
    }

    fn set_mtime(path: &Path, at: SystemTime) {
        let file = std::fs::File::options()
            .write(true)
            .open(path)
            .expect("open");
        file.set_modified(at).expect("mtime");
    }

    #[test]
    fn the_newest_rollout_of_the_sessions_directory_since_its_start_is_found() {
        let home = tempfile::tempdir().expect("codex home");
        let work = tempfile::tempdir().expect("worktree");
        let other = tempfile::tempdir().expect("another worktree");
        let start = SystemTime::now() - Duration::from_secs(60);
        let old = rollout(home.path(), "2026/12/03", A, work.path(), true);
        set_mtime(&old, start - Duration::from_secs(3600));
        assert_eq!(
            codex_session_id(home.path(), work.path(), start),
            None,
            "written before the session started"
        );
        let mine = rollout(home.path(), "2026/12/04", B, work.path(), true);
        set_mtime(&mine, start + Duration::from_secs(5));
        // Another session of the same CODEX_HOME, later, in another directory.
        let theirs = rollout(
            home.path(),
            "2026/12/04",
            "0199a1b2-0000-7e5f-8a9b-0c1d2e3f4a5b",
            other.path(),
            true,
        );
        set_mtime(&theirs, start + Duration::from_secs(30));
        assert_eq!(
            codex_session_id(home.path(), work.path(), start).as_deref(),
            Some(B)
        );
        assert_eq!(
            codex_session(home.path(), work.path(), start).map(|(_, path)| path),
            Some(mine),
            "the rollout is where its usage is"
        );
    }

    #[test]
    fn the_file_name_gives_the_id_when_the_meta_line_has_none() {
        let home = tempfile::tempdir().expect("codex home");
        let work = tempfile::tempdir().expect("worktree");
        rollout(home.path(), "2026/12/04", A, work.path(), false);
        let since = SystemTime::now() - Duration::from_secs(60);
        assert_eq!(
            codex_session_id(home.path(), work.path(), since).as_deref(),
            Some(A)
        );
        assert_eq!(uuid_of("rollout-x.jsonl"), None);
    }

    #[test]
    fn no_sessions_directory_is_no_session() {
        let home = tempfile::tempdir().expect("codex home");
        assert_eq!(
            codex_session_id(home.path(), home.path(), SystemTime::UNIX_EPOCH),
            None
        );
    }

    #[test]
    fn the_codex_home_is_codex_home_else_under_home() {
        let env = vec![("CODEX_HOME".to_string(), "/x/codex".to_string())];
        assert_eq!(codex_home(&env), Some(PathBuf::from("/x/codex")));
        let env = vec![("HOME".to_string(), "/home/a".to_string())];
        if std::env::var_os("CODEX_HOME").is_none() {
            assert_eq!(codex_home(&env), Some(PathBuf::from("/home/a/.codex")));
        }
    }

    /// Claude Code's transcript of a session is found under whichever project it ran in (the
    /// project named after a worktree that is gone, say); an id is a file name, never a path.
    #[test]
    fn a_claude_transcript_is_found_by_its_session_id_in_any_project() {
        let dir = tempfile::tempdir().expect("temp dir");
        let id = "1802160b-27ac-4d48-92a1-ce90ca1e9e11";
        let project = dir.path().join("projects/-tmp-town-alpha-polecats-nux-rig");
        std::fs::create_dir_all(dir.path().join("projects/-elsewhere")).expect("mkdir");
        std::fs::create_dir_all(&project).expect("mkdir");
        std::fs::write(project.join(format!("{id}.jsonl")), "{}\n").expect("write");
        assert_eq!(
            claude_transcript(dir.path(), id),
            Some(project.join(format!("{id}.jsonl")))
        );
        assert_eq!(claude_transcript(dir.path(), "no-such-session"), None);
        assert_eq!(claude_transcript(dir.path(), "../x"), None);
        assert_eq!(claude_transcript(&dir.path().join("none"), id), None);
    }
}
