//! Text that reaches a terminal is inert: the one sanitizer for what the town types into agent
//! sessions and what the CLI prints.
//!
//! Titles, subjects, bodies and names come from anyone who can write a bead (agents included):
//! a carriage return in a mail subject typed into a session would submit a second line of the
//! attacker's choosing, and an escape sequence printed to the overseer's terminal can clear it,
//! retitle it or fake output. So:
//!
//! - [`for_typing`]: text typed into a session is one line; line breaks (CR, LF, CRLF, the
//!   Unicode line and paragraph separators) and tabs become a space, and every other control
//!   character (C0 including ESC, DEL, C1) becomes a visible escape;
//! - [`one_line`]: a field printed on one line (a title, a subject, a name) shows every control
//!   character, line breaks included, as a visible escape;
//! - [`paragraph`]: text printed as paragraphs (a mail body, a description) keeps its line
//!   feeds and tabs and escapes every other control character (never a raw ESC or CR).
//!
//! A visible escape is caret notation for C0 and DEL (`^[` for ESC, `^M` for CR, `^?` for DEL)
//! and `\u{9b}` style for C1. JSON output needs none of this: serde escapes control characters.

use std::borrow::Cow;

/// Is `c` a control character (C0, DEL or C1)?
fn is_control(c: char) -> bool {
    c.is_control()
}

/// Is `c` a line break of any kind?
fn is_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Appends the visible escape of control character `c`.
fn escape_into(out: &mut String, c: char) {
    let code = c as u32;
    match code {
        0..=0x1f => {
            out.push('^');
            out.push(char::from_u32(code + 0x40).unwrap_or('?'));
        }
        0x7f => out.push_str("^?"),
        _ => out.push_str(&format!("\\u{{{code:x}}}")),
    }
}

/// Does `text` need any change for `keep` (the characters left as they are)?
fn clean(text: &str, keep: impl Fn(char) -> bool) -> bool {
    text.chars()
        .all(|c| (!is_control(c) && c != '\u{2028}' && c != '\u{2029}') || keep(c))
}

/// Text to type into a session: one line, no control characters (see the module doc).
pub fn for_typing(text: &str) -> Cow<'_, str> {
    if clean(text, |_| false) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if is_break(c) || c == '\t' {
            // CRLF (and runs of breaks) flatten to one space.
            while chars.peek().is_some_and(|&n| is_break(n)) {
                chars.next();
            }
            out.push(' ');
        } else if is_control(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A field printed on one line: every control character (line breaks included) escaped.
pub fn one_line(text: &str) -> Cow<'_, str> {
    escape_except(text, |_| false)
}

/// Text printed as paragraphs: line feeds and tabs kept, every other control character escaped.
pub fn paragraph(text: &str) -> Cow<'_, str> {
    escape_except(text, |c| c == '\n' || c == '\t')
}

/// Escapes every control character (and the Unicode line separators) but those `keep` allows.
fn escape_except(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if clean(text, &keep) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if keep(c) || !(is_control(c) || c == '\u{2028}' || c == '\u{2029}') {
            out.push(c);
        } else {
            escape_into(&mut out, c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_is_one_line_without_control_characters() {
        assert_eq!(for_typing("x\rrm -rf /\r"), "x rm -rf / ");
        assert_eq!(for_typing("a\r\nb\n\nc\td"), "a b c d");
        assert_eq!(
            for_typing("\x1b[2Jwipe\x7f\u{9b}1m"),
            "^[[2Jwipe^?\\u{9b}1m"
        );
        assert_eq!(for_typing("line\u{2028}sep"), "line sep");
        assert!(matches!(for_typing("plain — text"), Cow::Borrowed(_)));
        for nasty in ["a\rb", "\x1b]0;title\x07", "\u{85}x", "\0"] {
            let typed = for_typing(nasty);
            assert!(!typed.chars().any(char::is_control), "{typed:?}");
        }
    }

    #[test]
    fn printed_fields_show_control_characters_as_escapes() {
        assert_eq!(one_line("\x1b[2Jtitle\r\nnext"), "^[[2Jtitle^M^Jnext");
        assert_eq!(
            paragraph("body\n\tindented\r\x1b[31m"),
            "body\n\tindented^M^[[31m"
        );
        assert!(matches!(one_line("fine"), Cow::Borrowed(_)));
        assert!(matches!(paragraph("fine\nlines"), Cow::Borrowed(_)));
        assert!(!one_line("a\u{9b}b").contains('\u{9b}'));
    }
}
