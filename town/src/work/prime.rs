//! `gastown prime`: what a fresh session reads first.

use super::Outcome;
use crate::agents;
use crate::identity::{AgentIdentity, Role};
use crate::town::Town;
use anyhow::Result;
use gastown_beads::{Bead, Ledger};

pub fn prime(ledger: &mut Ledger, town: &Town, identity: AgentIdentity) -> Result<Outcome> {
    let who = identity.address.as_str();
    agents::ensure(ledger, &identity)?;
    let hooked = super::hooked(ledger, who)?;
    let mut md = String::new();
    md.push_str(&format!("# Gas Town: you are {}\n\n", identity.address));
    md.push_str(&format!(
        "Role: **{}**{}. Town: {}.\n\n",
        identity.role,
        identity
            .rig
            .as_ref()
            .map(|r| format!(" of rig **{r}**"))
            .unwrap_or_default(),
        town.root.display()
    ));
    md.push_str("## Your hook\n\n");
    match hooked.first() {
        Some(bead) => hook_section(&mut md, bead),
        None => md.push_str("Your hook is empty. Check your mail, then wait for work.\n\n"),
    }
    if let Some(bead) = hooked.first() {
        molecule_section(ledger, bead, &mut md);
    }
    mail_section(ledger, who, &mut md);
    commands_section(&identity, &mut md);
    Ok(Outcome {
        text: md,
        effects: Vec::new(),
    })
}

fn hook_section(md: &mut String, bead: &Bead) {
    md.push_str(&format!(
        "**{}** — {} (P{}, {})\n\n",
        bead.id, bead.title, bead.priority, bead.issue_type
    ));
    if !bead.description.is_empty() {
        md.push_str(&format!("{}\n\n", bead.description));
    }
    if !bead.acceptance_criteria.is_empty() {
        md.push_str(&format!("Acceptance: {}\n\n", bead.acceptance_criteria));
    }
    md.push_str("GUPP: there is work on your hook, so you must run it — now, without waiting to be asked.\n\n");
}

fn molecule_section(ledger: &Ledger, bead: &Bead, md: &mut String) {
    let Some(mol_id) = crate::molecule::record::attached_molecule(bead)
        .ok()
        .flatten()
    else {
        return;
    };
    let Ok(mol) = crate::molecule::load(ledger, mol_id) else {
        return;
    };
    md.push_str(&format!(
        "## Molecule {} ({} of {} steps done)\n\n",
        mol.bead.id,
        mol.done(),
        mol.steps.len()
    ));
    if let Some(step) = mol.current() {
        md.push_str(&format!(
            "Current step: **{}** ({}) — {}\n\n{}\n\nWhen it is done: `gastown mol step done {}`\n\n",
            step.step, step.bead.id, step.bead.title, step.bead.description, step.bead.id
        ));
    }
    for step in &mol.steps {
        let mark = if step.bead.is_closed() { "x" } else { " " };
        md.push_str(&format!("- [{mark}] {} — {}\n", step.step, step.bead.title));
    }
    md.push('\n');
}

fn mail_section(ledger: &Ledger, who: &str, md: &mut String) {
    let unread = crate::mail::store::unread_for(ledger, who).unwrap_or_default();
    md.push_str(&format!("## Unread mail ({})\n\n", unread.len()));
    for m in unread.iter().take(20) {
        md.push_str(&format!("- {} from {}: {}\n", m.id, m.sender, m.title));
    }
    if !unread.is_empty() {
        md.push_str("\nRead one with `gastown mail read <id>`.\n");
    }
    md.push('\n');
}

fn commands_section(identity: &AgentIdentity, md: &mut String) {
    md.push_str("## Commands\n\n");
    md.push_str("- `gastown prime` — this page again\n");
    md.push_str("- `gastown hook` — what is on your hook\n");
    md.push_str("- `gastown bead show <id>` / `gastown bead ready` — the ledger\n");
    md.push_str("- `gastown mol current` / `gastown mol step done <step>` — walk your molecule\n");
    md.push_str("- `gastown mail inbox` / `gastown mail read <id>` / `gastown mail send <addr> -s … -m …`\n");
    if identity.role == Role::Polecat {
        md.push_str("- `gastown done` — commit, submit a merge request, clear your hook (`--status escalated|deferred`)\n");
    }
    if identity.role == Role::Dog {
        md.push_str("- `gastown done` — the work is done: close the bead on your hook and clear it (`-m` says what you found; `--status escalated|deferred`)\n");
    }
    md.push_str("- `gastown handoff -m …` — hand over to a fresh session on the same hook\n");
}
