//! Text and JSON renderings of `mol` outcomes: pour, status, current, step done, squash, burn.

use anyhow::Result;
use gastown_town::command::mol::{CurrentStep, MolOutcome, MoleculeStatus};
use gastown_town::molecule::{StepDone, StepState};
use serde_json::json;
use std::fmt::Write as _;

/// What a mol command prints on stdout.
pub(super) fn render(outcome: &MolOutcome, json: bool) -> Result<String> {
    match outcome {
        MolOutcome::Poured { poured, .. } if json => pretty(poured),
        MolOutcome::Poured { wisp, poured, .. } => {
            let kind = if *wisp { "wisp" } else { "molecule" };
            let mut out = format!(
                "Poured {kind} {}: {} ({} steps)\n",
                poured.molecule,
                poured.title,
                poured.steps.len()
            );
            let width = poured.steps.iter().map(|s| s.step.len()).max().unwrap_or(0);
            for (i, s) in poured.steps.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "  {:>3}. {:width$}  {}  {}",
                    i + 1,
                    s.step,
                    s.bead,
                    s.title
                );
            }
            let _ = writeln!(
                out,
                "Next: `gastown mol current {}`, then `gastown mol step done <step>` as each is finished",
                poured.molecule
            );
            Ok(out)
        }
        MolOutcome::Status(molecules) if json => pretty(molecules),
        MolOutcome::Status(molecules) if molecules.is_empty() => {
            Ok("No open molecules\n".to_string())
        }
        MolOutcome::Status(molecules) => Ok(molecules.iter().map(status_text).collect()),
        MolOutcome::Current(current) => current_text(current, json),
        MolOutcome::StepDone(done) if json => pretty(done),
        MolOutcome::StepDone(done) => Ok(step_done_text(done)),
        MolOutcome::Squashed(done) if json => pretty(done),
        MolOutcome::Squashed(done) => {
            let mut out = format!("Squashed {} into digest {}", done.molecule, done.digest);
            if !done.burned.is_empty() {
                let _ = write!(out, "; burned {} wisp bead(s)", done.burned.len());
            }
            if !done.closed.is_empty() {
                let _ = write!(out, "; closed {} unfinished step(s)", done.closed.len());
            }
            Ok(out + "\n")
        }
        MolOutcome::Burned(burned) if json => pretty(burned),
        MolOutcome::Burned(burned) => Ok(format!(
            "Burned wisp {} and its {} step(s)\n",
            burned.molecule,
            burned.steps.len()
        )),
    }
}

fn pretty<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(value)?))
}

fn status_text(m: &MoleculeStatus) -> String {
    let wisp = if m.ephemeral { ", wisp" } else { "" };
    let mut out = format!(
        "{}: {} [{}{wisp}]  progress {}/{}\n",
        m.molecule, m.title, m.status, m.done, m.total
    );
    let width = m.steps.iter().map(|s| s.step.len()).max().unwrap_or(0);
    // The current step is the first ready one (where a session resumes).
    let current = m
        .steps
        .iter()
        .find(|s| s.state == StepState::Ready)
        .map(|s| s.bead.as_str());
    for s in &m.steps {
        let marker = if Some(s.bead.as_str()) == current {
            ">"
        } else {
            " "
        };
        let state = match s.state {
            StepState::Done => "done",
            StepState::Ready => "ready",
            StepState::Blocked => "blocked",
        };
        let _ = writeln!(
            out,
            " {marker} {:width$}  {:7}  {}  {}",
            s.step, state, s.bead, s.title
        );
    }
    if !m.missing.is_empty() {
        let _ = writeln!(
            out,
            "  missing step beads (interrupted pour): {}",
            m.missing.join(", ")
        );
    }
    out
}

fn current_text(m: &CurrentStep, json: bool) -> Result<String> {
    let complete = m.done == m.total;
    if json {
        let value = match &m.step {
            Some(s) => json!({
                "molecule": m.molecule, "step": s.step, "bead": s.bead, "title": s.title,
                "description": s.description, "acceptance": s.acceptance,
                "done": m.done, "total": m.total, "complete": false,
            }),
            None => json!({"molecule": m.molecule, "step": null, "done": m.done,
                           "total": m.total, "complete": complete}),
        };
        return pretty(&value);
    }
    let Some(s) = &m.step else {
        return Ok(if complete {
            format!(
                "All {} steps of {} are done; condense it with `gastown mol squash {}`\n",
                m.total, m.molecule, m.molecule
            )
        } else {
            format!(
                "No step of {} can be worked now ({}/{} done; the rest wait on beads outside it): see `gastown mol status {}`\n",
                m.molecule, m.done, m.total, m.molecule
            )
        });
    };
    let mut out = format!(
        "Current step of {} ({}/{} done): {} — {} ({})\n",
        m.molecule, m.done, m.total, s.step, s.title, s.bead
    );
    if !s.description.is_empty() {
        let _ = write!(out, "\n{}\n", s.description.trim_end());
    }
    if !s.acceptance.is_empty() {
        let _ = write!(out, "\nAcceptance: {}\n", s.acceptance);
    }
    let _ = writeln!(out, "\nWhen done: gastown mol step done {}", s.bead);
    Ok(out)
}

fn step_done_text(done: &StepDone) -> String {
    match done {
        StepDone::Closed {
            molecule,
            step,
            next,
            done,
            total,
            molecule_closed,
        } => {
            let mut out = format!(
                "Closed step {} ({}) of {molecule}: {done}/{total} done\n",
                step.step, step.bead
            );
            match next {
                Some(n) => {
                    let _ = writeln!(out, "Next: {} — {} ({})", n.step, n.title, n.bead);
                }
                None if *molecule_closed => {
                    let _ = writeln!(
                        out,
                        "All steps done: molecule {molecule} is closed; condense it with `gastown mol squash {molecule}`"
                    );
                }
                None if done == total => {
                    let _ = writeln!(
                        out,
                        "All steps done; condense it with `gastown mol squash {molecule}`"
                    );
                }
                None => {}
            }
            out
        }
        StepDone::AlreadyClosed {
            molecule,
            step,
            closed_at,
            closed_by,
        } => format!(
            "Step {} ({}) of {molecule} was already closed{}{}; nothing to do\n",
            step.step,
            step.bead,
            closed_at
                .as_ref()
                .map(|t| format!(" at {t}"))
                .unwrap_or_default(),
            closed_by
                .as_ref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default(),
        ),
    }
}
