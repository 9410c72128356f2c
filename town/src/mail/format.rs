//! How mail looks: inbox lines, one message, and the `mail check` / `--inject` blocks.

use super::record::{is_unread, is_urgent, replies_to, sender_of};
use crate::text::one_line;
use gastown_beads::Bead;

/// How much of a body `mail check --inject` shows before cutting it.
const PREVIEW: usize = 400;

fn flags(b: &Bead) -> String {
    let unread = if is_unread(b) { '*' } else { ' ' };
    let urgent = if is_urgent(b) { '!' } else { ' ' };
    format!("{unread}{urgent}")
}

/// One inbox line: flags (`*` unread, `!` urgent), id, sender, date, subject.
pub fn line(b: &Bead) -> String {
    let mut out = String::with_capacity(96);
    push_line(&mut out, b);
    out
}

/// Append one inbox line (without its newline).
fn push_line(out: &mut String, b: &Bead) {
    use std::fmt::Write;
    let date = b.created_at.get(..16).unwrap_or(&b.created_at);
    let (day, time) = date.split_once('T').unwrap_or((date, ""));
    let _ = write!(
        out,
        "{} {}  {:<24} {day} {time}  {}",
        flags(b),
        b.id,
        sender_of(b),
        one_line(&b.title)
    );
}

/// An inbox listing, or a line saying it is empty.
pub fn inbox(address: &str, mail: &[&Bead], all: bool) -> String {
    if mail.is_empty() {
        let what = if all { "no mail" } else { "no unread mail" };
        return format!("{address}: {what}\n");
    }
    let mut out = String::with_capacity(mail.len() * 96);
    for b in mail {
        push_line(&mut out, b);
        out.push('\n');
    }
    out
}

/// A whole message: headers, then the body.
pub fn message(b: &Bead) -> String {
    let mut out = format!(
        "Id: {}\nFrom: {}\nTo: {}\nDate: {}\nSubject: {}\n",
        b.id,
        sender_of(b),
        b.assignee,
        b.created_at,
        one_line(&b.title)
    );
    if let Some(parent) = replies_to(b) {
        out.push_str(&format!("In-Reply-To: {parent}\n"));
    }
    let state: Vec<&str> = b
        .labels
        .iter()
        .map(String::as_str)
        .chain(b.closed_at.as_ref().map(|_| "archived"))
        .collect();
    if !state.is_empty() {
        out.push_str(&format!("Labels: {}\n", state.join(", ")));
    }
    out.push('\n');
    out.push_str(&b.description);
    if !b.description.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Messages one after another (a thread, search results).
pub fn messages(mail: &[Bead]) -> String {
    mail.iter()
        .map(message)
        .collect::<Vec<_>>()
        .join("\n---\n\n")
}

/// `mail check`: a short block of unread mail, or nothing at all.
pub fn check(address: &str, mail: &[Bead]) -> String {
    if mail.is_empty() {
        return String::new();
    }
    let mut out = format!("{address}: {} unread mail\n", mail.len());
    for b in mail {
        out.push_str(&line(b));
        out.push('\n');
    }
    out
}

/// `mail check --inject`: a system-reminder block for a UserPromptSubmit hook (urgent first,
/// bodies cut at [`PREVIEW`] bytes), or nothing at all.
pub fn inject(address: &str, mail: &[Bead]) -> String {
    if mail.is_empty() {
        return String::new();
    }
    let mut sorted: Vec<&Bead> = mail.iter().collect();
    sorted.sort_by_key(|b| !is_urgent(b));
    let mut out = format!(
        "<system-reminder>\nYou ({address}) have {} new mail. Read one with `gastown mail read <id>`; \
         answer with `gastown mail reply <id> -m \"…\"`.\n",
        mail.len()
    );
    for b in sorted {
        let urgent = if is_urgent(b) { " [URGENT]" } else { "" };
        out.push_str(&format!(
            "\n- {}{urgent} from {}: {}\n",
            b.id,
            sender_of(b),
            one_line(&b.title)
        ));
        let body = b.description.trim();
        if !body.is_empty() {
            out.push_str("  ");
            out.push_str(&cut(body, PREVIEW).replace('\n', "\n  "));
            out.push('\n');
        }
    }
    out.push_str("</system-reminder>\n");
    out
}

/// `text` cut at a char boundary at most `max` bytes in, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_respects_char_boundaries() {
        assert_eq!(cut("héllo", 2), "h…");
        assert_eq!(cut("hello", 10), "hello");
    }

    #[test]
    fn check_and_inject_print_nothing_without_mail() {
        assert_eq!(check("mayor", &[]), "");
        assert_eq!(inject("mayor", &[]), "");
    }
}
