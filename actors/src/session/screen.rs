//! What a session has printed: a bounded ring of raw output bytes (for attach replay, echo checks and
//! byte counts) and a `vt100` screen model (for peek, readiness markers and idle detection).
//!
//! Pure data, no I/O: the session actor feeds every output chunk in through [`OutputModel::push`].

use super::args::Dialog;
use gastown_town::limits::signals::USAGE_LIMIT;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::num::NonZeroU16;
use std::time::{Duration, Instant};

/// A usage-limit line counts only among the screen's last this many non-blank lines (the CLI's
/// message, wrapped, then its prompt box and footer).
const LIMIT_LINES: usize = 12;

/// The last `capacity` bytes of output, with the absolute offset of every byte ever pushed.
#[derive(Debug)]
pub(crate) struct OutputRing {
    /// The retained tail of the output; never longer than `capacity`.
    bytes: VecDeque<u8>,
    /// Upper bound on `bytes.len()`, from `SessionArgs::ring_bytes`.
    capacity: usize,
    /// Number of bytes ever pushed; the absolute offset just past the last retained byte.
    total: u64,
}

impl OutputRing {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            bytes: VecDeque::with_capacity(capacity.min(64 * 1024)),
            capacity,
            total: 0,
        }
    }

    /// Appends `chunk`, dropping the oldest bytes beyond the capacity.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let keep = chunk.len().min(self.capacity);
        let overflow = (self.bytes.len() + keep).saturating_sub(self.capacity);
        self.bytes.drain(..overflow);
        self.bytes.extend(&chunk[chunk.len() - keep..]);
    }

    /// Bytes pushed since absolute offset `from` (clamped to what is still retained).
    pub(crate) fn since(&self, from: u64) -> Vec<u8> {
        let start_offset = self.total - self.bytes.len() as u64;
        let skip = from
            .saturating_sub(start_offset)
            .min(self.bytes.len() as u64) as usize;
        self.bytes.range(skip..).copied().collect()
    }

    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }
}

/// The session's view of its terminal: ring, screen, timestamps and the readiness marker.
pub(crate) struct OutputModel {
    /// Raw output tail.
    pub(crate) ring: OutputRing,
    /// Terminal emulation of the child's output, sized like the PTY.
    pub(crate) parser: vt100::Parser,
    /// When the last output byte arrived (the spawn time until the first one).
    pub(crate) last_output_at: Instant,
    /// Text whose presence on the screen means "the agent is at its prompt", if the runtime has one.
    ready_marker: Option<String>,
    /// Whether `ready_marker` is on the screen, computed on demand and cached until the next chunk
    /// (rendering the screen for every 4 KiB chunk of a flood would cost more than parsing it).
    marker_cache: Cell<Option<bool>>,
    /// Whether the child has drawn anything visible yet. A runtime without a marker is never
    /// ready before its first draw: node CLIs load silently for seconds, and a prompt typed into
    /// that silence is lost.
    drawn: bool,
    /// The runtime's blocking screens (trust, login, …): while one shows, nothing is idle.
    dialogs: Vec<Dialog>,
    /// The usage limit the session is held behind ([`OutputModel::hold`]).
    held: Option<String>,
    /// The dialog on the screen, computed on demand and cached until the next chunk.
    dialog_cache: RefCell<Option<Option<Blocking>>>,
}

/// A blocking dialog on the screen: which one, and the screen line that matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Blocking {
    pub(crate) dialog: Dialog,
    pub(crate) line: String,
}

impl std::fmt::Display for Blocking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.dialog.name, self.line)
    }
}

/// The "dialog" of a held session: a usage limit gastown knows of, not one on the screen.
const HELD: Dialog = Dialog {
    name: USAGE_LIMIT,
    pattern: "",
    answer: None,
};

/// How many screen rows a dialog's line may take when the CLI wrapped it itself.
const WRAPPED_ROWS: usize = 3;

/// The line starting `rows[0]`, trimmed, with the rows the CLI wrapped it onto joined by a space:
/// a row filling most of the screen's `cols` continues on the next row unless that is blank
/// (Codex breaks its usage-limit line before the reset, `… settings/` / `usage to purchase more
/// credits or try again at 2:11 AM.`; a terminal's own wrap is already one line here).
fn wrapped_line(rows: &[&str], cols: usize) -> String {
    let mut line = rows[0].trim().to_string();
    let mut last = rows[0];
    for next in rows.iter().skip(1).take(WRAPPED_ROWS - 1) {
        if last.trim_end().chars().count() * 4 < cols * 3 || next.trim().is_empty() {
            break;
        }
        line.push(' ');
        line.push_str(next.trim());
        last = next;
    }
    line
}

impl OutputModel {
    pub(crate) fn new(size: (u16, u16), ring_bytes: usize, ready_marker: Option<String>) -> Self {
        let (rows, cols) = nonzero_size(size);
        Self {
            ring: OutputRing::new(ring_bytes),
            parser: vt100::Parser::new(rows, cols, 0),
            last_output_at: Instant::now(),
            marker_cache: Cell::new(None),
            drawn: false,
            ready_marker,
            dialogs: Vec::new(),
            held: None,
            dialog_cache: RefCell::new(None),
        }
    }

    /// The runtime's blocking screens.
    pub(crate) fn set_dialogs(&mut self, dialogs: Vec<Dialog>) {
        self.dialogs = dialogs;
        self.dialog_cache.replace(None);
    }

    /// Hold the session behind a usage limit it has not shown itself (`SessionArgs::held`):
    /// from now on it is blocked by it, whatever its screen shows.
    pub(crate) fn hold(&mut self, line: String) {
        self.held = Some(line);
        self.dialog_cache.replace(None);
    }

    /// The blocking dialog on the screen, if one shows (the first of the runtime's list), or the
    /// usage limit the session is held behind.
    pub(crate) fn blocking(&self) -> Option<Blocking> {
        if let Some(line) = &self.held {
            return Some(Blocking {
                dialog: HELD,
                line: line.clone(),
            });
        }
        if self.dialogs.is_empty() {
            return None;
        }
        if let Some(cached) = self.dialog_cache.borrow().as_ref() {
            return cached.clone();
        }
        let contents = self.parser.screen().contents();
        let cols = usize::from(self.parser.screen().size().1.get());
        // A usage limit is the CLI's last word before its prompt; the same words higher up are
        // output the agent is reading (a log, this very source), not a limit.
        let lines: Vec<&str> = contents.lines().collect();
        let bottom = {
            let mut seen = 0;
            let mut from = lines.len();
            while from > 0 && seen < LIMIT_LINES {
                from -= 1;
                if !lines[from].trim().is_empty() {
                    seen += 1;
                }
            }
            from
        };
        let found = self.dialogs.iter().find_map(|dialog| {
            let from = if dialog.name == USAGE_LIMIT {
                bottom
            } else {
                0
            };
            let at = from
                + lines[from..]
                    .iter()
                    .position(|l| l.contains(dialog.pattern))?;
            Some(Blocking {
                dialog: *dialog,
                line: wrapped_line(&lines[at..], cols),
            })
        });
        self.dialog_cache.replace(Some(found.clone()));
        found
    }

    /// Feeds one chunk of child output through the ring and the screen model.
    pub(crate) fn push(&mut self, chunk: &[u8], now: Instant) {
        self.ring.push(chunk);
        self.parser.process(chunk);
        if !self.drawn {
            // Rendered only until the first visible character: a blank screen is cheap to read.
            self.drawn = !self.parser.screen().contents().trim().is_empty();
        }
        self.last_output_at = now;
        self.marker_cache.set(None);
        self.dialog_cache.replace(None);
    }

    /// Whether the readiness marker is visible on the screen; for a runtime without a marker,
    /// whether it has drawn anything yet (quiet before the first draw is loading, not a prompt).
    pub(crate) fn marker_visible(&self) -> bool {
        let Some(marker) = &self.ready_marker else {
            return self.drawn;
        };
        if let Some(visible) = self.marker_cache.get() {
            return visible;
        }
        let visible = self.parser.screen().contents().contains(marker.as_str());
        self.marker_cache.set(Some(visible));
        visible
    }

    pub(crate) fn resize(&mut self, size: (u16, u16)) {
        let (rows, cols) = nonzero_size(size);
        self.parser.set_size(rows, cols);
        self.marker_cache.set(None);
        self.dialog_cache.replace(None);
    }

    /// Idle = no output for `quiet`, the readiness marker visible when the runtime has one, and
    /// no blocking dialog on the screen (a dialog is never a prompt, whatever it shows).
    pub(crate) fn is_idle(&self, now: Instant, quiet: Duration) -> bool {
        now.saturating_duration_since(self.last_output_at) >= quiet
            && self.marker_visible()
            && self.blocking().is_none()
    }

    /// How many times `needle` occurs on the visible screen.
    pub(crate) fn screen_count(&self, needle: &str) -> usize {
        if needle.is_empty() {
            return 0;
        }
        self.parser.screen().contents().matches(needle).count()
    }

    /// Whether `needle` was printed since absolute output offset `since` (escape sequences removed),
    /// or appears on the screen more often than `baseline` times.
    pub(crate) fn echoed(&self, needle: &str, since: u64, baseline: usize) -> bool {
        let fresh = strip_escapes(&self.ring.since(since));
        String::from_utf8_lossy(&fresh).contains(needle) || self.screen_count(needle) > baseline
    }

    /// Whether the input line — the cursor's row joined with the rows it wraps on from — still
    /// holds `tail` (the end of typed text): a runtime that took the turn cleared it or moved on.
    pub(crate) fn input_line_holds(&self, tail: &str) -> bool {
        if tail.is_empty() {
            return false;
        }
        let screen = self.parser.screen();
        let (_, cols) = screen.size();
        let (cursor, _) = screen.cursor_position();
        let mut first = cursor;
        while first > 0 && screen.row_wrapped(first - 1) {
            first -= 1;
        }
        let line: String = screen
            .rows(0, cols.get())
            .skip(usize::from(first))
            .take(usize::from(cursor - first) + 1)
            .collect();
        line.contains(tail)
    }

    /// The screen as text (`None`), or its last `lines` lines. The live model keeps no scrollback
    /// (vt100's scrollback makes every scrolled line several times dearer, which a flood of output
    /// pays millions of times), so more lines than the screen has are rendered on demand by
    /// replaying the output ring into a screen that tall. Trailing blank lines are removed.
    pub(crate) fn peek(&self, lines: Option<usize>) -> String {
        let screen = self.parser.screen();
        let (rows, cols) = screen.size();
        let Some(wanted) = lines else {
            return last_lines(screen, usize::MAX);
        };
        if wanted <= usize::from(rows.get()) {
            return last_lines(screen, wanted);
        }
        // At most as many cells as the largest live screen: the width is the client's choice.
        let cells_allowed = MAX_REPLAY_CELLS / usize::from(cols.get());
        let tall = (wanted + 1).min(MAX_REPLAY_ROWS).min(cells_allowed).max(1);
        let tall = NonZeroU16::new(u16::try_from(tall).unwrap_or(u16::MAX)).unwrap_or(rows);
        let mut replay = vt100::Parser::new(tall, cols, 0);
        replay.process(&self.ring.since(0));
        last_lines(replay.screen(), wanted)
    }
}

/// Upper bound on the rows of a replay screen for `peek -n` (bounds its memory).
const MAX_REPLAY_ROWS: usize = 5_000;

/// Upper bound on the cells (rows × columns) of a replay screen: 5,000 rows of a 120-column
/// terminal; a wider one gets fewer rows (1,000 columns: 600), so memory stays bounded.
const MAX_REPLAY_CELLS: usize = 600_000;

/// The last `wanted` rows of `screen` that come before trailing blank rows, joined by newlines.
fn last_lines(screen: &vt100::Screen, wanted: usize) -> String {
    let (_, cols) = screen.size();
    let mut rows: Vec<String> = screen.rows(0, cols.get()).collect();
    while rows.last().is_some_and(|row| row.trim().is_empty()) {
        rows.pop();
    }
    let first = rows.len().saturating_sub(wanted);
    rows[first..].join("\n")
}

/// The size clamped into the session's bounds (`clamp_size`), as vt100 wants it.
fn nonzero_size((rows, cols): (u16, u16)) -> (NonZeroU16, NonZeroU16) {
    let (rows, cols) = super::args::clamp_size(rows, cols);
    let one = NonZeroU16::MIN;
    (
        NonZeroU16::new(rows).unwrap_or(one),
        NonZeroU16::new(cols).unwrap_or(one),
    )
}

/// Removes ANSI escape sequences (CSI, OSC, two-byte ESC) and carriage returns, so that text an
/// application redraws with colours or cursor moves can still be searched for.
pub(crate) fn strip_escapes(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x1b => i = skip_escape(bytes, i + 1),
            b'\r' => i += 1,
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// Index just past the escape sequence whose introducer (the byte after ESC) is at `i`.
fn skip_escape(bytes: &[u8], i: usize) -> usize {
    match bytes.get(i) {
        Some(b'[') => {
            let end = bytes[i + 1..]
                .iter()
                .position(|b| (0x40..=0x7e).contains(b));
            end.map_or(bytes.len(), |end| i + 1 + end + 1)
        }
        Some(b']') => {
            let mut j = i + 1;
            while j < bytes.len() {
                if bytes[j] == 0x07 {
                    return j + 1;
                }
                if bytes[j] == 0x1b && bytes.get(j + 1) == Some(&b'\\') {
                    return j + 2;
                }
                j += 1;
            }
            j
        }
        Some(_) => i + 1,
        None => i,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUST: Dialog = Dialog {
        name: "trust",
        pattern: "Is this a project you created or one you trust?",
        answer: Some("\r"),
    };

    /// Claude Code's trust dialog shows its ready marker `❯` before the selected option: a
    /// marker and quiet output are not enough to call it idle.
    #[test]
    fn a_dialog_with_the_ready_marker_is_not_idle_and_says_what_blocks() {
        let mut model = OutputModel::new((24, 100), 4096, Some("❯".to_string()));
        model.set_dialogs(vec![TRUST]);
        let start = Instant::now();
        model.push(
            "Quick safety check: Is this a project you created or one you trust?\r\n\
             ❯ 1. Yes, I trust this folder\r\n"
                .as_bytes(),
            start,
        );
        let later = start + Duration::from_secs(5);
        assert!(model.marker_visible());
        assert!(!model.is_idle(later, Duration::from_secs(1)));
        let blocking = model.blocking().expect("blocked");
        assert_eq!(blocking.dialog, TRUST);
        assert_eq!(
            blocking.to_string(),
            "trust: Quick safety check: Is this a project you created or one you trust?"
        );
        // The dialog goes (the CLI clears its screen): idle at the prompt.
        model.push(b"\x1b[2J\x1b[H\xe2\x9d\xaf ", start);
        assert_eq!(model.blocking(), None);
        assert!(model.is_idle(later, Duration::from_secs(1)));
    }

    const LIMIT: Dialog = Dialog {
        name: USAGE_LIMIT,
        pattern: "API Error: Request rejected (429)",
        answer: None,
    };

    /// A usage limit is the CLI's last word above its prompt; the same words in output the
    /// agent reads higher up the screen (a log, gastown's own source) are no limit, or one
    /// agent's `cat` would pause its whole runtime.
    #[test]
    fn a_usage_limit_counts_only_at_the_bottom_of_the_screen() {
        let mut model = OutputModel::new((40, 100), 1 << 16, Some("❯".to_string()));
        model.set_dialogs(vec![LIMIT]);
        let now = Instant::now();
        model.push(
            b"  \xe2\x8e\xbf  API Error: Request rejected (429) \xc2\xb7 slow down\r\n",
            now,
        );
        for i in 0..12 {
            model.push(
                format!("line {i} of the file the agent reads\r\n").as_bytes(),
                now,
            );
        }
        model.push("\u{276f} ".as_bytes(), now);
        assert_eq!(model.blocking(), None, "read higher up: no limit");
        model.push(
            b"\r\n  \xe2\x8e\xbf  API Error: Request rejected (429) \xc2\xb7 slow down\r\n\r\n",
            now,
        );
        model.push("\u{276f} \r\n  ? for shortcuts".as_bytes(), now);
        let blocking = model.blocking().expect("the CLI's last word");
        assert_eq!(blocking.dialog.name, USAGE_LIMIT);
    }

    /// A line the CLI broke onto the next row itself (a full row, then more text) is read whole;
    /// a short line, or a full one followed by a blank row, is one row.
    #[test]
    fn a_dialog_line_the_cli_wrapped_is_read_whole() {
        const WRAPPED: Dialog = Dialog {
            name: "usage limit",
            pattern: "hit your usage limit",
            answer: None,
        };
        let mut model = OutputModel::new((24, 60), 4096, None);
        model.set_dialogs(vec![WRAPPED]);
        model.push(
            "■ You’ve hit your usage limit. Visit https://example.com/\r\n\
             usage or try again at 2:11 AM.\r\n\r\n› prompt\r\n"
                .as_bytes(),
            Instant::now(),
        );
        assert_eq!(
            model.blocking().expect("blocked").line,
            "■ You’ve hit your usage limit. Visit https://example.com/ usage or try again at 2:11 AM."
        );
        model.push(b"\x1b[2J\x1b[H", Instant::now());
        model.push(
            "■ You’ve hit your usage limit.\r\nnot this\r\n".as_bytes(),
            Instant::now(),
        );
        assert_eq!(
            model.blocking().expect("blocked").line,
            "■ You’ve hit your usage limit."
        );
    }
}
