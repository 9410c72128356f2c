//! Progress where a person waits: `gastown demo`, `rig add` (the clone), `bead import` and `mq
//! process` draw bars and spinners ([`indicatif`]) on stderr, and only when someone can see them.
//!
//! The one decision ([`decide`]): bars when stderr is a terminal, unless `--quiet` is given,
//! `GASTOWN_NO_PROGRESS` is set (to anything but `0` or nothing) or `TERM` is `dumb`. Otherwise
//! every bar made here is hidden: no bar characters, no carriage returns, and the command's
//! plain output is exactly what it is without progress (pipes, logs, CI). The styles are here
//! too, so the four commands look alike.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// `--quiet`, on every command that shows progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct ProgressArgs {
    /// Draw no progress bar (nor does GASTOWN_NO_PROGRESS=1, TERM=dumb, or a stderr that is not
    /// a terminal).
    #[arg(long)]
    pub quiet: bool,
}

impl ProgressArgs {
    /// Whether this run draws bars: [`decide`] on this process's stderr and environment.
    pub fn mode(&self) -> Mode {
        decide(
            self.quiet,
            std::io::stderr().is_terminal(),
            std::env::var("GASTOWN_NO_PROGRESS").ok().as_deref(),
            std::env::var("TERM").ok().as_deref(),
        )
    }
}

/// Whether progress is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bars and spinners on stderr (a terminal).
    Bars,
    /// Nothing drawn: every bar is hidden and the command prints what it always printed.
    Plain,
}

/// The decision, from what the process knows: `--quiet`, whether stderr is a terminal, and the
/// values of `GASTOWN_NO_PROGRESS` and `TERM` (`None` when unset).
pub fn decide(
    quiet: bool,
    stderr_tty: bool,
    no_progress: Option<&str>,
    term: Option<&str>,
) -> Mode {
    let turned_off = no_progress.is_some_and(|v| !v.is_empty() && v != "0");
    if quiet || !stderr_tty || turned_off || term == Some("dumb") {
        Mode::Plain
    } else {
        Mode::Bars
    }
}

/// How a bar looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Things done out of a known number: `[=====>    ] 3/12`.
    Count,
    /// Bytes read out of a known size, with the rate and the time left.
    Bytes,
    /// Work of unknown size: a spinner, what is being done and for how long.
    Spinner,
}

/// The spinner's frames and the bar's characters: plain ASCII, drawn the same on any terminal.
const TICKS: &str = "|/-\\ ";
const BAR_CHARS: &str = "=> ";

impl Style {
    fn template(self) -> &'static str {
        match self {
            Style::Count => "{spinner} {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})",
            Style::Bytes => {
                "{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {msg} ({bytes_per_sec}, {eta} left)"
            }
            Style::Spinner => "{spinner} {prefix} {msg} ({elapsed})",
        }
    }

    /// The indicatif style.
    pub fn style(self) -> ProgressStyle {
        ProgressStyle::with_template(self.template())
            .expect("the progress templates are constants checked by a unit test")
            .tick_chars(TICKS)
            .progress_chars(BAR_CHARS)
    }
}

/// How often a spinner turns on its own while nothing reports.
const TICK: Duration = Duration::from_millis(120);

/// A bar in `style`, `prefix` at its left and `message` beside it (hidden in [`Mode::Plain`]);
/// `len` for a count or bytes bar, `0` for a spinner.
pub fn bar(mode: Mode, style: Style, prefix: &str, len: u64, message: String) -> ProgressBar {
    let bar = match mode {
        Mode::Plain => return ProgressBar::hidden(),
        Mode::Bars => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr()),
    };
    let bar = bar
        .with_style(style.style())
        .with_prefix(prefix.to_string())
        .with_message(message);
    bar.enable_steady_tick(TICK);
    bar
}

/// Move `bar` to `pos` of `len` and say `message`, in one redraw: a ticking bar does not draw
/// its count until the message is set, so no frame shows a new count with an old message or a
/// position beyond an old length.
pub fn show(bar: &ProgressBar, len: u64, pos: u64, message: String) {
    bar.update(|state| {
        state.set_len(len);
        state.set_pos(pos);
    });
    bar.set_message(message);
}

/// A set of bars drawn together, one line each (hidden in [`Mode::Plain`]); add them with
/// [`add`].
pub fn multi(mode: Mode) -> MultiProgress {
    match mode {
        Mode::Bars => MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
        Mode::Plain => MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
    }
}

/// A bar of `style` added below the others of `multi` (hidden when `multi` is).
pub fn add(multi: &MultiProgress, style: Style, prefix: &str) -> ProgressBar {
    let bar = multi.add(ProgressBar::new(0));
    bar.set_style(style.style());
    bar.set_prefix(prefix.to_string());
    if !multi.is_hidden() {
        bar.enable_steady_tick(TICK);
    }
    bar
}

/// Lets through one report of a fast feed (git's percentages, an import's lines) every `gap`:
/// the terminal is redrawn a few times a second, never thousands.
#[derive(Debug, Clone)]
pub struct Every {
    gap: Duration,
    last: Option<Instant>,
}

impl Every {
    pub fn new(gap: Duration) -> Every {
        Every { gap, last: None }
    }

    /// True for the first call and then once `gap` has passed since the last true.
    pub fn due(&mut self, now: Instant) -> bool {
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.gap)
        {
            return false;
        }
        self.last = Some(now);
        true
    }
}

impl Default for Every {
    fn default() -> Every {
        Every::new(Duration::from_millis(50))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_only_on_a_terminal_nobody_turned_them_off_on() {
        let xterm = Some("xterm-256color");
        assert_eq!(decide(false, true, None, xterm), Mode::Bars);
        assert_eq!(decide(false, true, None, None), Mode::Bars);
        // A pipe or a file.
        assert_eq!(decide(false, false, None, xterm), Mode::Plain);
        // --quiet.
        assert_eq!(decide(true, true, None, xterm), Mode::Plain);
        // GASTOWN_NO_PROGRESS: set turns them off; empty or 0 does not.
        assert_eq!(decide(false, true, Some("1"), xterm), Mode::Plain);
        assert_eq!(decide(false, true, Some("yes"), xterm), Mode::Plain);
        assert_eq!(decide(false, true, Some(""), xterm), Mode::Bars);
        assert_eq!(decide(false, true, Some("0"), xterm), Mode::Bars);
        // A terminal that cannot move its cursor.
        assert_eq!(decide(false, true, None, Some("dumb")), Mode::Plain);
    }

    #[test]
    fn every_style_builds_and_draws_its_parts() {
        for style in [Style::Count, Style::Bytes, Style::Spinner] {
            // Building panics on a bad template; the test proves none is.
            let _ = style.style();
        }
        assert!(Style::Count.template().contains("{pos}/{len}"));
        assert!(Style::Bytes.template().contains("{bytes}/{total_bytes}"));
        assert!(!Style::Spinner.template().contains("{bar"));
    }

    #[test]
    fn plain_mode_bars_are_hidden() {
        assert!(bar(Mode::Plain, Style::Count, "x", 3, String::new()).is_hidden());
        let m = multi(Mode::Plain);
        assert!(m.is_hidden());
        assert!(add(&m, Style::Spinner, "mr").is_hidden());
    }

    #[test]
    fn show_moves_count_length_and_message_together() {
        let bar = bar(Mode::Plain, Style::Count, "x", 0, String::new());
        show(&bar, 599, 12, "compressing".to_string());
        assert_eq!(
            (bar.length(), bar.position(), bar.message().as_str()),
            (Some(599), 12, "compressing")
        );
    }

    #[test]
    fn a_fast_feed_is_let_through_once_per_gap() {
        let mut every = Every::new(Duration::from_millis(50));
        let t0 = Instant::now();
        assert!(every.due(t0));
        assert!(!every.due(t0 + Duration::from_millis(10)));
        assert!(!every.due(t0 + Duration::from_millis(49)));
        assert!(every.due(t0 + Duration::from_millis(50)));
        assert!(!every.due(t0 + Duration::from_millis(60)));
    }
}
