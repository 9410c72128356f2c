//! `gastown bead …`: the built-in ledger client. Flags follow the classic `bd` where it has them.
//!
//! Reading commands and `create` take `--json`: `show` and `create` print the bead as its JSONL
//! object; `list`, `ready` and `blocked` print a JSON array of such objects. The command runs in
//! the domain (`gastown_town::command::bead`); this file turns the arguments into its request
//! and renders its outcome.

mod render;

use super::routed::{self, unexpected};
use crate::output;
use crate::progress::{self, Every, Mode, ProgressArgs, Style};
use crate::protocol::{TownReply, TownRequest};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gastown_beads::jsonl::ImportStep;
use gastown_town::command::bead::{
    self as domain, BeadOutcome, BeadRequest, CreateRequest, ListRequest, UpdateRequest,
};
use gastown_town::town::Town;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum BeadCommand {
    /// Create a bead.
    Create(CreateArgs),
    /// Show one bead.
    Show {
        /// The bead's id.
        id: String,
        /// Print the bead as its JSONL object.
        #[arg(long)]
        json: bool,
    },
    /// List work: open beads people filed (tasks, bugs, features, epics, chores, convoys, …).
    ///
    /// Records of how work is coordinated — mail (message), agent, molecule and its steps, and
    /// merge-request beads — are left out unless asked for with --all or --type. --all also
    /// adds closed beads. --json follows the same rule.
    List(ListArgs),
    /// Change fields of a bead.
    Update(UpdateArgs),
    /// Close one or more beads.
    Close {
        /// The beads to close.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Why it was closed.
        #[arg(long, short = 'r', default_value = "")]
        reason: String,
        /// Print each closed bead as its JSONL object.
        #[arg(long)]
        json: bool,
    },
    /// Reopen closed beads.
    Reopen {
        /// The beads to reopen.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Print each reopened bead as its JSONL object.
        #[arg(long)]
        json: bool,
    },
    /// Dependencies between beads.
    #[command(subcommand)]
    Dep(DepCommand),
    /// Beads ready to work on: open, unblocked, not deferred.
    Ready {
        /// Print a JSON array of the beads.
        #[arg(long)]
        json: bool,
    },
    /// Beads held back by an open blocker.
    Blocked {
        /// Print a JSON array of the beads.
        #[arg(long)]
        json: bool,
    },
    /// Labels on beads.
    #[command(subcommand)]
    Label(LabelCommand),
    /// Add a comment to a bead.
    Comment {
        /// The bead.
        id: String,
        /// The comment.
        text: String,
        /// Print the bead as its JSONL object.
        #[arg(long)]
        json: bool,
    },
    /// Import a `bd` JSONL export (classic or current; all or nothing) or a current `bd` backup
    /// directory (.beads/backup/: orphans skipped and reported).
    Import {
        /// The JSONL file, or the backup directory.
        file: PathBuf,
        #[command(flatten)]
        progress: ProgressArgs,
    },
    /// Export the ledger as one `issues.jsonl` that the classic `bd` reads.
    Export {
        /// Write here instead of stdout.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// The audit trail of one bead.
    Events {
        /// The bead.
        id: String,
        /// Print a JSON array of the events.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct CreateArgs {
    /// The bead's title.
    pub title: String,
    /// task, bug, feature, epic, chore, … (default task).
    #[arg(long = "type", short = 't', default_value = "task")]
    pub issue_type: String,
    /// 0 (critical) … 4 (backlog); P0…P4 also accepted.
    #[arg(long, short = 'p', default_value = "2")]
    pub priority: String,
    /// What it is about.
    #[arg(long, short = 'd', default_value = "")]
    pub description: String,
    /// How it is to be done.
    #[arg(long, default_value = "")]
    pub design: String,
    /// When it is done.
    #[arg(long, default_value = "")]
    pub acceptance: String,
    /// Anything else.
    #[arg(long, default_value = "")]
    pub notes: String,
    /// Who works on it (an agent address).
    #[arg(long, short = 'a', default_value = "")]
    pub assignee: String,
    /// Comma-separated labels.
    #[arg(long, short = 'l', value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Dependencies as `kind:id` (or a bare id for `blocks`), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub deps: Vec<String>,
    /// Make the bead a child `parent.N` of this bead.
    #[arg(long)]
    pub parent: Option<String>,
    /// The rig the bead is for: its id takes the rig's prefix. Default: the rig whose
    /// directory you are in, else the rig of the agent creating it, else the town's prefix.
    #[arg(long)]
    pub rig: Option<String>,
    /// Print the new bead as its JSONL object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct ListArgs {
    /// Only beads with this status (open, in_progress, hooked, blocked, closed, …).
    #[arg(long, short = 's')]
    pub status: Option<String>,
    /// Only beads of this type: every one of it, records included.
    #[arg(long = "type", short = 't')]
    pub issue_type: Option<String>,
    /// Only beads assigned to this address.
    #[arg(long, short = 'a')]
    pub assignee: Option<String>,
    /// Only beads with this label.
    #[arg(long, short = 'l')]
    pub label: Option<String>,
    /// Every bead: closed ones, and the records left out by default (mail, agents, molecules
    /// and their steps, merge requests).
    #[arg(long)]
    pub all: bool,
    /// Print a JSON array of the beads.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct UpdateArgs {
    /// The bead to change.
    pub id: String,
    /// A new title.
    #[arg(long)]
    pub title: Option<String>,
    /// A new status (open, in_progress, hooked, blocked, closed, …).
    #[arg(long, short = 's')]
    pub status: Option<String>,
    /// A new priority: 0 … 4, or P0 … P4.
    #[arg(long, short = 'p')]
    pub priority: Option<String>,
    /// A new type.
    #[arg(long = "type", short = 't')]
    pub issue_type: Option<String>,
    /// A new assignee (an agent address; empty: none).
    #[arg(long, short = 'a')]
    pub assignee: Option<String>,
    /// A new description.
    #[arg(long, short = 'd')]
    pub description: Option<String>,
    /// A new design.
    #[arg(long)]
    pub design: Option<String>,
    /// New acceptance criteria.
    #[arg(long)]
    pub acceptance: Option<String>,
    /// New notes.
    #[arg(long)]
    pub notes: Option<String>,
    /// Print the bead as its JSONL object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum DepCommand {
    /// ISSUE depends on DEPENDS_ON (by default DEPENDS_ON blocks ISSUE).
    Add {
        /// The dependent bead.
        issue: String,
        /// The bead it depends on.
        depends_on: String,
        /// blocks, parent-child, conditional-blocks, waits-for, related, discovered-from,
        /// replies-to, tracks, supersedes or duplicates.
        #[arg(long = "type", short = 't', default_value = "blocks")]
        kind: String,
    },
    /// Remove the dependency of ISSUE on DEPENDS_ON.
    Remove {
        /// The dependent bead.
        issue: String,
        /// The bead it depends on.
        depends_on: String,
    },
}

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum LabelCommand {
    /// Add a label to a bead.
    Add {
        /// The bead.
        id: String,
        /// The label.
        label: String,
    },
    /// Remove a label from a bead.
    Remove {
        /// The bead.
        id: String,
        /// The label.
        label: String,
    },
}

impl BeadCommand {
    /// Does the command print JSON?
    fn json(&self) -> bool {
        match self {
            BeadCommand::Create(args) => args.json,
            BeadCommand::List(args) => args.json,
            BeadCommand::Update(args) => args.json,
            BeadCommand::Show { json, .. }
            | BeadCommand::Close { json, .. }
            | BeadCommand::Reopen { json, .. }
            | BeadCommand::Ready { json }
            | BeadCommand::Blocked { json }
            | BeadCommand::Comment { json, .. }
            | BeadCommand::Events { json, .. } => *json,
            BeadCommand::Dep(_)
            | BeadCommand::Label(_)
            | BeadCommand::Import { .. }
            | BeadCommand::Export { .. } => false,
        }
    }

    /// The request, with what depends on the caller's working directory `cwd` decided here:
    /// file arguments made absolute, and a `create` from inside a rig's directory for that rig
    /// (unless `--rig` says otherwise).
    pub fn into_request(self, town: &Town, cwd: &Path) -> BeadRequest {
        match self {
            BeadCommand::Create(a) => BeadRequest::Create(CreateRequest {
                rig: a.rig.or_else(|| gastown_town::rig::rig_of_dir(town, cwd)),
                title: a.title,
                issue_type: a.issue_type,
                priority: a.priority,
                description: a.description,
                design: a.design,
                acceptance: a.acceptance,
                notes: a.notes,
                assignee: a.assignee,
                labels: a.labels,
                deps: a.deps,
                parent: a.parent,
            }),
            BeadCommand::Show { id, .. } => BeadRequest::Show { id },
            BeadCommand::List(a) => BeadRequest::List(ListRequest {
                status: a.status,
                issue_type: a.issue_type,
                assignee: a.assignee,
                label: a.label,
                all: a.all,
            }),
            BeadCommand::Update(a) => BeadRequest::Update(UpdateRequest {
                id: a.id,
                title: a.title,
                status: a.status,
                priority: a.priority,
                issue_type: a.issue_type,
                assignee: a.assignee,
                description: a.description,
                design: a.design,
                acceptance: a.acceptance,
                notes: a.notes,
            }),
            BeadCommand::Close { ids, reason, .. } => BeadRequest::Close { ids, reason },
            BeadCommand::Reopen { ids, .. } => BeadRequest::Reopen { ids },
            BeadCommand::Dep(DepCommand::Add {
                issue,
                depends_on,
                kind,
            }) => BeadRequest::DepAdd {
                issue,
                depends_on,
                kind,
            },
            BeadCommand::Dep(DepCommand::Remove { issue, depends_on }) => {
                BeadRequest::DepRemove { issue, depends_on }
            }
            BeadCommand::Ready { .. } => BeadRequest::Ready,
            BeadCommand::Blocked { .. } => BeadRequest::Blocked,
            BeadCommand::Label(LabelCommand::Add { id, label }) => {
                BeadRequest::LabelAdd { id, label }
            }
            BeadCommand::Label(LabelCommand::Remove { id, label }) => {
                BeadRequest::LabelRemove { id, label }
            }
            BeadCommand::Comment { id, text, .. } => BeadRequest::Comment { id, text },
            BeadCommand::Import { file, .. } => BeadRequest::Import {
                file: cwd.join(file),
            },
            BeadCommand::Export { output } => BeadRequest::Export {
                output: output.map(|p| cwd.join(p)),
            },
            BeadCommand::Events { id, .. } => BeadRequest::Events { id },
        }
    }
}

/// `gastown bead …`: with `gastown run` up the supervisor owns the ledger and runs the command;
/// without it the ledger is opened here and flushed to git on the way out.
pub fn run(town: &Town, cmd: BeadCommand) -> Result<()> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    if let BeadCommand::Import { file, progress } = &cmd {
        return import(town, cwd.join(file), progress.mode());
    }
    let json = cmd.json();
    let request = cmd.into_request(town, &cwd);
    let reply = routed::run(
        town,
        TownRequest::Bead(request.clone()),
        |ledger, caller| domain::apply(ledger, town, request, caller).map(TownReply::Bead),
    )?;
    let TownReply::Bead(outcome) = reply else {
        return Err(unexpected(&reply));
    };
    if let BeadOutcome::ExportedTo { path, beads } = &outcome {
        // A note, not data: `export` to stdout stays a clean JSONL stream.
        eprintln!("exported {beads} beads to {}", path.display());
    }
    output::text(&render::render(&outcome, json)?)?;
    Ok(())
}

/// `gastown bead import`: like every bead command, but with progress on a terminal — bytes and
/// lines read, then checking, writing and committing — when this process opens the ledger
/// itself; with `gastown run` up the supervisor reads the file and a spinner waits for it.
fn import(town: &Town, file: PathBuf, mode: Mode) -> Result<()> {
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let what = format!("{} ({})", file.display(), indicatif::HumanBytes(size));
    let bar = progress::bar(mode, Style::Spinner, "import", 0, what);
    let request = BeadRequest::Import { file: file.clone() };
    let reply = routed::run(town, TownRequest::Bead(request), |ledger, caller| {
        let mut every = Every::default();
        let mut reading = false;
        let outcome = domain::import_watched(ledger, file, caller, &mut |step| {
            if !reading && matches!(step, ImportStep::Reading { .. }) {
                reading = true;
                bar.set_style(Style::Bytes.style());
            }
            if let ImportStep::Reading { bytes, total, .. } = step
                && bytes < total
                && !every.due(std::time::Instant::now())
            {
                return;
            }
            if matches!(step, ImportStep::Checking { .. }) {
                bar.set_style(Style::Spinner.style());
            }
            show_import_step(&bar, step);
        })?;
        bar.set_message("committing the ledger to git");
        Ok(TownReply::Bead(outcome))
    });
    bar.finish_and_clear();
    let reply = reply?;
    let TownReply::Bead(outcome) = reply else {
        return Err(unexpected(&reply));
    };
    output::text(&render::render(&outcome, false)?)?;
    Ok(())
}

/// One step of an import on its bar.
fn show_import_step(bar: &indicatif::ProgressBar, step: ImportStep) {
    match step {
        ImportStep::Reading {
            bytes,
            total,
            lines,
        } => {
            progress::show(bar, total, bytes, import_lines(lines));
        }
        ImportStep::Checking { records } => {
            bar.set_message(format!("checking {records} beads"));
        }
        ImportStep::Writing { records } => {
            bar.set_message(format!("writing {records} beads into the ledger"));
        }
    }
}

/// `12,345 lines` (thousands grouped, as a person reads a count going by).
fn import_lines(lines: usize) -> String {
    let digits = lines.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped} line{}", if lines == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::import_lines;

    #[test]
    fn line_counts_are_grouped_by_thousands() {
        assert_eq!(import_lines(1), "1 line");
        assert_eq!(import_lines(999), "999 lines");
        assert_eq!(import_lines(1000), "1,000 lines");
        assert_eq!(import_lines(20_000), "20,000 lines");
        assert_eq!(import_lines(1_234_567), "1,234,567 lines");
    }
}
