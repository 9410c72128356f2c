//! The sim's keyboard, as a raw-mode agent CLI (Claude Code, Codex) reads it.
//!
//! The terminal is put in raw mode (no line editing, no kernel echo): the sim echoes what it reads
//! itself and decides what submits. Like those CLIs, a read that holds text and Enter together,
//! or anything inside bracketed-paste markers, is pasted text: its line breaks stay in the input
//! (shown as `⏎`) and nothing is submitted. Only an Enter that arrives on its own submits the
//! input line. Input is read and echoed while the sim works on an earlier turn, and a submitted
//! line waits for its turn (Claude queues it the same way). When stdin is not a terminal, every
//! line is submitted as it comes.

use std::io::{BufRead, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";

/// What a chunk of input did: bytes to echo, and lines submitted.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Effect {
    pub(super) echo: Vec<u8>,
    pub(super) submitted: Vec<String>,
}

/// The input line being typed, and whether a bracketed paste is open.
#[derive(Debug, Default)]
pub(super) struct Keyboard {
    line: Vec<u8>,
    paste: bool,
}

impl Keyboard {
    /// Takes one read's worth of input.
    pub(super) fn feed(&mut self, chunk: &[u8]) -> Effect {
        let mut effect = Effect::default();
        if !self.paste && matches!(chunk, b"\r" | b"\n" | b"\r\n") {
            effect.echo.extend_from_slice(b"\r\n");
            let line = String::from_utf8_lossy(&self.line).into_owned();
            effect.submitted.push(line);
            self.line.clear();
            return effect;
        }
        let mut i = 0;
        while i < chunk.len() {
            let rest = &chunk[i..];
            if rest.starts_with(PASTE_START) {
                self.paste = true;
                i += PASTE_START.len();
                continue;
            }
            if rest.starts_with(PASTE_END) {
                self.paste = false;
                i += PASTE_END.len();
                continue;
            }
            match chunk[i] {
                // A line break that came with text (or in a paste) is part of the text.
                b'\r' | b'\n' => {
                    self.line.push(b'\n');
                    effect.echo.extend_from_slice("⏎".as_bytes());
                }
                0x7f | 0x08 => {
                    if self.line.pop().is_some() {
                        effect.echo.extend_from_slice(b"\x08 \x08");
                    }
                }
                // Other escapes and control bytes are keys the sim has no use for.
                byte if byte < 0x20 => {}
                byte => {
                    self.line.push(byte);
                    effect.echo.push(byte);
                }
            }
            i += 1;
        }
        effect
    }
}

/// Starts reading the keyboard on its own thread; submitted lines arrive on the receiver, which
/// closes at the end of input. While `hung`, input is read and dropped, and nothing is echoed.
pub(super) fn start(hung: Arc<AtomicBool>) -> anyhow::Result<mpsc::Receiver<String>> {
    let (tx, rx) = mpsc::channel();
    let raw = raw_mode();
    std::thread::Builder::new()
        .name("sim-keyboard".into())
        .spawn(move || {
            if raw {
                read_raw(&tx, &hung);
            } else {
                for line in std::io::stdin().lock().lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            }
        })?;
    Ok(rx)
}

fn read_raw(tx: &mpsc::Sender<String>, hung: &AtomicBool) {
    let mut keyboard = Keyboard::default();
    let mut buf = [0u8; 4096];
    let mut stdin = std::io::stdin().lock();
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if hung.load(Ordering::SeqCst) {
            continue;
        }
        let effect = keyboard.feed(&buf[..n]);
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&effect.echo);
        let _ = out.flush();
        drop(out);
        for line in effect.submitted {
            if tx.send(line).is_err() {
                return;
            }
        }
    }
}

/// Raw mode on stdin: no canonical line editing, no kernel echo, Enter arrives as CR; signals
/// (Ctrl-C) still work. `false` when stdin is not a terminal.
fn raw_mode() -> bool {
    // SAFETY: termios is plain old data; tcgetattr fills it and tcsetattr reads it, on fd 0.
    unsafe {
        let mut termios: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(0, &mut termios) != 0 {
            return false;
        }
        termios.c_lflag &= !(libc::ICANON | libc::ECHO);
        termios.c_iflag &= !(libc::ICRNL | libc::INLCR | libc::IGNCR);
        termios.c_cc[libc::VMIN] = 1;
        termios.c_cc[libc::VTIME] = 0;
        libc::tcsetattr(0, libc::TCSANOW, &termios) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::Keyboard;

    fn submitted(keyboard: &mut Keyboard, chunk: &[u8]) -> Vec<String> {
        keyboard.feed(chunk).submitted
    }

    #[test]
    fn only_an_enter_on_its_own_submits() {
        let mut k = Keyboard::default();
        assert!(submitted(&mut k, b"hello").is_empty());
        assert_eq!(submitted(&mut k, b"\r"), ["hello"]);
        // Text and Enter in one write: a paste, left in the input line.
        assert!(submitted(&mut k, b"glued\r").is_empty());
        assert_eq!(submitted(&mut k, b" more"), Vec::<String>::new());
        assert_eq!(submitted(&mut k, b"\r"), ["glued\n more"]);
    }

    #[test]
    fn a_bracketed_paste_never_submits() {
        let mut k = Keyboard::default();
        let effect = k.feed(b"\x1b[200~a\rb\x1b[201~");
        assert!(effect.submitted.is_empty());
        assert_eq!(effect.echo, "a⏎b".as_bytes());
        assert!(
            submitted(&mut k, b"\x1b[200~\r").is_empty(),
            "inside a paste"
        );
        assert!(submitted(&mut k, b"\x1b[201~").is_empty());
        assert_eq!(submitted(&mut k, b"\r"), ["a\nb\n"]);
    }

    #[test]
    fn backspace_edits_the_line() {
        let mut k = Keyboard::default();
        k.feed(b"abx\x7f");
        assert_eq!(submitted(&mut k, b"\n"), ["ab"]);
    }
}
