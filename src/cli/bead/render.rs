//! Text and JSON renderings of `bead` outcomes: the classic `bd` lines, each bead's JSONL object
//! for single beads, a JSON array for lists.

use anyhow::Result;
use gastown_beads::Bead;
use gastown_town::command::bead::{BeadOutcome, Changed};
use gastown_town::text::one_line;

/// What a bead command prints on stdout.
pub(super) fn render(outcome: &BeadOutcome, json: bool) -> Result<String> {
    let mut out = String::new();
    let mut line = |text: &str| {
        out.push_str(text);
        out.push('\n');
    };
    match outcome {
        BeadOutcome::Created(bead) if json => line(&bead.to_json_line()),
        BeadOutcome::Created(bead) => {
            line(&format!("Created {}: {}", bead.id, one_line(&bead.title)))
        }
        BeadOutcome::Shown(bead) if json => line(&bead.to_json_line()),
        BeadOutcome::Shown(bead) => line(show_text(bead).trim_end()),
        BeadOutcome::Listed(beads) => return list(beads, json, "No beads"),
        BeadOutcome::Ready(beads) => return list(beads, json, "No ready beads"),
        BeadOutcome::Blocked(blocked) if json => {
            let beads: Vec<&Bead> = blocked.iter().map(|b| &b.bead).collect();
            line(&serde_json::to_string_pretty(&beads)?);
        }
        BeadOutcome::Blocked(blocked) => {
            if blocked.is_empty() {
                line("No blocked beads");
            }
            for b in blocked {
                line(&format!(
                    "{}  blocked by {}",
                    summary(&b.bead),
                    b.blocked_by.join(", ")
                ));
            }
        }
        BeadOutcome::Updated(changed) => changed_lines("Updated", changed, json, &mut line),
        BeadOutcome::Closed(closed) => {
            for changed in closed {
                changed_lines("Closed", changed, json, &mut line);
            }
        }
        BeadOutcome::Reopened(beads) => {
            for bead in beads {
                line(&changed_line("Reopened", bead, json));
            }
        }
        BeadOutcome::Commented(bead) => line(&changed_line("Commented on", bead, json)),
        BeadOutcome::DependencyAdded {
            issue,
            depends_on,
            kind,
        } => line(&format!(
            "Added dependency: {issue} depends on {depends_on} ({kind})"
        )),
        BeadOutcome::DependencyRemoved { issue, depends_on } => line(&format!(
            "Removed dependency: {issue} no longer depends on {depends_on}"
        )),
        BeadOutcome::LabelAdded { id, label } => {
            line(&format!("Added label {label:?} to {id}"));
        }
        BeadOutcome::LabelRemoved { id, label } => {
            line(&format!("Removed label {label:?} from {id}"));
        }
        BeadOutcome::Imported {
            file,
            created,
            updated,
            unchanged,
            wisps,
        } => {
            line(&format!(
                "Imported {}: {created} created, {updated} updated, {unchanged} unchanged ({wisps} wisps)",
                file.display()
            ));
            if let Some(report) = gastown_beads::backup::describe_source(file) {
                line(&report);
            }
        }
        BeadOutcome::Exported { jsonl } => return Ok(jsonl.clone()),
        BeadOutcome::ExportedTo { .. } => {}
        BeadOutcome::Events(events) if json => line(&serde_json::to_string_pretty(events)?),
        BeadOutcome::Events(events) => {
            for e in events {
                let detail = match (&e.old, &e.new) {
                    (Some(o), Some(n)) => format!(" {o} -> {n}"),
                    (None, Some(n)) => format!(" {n}"),
                    (Some(o), None) => format!(" {o}"),
                    (None, None) => String::new(),
                };
                line(&format!("{}  {:?}  by {}{detail}", e.at, e.kind, e.actor));
            }
        }
    }
    Ok(out)
}

/// A bead changed by hand, and (in text) the molecules its closing finished.
fn changed_lines(verb: &str, changed: &Changed, json: bool, line: &mut impl FnMut(&str)) {
    line(&changed_line(verb, &changed.bead, json));
    if !json {
        for note in &changed.notes {
            line(note);
        }
    }
}

fn changed_line(verb: &str, bead: &Bead, json: bool) -> String {
    if json {
        bead.to_json_line()
    } else {
        format!("{verb} {}: {}", bead.id, one_line(&bead.title))
    }
}

fn list(beads: &[Bead], json: bool, empty: &str) -> Result<String> {
    if json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(beads)?));
    }
    if beads.is_empty() {
        return Ok(format!("{empty}\n"));
    }
    Ok(beads.iter().map(|b| format!("{}\n", summary(b))).collect())
}

/// One bead in full, as `bead show` prints it.
fn show_text(bead: &Bead) -> String {
    let mut text = format!(
        "{}: {}\nStatus: {}  Priority: P{}  Type: {}\n",
        bead.id,
        one_line(&bead.title),
        bead.status,
        bead.priority,
        bead.issue_type
    );
    if !bead.assignee.is_empty() {
        text.push_str(&format!("Assignee: {}\n", bead.assignee));
    }
    text.push_str(&format!("Created: {}", bead.created_at));
    if !bead.created_by.is_empty() {
        text.push_str(&format!(" by {}", bead.created_by));
    }
    text.push('\n');
    if let Some(closed) = &bead.closed_at {
        text.push_str(&format!("Closed: {closed}  {}\n", bead.close_reason));
    }
    if !bead.labels.is_empty() {
        text.push_str(&format!("Labels: {}\n", bead.labels.join(", ")));
    }
    for (head, body) in [
        ("Description", &bead.description),
        ("Design", &bead.design),
        ("Acceptance criteria", &bead.acceptance_criteria),
        ("Notes", &bead.notes),
    ] {
        if !body.is_empty() {
            text.push_str(&format!("\n{head}:\n{body}\n"));
        }
    }
    if !bead.dependencies.is_empty() {
        text.push_str("\nDepends on:\n");
        for d in &bead.dependencies {
            text.push_str(&format!("  {} ({})\n", d.depends_on_id, d.kind));
        }
    }
    if !bead.comments.is_empty() {
        text.push_str("\nComments:\n");
        for c in &bead.comments {
            text.push_str(&format!("  [{}] {}: {}\n", c.created_at, c.author, c.text));
        }
    }
    text
}

/// One line per bead, as `bd list` prints it.
fn summary(bead: &Bead) -> String {
    format!(
        "{} [P{}] [{}] {} - {}",
        bead.id,
        bead.priority,
        bead.issue_type,
        bead.status,
        one_line(&bead.title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bead(id: &str, title: &str) -> Bead {
        Bead::new(id, title.to_string())
    }

    #[test]
    fn lists_render_as_bd_prints_them() {
        let beads = vec![bead("gt-a", "one"), bead("gt-b", "two")];
        let text = render(&BeadOutcome::Listed(beads.clone()), false).expect("text");
        assert_eq!(
            text,
            "gt-a [P2] [task] open - one\ngt-b [P2] [task] open - two\n"
        );
        assert_eq!(
            render(&BeadOutcome::Ready(Vec::new()), false).expect("text"),
            "No ready beads\n"
        );
        let json = render(&BeadOutcome::Listed(beads), true).expect("json");
        let parsed: Vec<Bead> = serde_json::from_str(&json).expect("an array of beads");
        assert_eq!(parsed.len(), 2);
    }

    #[test]
    fn a_close_says_what_it_finished_in_text_only() {
        let closed = BeadOutcome::Closed(vec![Changed {
            bead: bead("gt-a", "one"),
            notes: vec!["molecule gt-m closed".to_string()],
        }]);
        assert_eq!(
            render(&closed, false).expect("text"),
            "Closed gt-a: one\nmolecule gt-m closed\n"
        );
        let json = render(&closed, true).expect("json");
        assert_eq!(json.lines().count(), 1, "{json}");
        assert!(json.starts_with('{'), "{json}");
    }
}
