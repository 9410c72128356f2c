//! The full-screen feed's loop: the event stream read on a thread of its own, keys and resizes
//! from the terminal, the status asked for at the start and again only when an event says
//! something it shows changed, peeks and attachments carried out for `keys.rs`. The terminal is
//! always given back — on `q`, on an error, on a panic, when the supervisor goes away (then the
//! reason is said on stderr, after the alternate screen is left).

use super::keys::{self, Action};
use super::model::{Model, Overlay};
use super::{ENDED, FeedArgs, view};
use crate::cli::routed::unexpected;
use crate::client;
use crate::protocol::{EventFilter, TownEvent, TownReply, TownRequest};
use anyhow::{Context, Result, bail};
use crossterm::event::{self, Event};
use crossterm::terminal::{self, Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use gastown_town::status::TownStatus;
use gastown_town::town::Town;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::Stdout;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError, sync_channel};
use std::time::{Duration, Instant};

/// Batches of events waiting for the screen; past this the stream thread waits, the socket
/// fills and the supervisor sends a `missed` marker (while attached, say).
const QUEUE: usize = 64;
/// How long a key is waited for before the stream is looked at again.
const TICK: Duration = Duration::from_millis(50);
/// Events that change the status within this are answered by one request.
const SETTLE: Duration = Duration::from_millis(250);

/// What the stream thread hands over.
enum Msg {
    Events(Vec<TownEvent>),
    Ended,
    Broken(String),
}

/// How the loop ended.
enum End {
    Quit,
    SupervisorGone,
    /// SIGTERM or SIGHUP: the terminal is given back first, then we say so.
    Signalled,
}

/// The full-screen feed.
pub fn run(town: &Town, args: FeedArgs) -> Result<()> {
    // Everything that can fail for a reason the person must read fails before the screen.
    let mut events = client::subscribe(
        town,
        EventFilter {
            kinds: args.kinds.clone(),
            ..EventFilter::default()
        },
    )?;
    let mut model = Model::new(args.kinds, args.rig, args.agent);
    model.set_status(status(town)?);
    let (tx, rx) = sync_channel(QUEUE);
    std::thread::Builder::new()
        .name("feed-stream".into())
        .spawn(move || {
            loop {
                let msg = match events.next() {
                    Ok(Some(batch)) => Msg::Events(batch),
                    Ok(None) => Msg::Ended,
                    Err(e) => Msg::Broken(format!("{e:#}")),
                };
                let last = !matches!(msg, Msg::Events(_));
                if tx.send(msg).is_err() || last {
                    return;
                }
            }
        })
        .context("cannot start the feed's stream thread")?;
    let signalled = watch_signals();
    let mut screen = Screen::enter()?;
    let end = event_loop(town, &mut model, &mut screen, &rx, &signalled);
    drop(screen);
    match end? {
        End::Quit => Ok(()),
        End::Signalled => {
            eprintln!("gastown feed: stopped by a signal");
            Ok(())
        }
        End::SupervisorGone => {
            eprintln!("{ENDED}");
            Ok(())
        }
    }
}

fn event_loop(
    town: &Town,
    model: &mut Model,
    screen: &mut Screen,
    rx: &Receiver<Msg>,
    signalled: &AtomicBool,
) -> Result<End> {
    let mut dirty = true;
    let mut asked = Instant::now();
    loop {
        if signalled.load(Ordering::Relaxed) {
            return Ok(End::Signalled);
        }
        if dirty {
            screen
                .terminal
                .draw(|f| view::render(f, model))
                .context("cannot draw the feed")?;
            dirty = false;
        }
        if event::poll(TICK).context("cannot read the terminal")? {
            match event::read().context("cannot read the terminal")? {
                Event::Key(key) => {
                    dirty = true;
                    match keys::on_key(model, key) {
                        Action::None => {}
                        Action::Quit => return Ok(End::Quit),
                        Action::Peek(agent) => match peek(town, &agent) {
                            Ok(text) => model.overlay = Overlay::Peek { agent, text },
                            Err(e) => model.notice = Some(format!("peek {agent}: {e:#}")),
                        },
                        Action::Attach(agent) => {
                            screen.suspend()?;
                            let attached = crate::cli::agents::attach(town, agent.clone());
                            screen.resume()?;
                            model.notice = Some(match attached {
                                Ok(()) => format!("back from {agent}"),
                                Err(e) => format!("attach {agent}: {e:#}"),
                            });
                        }
                    }
                }
                Event::Resize(..) => dirty = true,
                _ => {}
            }
        }
        loop {
            match rx.try_recv() {
                Ok(Msg::Events(batch)) => {
                    model.apply(batch);
                    dirty = true;
                }
                Ok(Msg::Ended) | Err(TryRecvError::Disconnected) => {
                    return Ok(End::SupervisorGone);
                }
                Ok(Msg::Broken(why)) => bail!("{why}"),
                Err(TryRecvError::Empty) => break,
            }
        }
        if model.status_stale && asked.elapsed() >= SETTLE {
            asked = Instant::now();
            match status(town) {
                Ok(s) => model.set_status(s),
                Err(e) => {
                    model.status_stale = false;
                    model.notice = Some(format!("status: {e:#}"));
                }
            }
            dirty = true;
        }
    }
}

/// Set when SIGTERM or SIGHUP arrives, so the loop gives the terminal back before it ends
/// (their default action would end the process on the alternate screen, in raw mode).
fn watch_signals() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = Arc::clone(&flag);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    if let Ok(runtime) = runtime {
        std::thread::spawn(move || {
            runtime.block_on(async move {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut term), Ok(mut hup)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::hangup()),
                ) else {
                    return;
                };
                tokio::select! {
                    _ = term.recv() => {}
                    _ = hup.recv() => {}
                }
                set.store(true, Ordering::Relaxed);
            });
        });
    }
    flag
}

/// The town's status from the supervisor (a connection each time: an idle one is closed).
fn status(town: &Town) -> Result<TownStatus> {
    let mut c = client::require(town)?;
    match client::call(&mut c, TownRequest::Status)? {
        TownReply::Status(status) => Ok(*status),
        other => Err(unexpected(&other)),
    }
}

/// An agent's screen.
fn peek(town: &Town, agent: &str) -> Result<String> {
    let mut c = client::require(town)?;
    let request = TownRequest::Peek {
        agent: agent.to_string(),
        lines: None,
    };
    match client::call(&mut c, request)? {
        TownReply::Screen { text, .. } => Ok(text),
        other => Err(unexpected(&other)),
    }
}

/// The terminal in raw mode on the alternate screen until dropped; a panic gives it back too.
struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Screen {
    fn enter() -> Result<Screen> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        enter().context("cannot take over the terminal")?;
        let terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))
            .context("cannot take over the terminal")?;
        Ok(Screen { terminal })
    }

    /// Give the terminal back for a while (an attachment).
    fn suspend(&mut self) -> Result<()> {
        restore();
        Ok(())
    }

    /// Take it again and draw everything anew: a new `Terminal` knows nothing drawn, and no
    /// cursor position is asked for (an attachment's keyboard reader may still read stdin).
    fn resume(&mut self) -> Result<()> {
        enter().context("cannot take the terminal back")?;
        self.terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))
            .context("cannot take the terminal back")?;
        Ok(())
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
        // The panic hook's restore is harmless once the screen is given back.
    }
}

fn enter() -> std::io::Result<()> {
    terminal::enable_raw_mode()?;
    execute!(
        std::io::stdout(),
        EnterAlternateScreen,
        Clear(ClearType::All),
        cursor::Hide
    )
}

/// Leave the alternate screen and raw mode (idempotent; errors have nowhere to go).
fn restore() {
    let _ = execute!(std::io::stdout(), LeaveAlternateScreen, cursor::Show);
    let _ = terminal::disable_raw_mode();
}
