//! What a session has printed: a bounded ring of raw output bytes (for attach replay, echo checks and
//! byte counts) and a `vt100` screen model (for peek, readiness markers and idle detection).
//!
//! Pure data, no I/O: the session actor feeds every output chunk in through [`OutputModel::push`].

use std::collections::VecDeque;
use std::num::NonZeroU16;
use std::time::{Duration, Instant};

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

    #[cfg(test)]
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
    /// Whether `ready_marker` was on the screen after the last chunk (true when there is no marker).
    pub(crate) marker_visible: bool,
}

impl OutputModel {
    pub(crate) fn new(
        size: (u16, u16),
        scrollback: usize,
        ring_bytes: usize,
        ready_marker: Option<String>,
    ) -> Self {
        let (rows, cols) = nonzero_size(size);
        Self {
            ring: OutputRing::new(ring_bytes),
            parser: vt100::Parser::new(rows, cols, scrollback),
            last_output_at: Instant::now(),
            marker_visible: ready_marker.is_none(),
            ready_marker,
        }
    }

    /// Feeds one chunk of child output through the ring and the screen model.
    pub(crate) fn push(&mut self, chunk: &[u8], now: Instant) {
        self.ring.push(chunk);
        self.parser.process(chunk);
        self.last_output_at = now;
        if let Some(marker) = &self.ready_marker {
            self.marker_visible = self.parser.screen().contents().contains(marker.as_str());
        }
    }

    pub(crate) fn resize(&mut self, size: (u16, u16)) {
        let (rows, cols) = nonzero_size(size);
        self.parser.set_size(rows, cols);
    }

    /// Idle = no output for `quiet` and, when the runtime has a readiness marker, the marker is visible.
    pub(crate) fn is_idle(&self, now: Instant, quiet: Duration) -> bool {
        self.marker_visible && now.saturating_duration_since(self.last_output_at) >= quiet
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

    /// The screen as text, or its last `lines` lines (reaching into scrollback when asked for more
    /// lines than the screen has), with trailing blank lines removed.
    pub(crate) fn peek(&mut self, lines: Option<usize>) -> String {
        let Some(wanted) = lines else {
            let text = self.parser.screen().contents();
            return text.trim_end_matches(['\n', ' ']).to_string();
        };
        let mut all = self.history_lines();
        while all.last().is_some_and(|line| line.trim().is_empty()) {
            all.pop();
        }
        let first = all.len().saturating_sub(wanted);
        all[first..].join("\n")
    }

    /// Scrollback followed by the visible screen, one `String` per row.
    fn history_lines(&mut self) -> Vec<String> {
        let screen = self.parser.screen_mut();
        let (rows, cols) = screen.size();
        let (rows, cols) = (usize::from(rows.get()), cols.get());
        screen.set_scrollback(usize::MAX);
        let mut offset = screen.scrollback();
        let mut lines = Vec::with_capacity(offset + rows);
        while offset > 0 {
            screen.set_scrollback(offset);
            lines.extend(screen.rows(0, cols).take(offset.min(rows)));
            offset = offset.saturating_sub(rows);
        }
        screen.set_scrollback(0);
        lines.extend(screen.rows(0, cols));
        lines
    }
}

fn nonzero_size((rows, cols): (u16, u16)) -> (NonZeroU16, NonZeroU16) {
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
