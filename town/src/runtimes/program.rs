//! Whether a runtime's program can be started: checked before a session is spawned, so a
//! missing agent CLI is a clear message (and a stuck identity) rather than a crash loop.

use super::RuntimeError;
use crate::runtimes::spec::{PRESET_NAMES, Runtime, preset};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The file `runtime`'s program runs: a path is checked as it is, a bare name is looked up in
/// `PATH` as a shell would. An error says what is missing and what to do.
pub fn check_program(runtime: &Runtime) -> Result<PathBuf, RuntimeError> {
    let program = &runtime.program;
    let missing = |problem: String| RuntimeError::ProgramMissing {
        name: runtime.name.clone(),
        program: program.clone(),
        problem,
    };
    if program.contains('/') {
        let path = Path::new(program);
        if !path.exists() {
            return Err(missing("does not exist".to_string()));
        }
        if !is_executable(path) {
            return Err(missing("is not an executable file".to_string()));
        }
        return Ok(path.to_path_buf());
    }
    let search = std::env::var_os("PATH").unwrap_or_default();
    find_in(program, &search).ok_or_else(|| {
        missing(format!(
            "is not on the supervisor's PATH ({})",
            search.to_string_lossy()
        ))
    })
}

/// The first preset (in the documented order) whose program is on `path`, for `gastown install`
/// without `--agent`.
pub fn first_preset_on_path(path: &std::ffi::OsStr) -> Option<String> {
    PRESET_NAMES
        .iter()
        .find(|name| preset(name).is_some_and(|rt| find_in(&rt.program, path).is_some()))
        .map(|name| name.to_string())
}

/// `program` in the directories of `search` (a PATH value), if it is an executable file there.
fn find_in(program: &str, search: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(search)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
