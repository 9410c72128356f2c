//! The full-screen feed's keys as a pure transition: a key changes the [`Model`] and may ask
//! the loop (`tui.rs`) for something only it can do — quit, peek, attach.

use super::model::{Model, Overlay};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Lines a page key scrolls the log.
const PAGE: isize = 10;

/// What the loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing more than drawing the model again.
    None,
    /// Leave the full screen and end.
    Quit,
    /// Ask the supervisor for this agent's screen and show it.
    Peek(String),
    /// Leave the full screen, attach to this agent, come back when the attachment ends.
    Attach(String),
}

/// The footer: every key, in a line.
pub const FOOTER: &str = "q quit  r rig  a/Tab agent  ↑↓ select  f filter log  p peek  Enter attach  PgUp/PgDn scroll  ? help";

/// The help overlay's lines.
pub const HELP: &[&str] = &[
    "q, Ctrl-C      quit",
    "r              cycle the rig filter: all, then each rig",
    "a, Tab         select the next agent (Shift-Tab: the one before)",
    "Up, Down       select the agent above or below",
    "f              show only the selected agent's events in the log (again: all)",
    "p              peek at the selected agent's screen (Esc closes)",
    "Enter          attach to the selected agent (Ctrl-] detaches and comes back)",
    "PgUp, PgDn     scroll the log; End: follow the newest again",
    "?              this help (Esc closes)",
];

/// One key.
pub fn on_key(model: &mut Model, key: KeyEvent) -> Action {
    if key.kind == KeyEventKind::Release {
        return Action::None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c')) {
        return Action::Quit;
    }
    if model.overlay != Overlay::None {
        return match key.code {
            KeyCode::Esc => {
                model.overlay = Overlay::None;
                Action::None
            }
            KeyCode::Char('q') => Action::Quit,
            KeyCode::Char('?') => {
                model.overlay = Overlay::Help;
                Action::None
            }
            _ => Action::None,
        };
    }
    model.notice = None;
    match key.code {
        KeyCode::Char('q') => return Action::Quit,
        KeyCode::Char('r') => model.cycle_rig(),
        KeyCode::Char('a') | KeyCode::Tab | KeyCode::Down => model.select(1),
        KeyCode::BackTab | KeyCode::Up => model.select(-1),
        KeyCode::Char('f') => model.toggle_agent_filter(),
        KeyCode::Char('p') | KeyCode::Enter => {
            let Some(agent) = model.selected.clone() else {
                model.notice = Some("select an agent first (a or Tab)".into());
                return Action::None;
            };
            return if key.code == KeyCode::Enter {
                Action::Attach(agent)
            } else {
                Action::Peek(agent)
            };
        }
        KeyCode::Char('?') => model.overlay = Overlay::Help,
        KeyCode::PageUp => model.scroll_by(PAGE),
        KeyCode::PageDown => model.scroll_by(-PAGE),
        KeyCode::End => model.scroll = 0,
        KeyCode::Home => model.scroll_by(isize::MAX / 2),
        KeyCode::Esc => {}
        _ => {}
    }
    Action::None
}

#[cfg(test)]
mod tests {
    use super::super::model::tests::{event, loaded};
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn quit_is_q_or_ctrl_c_even_over_an_overlay() {
        let mut m = loaded();
        assert_eq!(on_key(&mut m, key(KeyCode::Char('q'))), Action::Quit);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(on_key(&mut m, ctrl_c), Action::Quit);
        m.overlay = Overlay::Help;
        assert_eq!(on_key(&mut m, ctrl_c), Action::Quit);
        assert_eq!(on_key(&mut m, key(KeyCode::Char('c'))), Action::None);
    }

    #[test]
    fn r_a_tab_and_arrows_move_the_filters_and_selection() {
        let mut m = loaded();
        assert_eq!(on_key(&mut m, key(KeyCode::Char('r'))), Action::None);
        assert_eq!(m.rig.as_deref(), Some("alpha"));
        assert_eq!(m.selected.as_deref(), Some("alpha/polecats/nux"));
        on_key(&mut m, key(KeyCode::Char('r')));
        assert_eq!(m.selected.as_deref(), Some("beta/crew/max"), "beta's first");
        on_key(&mut m, key(KeyCode::Char('r')));
        assert_eq!(m.rig, None);
        on_key(&mut m, key(KeyCode::Tab));
        assert_eq!(m.selected.as_deref(), Some("mayor"), "wraps");
        on_key(&mut m, key(KeyCode::Char('a')));
        assert_eq!(m.selected.as_deref(), Some("alpha/polecats/nux"));
        on_key(&mut m, key(KeyCode::Down));
        on_key(&mut m, key(KeyCode::Up));
        assert_eq!(m.selected.as_deref(), Some("alpha/polecats/nux"));
        on_key(&mut m, key(KeyCode::BackTab));
        assert_eq!(m.selected.as_deref(), Some("mayor"));
        on_key(&mut m, key(KeyCode::Up));
        assert_eq!(m.selected.as_deref(), Some("beta/crew/max"));
        on_key(&mut m, key(KeyCode::Char('f')));
        assert_eq!(m.log_agent.as_deref(), Some("beta/crew/max"));
        on_key(&mut m, key(KeyCode::Char('f')));
        assert_eq!(m.log_agent, None);
    }

    #[test]
    fn p_and_enter_ask_for_the_selected_agent_and_esc_closes_overlays() {
        let mut m = loaded();
        on_key(&mut m, key(KeyCode::Down));
        assert_eq!(
            on_key(&mut m, key(KeyCode::Char('p'))),
            Action::Peek("alpha/polecats/nux".into())
        );
        assert_eq!(
            on_key(&mut m, key(KeyCode::Enter)),
            Action::Attach("alpha/polecats/nux".into())
        );
        m.overlay = Overlay::Peek {
            agent: "alpha/polecats/nux".into(),
            text: "screen".into(),
        };
        assert_eq!(
            on_key(&mut m, key(KeyCode::Char('r'))),
            Action::None,
            "keys under an overlay do nothing"
        );
        assert_eq!(m.rig, None);
        on_key(&mut m, key(KeyCode::Esc));
        assert_eq!(m.overlay, Overlay::None);
        on_key(&mut m, key(KeyCode::Char('?')));
        assert_eq!(m.overlay, Overlay::Help);
        on_key(&mut m, key(KeyCode::Esc));
        assert_eq!(m.overlay, Overlay::None);
        // Nothing selected: a word, no request.
        m.selected = None;
        assert_eq!(on_key(&mut m, key(KeyCode::Char('p'))), Action::None);
        assert!(m.notice.as_deref().is_some_and(|n| n.contains("select")));
    }

    #[test]
    fn page_keys_scroll_the_log_and_end_follows_again() {
        let mut m = loaded();
        m.apply(
            (1..=30)
                .map(|i| event(i, "bead.created", "gt-1", "", "x"))
                .collect(),
        );
        on_key(&mut m, key(KeyCode::PageUp));
        assert_eq!(m.scroll, 10);
        on_key(&mut m, key(KeyCode::Home));
        assert_eq!(m.scroll, 29);
        on_key(&mut m, key(KeyCode::PageDown));
        assert_eq!(m.scroll, 19);
        on_key(&mut m, key(KeyCode::End));
        assert_eq!(m.scroll, 0);
    }
}
