//! Writing to stdout: data goes to stdout, logs to stderr, and a closed pipe ends quietly.

use std::io::{self, Write};

/// Write `text` (and a newline) to stdout; a broken pipe surfaces as an `io::Error` that
/// [`is_broken_pipe`] recognises so `main` can exit 0.
pub fn line(text: impl AsRef<str>) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_ref().as_bytes())?;
    out.write_all(b"\n")
}

/// Write text that already carries its newlines.
pub fn text(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// True when the error (or any cause) is a broken pipe on stdout.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
