//! Where the socket lives and how it is bound.
//!
//! The socket is `<runtime dir>/gastown.sock`, the runtime dir being private (0700) and the socket
//! file 0600. A Unix socket path must fit in `sockaddr_un.sun_path` (107 bytes on Linux); when the
//! town is deep in the file system the socket moves to `$XDG_RUNTIME_DIR/gastown-<hash>/` or, when
//! that is unset or also too long, `/tmp/gastown-<uid>-<hash>/` (`<hash>`: FNV-1a of the runtime
//! dir's path). Either way the server writes the socket's actual path into
//! `<runtime dir>/socket.path`, and clients find it with [`locate_socket`].
//!
//! Binding never steals a live socket: an existing socket file is removed only if nothing answers
//! on it, and a path that exists but is not a socket is left alone.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::client::connect_stream;

/// The socket's file name, in the runtime dir or the fallback dir.
pub const SOCKET_FILE_NAME: &str = "gastown.sock";

/// The file in the runtime dir that records where the socket actually is.
pub const SOCKET_PATH_FILE_NAME: &str = "socket.path";

/// How long the stale-socket probe waits for an existing socket to accept.
const STALE_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Permission bits for the runtime dir and the socket file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileModes {
    /// Mode of the runtime dir (and the fallback dir); 0700 in production.
    pub dir: u32,
    /// Mode of the socket file; 0600 in production.
    pub socket: u32,
}

impl FileModes {
    /// Owner only: what the spec requires.
    pub const PRIVATE: FileModes = FileModes {
        dir: 0o700,
        socket: 0o600,
    };
}

impl Default for FileModes {
    fn default() -> FileModes {
        FileModes::PRIVATE
    }
}

/// Why the socket could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Another process answers on the socket: a supervisor is already running.
    #[error("a supervisor already listens on {path}: stop it first or talk to it with `gastown`")]
    AlreadyServing {
        /// The live socket.
        path: PathBuf,
    },
    /// Something that is not a socket sits where the socket should go.
    #[error("{path} exists and is not a socket: move it away and retry")]
    NotASocket {
        /// The offending path.
        path: PathBuf,
    },
    /// A directory we must own is owned by someone else (e.g. a squatted /tmp fallback).
    #[error(
        "{path} is owned by uid {owner}, not {expected}, or is not a directory: remove it and retry"
    )]
    UnsafeDirectory {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Our effective uid.
        expected: u32,
    },
    /// A file-system or socket operation failed.
    #[error("could not {action} {path}: {source}")]
    Io {
        /// What was being done, e.g. "create the runtime dir".
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// A bound listener and the files it owns; dropping it removes the socket and `socket.path`.
#[derive(Debug)]
pub struct BoundSocket {
    /// The listening socket, registered with the tokio runtime that bound it.
    pub(super) listener: tokio::net::UnixListener,
    /// Where the socket file is (in the runtime dir or the fallback dir).
    socket_path: PathBuf,
    /// The `socket.path` file in the runtime dir.
    path_file: PathBuf,
    /// Device and inode of the socket file we created, so we never delete a successor's socket.
    file_id: (u64, u64),
}

impl BoundSocket {
    /// The socket's path, for `GASTOWN_SOCKET`.
    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }
}

impl Drop for BoundSocket {
    fn drop(&mut self) {
        let still_ours = fs::symlink_metadata(&self.socket_path)
            .is_ok_and(|meta| (meta.dev(), meta.ino()) == self.file_id);
        if still_ours {
            let _ = fs::remove_file(&self.socket_path);
            let _ = fs::remove_file(&self.path_file);
        }
    }
}

/// Binds the town's socket under `runtime_dir`; must be called inside a tokio runtime.
pub fn bind(runtime_dir: &Path, modes: FileModes) -> Result<BoundSocket, BindError> {
    ensure_private_dir(runtime_dir, modes.dir)?;
    let socket_path = socket_path_for(runtime_dir);
    if let Some(parent) = socket_path.parent().filter(|parent| *parent != runtime_dir) {
        ensure_private_dir(parent, modes.dir)?;
    }
    clear_stale_socket(&socket_path)?;
    let path = socket_path.clone();
    let io_error = |action| {
        let path = path.clone();
        move |source| BindError::Io {
            action,
            path,
            source,
        }
    };
    let listener = std::os::unix::net::UnixListener::bind(&socket_path)
        .map_err(io_error("bind the socket"))?;
    fs::set_permissions(&socket_path, fs::Permissions::from_mode(modes.socket))
        .map_err(io_error("set the mode of"))?;
    let meta = fs::symlink_metadata(&socket_path).map_err(io_error("inspect"))?;
    listener
        .set_nonblocking(true)
        .map_err(io_error("configure"))?;
    let listener =
        tokio::net::UnixListener::from_std(listener).map_err(io_error("register with tokio"))?;
    let path_file = runtime_dir.join(SOCKET_PATH_FILE_NAME);
    write_path_file(&path_file, &socket_path)?;
    Ok(BoundSocket {
        listener,
        socket_path,
        path_file,
        file_id: (meta.dev(), meta.ino()),
    })
}

/// Where a client should connect for this runtime dir: the path recorded in `socket.path` when
/// present, otherwise where [`bind`] would put the socket.
pub fn locate_socket(runtime_dir: &Path) -> PathBuf {
    let recorded = fs::read_to_string(runtime_dir.join(SOCKET_PATH_FILE_NAME)).ok();
    match recorded.as_deref().map(str::trim) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => socket_path_for(runtime_dir),
    }
}

/// The socket path [`bind`] uses: in the runtime dir if it fits in `sun_path`, else a fallback.
pub fn socket_path_for(runtime_dir: &Path) -> PathBuf {
    let preferred = runtime_dir.join(SOCKET_FILE_NAME);
    if fits_sun_path(&preferred) {
        return preferred;
    }
    let name = format!(
        "gastown-{:016x}",
        fnv1a64(runtime_dir.as_os_str().as_encoded_bytes())
    );
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    if let Some(xdg) = xdg.filter(|dir| dir.is_absolute()) {
        let candidate = xdg.join(&name).join(SOCKET_FILE_NAME);
        if fits_sun_path(&candidate) {
            return candidate;
        }
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let name = format!(
        "gastown-{uid}-{:016x}",
        fnv1a64(runtime_dir.as_os_str().as_encoded_bytes())
    );
    PathBuf::from("/tmp").join(name).join(SOCKET_FILE_NAME)
}

/// The longest socket path the kernel accepts (sun_path minus its terminating NUL).
pub fn max_socket_path_len() -> usize {
    // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
    let address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_path.len() - 1
}

/// Whether a path fits in `sun_path`.
fn fits_sun_path(path: &Path) -> bool {
    path.as_os_str().len() <= max_socket_path_len()
}

/// FNV-1a, 64 bit: a stable hash (std's `DefaultHasher` may change between releases).
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Creates `dir` if needed, checks it is a directory we own, and sets its mode.
fn ensure_private_dir(dir: &Path, mode: u32) -> Result<(), BindError> {
    let io_error = |action| {
        move |source| BindError::Io {
            action,
            path: dir.to_path_buf(),
            source,
        }
    };
    fs::create_dir_all(dir).map_err(io_error("create the directory"))?;
    let meta = fs::symlink_metadata(dir).map_err(io_error("inspect"))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != uid {
        return Err(BindError::UnsafeDirectory {
            path: dir.to_path_buf(),
            owner: meta.uid(),
            expected: uid,
        });
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map_err(io_error("set the mode of"))
}

/// Removes a socket file nothing answers on; refuses a live socket or a non-socket.
fn clear_stale_socket(path: &Path) -> Result<(), BindError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(BindError::Io {
                action: "inspect",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if !meta.file_type().is_socket() {
        return Err(BindError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    match connect_stream(path, STALE_PROBE_TIMEOUT) {
        Ok(_live) => Err(BindError::AlreadyServing {
            path: path.to_path_buf(),
        }),
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => fs::remove_file(path)
            .map_err(|source| BindError::Io {
                action: "remove the stale socket",
                path: path.to_path_buf(),
                source,
            }),
        Err(source) => Err(BindError::Io {
            action: "probe the existing socket",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `socket.path` atomically (temp file + rename) so a client never reads half a path.
fn write_path_file(path_file: &Path, socket_path: &Path) -> Result<(), BindError> {
    let temp = path_file.with_extension("path.tmp");
    let mut text = socket_path.as_os_str().as_encoded_bytes().to_vec();
    text.push(b'\n');
    fs::write(&temp, text)
        .and_then(|()| fs::rename(&temp, path_file))
        .map_err(|source| BindError::Io {
            action: "write",
            path: path_file.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_paths_stay_in_the_runtime_dir() {
        let dir = Path::new("/town/.runtime");
        assert_eq!(socket_path_for(dir), dir.join(SOCKET_FILE_NAME));
    }

    #[test]
    fn long_paths_fall_back_to_a_short_stable_location() {
        let dir = PathBuf::from(format!("/{}/.runtime", "d".repeat(120)));
        let chosen = socket_path_for(&dir);
        assert!(
            chosen.as_os_str().len() <= max_socket_path_len(),
            "{chosen:?}"
        );
        assert!(!chosen.starts_with(&dir));
        assert_eq!(
            chosen,
            socket_path_for(&dir),
            "the fallback is deterministic"
        );
        let other = PathBuf::from(format!("/{}/.runtime", "e".repeat(120)));
        assert_ne!(
            chosen,
            socket_path_for(&other),
            "towns do not share a fallback"
        );
    }

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn sun_path_limit_is_linux_sized() {
        assert_eq!(max_socket_path_len(), 107);
    }
}
