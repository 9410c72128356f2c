//! Unit tests of the session's pure parts: the output ring, escape stripping, the screen model's
//! peek and idle rules, and the nudge's needle and typed bytes.

use std::time::{Duration, Instant};

use super::input::{needle, tail, typed_bytes};
use super::screen::{OutputModel, OutputRing, strip_escapes};

#[test]
fn ring_keeps_only_the_tail_and_counts_everything() {
    let mut ring = OutputRing::new(8);
    ring.push(b"abcdef");
    ring.push(b"ghijkl");
    assert_eq!(ring.len(), 8);
    assert_eq!(ring.total(), 12);
    assert_eq!(ring.since(0), b"efghijkl");
    assert_eq!(ring.since(10), b"kl");
    assert_eq!(ring.since(12), b"");
    ring.push(b"0123456789abc");
    assert_eq!(ring.len(), 8);
    assert_eq!(ring.total(), 25);
    assert_eq!(ring.since(0), b"56789abc");
}

#[test]
fn strip_escapes_removes_csi_osc_and_carriage_returns() {
    check_strip(b"plain", "plain");
    check_strip(b"\x1b[1;32mgreen\x1b[0m text\r\n", "green text\n");
    check_strip(b"\x1b]0;title\x07after", "after");
    check_strip(b"\x1b]0;title\x1b\\after", "after");
    check_strip(b"a\x1b7b\x1b8c", "abc");
    check_strip(b"cut\x1b[", "cut");
}

fn check_strip(input: &[u8], expected: &str) {
    assert_eq!(
        String::from_utf8_lossy(&strip_escapes(input)),
        expected,
        "input {input:?}"
    );
}

#[test]
fn peek_returns_screen_or_last_lines_replaying_the_ring() {
    let mut model = OutputModel::new((4, 20), 1024, None);
    for i in 1..=10 {
        model.push(format!("line {i}\r\n").as_bytes(), Instant::now());
    }
    assert_eq!(model.peek(None), "line 8\nline 9\nline 10");
    assert_eq!(model.peek(Some(2)), "line 9\nline 10");
    assert_eq!(
        model.peek(Some(6)),
        "line 5\nline 6\nline 7\nline 8\nline 9\nline 10"
    );
    let everything: Vec<String> = (1..=10).map(|i| format!("line {i}")).collect();
    assert_eq!(model.peek(Some(100)), everything.join("\n"));
    assert_eq!(
        model.peek(None),
        "line 8\nline 9\nline 10",
        "peek must restore the live view"
    );
}

#[test]
fn idle_needs_quiet_and_the_marker() {
    let quiet = Duration::from_millis(100);
    let mut model = OutputModel::new((5, 40), 1024, Some("> ".into()));
    let t0 = Instant::now();
    model.push(b"starting...\r\n", t0);
    assert!(!model.is_idle(t0 + quiet * 2, quiet), "no marker yet");
    model.push(b"> ", t0);
    assert!(
        !model.is_idle(t0 + quiet / 2, quiet),
        "marker but not quiet"
    );
    assert!(model.is_idle(t0 + quiet, quiet));
    let mut no_marker = OutputModel::new((5, 40), 1024, None);
    assert!(
        !no_marker.is_idle(t0 + quiet * 50, quiet),
        "a runtime without a marker is loading until it draws"
    );
    no_marker.push(b"\x1b[?25l\x1b[2J\x1b[H", t0);
    assert!(
        !no_marker.is_idle(t0 + quiet * 50, quiet),
        "escape sequences alone draw nothing"
    );
    no_marker.push(b"x", t0);
    assert!(no_marker.is_idle(t0 + quiet, quiet));
}

#[test]
fn echo_is_seen_in_fresh_output_or_as_a_new_screen_occurrence() {
    let mut model = OutputModel::new((5, 40), 1024, None);
    model.push(b"hello\r\n", Instant::now());
    let mark = model.ring.total();
    let baseline = model.screen_count("hello");
    assert!(
        !model.echoed("hello", mark, baseline),
        "old output does not count"
    );
    model.push(b"\x1b[1mhel\x1b[0mlo", Instant::now());
    assert!(model.echoed("hello", mark, baseline));
}

#[test]
fn needle_is_the_first_non_blank_line_trimmed_and_shortened() {
    assert_eq!(needle("hello"), "hello");
    assert_eq!(needle("\n  first line  \nsecond"), "first line");
    assert_eq!(needle(&"x".repeat(100)), "x".repeat(32));
    assert_eq!(needle(""), "");
}

#[test]
fn typed_bytes_use_bracketed_paste_only_when_asked() {
    assert_eq!(typed_bytes("a\nb", false), b"a\nb");
    assert_eq!(typed_bytes("a\nb", true), b"\x1b[200~a\nb\x1b[201~");
}

#[test]
fn terminal_sizes_are_clamped_into_the_session_bounds() {
    use super::args::{MAX_COLS, MAX_ROWS, clamp_size};
    assert_eq!(clamp_size(65535, 65535), (MAX_ROWS, MAX_COLS));
    assert_eq!(clamp_size(0, 0), (1, 1));
    assert_eq!(clamp_size(40, 120), (40, 120));
    // The screen model never holds more than the clamped size, however it is asked.
    let mut model = OutputModel::new((65535, 65535), 1024, None);
    let size = |model: &OutputModel| {
        let (rows, cols) = model.parser.screen().size();
        (rows.get(), cols.get())
    };
    assert_eq!(size(&model), (MAX_ROWS, MAX_COLS));
    model.resize((u16::MAX, 3));
    assert_eq!(size(&model), (MAX_ROWS, 3));
    model.resize((0, 0));
    assert_eq!(size(&model), (1, 1));
}

#[test]
fn a_long_peek_on_a_wide_screen_replays_a_bounded_number_of_cells() {
    let mut model = OutputModel::new((24, 1000), 64 * 1024, None);
    let lines: String = (0..3000).map(|n| format!("line {n}\r\n")).collect();
    model.push(lines.as_bytes(), Instant::now());
    let text = model.peek(Some(5000));
    // 600,000 cells / 1,000 columns: at most 600 rows are replayed, the last ones.
    let shown = text.lines().count();
    assert!(shown <= 600, "{shown} lines");
    assert!(text.ends_with("line 2999"), "{}", &text[text.len() - 40..]);
}

#[test]
fn the_tail_is_the_end_of_the_last_line() {
    assert_eq!(tail("  short  "), "short");
    assert_eq!(
        tail("URGENT mail from overseer: hi — run `gastown mail read gt-ab12`"),
        "`gastown mail read gt-ab12`"[3..]
    );
    assert_eq!(tail("first\nsecond\n\n"), "second");
    assert_eq!(tail(""), "");
}

#[test]
fn the_input_line_is_the_cursor_row_with_what_it_wraps_from() {
    let now = Instant::now();
    let mut model = OutputModel::new((5, 10), 1024, None);
    model.push(b"> 0123456789abcdef", now);
    assert!(model.input_line_holds("789abc"), "wrapped across rows");
    model.push(b"\r\nack\r\n> ", now);
    assert!(!model.input_line_holds("789abc"), "the turn moved on");
    assert!(!model.input_line_holds(""), "nothing typed holds nothing");
}
