//! What may be slung: work, not the records that coordinate it, and a word when the work is
//! blocked.
//!
//! Sling puts a bead on a hook for an agent to work. Convoys, molecules, merge requests, mail,
//! agent identities, events and gates are records *about* work (the ledger's coordination types,
//! never "ready"): slinging one used to work it as a task (a convoy "landed" at 0/4). They are
//! refused with what to sling instead. A blocked bead may still be slung (the overseer may know
//! better), but sling says what holds it back, from the ledger's own readiness graph
//! ([`gastown_beads::graph`]): nothing here re-derives the rules of readiness.

use anyhow::Result;
use gastown_beads::{Bead, DepKind, IssueType, Ledger};

/// Is `bead` work an agent can be slung (not a coordination record)?
pub fn is_work(bead: &Bead) -> bool {
    !bead.issue_type.is_coordination()
}

/// Why `bead` cannot be slung, naming its type and what to sling instead; `None` for work.
pub fn refusal(bead: &Bead) -> Option<String> {
    let id = &bead.id;
    let instead = match &bead.issue_type {
        IssueType::Convoy => {
            let tracked = linked(bead, &DepKind::Tracks);
            let which = if tracked.is_empty() {
                "it tracks no beads yet".to_string()
            } else {
                format!("it tracks {}", tracked.join(", "))
            };
            format!(
                "sling the beads it tracks, one by one ({which}; `gastown convoy show {id}` lists them)"
            )
        }
        IssueType::Molecule => match linked(bead, &DepKind::Tracks).first() {
            Some(work) => format!(
                "it is the step list of {work}: sling {work}, and its molecule comes with it"
            ),
            None => format!(
                "sling the bead it is for with `--formula`, or work its steps with `gastown mol current {id}`"
            ),
        },
        IssueType::MergeRequest => {
            let mr = crate::refinery::MergeRequest::from_bead(bead).ok();
            let source = mr
                .as_ref()
                .map(|mr| mr.source_bead.as_str())
                .filter(|s| !s.is_empty())
                .unwrap_or("its source bead");
            format!(
                "it is the refinery's record of {source}'s branch: sling {source} to rework it, or put the request back in the queue with `gastown mq retry {id}`"
            )
        }
        IssueType::Message => format!(
            "read it with `gastown mail read {id}`; to have it worked, file a task (`gastown bead create \"…\"`) and sling that"
        ),
        IssueType::Agent => {
            "it is an agent's identity: sling a work bead to the agent instead (`gastown sling <bead> <address>`)".to_string()
        }
        IssueType::Event => {
            "it records something that happened (a digest, an event): there is nothing to work; file a task and sling that".to_string()
        }
        IssueType::Escalation => {
            "it is an escalation (a problem raised for the mayor and the overseer): handle it with `gastown escalate ack|close`, and file a task to sling if work is needed".to_string()
        }
        IssueType::Gate => {
            "it is a condition a molecule waits on, closed when the condition holds: sling the bead the molecule is for".to_string()
        }
        _ => return None,
    };
    Some(format!(
        "{id} is a {} bead, not work to sling: {instead}",
        bead.issue_type
    ))
}

/// A warning when `bead` is blocked, naming each thing that holds it back and how; `None` when
/// it is not blocked. The graph decides blockedness and the blockers; the bead's own
/// dependencies say which kind of edge each blocker is.
pub fn blocked_warning(ledger: &Ledger, bead: &Bead) -> Result<Option<String>> {
    if !ledger.graph()?.is_blocked(&bead.id) {
        return Ok(None);
    }
    let mut reasons = Vec::new();
    for blocker in ledger.graph()?.blockers(&bead.id) {
        let kind = bead
            .dependencies
            .iter()
            .find(|d| d.depends_on_id == blocker)
            .map(|d| d.kind.clone());
        let title = ledger
            .get(&blocker)?
            .map(|b| format!("{blocker} \"{}\" ({})", b.title, b.status))
            .unwrap_or_else(|| blocker.clone());
        reasons.push(describe(kind.as_ref(), &title));
    }
    Ok(Some(format!(
        "warning: {} is blocked: {}; slung anyway (`gastown bead blocked` lists what waits)",
        bead.id,
        reasons.join("; ")
    )))
}

/// One blocker, said by the kind of its edge.
fn describe(kind: Option<&DepKind>, blocker: &str) -> String {
    match kind {
        Some(DepKind::ParentChild) => format!("its parent {blocker} is blocked"),
        Some(DepKind::WaitsFor) => format!("it waits for {blocker}, which has open children"),
        Some(DepKind::ConditionalBlocks) => {
            format!("{blocker} is not closed (conditional-blocks)")
        }
        _ => format!("{blocker} is not closed (blocks)"),
    }
}

/// The ids `bead` links to with dependencies of `kind`.
fn linked(bead: &Bead, kind: &DepKind) -> Vec<String> {
    bead.dependencies
        .iter()
        .filter(|d| &d.kind == kind)
        .map(|d| d.depends_on_id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gastown_beads::Dependency;

    fn bead(kind: IssueType) -> Bead {
        let mut b = Bead::new("gt-abc", "a record".to_string());
        b.issue_type = kind;
        b
    }

    fn link(b: &mut Bead, kind: DepKind, target: &str) {
        b.dependencies.push(Dependency {
            issue_id: b.id.clone(),
            depends_on_id: target.to_string(),
            kind,
            created_at: String::new(),
            created_by: String::new(),
            extra: Default::default(),
        });
    }

    fn check(kind: IssueType, expected: Option<&[&str]>) {
        let got = refusal(&bead(kind.clone()));
        match (got, expected) {
            (None, None) => {}
            (Some(text), Some(words)) => {
                for w in words {
                    assert!(text.contains(w), "{kind}: {text:?} lacks {w:?}");
                }
                assert!(!text.ends_with('.'), "{text}");
            }
            (got, want) => panic!("{kind}: got {got:?}, wanted {want:?}"),
        }
    }

    #[test]
    fn records_are_refused_naming_their_type_and_what_to_sling() {
        check(IssueType::Convoy, Some(&["convoy", "convoy show gt-abc"]));
        check(IssueType::Molecule, Some(&["molecule", "mol current"]));
        check(
            IssueType::MergeRequest,
            Some(&["merge-request", "mq retry"]),
        );
        check(IssueType::Message, Some(&["message", "mail read gt-abc"]));
        check(IssueType::Agent, Some(&["agent", "sling a work bead"]));
        check(IssueType::Event, Some(&["event", "nothing to work"]));
        check(IssueType::Gate, Some(&["gate", "condition"]));
        for work in [
            IssueType::Task,
            IssueType::Bug,
            IssueType::Feature,
            IssueType::Epic,
            IssueType::Chore,
            IssueType::Other("spike".into()),
        ] {
            check(work, None);
        }
    }

    #[test]
    fn the_refusal_names_what_the_record_points_at() {
        let mut convoy = bead(IssueType::Convoy);
        link(&mut convoy, DepKind::Tracks, "gt-one");
        link(&mut convoy, DepKind::Tracks, "gt-two");
        let text = refusal(&convoy).expect("refused");
        assert!(text.contains("gt-one, gt-two"), "{text}");
        let mut mol = bead(IssueType::Molecule);
        link(&mut mol, DepKind::Tracks, "gt-work");
        assert!(refusal(&mol).expect("refused").contains("sling gt-work"));
        let mut mr = bead(IssueType::MergeRequest);
        mr.extra.insert("source_bead".into(), "gt-src".into());
        assert!(refusal(&mr).expect("refused").contains("sling gt-src"));
    }

    #[test]
    fn every_coordination_type_is_refused_and_only_those() {
        for kind in [
            IssueType::Message,
            IssueType::Molecule,
            IssueType::Gate,
            IssueType::Agent,
            IssueType::MergeRequest,
            IssueType::Convoy,
            IssueType::Event,
        ] {
            let b = bead(kind.clone());
            assert!(!is_work(&b) && refusal(&b).is_some(), "{kind}");
        }
    }

    #[test]
    fn each_kind_of_blocker_is_said_its_own_way() {
        let parent = describe(Some(&DepKind::ParentChild), "gt-p");
        assert!(parent.contains("parent gt-p"), "{parent}");
        let waits = describe(Some(&DepKind::WaitsFor), "gt-w");
        assert!(waits.contains("open children"), "{waits}");
        let cond = describe(Some(&DepKind::ConditionalBlocks), "gt-c");
        assert!(cond.contains("conditional-blocks"), "{cond}");
        let blocks = describe(Some(&DepKind::Blocks), "gt-b");
        assert!(blocks.contains("gt-b is not closed (blocks)"), "{blocks}");
    }
}
