//! The ledger's pid lock: one process at a time owns a ledger.
//!
//! `flock(LOCK_EX | LOCK_NB)` on `<town>/.runtime/ledger.lock`, which then holds the owner's pid.
//! The kernel releases the lock when the owner exits, however it exits (even `kill -9`), so a stale
//! file never blocks anyone; the pid inside only serves the message of the next process that finds
//! the lock taken.

use crate::error::LedgerError;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// A held lock; released when dropped (the file stays, empty of meaning).
#[derive(Debug)]
pub struct PidLock {
    file: File,
    path: PathBuf,
}

impl PidLock {
    /// Take the lock at `path` (creating the file) or return `Locked { pid }` naming the holder.
    pub fn acquire(path: &Path) -> Result<PidLock, LedgerError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| LedgerError::io(format!("open lock file {}", path.display()), e))?;
        // SAFETY: flock on a file descriptor we own; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut text = String::new();
                // The holder writes its pid right after locking; an unreadable pid shows as 0.
                let _ = file.read_to_string(&mut text);
                let pid = text.trim().parse().unwrap_or(0);
                return Err(LedgerError::Locked {
                    pid,
                    path: path.to_path_buf(),
                });
            }
            return Err(LedgerError::io(format!("lock {}", path.display()), err));
        }
        let write = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            // Not synced: the pid only serves the message of a process finding the lock taken,
            // and the kernel drops the lock itself when this process dies.
            writeln!(file, "{}", std::process::id())
        };
        if let Err(e) = write(&mut file) {
            // The lock is held (flock) whatever the file says; only the message of a process
            // finding it taken loses the pid. On a full disk this keeps reads possible.
            tracing::warn!(path = %path.display(), error = %e, "cannot write the pid into the lock file");
        }
        Ok(PidLock {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidLock {
    fn drop(&mut self) {
        // SAFETY: unlocking our own descriptor; closing it would release the lock anyway.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_names_the_holder_and_release_frees_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ledger.lock");
        let held = PidLock::acquire(&path).expect("first lock");
        match PidLock::acquire(&path) {
            Err(LedgerError::Locked { pid, .. }) => assert_eq!(pid, std::process::id()),
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(held);
        PidLock::acquire(&path).expect("lock is free again");
    }
}
