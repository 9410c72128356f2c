//! Writing to stdout: data goes to stdout, logs to stderr, and a closed pipe ends quietly.
//!
//! This module is the one place the binary writes data to stdout (the crate denies
//! `clippy::print_stdout`, so a `println!` elsewhere fails the lint). Every write returns an
//! `io::Result`; `main` turns an error chain holding a broken pipe into exit status 0, ripgrep's
//! habit: `gastown completions zsh | head -3` or `gastown bead list | head` end quietly and
//! successfully instead of panicking the way `println!` does on a closed pipe.
//!
//! Text written here is inert on a terminal: [`line`] and [`text`] escape every control character
//! but line feeds and tabs (titles, subjects and bodies are anyone's text); JSON has none to
//! escape (serde already did). Only [`bytes`] writes raw.

use gastown_town::text::paragraph;
use std::io::{self, Write};

/// Write `text` (and a newline) to stdout; a broken pipe surfaces as an `io::Error` that
/// [`is_broken_pipe`] recognises so `main` can exit 0. Control characters other than line
/// feeds and tabs are printed as visible escapes (`gastown_town::text::paragraph`): a title or
/// a body holding ESC or CR never reaches the terminal raw.
pub fn line(text: impl AsRef<str>) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(paragraph(text.as_ref()).as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Write text that already carries its newlines; control characters escaped as in [`line`].
pub fn text(text: &str) -> io::Result<()> {
    bytes(paragraph(text).as_bytes())
}

/// Write raw bytes (generated scripts, terminal screens, the terminal's own control sequences):
/// the only writer that passes control characters through.
pub fn bytes(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// Render with a writer-taking generator (one that may panic on a write error, as
/// `clap_complete::generate` does) into memory, then write it out like [`bytes`].
pub fn generated(generate: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
    let mut buf = Vec::new();
    generate(&mut buf);
    bytes(&buf)
}

/// True when the error (or any cause) is a broken pipe on stdout.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_text_holds_no_escape_or_carriage_return() {
        let printed = paragraph("title \x1b[2J\r\nbody\tend");
        assert!(
            !printed.contains('\x1b') && !printed.contains('\r'),
            "{printed:?}"
        );
        assert!(
            printed.contains('\n') && printed.contains('\t'),
            "{printed:?}"
        );
    }

    #[test]
    fn a_broken_pipe_anywhere_in_the_chain_is_recognised() {
        let pipe = io::Error::new(io::ErrorKind::BrokenPipe, "closed");
        let err = anyhow::Error::from(pipe).context("writing the list");
        assert!(is_broken_pipe(&err));
        let other = anyhow::Error::from(io::Error::other("disk full")).context("writing");
        assert!(!is_broken_pipe(&other));
    }
}
