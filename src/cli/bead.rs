//! `gastown bead …`: the built-in ledger client. Flags follow the classic `bd` where it has them.
//!
//! Reading commands and `create` take `--json`: `show` and `create` print the bead as its JSONL
//! object; `list`, `ready` and `blocked` print a JSON array of such objects.

use crate::client;
use crate::output;
use crate::run::protocol::{TownReply, TownRequest};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gastown_beads::ledger::{BeadPatch, Ledger, ListFilter, NewBead};
use gastown_beads::{Bead, DepKind, IssueType, Status};
use gastown_town::town::Town;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Subcommand, Serialize, Deserialize)]
pub enum BeadCommand {
    /// Create a bead.
    Create(CreateArgs),
    /// Show one bead.
    Show {
        id: String,
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
        #[arg(required = true)]
        ids: Vec<String>,
        /// Why it was closed.
        #[arg(long, short = 'r', default_value = "")]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Reopen closed beads.
    Reopen {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Dependencies between beads.
    #[command(subcommand)]
    Dep(DepCommand),
    /// Beads ready to work on: open, unblocked, not deferred.
    Ready {
        #[arg(long)]
        json: bool,
    },
    /// Beads held back by an open blocker.
    Blocked {
        #[arg(long)]
        json: bool,
    },
    /// Labels on beads.
    #[command(subcommand)]
    Label(LabelCommand),
    /// Add a comment to a bead.
    Comment {
        id: String,
        text: String,
        #[arg(long)]
        json: bool,
    },
    /// Import a `bd` JSONL export (classic or current); all or nothing.
    Import { file: PathBuf },
    /// Export the ledger as one `issues.jsonl` that the classic `bd` reads.
    Export {
        /// Write here instead of stdout.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// The audit trail of one bead.
    Events {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Args, Serialize, Deserialize)]
pub struct CreateArgs {
    pub title: String,
    /// task, bug, feature, epic, chore, … (default task).
    #[arg(long = "type", short = 't', default_value = "task")]
    pub issue_type: String,
    /// 0 (critical) … 4 (backlog); P0…P4 also accepted.
    #[arg(long, short = 'p', default_value = "2")]
    pub priority: String,
    #[arg(long, short = 'd', default_value = "")]
    pub description: String,
    #[arg(long, default_value = "")]
    pub design: String,
    #[arg(long, default_value = "")]
    pub acceptance: String,
    #[arg(long, default_value = "")]
    pub notes: String,
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
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Args, Serialize, Deserialize)]
pub struct ListArgs {
    #[arg(long, short = 's')]
    pub status: Option<String>,
    #[arg(long = "type", short = 't')]
    pub issue_type: Option<String>,
    #[arg(long, short = 'a')]
    pub assignee: Option<String>,
    #[arg(long, short = 'l')]
    pub label: Option<String>,
    /// Every bead: closed ones, and the records left out by default (mail, agents, molecules
    /// and their steps, merge requests).
    #[arg(long)]
    pub all: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Args, Serialize, Deserialize)]
pub struct UpdateArgs {
    pub id: String,
    #[arg(long)]
    pub title: Option<String>,
    #[arg(long, short = 's')]
    pub status: Option<String>,
    #[arg(long, short = 'p')]
    pub priority: Option<String>,
    #[arg(long = "type", short = 't')]
    pub issue_type: Option<String>,
    #[arg(long, short = 'a')]
    pub assignee: Option<String>,
    #[arg(long, short = 'd')]
    pub description: Option<String>,
    #[arg(long)]
    pub design: Option<String>,
    #[arg(long)]
    pub acceptance: Option<String>,
    #[arg(long)]
    pub notes: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Subcommand, Serialize, Deserialize)]
pub enum DepCommand {
    /// ISSUE depends on DEPENDS_ON (by default DEPENDS_ON blocks ISSUE).
    Add {
        issue: String,
        depends_on: String,
        #[arg(long = "type", short = 't', default_value = "blocks")]
        kind: String,
    },
    /// Remove the dependency of ISSUE on DEPENDS_ON.
    Remove { issue: String, depends_on: String },
}

#[derive(Debug, Clone, PartialEq, Subcommand, Serialize, Deserialize)]
pub enum LabelCommand {
    Add { id: String, label: String },
    Remove { id: String, label: String },
}

/// What a command prints: stdout text, plus notes for stderr (kept apart so `export` to stdout
/// stays a clean JSONL stream).
#[derive(Debug, Default)]
struct Out {
    text: String,
}

impl Out {
    fn line(&mut self, line: impl AsRef<str>) -> Result<()> {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
        Ok(())
    }

    fn json<T: serde::Serialize>(&mut self, value: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        self.line(text)
    }

    fn note(&mut self, note: String) {
        eprintln!("{note}");
    }
}

impl BeadCommand {
    /// Resolve file arguments against the working directory, so the command means the same
    /// when a supervisor in another directory runs it.
    pub fn with_absolute_paths(self) -> Result<BeadCommand> {
        let cwd = std::env::current_dir().context("cannot read the working directory")?;
        Ok(match self {
            BeadCommand::Import { file } => BeadCommand::Import {
                file: cwd.join(file),
            },
            BeadCommand::Export { output: Some(p) } => BeadCommand::Export {
                output: Some(cwd.join(p)),
            },
            other => other,
        })
    }

    /// A `create` run from inside a rig's directory is for that rig unless `--rig` says
    /// otherwise; the working directory is the caller's, so this is decided before the
    /// command travels to a supervisor.
    pub fn with_rig_of(self, town: &Town, cwd: &std::path::Path) -> BeadCommand {
        match self {
            BeadCommand::Create(mut args) if args.rig.is_none() => {
                args.rig = gastown_town::rig::rig_of_dir(town, cwd);
                BeadCommand::Create(args)
            }
            other => other,
        }
    }
}

/// Who the CLI acts as: the agent named by the session's environment, else the overseer.
pub fn actor() -> String {
    std::env::var("GASTOWN_AGENT")
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "overseer".to_string())
}

pub fn run(town: &Town, cmd: BeadCommand) -> Result<()> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let cmd = cmd.with_absolute_paths()?.with_rig_of(town, &cwd);
    // With `gastown run` up the supervisor owns the ledger and runs the same command; without
    // it the ledger is opened here and flushed to git on the way out.
    let request = TownRequest::Bead(cmd.clone());
    crate::cli::routed::run(town, request, |ledger, who| apply(ledger, town, cmd, who))
}

pub fn sync(town: &Town) -> Result<()> {
    if let Some(mut supervisor) = client::connect(town)? {
        return match client::call(&mut supervisor, TownRequest::Sync)? {
            TownReply::Text(text) => Ok(output::text(&text)?),
            other => bail!("unexpected reply from the supervisor: {other:?}"),
        };
    }
    let mut ledger = town.open_ledger()?;
    let outcome = ledger.sync().context("git commit of the ledger failed")?;
    match outcome {
        Some(c) => output::line(format!("committed {} bead(s) in {}", c.beads, c.commit))?,
        None => output::line("nothing to commit: the ledger is in git")?,
    }
    ledger.close_ledger()?;
    Ok(())
}

/// Run one bead command against an open ledger as `who`; returns what goes to stdout.
///
/// The same function runs in the CLI (ledger opened directly) and in `gastown run` (the ledger
/// actor), so the two behave alike.
pub fn apply(ledger: &mut Ledger, town: &Town, cmd: BeadCommand, who: &str) -> Result<String> {
    let mut out = Out::default();
    apply_to(ledger, town, cmd, who, &mut out)?;
    Ok(out.text)
}

fn apply_to(
    ledger: &mut Ledger,
    town: &Town,
    cmd: BeadCommand,
    who: &str,
    out: &mut Out,
) -> Result<()> {
    match cmd {
        BeadCommand::Create(args) => create(ledger, town, args, who, out),
        BeadCommand::Show { id, json } => {
            let bead = get(ledger, &id)?;
            print_bead(&bead, json, out)
        }
        BeadCommand::List(args) => list(ledger, args, out),
        BeadCommand::Update(args) => update(ledger, args, who, out),
        BeadCommand::Close { ids, reason, json } => {
            for id in ids {
                let bead = ledger.close(&id, &reason, who)?;
                print_changed("Closed", &bead, json, out)?;
                finish_molecules(ledger, &bead.id, json, who, out)?;
            }
            Ok(())
        }
        BeadCommand::Reopen { ids, json } => {
            for id in ids {
                let bead = ledger.reopen(&id, who)?;
                print_changed("Reopened", &bead, json, out)?;
            }
            Ok(())
        }
        BeadCommand::Dep(DepCommand::Add {
            issue,
            depends_on,
            kind,
        }) => {
            let kind = parse_dep_kind(&kind)?;
            ledger.add_dependency(&issue, &depends_on, kind.clone(), who)?;
            out.line(format!(
                "Added dependency: {issue} depends on {depends_on} ({kind})"
            ))?;
            Ok(())
        }
        BeadCommand::Dep(DepCommand::Remove { issue, depends_on }) => {
            ledger.remove_dependency(&issue, &depends_on, who)?;
            out.line(format!(
                "Removed dependency: {issue} no longer depends on {depends_on}"
            ))?;
            Ok(())
        }
        BeadCommand::Ready { json } => {
            let beads = ledger.ready()?;
            print_list(&beads, json, "No ready beads", out)
        }
        BeadCommand::Blocked { json } => blocked(ledger, json, out),
        BeadCommand::Label(LabelCommand::Add { id, label }) => {
            let bead = ledger.add_label(&id, &label, who)?;
            out.line(format!("Added label {label:?} to {}", bead.id))?;
            Ok(())
        }
        BeadCommand::Label(LabelCommand::Remove { id, label }) => {
            let bead = ledger.remove_label(&id, &label, who)?;
            out.line(format!("Removed label {label:?} from {}", bead.id))?;
            Ok(())
        }
        BeadCommand::Comment { id, text, json } => {
            let bead = ledger.add_comment(&id, &text, who)?;
            print_changed("Commented on", &bead, json, out)
        }
        BeadCommand::Import { file } => {
            let outcome = ledger.import_file(&file, who)?;
            out.line(format!(
                "Imported {}: {} created, {} updated, {} unchanged ({} wisps)",
                file.display(),
                outcome.created,
                outcome.updated,
                outcome.unchanged,
                outcome.wisps
            ))?;
            Ok(())
        }
        BeadCommand::Export { output: path } => export(ledger, path, out),
        BeadCommand::Events { id, json } => events(ledger, &id, json, out),
    }
}

fn create(
    ledger: &mut Ledger,
    town: &Town,
    args: CreateArgs,
    who: &str,
    out: &mut Out,
) -> Result<()> {
    let mut deps = Vec::new();
    for spec in args.deps.iter().filter(|s| !s.trim().is_empty()) {
        deps.push(parse_dep_spec(spec)?);
    }
    // The rig the bead is for (`--rig`, or the directory it was filed from), else the
    // caller's own rig: its id carries that rig's prefix.
    let prefix = match &args.rig {
        Some(rig) => Some(gastown_town::rig::bead_prefix(town, rig)?),
        None => gastown_town::rig::caller_prefix(town, who),
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
    let bead = ledger.create(new, who)?;
    if args.json {
        out.line(bead.to_json_line())?;
    } else {
        out.line(format!("Created {}: {}", bead.id, bead.title))?;
    }
    Ok(())
}

fn list(ledger: &Ledger, args: ListArgs, out: &mut Out) -> Result<()> {
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
    print_list(&beads, args.json, "No beads", out)
}

/// Is `bead` in `bead list`'s default view: what people filed, not the records that coordinate
/// it (mail, agent identities, molecules and their step beads, merge requests)?
fn is_work_view(bead: &Bead) -> bool {
    let record = matches!(
        bead.issue_type,
        IssueType::Message | IssueType::Agent | IssueType::Molecule | IssueType::MergeRequest
    );
    !record && gastown_town::molecule::step_id(bead).is_none()
}

fn update(ledger: &mut Ledger, args: UpdateArgs, who: &str, out: &mut Out) -> Result<()> {
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
    print_changed("Updated", &bead, args.json, out)?;
    finish_molecules(ledger, &bead.id, args.json, who, out)
}

/// A bead was closed by hand: the molecules its closing finishes close too (see
/// [`gastown_town::molecule::on_closed`]); said in text output, left out of `--json`.
fn finish_molecules(
    ledger: &mut Ledger,
    id: &str,
    json: bool,
    who: &str,
    out: &mut Out,
) -> Result<()> {
    for note in gastown_town::molecule::on_closed(ledger, id, who)? {
        if !json {
            out.line(note)?;
        }
    }
    Ok(())
}

fn blocked(ledger: &Ledger, json: bool, out: &mut Out) -> Result<()> {
    let blocked = ledger.blocked()?;
    if json {
        let beads: Vec<&Bead> = blocked.iter().map(|b| &b.bead).collect();
        return out.json(&beads);
    }
    if blocked.is_empty() {
        out.line("No blocked beads")?;
    }
    for b in &blocked {
        out.line(format!(
            "{}  blocked by {}",
            summary(&b.bead),
            b.blocked_by.join(", ")
        ))?;
    }
    Ok(())
}

fn export(ledger: &Ledger, path: Option<PathBuf>, out: &mut Out) -> Result<()> {
    match path {
        Some(path) => {
            let file =
                File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut w = BufWriter::new(file);
            let n = ledger.export_to(&mut w)?;
            w.flush()?;
            out.note(format!("exported {n} beads to {}", path.display()));
        }
        None => {
            let mut buf = Vec::new();
            ledger.export_to(&mut buf)?;
            out.text
                .push_str(&String::from_utf8(buf).context("export produced invalid UTF-8")?);
        }
    }
    Ok(())
}

fn events(ledger: &Ledger, id: &str, json: bool, out: &mut Out) -> Result<()> {
    get(ledger, id)?;
    let events = ledger.events(id)?;
    if json {
        return out.json(&events);
    }
    for e in &events {
        let detail = match (&e.old, &e.new) {
            (Some(o), Some(n)) => format!(" {o} -> {n}"),
            (None, Some(n)) => format!(" {n}"),
            (Some(o), None) => format!(" {o}"),
            (None, None) => String::new(),
        };
        out.line(format!("{}  {:?}  by {}{detail}", e.at, e.kind, e.actor))?;
    }
    Ok(())
}

fn get(ledger: &Ledger, id: &str) -> Result<Bead> {
    gastown_beads::id::validate_id(id)?;
    match ledger.get(id)? {
        Some(b) => Ok(b),
        None => bail!("no bead {id:?} in this town: `gastown bead list --all` shows the ids"),
    }
}

fn print_bead(bead: &Bead, json: bool, out: &mut Out) -> Result<()> {
    if json {
        out.line(bead.to_json_line())?;
        return Ok(());
    }
    let mut text = format!(
        "{}: {}\nStatus: {}  Priority: P{}  Type: {}\n",
        bead.id, bead.title, bead.status, bead.priority, bead.issue_type
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
    out.line(text.trim_end())?;
    Ok(())
}

fn print_changed(verb: &str, bead: &Bead, json: bool, out: &mut Out) -> Result<()> {
    if json {
        out.line(bead.to_json_line())?;
    } else {
        out.line(format!("{verb} {}: {}", bead.id, bead.title))?;
    }
    Ok(())
}

fn print_list(beads: &[Bead], json: bool, empty: &str, out: &mut Out) -> Result<()> {
    if json {
        return out.json(&beads);
    }
    if beads.is_empty() {
        out.line(empty)?;
    }
    for bead in beads {
        out.line(summary(bead))?;
    }
    Ok(())
}

/// One line per bead, as `bd list` prints it.
fn summary(bead: &Bead) -> String {
    format!(
        "{} [P{}] [{}] {} - {}",
        bead.id, bead.priority, bead.issue_type, bead.status, bead.title
    )
}

/// `2`, `P2` or `p2`.
pub fn parse_priority(text: &str) -> Result<u8> {
    let digits = text.strip_prefix(['P', 'p']).unwrap_or(text);
    match digits.parse::<u8>() {
        Ok(p) if p <= 4 => Ok(p),
        _ => bail!("invalid priority {text:?}: use 0 (critical) to 4 (backlog), or P0 to P4"),
    }
}

pub fn parse_status(text: &str) -> Result<Status> {
    Status::parse_known(text).with_context(|| {
        format!(
            "unknown status {text:?}: use one of {}",
            Status::KNOWN.join(", ")
        )
    })
}

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

pub fn parse_dep_kind(text: &str) -> Result<DepKind> {
    DepKind::parse_known(text).with_context(|| {
        format!(
            "unknown dependency type {text:?}: use blocks, parent-child, conditional-blocks, \
             waits-for, related, discovered-from, replies-to, tracks, supersedes or duplicates"
        )
    })
}

/// `kind:id` or a bare `id` (blocks).
fn parse_dep_spec(spec: &str) -> Result<(DepKind, String)> {
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
        ] {
            assert!(!is_work_view(&of(hidden.clone())), "{hidden}");
        }
        let mut step = of(IssueType::Task);
        step.extra.insert(
            gastown_town::molecule::STEP_FIELD.to_string(),
            "design".into(),
        );
        assert!(!is_work_view(&step), "a molecule's step is left out");
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
