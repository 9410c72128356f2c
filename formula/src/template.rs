//! Text templating: `{{var}}` variables, `{target}`-style composition placeholders, and the
//! step-id globs used by `[compose] map` and aspects.
//!
//! A `{{…}}` is a variable reference when its content (spaces trimmed) is an identifier
//! (`[A-Za-z_][A-Za-z0-9_]*`) that is not a template keyword (`else`, `end`, `this`, ...).
//! Everything else — `{{#if x}}`, `{{/each}}`, `{{.leg.id}}`, `{{else if y}}` — is text for the
//! agent or a later renderer and is left as written.

/// Words that appear alone in `{{…}}` as template control, never as variables.
const KEYWORDS: &[&str] = &[
    "else", "end", "this", "range", "if", "each", "with", "unless", "define", "block", "template",
    "nil", "true", "false",
];

/// One piece of a template: literal text or a variable reference.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// Splits `text` into literal pieces and variable references, in order.
pub(crate) fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        let inner = after[..close].trim();
        if is_variable(inner) {
            if open > 0 {
                out.push(Piece::Text(&rest[..open]));
            }
            out.push(Piece::Var(inner));
        } else {
            out.push(Piece::Text(&rest[..open + 2 + close + 2]));
        }
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// The variables `text` refers to, in order of first use.
#[cfg(test)]
pub(crate) fn variables(text: &str) -> Vec<&str> {
    let mut seen: Vec<&str> = Vec::new();
    for piece in pieces(text) {
        if let Piece::Var(name) = piece
            && !seen.contains(&name)
        {
            seen.push(name);
        }
    }
    seen
}

/// Replaces every variable reference with `lookup(name)`; the first name `lookup` does not
/// know is returned as the error.
pub(crate) fn substitute<'t, 'v>(
    text: &'t str,
    lookup: impl Fn(&str) -> Option<&'v str>,
) -> Result<String, &'t str> {
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(name) => out.push_str(lookup(name).ok_or(name)?),
        }
    }
    Ok(out)
}

/// [`substitute`] for an owned string, which is returned as is when it has no `{{`.
pub(crate) fn substitute_owned<'v>(
    text: String,
    lookup: impl Fn(&str) -> Option<&'v str>,
) -> Result<String, String> {
    if !text.contains("{{") {
        return Ok(text);
    }
    substitute(&text, lookup).map_err(str::to_string)
}

/// Replaces known variables and leaves unknown references as written (for free text such as
/// a formula's description, where `{{x}}` may be documentation).
pub(crate) fn substitute_lenient<'v>(
    text: &str,
    lookup: impl Fn(&str) -> Option<&'v str>,
) -> String {
    if !text.contains("{{") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(name) => match lookup(name) {
                Some(value) => out.push_str(value),
                None => {
                    out.push_str("{{");
                    out.push_str(name);
                    out.push_str("}}");
                }
            },
        }
    }
    out
}

fn is_variable(inner: &str) -> bool {
    let mut chars = inner.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&inner)
}

/// Replaces single-brace placeholders such as `{target}` or `{step.id}` with their values.
/// A placeholder inside `{{…}}` is left alone; unknown `{names}` are left as written.
pub(crate) fn placeholders(text: &str, values: &[(&str, &str)]) -> String {
    if !text.contains('{') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        let opens = bytes[i] == b'{' && (i == 0 || bytes[i - 1] != b'{');
        if opens && let Some(len) = text[i + 1..].find('}') {
            let key = &text[i + 1..i + 1 + len];
            let end = i + 1 + len + 1;
            let doubled = bytes.get(i + 1) == Some(&b'{') || bytes.get(end) == Some(&b'}');
            if !doubled && let Some((_, value)) = values.iter().find(|(k, _)| *k == key) {
                out.push_str(&text[copied..i]);
                out.push_str(value);
                i = end;
                copied = end;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// Glob match over a step id: `*` matches any run of characters, `?` one character.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((star, matched)) = backtrack {
            pi = star + 1;
            ti = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_identifiers_that_are_not_keywords_are_variables() {
        let text = "{{ a }} {{#if b}}{{else}}{{/if}} {{.leg.id}} {{else if c}} {{d_2}}";
        assert_eq!(variables(text), vec!["a", "d_2"]);
    }

    #[test]
    fn substitute_reports_the_first_unknown_name() {
        let lookup = |n: &str| (n == "a").then_some("A");
        assert_eq!(substitute("x{{a}}y", lookup), Ok("xAy".to_string()));
        assert_eq!(substitute("{{a}} {{zz}}", lookup), Err("zz"));
        assert_eq!(substitute_lenient("{{a}} {{zz}}", lookup), "A {{zz}}");
    }

    #[test]
    fn placeholders_leave_double_braces_alone() {
        let values = [("target", "impl"), ("target.title", "Implement")];
        assert_eq!(
            placeholders("{target}.draft: {target.title} {{target}} {other}", &values),
            "impl.draft: Implement {{target}} {other}"
        );
    }

    #[test]
    fn globs() {
        for (pattern, text, expected) in [
            ("implement", "implement", true),
            ("implement", "implements", false),
            ("*.implement", "a.implement", true),
            ("shiny.*", "shiny.x", true),
            ("*", "", true),
            ("a?c", "abc", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
        ] {
            assert_eq!(glob_match(pattern, text), expected, "{pattern} vs {text}");
        }
    }
}
