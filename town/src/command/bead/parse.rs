//! What a user types for a bead's priority, status, type and dependencies, checked with
//! messages that list what is accepted.

use anyhow::{Context, Result, bail};
use gastown_beads::{DepKind, IssueType, Status};

/// `2`, `P2` or `p2`.
pub fn parse_priority(text: &str) -> Result<u8> {
    let digits = text.strip_prefix(['P', 'p']).unwrap_or(text);
    match digits.parse::<u8>() {
        Ok(p) if p <= 4 => Ok(p),
        _ => bail!("invalid priority {text:?}: use 0 (critical) to 4 (backlog), or P0 to P4"),
    }
}

/// A status a user typed; unknown ones are refused with the list of known ones.
pub fn parse_status(text: &str) -> Result<Status> {
    Status::parse_known(text).with_context(|| {
        format!(
            "unknown status {text:?}: use one of {}",
            Status::KNOWN.join(", ")
        )
    })
}

/// A type a user typed; unknown ones are refused with the list of known ones.
pub fn parse_type(text: &str) -> Result<IssueType> {
    let t = IssueType::from(text.to_string());
    if let IssueType::Other(_) = t {
        bail!(
            "unknown type {text:?}: use task, bug, feature, epic, chore, message, molecule, gate, \
             agent, merge-request, convoy or event"
        );
    }
    Ok(t)
}

/// A dependency kind a user typed; unknown ones are refused with the list of known ones.
pub fn parse_dep_kind(text: &str) -> Result<DepKind> {
    DepKind::parse_known(text).with_context(|| {
        format!(
            "unknown dependency type {text:?}: use blocks, parent-child, conditional-blocks, \
             waits-for, related, discovered-from, replies-to, tracks, supersedes or duplicates"
        )
    })
}

/// `kind:id` or a bare `id` (blocks).
pub(super) fn parse_dep_spec(spec: &str) -> Result<(DepKind, String)> {
    let spec = spec.trim();
    match spec.split_once(':') {
        Some((kind, id)) => Ok((parse_dep_kind(kind.trim())?, id.trim().to_string())),
        None => Ok((DepKind::Blocks, spec.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities() {
        assert_eq!(parse_priority("P1").expect("valid"), 1);
        assert_eq!(parse_priority("4").expect("valid"), 4);
        assert!(parse_priority("5").is_err());
        assert!(parse_priority("high").is_err());
    }

    #[test]
    fn dep_specs() {
        let (k, id) = parse_dep_spec("discovered-from:gt-abc").expect("valid");
        assert_eq!((k, id.as_str()), (DepKind::DiscoveredFrom, "gt-abc"));
        let (k, _) = parse_dep_spec("gt-abc").expect("valid");
        assert_eq!(k, DepKind::Blocks);
        assert!(parse_dep_spec("nonsense:gt-abc").is_err());
    }
}
