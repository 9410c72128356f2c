//! The full-screen feed drawn from its [`Model`] alone: a header line (filters, selection, news),
//! the agents, convoys and merge queue panes, the event log (newest at the bottom), the footer
//! of keys, and the peek or help overlay. A terminal smaller than [`MIN_WIDTH`] × [`MIN_HEIGHT`]
//! gets one line saying so instead of a garbled layout.

use super::keys::{FOOTER, HELP};
use super::model::{Model, Overlay};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// The smallest terminal the panes fit in.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

/// Width of a convoy's progress bar.
const BAR: usize = 20;

/// Draw the whole screen.
pub fn render(frame: &mut Frame, model: &Model) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "terminal too small ({}x{}): gastown feed needs {MIN_WIDTH}x{MIN_HEIGHT}",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text), area);
        return;
    }
    let [header, top, log, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Percentage(45),
        Constraint::Min(4),
        Constraint::Length(1),
    ])
    .areas(area);
    let [agents, right] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(top);
    let [convoys, queue] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(right);
    frame.render_widget(Paragraph::new(header_line(model)), header);
    render_agents(frame, model, agents);
    render_convoys(frame, model, convoys);
    render_queue(frame, model, queue);
    render_log(frame, model, log);
    frame.render_widget(
        Paragraph::new(FOOTER).style(Style::default().add_modifier(Modifier::REVERSED)),
        footer,
    );
    match &model.overlay {
        Overlay::None => {}
        Overlay::Help => {
            let lines: Vec<Line> = HELP.iter().map(|l| Line::raw(*l)).collect();
            overlay(frame, area, " keys — Esc closes ", lines);
        }
        Overlay::Peek { agent, text } => {
            let lines: Vec<Line> = text.lines().map(Line::raw).collect();
            overlay(frame, area, &format!(" peek {agent} — Esc closes "), lines);
        }
    }
}

fn header_line(model: &Model) -> Line<'static> {
    let rig = model.rig.as_deref().unwrap_or("all");
    let log = model.log_agent.as_deref().unwrap_or("all agents");
    let selected = model.selected.as_deref().unwrap_or("none");
    let mut spans = vec![
        Span::styled(
            "gastown feed",
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!("  rig: {rig}  log: {log}  selected: {selected}")),
    ];
    if !model.kinds.is_empty() {
        spans.push(Span::raw(format!("  kinds: {}", model.kinds.join(","))));
    }
    if let Some(notice) = &model.notice {
        spans.push(Span::styled(
            format!("  {notice}"),
            Style::default().fg(Color::Yellow),
        ));
    }
    Line::from(spans)
}

fn pane(title: String) -> Block<'static> {
    Block::default().borders(Borders::ALL).title(title)
}

fn render_agents(frame: &mut Frame, model: &Model, area: Rect) {
    let agents = model.visible_agents();
    let mut lines = Vec::new();
    if model.status.is_none() {
        lines.push(Line::raw("asking the supervisor…"));
    } else if agents.is_empty() {
        lines.push(Line::raw(
            "none yet (`gastown sling <bead> <rig>` starts a polecat)",
        ));
    }
    let width = agents.iter().map(|a| a.address.len()).max().unwrap_or(0);
    for a in &agents {
        let chosen = model.selected.as_deref() == Some(a.address.as_str());
        let session = a.session.as_deref().unwrap_or(a.state.as_str());
        let hook = a.hook.as_ref().map_or_else(
            || "-".to_string(),
            |h| match &h.step {
                Some(step) => format!("{} {} [{step}]", h.id, h.title),
                None => format!("{} {}", h.id, h.title),
            },
        );
        let text = format!(
            "{} {:<width$}  {:<8} {:<12} {hook}",
            if chosen { ">" } else { " " },
            a.address,
            a.role,
            session,
        );
        let style = if chosen {
            Style::default().add_modifier(Modifier::REVERSED)
        } else if session.starts_with("blocked") || a.stuck.is_some() {
            Style::default().fg(Color::Red)
        } else if session.starts_with("stalled") {
            Style::default().fg(Color::Yellow)
        } else {
            Style::default()
        };
        lines.push(Line::styled(text, style));
    }
    // Keep the selected row in view.
    let inner = area.height.saturating_sub(2) as usize;
    let at = agents
        .iter()
        .position(|a| model.selected.as_deref() == Some(a.address.as_str()))
        .unwrap_or(0);
    let skip = (at + 1).saturating_sub(inner);
    let title = format!(" agents ({}) ", agents.len());
    frame.render_widget(
        Paragraph::new(lines)
            .block(pane(title))
            .scroll((skip as u16, 0)),
        area,
    );
}

fn render_convoys(frame: &mut Frame, model: &Model, area: Rect) {
    let convoys = model
        .status
        .as_ref()
        .map(|s| s.convoys.as_slice())
        .unwrap_or_default();
    let mut lines: Vec<Line> = convoys
        .iter()
        .map(|c| {
            let filled = (c.closed * BAR).checked_div(c.total).unwrap_or(0).min(BAR);
            Line::from(vec![
                Span::styled("#".repeat(filled), Style::default().fg(Color::Green)),
                Span::raw("-".repeat(BAR - filled)),
                Span::raw(format!(" {}/{} {} {}", c.closed, c.total, c.id, c.name)),
            ])
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::raw("none open"));
    }
    frame.render_widget(
        Paragraph::new(lines).block(pane(format!(" convoys ({}) ", convoys.len()))),
        area,
    );
}

fn render_queue(frame: &mut Frame, model: &Model, area: Rect) {
    let queue = model.visible_merge_queue();
    let mut lines: Vec<Line> = queue
        .iter()
        .map(|m| {
            let style = match m.state.as_str() {
                "escalated" => Style::default().fg(Color::Red),
                "rework" => Style::default().fg(Color::Yellow),
                _ => Style::default(),
            };
            let tries = if m.retries > 0 {
                format!(" (tries {})", m.retries)
            } else {
                String::new()
            };
            Line::styled(
                format!("{} {:<9} {} by {}{tries}", m.id, m.state, m.bead, m.worker),
                style,
            )
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::raw("empty"));
    }
    frame.render_widget(
        Paragraph::new(lines).block(pane(format!(" merge queue ({}) ", queue.len()))),
        area,
    );
}

fn render_log(frame: &mut Frame, model: &Model, area: Rect) {
    let height = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = model
        .visible_log(height)
        .into_iter()
        .map(|e| {
            if e.kind == "missed" {
                Line::styled(
                    format!("── {} ──", e.text),
                    Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
                )
            } else {
                Line::raw(super::line(e))
            }
        })
        .collect();
    let title = if model.scroll > 0 {
        format!(" events — {} lines up (End: newest) ", model.scroll)
    } else {
        " events ".to_string()
    };
    frame.render_widget(Paragraph::new(lines).block(pane(title)), area);
}

fn overlay(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line>) {
    let rect = area.centered(Constraint::Percentage(90), Constraint::Percentage(80));
    let inner = rect.height.saturating_sub(2) as usize;
    // A screen's last lines are its newest.
    let skip = lines.len().saturating_sub(inner);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(pane(title.to_string()))
            .scroll((skip as u16, 0)),
        rect,
    );
}

#[cfg(test)]
mod tests {
    use super::super::model::tests::{event, loaded};
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    /// The model drawn on a `width` × `height` test terminal, as rows of text.
    fn draw(model: &Model, width: u16, height: u16) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
        terminal
            .draw(|f| render(f, model))
            .expect("drawing into a buffer");
        let buffer = terminal.backend().buffer();
        buffer
            .content()
            .chunks(width as usize)
            .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
            .collect()
    }

    fn screen(rows: &[String]) -> String {
        rows.join("\n")
    }

    #[test]
    fn the_panes_show_agents_convoys_the_queue_and_the_log() {
        let mut m = loaded();
        m.apply(vec![
            event(
                1,
                "hook.set",
                "al-1",
                "alpha",
                "al-1 on alpha/polecats/nux's hook: hi",
            ),
            event(2, "missed", "", "", "missed 7 events: slow"),
            event(
                3,
                "mq.queued",
                "al-m1",
                "alpha",
                "al-1 queued by alpha/polecats/nux",
            ),
        ]);
        let rows = draw(&m, 120, 30);
        let text = screen(&rows);
        assert!(rows[0].contains("rig: all") && rows[0].contains("selected: mayor"));
        for shown in [
            " agents (3) ",
            "> mayor",
            "alpha/polecats/nux  polecat  working      al-1 title of al-1",
            "beta/crew/max",
            " convoys (1) ",
            "##########---------- 1/2 gt-c1 Greetings",
            " merge queue (2) ",
            "al-m1 queued    al-1 by alpha/polecats/nux",
            "be-m2 rework    be-7 by beta/crew/max (tries 2)",
            "── missed 7 events: slow ──",
            "08:56:54.481  hook.set",
        ] {
            assert!(text.contains(shown), "{shown:?} not in\n{text}");
        }
        // The newest event is the log's last line, just above its bottom border.
        let last = rows
            .iter()
            .rposition(|r| r.contains("08:56:54.481"))
            .expect("log lines");
        assert!(rows[last].contains("mq.queued"), "{text}");
        assert!(rows[rows.len() - 1].contains("q quit") && rows[rows.len() - 1].contains("p peek"));
    }

    #[test]
    fn filters_show_in_the_header_and_the_panes() {
        let mut m = loaded();
        m.apply(vec![
            event(1, "bead.created", "gt-9", "", "gt-9 created: town work"),
            event(
                2,
                "session.idle",
                "beta/crew/max",
                "beta",
                "beta/crew/max idle",
            ),
        ]);
        m.cycle_rig();
        m.cycle_rig();
        let text = screen(&draw(&m, 120, 30));
        assert!(text.contains("rig: beta"), "{text}");
        assert!(text.contains("beta/crew/max idle"));
        assert!(!text.contains("town work"), "another rig's event: {text}");
        assert!(!text.contains("alpha/polecats/nux  polecat"), "{text}");
        assert!(!text.contains("al-m1"), "{text}");
    }

    #[test]
    fn peek_and_help_overlay_the_panes() {
        let mut m = loaded();
        m.overlay = Overlay::Peek {
            agent: "beta/crew/max".into(),
            text: "Gas Town sim agent — beta/crew/max (crew)\n> ".into(),
        };
        let text = screen(&draw(&m, 100, 24));
        assert!(text.contains("peek beta/crew/max — Esc closes"), "{text}");
        assert!(text.contains("Gas Town sim agent — beta/crew/max (crew)"));
        m.overlay = Overlay::Help;
        let text = screen(&draw(&m, 100, 24));
        assert!(text.contains("cycle the rig filter"), "{text}");
    }

    #[test]
    fn a_terminal_too_small_gets_one_line_saying_so() {
        let m = loaded();
        let rows = draw(&m, 20, 5);
        assert!(rows[0].starts_with("terminal too small"), "{rows:?}");
        assert!(rows[1..].iter().all(|r| r.trim().is_empty()), "{rows:?}");
        let rows = draw(&m, MIN_WIDTH, MIN_HEIGHT);
        assert!(screen(&rows).contains(" agents (3) "), "{rows:?}");
    }
}
