//! Keeping credentials out of what gastown prints: a remote URL may carry a user name and a
//! password or token (`https://me:ghp_…@github.com/me/repo.git`), and git's own messages may
//! repeat it. Everything that names a remote goes through [`redact`] first.

/// `text` with the user information of every URL in it (`scheme://user:secret@host`) replaced
/// by `***`: `https://me:tok@host/r.git` → `https://***@host/r.git`. Text without URLs, and
/// scp-like addresses (`git@host:me/r.git`, whose user is not a secret), are kept as they are.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends at the first '/', whitespace or quote; user info is what comes
        // before its last '@'.
        let end = after
            .find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(userinfo_end) => {
                out.push_str("***");
                out.push_str(&authority[userinfo_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    fn check(input: &str, expected: &str) {
        assert_eq!(redact(input), expected, "{input}");
    }

    #[test]
    fn user_information_in_urls_is_hidden_and_nothing_else_changes() {
        check(
            "https://me:ghp_secret@github.com/me/r.git",
            "https://***@github.com/me/r.git",
        );
        check("https://token@host/r", "https://***@host/r");
        check(
            "fatal: unable to access 'https://u:p@host/r.git/': 403",
            "fatal: unable to access 'https://***@host/r.git/': 403",
        );
        check(
            "two: http://a:b@x/1 and ssh://git@y:22/2",
            "two: http://***@x/1 and ssh://***@y:22/2",
        );
        check("https://host/r.git", "https://host/r.git");
        check("git@github.com:me/r.git", "git@github.com:me/r.git");
        check("/srv/git/r.git", "/srv/git/r.git");
        check("a://", "a://");
        check("ends with https://u:p@h", "ends with https://***@h");
    }
}
