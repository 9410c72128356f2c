//! A peer with another uid is refused by the SO_PEERCRED check, not by file permissions.
//!
//! Tests run as root, so a forked child switches to `nobody` (uid/gid 65534) and connects. The
//! child only makes raw system calls (no allocation, no locks), which is what is safe after
//! `fork` in a multi-threaded process; it copies whatever the server sends into a pipe.

use std::io::Read;
use std::os::fd::FromRawFd;

use super::*;
use crate::socket::ErrorCode;
use crate::socket::client::socket_address;

/// The uid and gid of `nobody`.
const NOBODY: u32 = 65534;

/// Connects to `path` as `uid`, sends `hello`, returns what the server sent before closing.
fn exchange_as(uid: u32, path: &Path, hello: &[u8]) -> Vec<u8> {
    let (address, length) = socket_address(path).expect("socket path fits");
    let mut pipe = [0; 2];
    // SAFETY: pipe writes two fds into the array we own.
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0, "pipe");
    let mut buffer = [0u8; 4096];
    // SAFETY: the child below only makes async-signal-safe system calls and `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: raw system calls on buffers prepared before the fork.
        unsafe {
            libc::close(pipe[0]);
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(uid) != 0
                || libc::setuid(uid) != 0
            {
                libc::_exit(2);
            }
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            if fd < 0 || libc::connect(fd, (&raw const address).cast(), length) != 0 {
                libc::_exit(3);
            }
            libc::write(fd, hello.as_ptr().cast(), hello.len());
            loop {
                let read = libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len());
                if read <= 0 {
                    break;
                }
                libc::write(pipe[1], buffer.as_ptr().cast(), read as usize);
            }
            libc::_exit(0);
        }
    }
    // SAFETY: we own the pipe's fds; the read end becomes a File, the write end is closed here.
    let mut reader = unsafe {
        libc::close(pipe[1]);
        std::fs::File::from_raw_fd(pipe[0])
    };
    let mut received = Vec::new();
    reader.read_to_end(&mut received).expect("read the pipe");
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: status {status}"
    );
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_with_another_uid_is_refused_and_counted() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "this test switches users, so it must run as root");
    // Open modes so `nobody` reaches the socket: the uid check must be what refuses it.
    let open = FileModes {
        dir: 0o755,
        socket: 0o666,
    };
    let server = TestServer::start_with(config(), open).await;
    let parent = server
        .runtime_dir
        .parent()
        .expect("runtime dir has a parent");
    std::fs::set_permissions(parent, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let path = server.path.clone();
    let hello = hello_frame(PROTOCOL_VERSION, None);
    let received = tokio::task::spawn_blocking(move || exchange_as(NOBODY, &path, &hello))
        .await
        .expect("fork thread");
    let frames = parse_frames(&received);
    assert!(
        matches!(frames.as_slice(), [ServerFrame::Error(e)] if e.code == ErrorCode::Unauthorized),
        "{frames:?}"
    );
    assert_eq!(server.snapshot().rejected_uid, 1);
    assert_served(&server.path).await;
    server.stop().await;
}
