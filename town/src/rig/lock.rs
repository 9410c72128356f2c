//! One change at a time to an agent's workspace. A sling making or switching a polecat's
//! worktree, a session's start checking (and repairing) it, and the refinery removing it after a
//! merge run on different threads — and, without a supervisor, in different processes — and two
//! of them at once on the same worktree leave git's bookkeeping of it broken. Each takes the
//! workspace's lock first: an advisory lock on `<rig>/polecats/.<name>.lock` (or
//! `<rig>/crew/.<name>.lock`), released when the guard is dropped or the process dies.

use super::error::{Result, RigError};
use super::{Rig, validate_name};
use std::fs::{self, File, OpenOptions};
use std::path::Path;

/// Held while one workspace is changed; dropping it lets the next one in.
#[derive(Debug)]
pub struct WorkspaceLock {
    /// The locked file; closing it releases the lock.
    _file: File,
}

impl Rig {
    /// Wait for, then hold, the lock of polecat `name`'s worktree.
    pub fn lock_polecat(&self, name: &str) -> Result<WorkspaceLock> {
        validate_name("polecat", name)?;
        lock(&self.polecats_dir(), name)
    }

    /// Wait for, then hold, the lock of crew member `name`'s clone.
    pub fn lock_crew(&self, name: &str) -> Result<WorkspaceLock> {
        validate_name("crew", name)?;
        lock(&self.crew_root(), name)
    }
}

/// A lock file beside the workspace's directory (a file, so it is never taken for an agent).
fn lock(dir: &Path, name: &str) -> Result<WorkspaceLock> {
    fs::create_dir_all(dir).map_err(|e| RigError::io("create", dir, e))?;
    let path = dir.join(format!(".{name}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| RigError::io("open", &path, e))?;
    file.lock().map_err(|e| RigError::io("lock", &path, e))?;
    Ok(WorkspaceLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::lock;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_second_holder_waits_until_the_first_lets_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = lock(dir.path(), "nux").expect("first");
        let (tx, rx) = mpsc::channel();
        let path = dir.path().to_path_buf();
        let second = std::thread::spawn(move || {
            let held = lock(&path, "nux").expect("second");
            tx.send(()).expect("send");
            drop(held);
        });
        // Still held: the second waits (a generous bound for "it did not get in").
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        drop(first);
        rx.recv_timeout(Duration::from_secs(20))
            .expect("the second holds it once the first let go");
        second.join().expect("second thread");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .filter(|e| e.path().is_dir())
            .collect();
        assert!(
            names.is_empty(),
            "the lock is a file, never an agent's directory"
        );
    }
}
