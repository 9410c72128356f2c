//! `gastown bead …`: the built-in ledger client. Flags follow the classic `bd` where it has them.
//!
//! [`apply`] runs a [`BeadRequest`] against an open ledger as the [`Caller`] and says what it did
//! as a [`BeadOutcome`]; the CLI renders that (text, or the beads' JSON). Fields given as text
//! (status, type, priority, dependency kinds) are checked here, so the messages are the same
//! with or without a supervisor.

mod parse;

pub use parse::{parse_dep_kind, parse_priority, parse_status, parse_type};

use super::as_json;
use crate::authz::{self, BeadAction};
use crate::caller::Caller;
use crate::town::Town;
use anyhow::{Context, Result, bail};
use gastown_beads::jsonl::ImportStep;
use gastown_beads::ledger::{BeadPatch, Ledger, ListFilter, NewBead};
use gastown_beads::{Bead, Event, IssueType};
use parse::parse_dep_spec;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// One bead command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BeadRequest {
    /// Create a bead.
    Create(CreateRequest),
    /// One bead.
    Show { id: String },
    /// Work (or, with `all` or a type, every bead) matching a filter.
    List(ListRequest),
    /// Change fields of a bead.
    Update(UpdateRequest),
    /// Close beads, each with `reason`.
    Close { ids: Vec<String>, reason: String },
    /// Reopen closed beads.
    Reopen { ids: Vec<String> },
    /// `issue` depends on `depends_on` (`kind`: `blocks`, `related`, …).
    DepAdd {
        issue: String,
        depends_on: String,
        kind: String,
    },
    /// Remove the dependency of `issue` on `depends_on`.
    DepRemove { issue: String, depends_on: String },
    /// Beads ready to work on.
    Ready,
    /// Beads held back by an open blocker.
    Blocked,
    /// Add a label.
    LabelAdd { id: String, label: String },
    /// Remove a label.
    LabelRemove { id: String, label: String },
    /// Add a comment.
    Comment { id: String, text: String },
    /// Import a `bd` JSONL export (an absolute path: the supervisor's working directory is not
    /// the caller's).
    Import { file: PathBuf },
    /// Export the ledger as JSONL: to `output` (absolute), or in the outcome.
    Export { output: Option<PathBuf> },
    /// The audit trail of one bead.
    Events { id: String },
}

/// `bead create`: fields as typed on the command line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateRequest {
    pub title: String,
    /// task, bug, feature, … (checked by [`parse_type`]).
    pub issue_type: String,
    /// `0`…`4` or `P0`…`P4` (checked by [`parse_priority`]).
    pub priority: String,
    pub description: String,
    pub design: String,
    pub acceptance: String,
    pub notes: String,
    pub assignee: String,
    pub labels: Vec<String>,
    /// `kind:id` or a bare id (`blocks`).
    pub deps: Vec<String>,
    /// Make the bead a child `parent.N` of this bead.
    pub parent: Option<String>,
    /// The rig the bead is for (its prefix); `None`: the caller's rig, else the town's prefix.
    pub rig: Option<String>,
}

/// `bead list`'s filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListRequest {
    pub status: Option<String>,
    pub issue_type: Option<String>,
    pub assignee: Option<String>,
    pub label: Option<String>,
    /// Closed beads and coordination records too.
    pub all: bool,
}

/// `bead update`: the fields to change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateRequest {
    pub id: String,
    pub title: Option<String>,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub issue_type: Option<String>,
    pub assignee: Option<String>,
    pub description: Option<String>,
    pub design: Option<String>,
    pub acceptance: Option<String>,
    pub notes: Option<String>,
}

/// What a bead command did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BeadOutcome {
    /// `create`: the new bead.
    Created(#[serde(with = "as_json")] Bead),
    /// `show`: the bead.
    Shown(#[serde(with = "as_json")] Bead),
    /// `list`: the beads in view.
    Listed(#[serde(with = "as_json")] Vec<Bead>),
    /// `ready`: the ready beads.
    Ready(#[serde(with = "as_json")] Vec<Bead>),
    /// `blocked`: each blocked bead with what blocks it.
    Blocked(Vec<BlockedBead>),
    /// `update`: the bead as changed.
    Updated(Changed),
    /// `close`: each bead as closed, in order.
    Closed(Vec<Changed>),
    /// `reopen`: each bead as reopened, in order.
    Reopened(#[serde(with = "as_json")] Vec<Bead>),
    /// `comment`: the bead with its new comment.
    Commented(#[serde(with = "as_json")] Bead),
    /// `dep add`.
    DependencyAdded {
        issue: String,
        depends_on: String,
        kind: String,
    },
    /// `dep remove`.
    DependencyRemoved { issue: String, depends_on: String },
    /// `label add`.
    LabelAdded { id: String, label: String },
    /// `label remove`.
    LabelRemoved { id: String, label: String },
    /// `import`.
    Imported {
        file: PathBuf,
        created: usize,
        updated: usize,
        unchanged: usize,
        wisps: usize,
    },
    /// `export` without a file: the JSONL itself.
    Exported { jsonl: String },
    /// `export -o <file>`.
    ExportedTo { path: PathBuf, beads: usize },
    /// `events`: the bead's audit trail, oldest first.
    Events(#[serde(with = "as_json")] Vec<Event>),
}

/// A bead changed by `update` or `close`, with the molecules its change closed (one line each,
/// see [`crate::molecule::on_closed`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Changed {
    #[serde(with = "as_json")]
    pub bead: Bead,
    /// What closing it finished, in words (said in text output, left out of JSON).
    pub notes: Vec<String>,
}

/// A blocked bead and the ids that block it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockedBead {
    #[serde(with = "as_json")]
    pub bead: Bead,
    pub blocked_by: Vec<String>,
}

/// Run one bead command against an open ledger as `caller`.
///
/// The same function runs in the CLI (ledger opened directly) and in `gastown run` (the ledger
/// actor), so the two behave alike.
pub fn apply(
    ledger: &mut Ledger,
    town: &Town,
    request: BeadRequest,
    caller: &Caller,
) -> Result<BeadOutcome> {
    authorize(ledger, &request, caller)?;
    let who = caller.name();
    Ok(match request {
        BeadRequest::Create(args) => BeadOutcome::Created(create(ledger, town, args, who)?),
        BeadRequest::Show { id } => BeadOutcome::Shown(get(ledger, &id)?),
        BeadRequest::List(args) => {
            let mut beads = list(ledger, args)?;
            // Mail the caller may not read is not listed either.
            beads.retain(|bead| mail_view(bead).is_none_or(|mail| can_read(caller, bead, mail)));
            BeadOutcome::Listed(beads)
        }
        BeadRequest::Update(args) => BeadOutcome::Updated(update(ledger, args, who)?),
        BeadRequest::Close { ids, reason } => {
            BeadOutcome::Closed(close(ledger, ids, &reason, who)?)
        }
        BeadRequest::Reopen { ids } => BeadOutcome::Reopened(
            ids.iter()
                .map(|id| ledger.reopen(id, who))
                .collect::<Result<_, _>>()?,
        ),
        BeadRequest::DepAdd {
            issue,
            depends_on,
            kind,
        } => {
            let kind = parse_dep_kind(&kind)?;
            ledger.add_dependency(&issue, &depends_on, kind.clone(), who)?;
            BeadOutcome::DependencyAdded {
                issue,
                depends_on,
                kind: kind.to_string(),
            }
        }
        BeadRequest::DepRemove { issue, depends_on } => {
            ledger.remove_dependency(&issue, &depends_on, who)?;
            BeadOutcome::DependencyRemoved { issue, depends_on }
        }
        BeadRequest::Ready => BeadOutcome::Ready(ledger.ready()?),
        BeadRequest::Blocked => BeadOutcome::Blocked(blocked(ledger)?),
        BeadRequest::LabelAdd { id, label } => {
            let bead = ledger.add_label(&id, &label, who)?;
            BeadOutcome::LabelAdded { id: bead.id, label }
        }
        BeadRequest::LabelRemove { id, label } => {
            let bead = ledger.remove_label(&id, &label, who)?;
            BeadOutcome::LabelRemoved { id: bead.id, label }
        }
        BeadRequest::Comment { id, text } => {
            BeadOutcome::Commented(ledger.add_comment(&id, &text, who)?)
        }
        BeadRequest::Import { file } => import(ledger, file, who)?,
        BeadRequest::Export { output } => export(ledger, output)?,
        BeadRequest::Events { id } => {
            get(ledger, &id)?;
            BeadOutcome::Events(ledger.events(&id)?)
        }
    })
}

/// A mail's sender and queue claimant, for the rules of [`authz::check_bead`]; `None` for
/// every other bead.
fn mail_view(bead: &Bead) -> Option<(String, Option<&str>)> {
    use crate::mail::record;
    record::is_mail(bead).then(|| (record::sender_of(bead), record::claimant(bead)))
}

/// May `caller` read `bead`, a mail with this view?
fn can_read(caller: &Caller, bead: &Bead, (sender, claimant): (String, Option<&str>)) -> bool {
    let view = Some((sender.as_str(), claimant));
    authz::check_bead(caller, bead, BeadAction::Read, view).is_ok()
}

/// Refuses a bead command the caller may not run (see [`crate::authz`]) before it changes
/// anything: the ledger-wide ones are the overseer's; one bead's mail, records and work are
/// read and changed only by those the rules name. A bead that does not exist is left to the
/// command to report.
fn authorize(ledger: &Ledger, request: &BeadRequest, caller: &Caller) -> Result<()> {
    let (ids, action): (Vec<&String>, BeadAction) = match request {
        BeadRequest::Import { .. } => {
            return Ok(authz::overseer_only(
                caller,
                "import beads into the ledger",
            )?);
        }
        BeadRequest::Export { .. } => {
            return Ok(authz::overseer_only(caller, "export the whole ledger")?);
        }
        BeadRequest::Create(args) => {
            return Ok(authz::create_bead(caller, &parse_type(&args.issue_type)?)?);
        }
        BeadRequest::List(_) | BeadRequest::Ready | BeadRequest::Blocked => return Ok(()),
        BeadRequest::Show { id } | BeadRequest::Events { id } => (vec![id], BeadAction::Read),
        BeadRequest::Comment { id, .. } => (vec![id], BeadAction::Comment),
        BeadRequest::Close { ids, .. } | BeadRequest::Reopen { ids } => {
            (ids.iter().collect(), BeadAction::Mark)
        }
        BeadRequest::LabelAdd { id, .. } | BeadRequest::LabelRemove { id, .. } => {
            (vec![id], BeadAction::Mark)
        }
        BeadRequest::DepAdd { issue, .. } | BeadRequest::DepRemove { issue, .. } => {
            (vec![issue], BeadAction::Edit)
        }
        BeadRequest::Update(args) => {
            // Assigning work to another agent is acting on it.
            if let Some(assignee) = args.assignee.as_deref().filter(|a| !a.is_empty()) {
                authz::act_on(caller, assignee, "assign work to")?;
            }
            (vec![&args.id], BeadAction::Edit)
        }
    };
    for id in ids {
        if let Some(bead) = ledger.get(id)? {
            let view = mail_view(&bead);
            let view = view
                .as_ref()
                .map(|(sender, claimant)| (sender.as_str(), *claimant));
            authz::check_bead(caller, &bead, action, view)?;
        }
    }
    Ok(())
}

/// Close each bead in order, and the molecules its closing finishes (see
/// [`crate::molecule::on_closed`]).
fn close(ledger: &mut Ledger, ids: Vec<String>, reason: &str, who: &str) -> Result<Vec<Changed>> {
    let mut closed = Vec::new();
    for id in ids {
        let bead = ledger.close(&id, reason, who)?;
        let notes = crate::molecule::on_closed(ledger, &bead.id, who)?;
        closed.push(Changed { bead, notes });
    }
    Ok(closed)
}

fn blocked(ledger: &Ledger) -> Result<Vec<BlockedBead>> {
    Ok(ledger
        .blocked()?
        .into_iter()
        .map(|b| BlockedBead {
            bead: b.bead,
            blocked_by: b.blocked_by,
        })
        .collect())
}

fn import(ledger: &mut Ledger, file: PathBuf, who: &str) -> Result<BeadOutcome> {
    import_as(ledger, file, who, &mut |_| {})
}

/// `bead import` as `caller` (the overseer's alone), telling `watch` how far it is: the CLI's
/// progress on a terminal when it opened the ledger itself.
pub fn import_watched(
    ledger: &mut Ledger,
    file: PathBuf,
    caller: &Caller,
    watch: &mut dyn FnMut(ImportStep),
) -> Result<BeadOutcome> {
    authz::overseer_only(caller, "import beads into the ledger")?;
    import_as(ledger, file, caller.name(), watch)
}

fn import_as(
    ledger: &mut Ledger,
    file: PathBuf,
    who: &str,
    watch: &mut dyn FnMut(ImportStep),
) -> Result<BeadOutcome> {
    let outcome = ledger.import_file_watched(&file, who, watch)?;
    Ok(BeadOutcome::Imported {
        file,
        created: outcome.created,
        updated: outcome.updated,
        unchanged: outcome.unchanged,
        wisps: outcome.wisps,
    })
}

fn create(ledger: &mut Ledger, town: &Town, args: CreateRequest, who: &str) -> Result<Bead> {
    let mut deps = Vec::new();
    for spec in args.deps.iter().filter(|s| !s.trim().is_empty()) {
        deps.push(parse_dep_spec(spec)?);
    }
    // The rig the bead is for (`--rig`, or the directory it was filed from), else the
    // caller's own rig: its id carries that rig's prefix.
    let prefix = match &args.rig {
        Some(rig) => Some(crate::rig::bead_prefix(town, rig)?),
        None => crate::rig::caller_prefix(town, who),
    };
    let new = NewBead {
        title: args.title,
        description: args.description,
        design: args.design,
        acceptance_criteria: args.acceptance,
        notes: args.notes,
        issue_type: parse_type(&args.issue_type)?,
        priority: parse_priority(&args.priority)?,
        assignee: args.assignee,
        labels: args.labels.into_iter().filter(|l| !l.is_empty()).collect(),
        deps,
        parent: args.parent,
        prefix,
        ..NewBead::default()
    };
    Ok(ledger.create(new, who)?)
}

fn list(ledger: &Ledger, args: ListRequest) -> Result<Vec<Bead>> {
    let filter = ListFilter {
        status: args.status.as_deref().map(parse_status).transpose()?,
        issue_type: args.issue_type.as_deref().map(parse_type).transpose()?,
        assignee: args.assignee,
        label: args.label,
        all: args.all,
    };
    let mut beads = ledger.list(&filter)?;
    // `--type` asks for one type, every bead of it; `--all` for everything.
    if !args.all && filter.issue_type.is_none() {
        beads.retain(is_work_view);
    }
    Ok(beads)
}

/// Is `bead` in `bead list`'s default view: what people filed, not the records that coordinate
/// it (mail, agent identities, molecules and their step beads, merge requests, escalations)?
fn is_work_view(bead: &Bead) -> bool {
    let record = matches!(
        bead.issue_type,
        IssueType::Message
            | IssueType::Agent
            | IssueType::Molecule
            | IssueType::MergeRequest
            | IssueType::Escalation
    );
    !record && crate::molecule::step_id(bead).is_none()
}

fn update(ledger: &mut Ledger, args: UpdateRequest, who: &str) -> Result<Changed> {
    let patch = BeadPatch {
        title: args.title,
        description: args.description,
        design: args.design,
        acceptance_criteria: args.acceptance,
        notes: args.notes,
        assignee: args.assignee,
        status: args.status.as_deref().map(parse_status).transpose()?,
        priority: args.priority.as_deref().map(parse_priority).transpose()?,
        issue_type: args.issue_type.as_deref().map(parse_type).transpose()?,
    };
    let bead = ledger.update(&args.id, patch, who)?;
    // A bead closed by hand: the molecules its closing finishes close too.
    let notes = crate::molecule::on_closed(ledger, &bead.id, who)?;
    Ok(Changed { bead, notes })
}

fn export(ledger: &Ledger, path: Option<PathBuf>) -> Result<BeadOutcome> {
    match path {
        Some(path) => {
            let file =
                File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut w = BufWriter::new(file);
            let beads = ledger.export_to(&mut w)?;
            w.flush()?;
            Ok(BeadOutcome::ExportedTo { path, beads })
        }
        None => {
            let mut buf = Vec::new();
            ledger.export_to(&mut buf)?;
            let jsonl = String::from_utf8(buf).context("export produced invalid UTF-8")?;
            Ok(BeadOutcome::Exported { jsonl })
        }
    }
}

fn get(ledger: &Ledger, id: &str) -> Result<Bead> {
    gastown_beads::id::validate_id(id)?;
    match ledger.get(id)? {
        Some(b) => Ok(b),
        None => bail!("no bead {id:?} in this town: `gastown bead list --all` shows the ids"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_list_shows_work_and_leaves_out_records() {
        let of = |kind: IssueType| {
            let mut b = Bead::new("gt-abc", "t".to_string());
            b.issue_type = kind;
            b
        };
        for shown in [
            IssueType::Task,
            IssueType::Bug,
            IssueType::Feature,
            IssueType::Epic,
            IssueType::Chore,
            IssueType::Convoy,
            IssueType::Gate,
            IssueType::Event,
        ] {
            assert!(is_work_view(&of(shown.clone())), "{shown}");
        }
        for hidden in [
            IssueType::Message,
            IssueType::Agent,
            IssueType::Molecule,
            IssueType::MergeRequest,
            IssueType::Escalation,
        ] {
            assert!(!is_work_view(&of(hidden.clone())), "{hidden}");
        }
        let mut step = of(IssueType::Task);
        step.extra
            .insert(crate::molecule::STEP_FIELD.to_string(), "design".into());
        assert!(!is_work_view(&step), "a molecule's step is left out");
    }
}
