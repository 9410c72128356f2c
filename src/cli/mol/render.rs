//! Text and JSON renderings of a molecule for `mol status` and `mol current`.

use anyhow::Result;
use gastown_town::molecule::{Molecule, StepState};
use serde_json::json;
use std::fmt::Write as _;

pub(super) fn status_json(m: &Molecule) -> serde_json::Value {
    let steps: Vec<_> = m
        .steps
        .iter()
        .map(|s| {
            json!({"step": s.step, "bead": s.bead.id, "title": s.bead.title, "state": s.state,
                   "status": s.bead.status.as_str(), "needs": s.needs})
        })
        .collect();
    json!({
        "molecule": m.bead.id, "title": m.bead.title, "status": m.bead.status.as_str(),
        "formula": m.formula(), "ephemeral": m.bead.ephemeral, "assignee": m.bead.assignee,
        "done": m.done(), "total": m.steps.len(), "current": m.current().map(|s| &s.step),
        "missing": m.missing, "steps": steps,
    })
}

pub(super) fn status_text(m: &Molecule) -> String {
    let wisp = if m.bead.ephemeral { ", wisp" } else { "" };
    let mut out = format!(
        "{}: {} [{}{wisp}]  progress {}/{}\n",
        m.bead.id,
        m.bead.title,
        m.bead.status,
        m.done(),
        m.steps.len()
    );
    let width = m.steps.iter().map(|s| s.step.len()).max().unwrap_or(0);
    let current = m.current().map(|s| s.bead.id.as_str());
    for s in &m.steps {
        let marker = if Some(s.bead.id.as_str()) == current {
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
            s.step, state, s.bead.id, s.bead.title
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

pub(super) fn current(m: &Molecule, json: bool) -> Result<String> {
    let step = m.current();
    let complete = m.done() == m.steps.len();
    if json {
        let value = match step {
            Some(s) => json!({
                "molecule": m.bead.id, "step": s.step, "bead": s.bead.id, "title": s.bead.title,
                "description": s.bead.description, "acceptance": s.bead.acceptance_criteria,
                "done": m.done(), "total": m.steps.len(), "complete": false,
            }),
            None => json!({"molecule": m.bead.id, "step": null, "done": m.done(),
                           "total": m.steps.len(), "complete": complete}),
        };
        return Ok(format!("{}\n", serde_json::to_string_pretty(&value)?));
    }
    let Some(s) = step else {
        return Ok(if complete {
            format!(
                "All {} steps of {} are done; condense it with `gastown mol squash {}`\n",
                m.steps.len(),
                m.bead.id,
                m.bead.id
            )
        } else {
            format!(
                "No step of {} can be worked now ({}/{} done; the rest wait on beads outside it): see `gastown mol status {}`\n",
                m.bead.id,
                m.done(),
                m.steps.len(),
                m.bead.id
            )
        });
    };
    let mut out = format!(
        "Current step of {} ({}/{} done): {} — {} ({})\n",
        m.bead.id,
        m.done(),
        m.steps.len(),
        s.step,
        s.bead.title,
        s.bead.id
    );
    if !s.bead.description.is_empty() {
        let _ = write!(out, "\n{}\n", s.bead.description.trim_end());
    }
    if !s.bead.acceptance_criteria.is_empty() {
        let _ = write!(out, "\nAcceptance: {}\n", s.bead.acceptance_criteria);
    }
    let _ = writeln!(out, "\nWhen done: gastown mol step done {}", s.bead.id);
    Ok(out)
}
