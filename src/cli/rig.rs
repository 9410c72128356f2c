//! `gastown rig add|list|show|remove|gate`: the git projects the town manages. The work is done
//! by `gastown_town::rig`; this file parses flags and prints (text, or JSON with `--json`).

use crate::output;
use crate::progress::{self, Every, ProgressArgs, Style};
use crate::protocol::{TownReply, TownRequest};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gastown_town::git_cli::{self, Worktree};
use gastown_town::rig::orphans::{self, Claims, Orphans};
use gastown_town::rig::{
    self, AddOptions, AddStep, Gate, GateOutcome, PolecatStatus, Rig, RigConfig,
};
use gastown_town::town::Town;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Subcommand)]
pub enum RigCommand {
    /// Add a rig: a shared bare clone of the repository, rig.toml and the refinery's worktree.
    Add(AddArgs),
    /// List the town's rigs.
    List {
        /// Print a JSON array of the rigs' configurations.
        #[arg(long)]
        json: bool,
    },
    /// Show a rig: config, worktrees, polecats, crew and branch tips.
    Show {
        /// The rig's name.
        name: String,
        /// Print everything shown as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a rig, its clone and worktrees (refused while work would be lost).
    Remove {
        /// The rig's name.
        name: String,
        /// Remove even with uncommitted, unmerged or unpushed work.
        #[arg(long)]
        force: bool,
    },
    /// Run one of a rig's gates, as the refinery would (exit 1 when it fails).
    Gate {
        /// The rig's name.
        name: String,
        /// Which gate.
        gate: super::args::GateArg,
        /// The worktree to run it in (default: the refinery's).
        #[arg(long)]
        worktree: Option<PathBuf>,
        /// Print the gate's outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show or change a rig's rig.toml knobs: gates, merge strategy, landing, the witness.
    Config {
        /// The rig's name.
        name: String,
        #[command(subcommand)]
        action: RigConfigAction,
    },
}

/// `gastown rig config <rig> …`.
#[derive(Debug, Clone, Subcommand)]
pub enum RigConfigAction {
    /// Every knob: its value in effect and whether rig.toml sets it.
    Show {
        /// Print the knobs as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a knob: `set gates.test "cargo test"`, `set witness.stall_after 10m`.
    Set {
        /// The key: merge_strategy, batch, max_polecats, runtime, gates.{setup,build,test,lint,
        /// timeout}, refinery.{push,push_branches,remote_timeout}, witness.{patrol_every,
        /// start_after,stall_after,hung_after,nudges,restarts,judge_for}, roles.witness.
        key: String,
        /// Its value (a duration like "10m", a number, true/false, merge/squash/rebase, a
        /// command).
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Remove a knob from rig.toml: its default applies again (an unset gate does not run).
    Unset {
        /// The key (see `set`).
        key: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct AddArgs {
    /// The rig's name: lowercase letters, digits, '-' and '_'.
    pub name: String,
    /// A git URL, or a path to a local repository.
    pub source: String,
    /// The default branch (default: the repository's HEAD).
    #[arg(long)]
    pub branch: Option<String>,
    /// The agent runtime of the rig's roles (default: the town's).
    #[arg(long)]
    pub runtime: Option<String>,
    /// The bead id prefix of the rig's beads (default: from the name).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Keep landed work in the town: never push to the source (`[refinery] push = false`).
    #[arg(long)]
    pub no_push: bool,
    /// Print the new rig's configuration as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub progress: ProgressArgs,
}

pub fn run(town: &Town, cmd: RigCommand) -> Result<()> {
    match cmd {
        RigCommand::Add(args) => {
            super::routed::overseer_only(town, "add a rig")?;
            add(town, args)
        }
        RigCommand::List { json } => list(town, json),
        RigCommand::Show { name, json } => show(town, &name, json),
        RigCommand::Remove { name, force } => {
            super::routed::overseer_only(town, "remove a rig")?;
            rig::remove_rig(town, &name, force)?;
            output::line(format!("Removed rig {name}"))?;
            Ok(())
        }
        RigCommand::Gate {
            name,
            gate,
            worktree,
            json,
        } => run_gate(town, &name, gate.into(), worktree, json),
        RigCommand::Config { name, action } => rig_config(town, &name, action),
    }
}

fn rig_config(town: &Town, name: &str, action: RigConfigAction) -> Result<()> {
    let (edited, what) = match action {
        RigConfigAction::Show { json } => return show_config(town, name, json),
        RigConfigAction::Set { key, value } => {
            super::routed::overseer_only(town, "change a rig's configuration")?;
            let edited = rig::set_knob(town, name, &key, &value)?;
            (edited, format!("{name}: {key} = {value}"))
        }
        RigConfigAction::Unset { key } => {
            super::routed::overseer_only(town, "change a rig's configuration")?;
            let edited = rig::unset_knob(town, name, &key)?;
            (edited, format!("{name}: {key} unset (its default applies)"))
        }
    };
    let text = match edited.change {
        gastown_town::runtimes::Change::Committed => format!(
            "{what} ({} committed; {})",
            edited.path.display(),
            edited.effect
        ),
        gastown_town::runtimes::Change::Unchanged => format!("{what} (unchanged)"),
    };
    output::line(text)?;
    Ok(())
}

fn show_config(town: &Town, name: &str, json: bool) -> Result<()> {
    let shown = rig::show_knobs(town, name)?;
    if json {
        return print_json(&shown);
    }
    let width = shown.knobs.iter().map(|k| k.key.len()).max().unwrap_or(0);
    let mut text = format!("rig {} ({})\n", shown.rig, shown.path.display());
    for knob in &shown.knobs {
        let value = match &knob.value {
            serde_json::Value::Null if knob.key == "runtime" => "(the town's default)".to_string(),
            serde_json::Value::Null if knob.key == "roles.witness" => {
                "(town.toml's [roles] witness)".to_string()
            }
            serde_json::Value::Null => "-".to_string(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let from = if knob.set { "" } else { "  (default)" };
        text.push_str(&format!("  {:width$}  {value}{from}\n", knob.key));
    }
    output::text(&text)?;
    Ok(())
}

fn add(town: &Town, args: AddArgs) -> Result<()> {
    let cloning = format!("cloning {}", git_cli::redact(&args.source));
    let bar = progress::bar(args.progress.mode(), Style::Spinner, "rig add", 0, cloning);
    let opts = AddOptions {
        name: args.name,
        source: args.source,
        branch: args.branch,
        runtime: args.runtime,
        prefix: args.prefix,
        no_push: args.no_push,
    };
    let mut every = Every::default();
    let mut phase = String::new();
    let added = rig::add_rig_watched(town, &opts, &mut |step| match step {
        AddStep::Clone(p) => {
            let new_phase = p.phase != phase;
            if !new_phase && p.total != Some(p.done) && !every.due(std::time::Instant::now()) {
                return;
            }
            if new_phase {
                phase.clone_from(&p.phase);
                let style = if p.total.is_some() {
                    Style::Count
                } else {
                    Style::Spinner
                };
                bar.set_style(style.style());
            }
            progress::show(&bar, p.total.unwrap_or(0), p.done, clone_words(p));
        }
        AddStep::Setting(what) => {
            if !phase.is_empty() {
                phase.clear();
                bar.set_style(Style::Spinner.style());
            }
            bar.set_message(what);
        }
    });
    bar.finish_and_clear();
    let rig = added?;
    let c = &shown(&rig.config);
    if args.json {
        return print_json(c);
    }
    output::line(format!(
        "Added rig {} at {}\n  source:         {}\n  default branch: {}\n  bead prefix:    {}\n  \
         refinery:       {}\n  lands on:       {}\n  next:           set its gates with `gastown rig config {} set gates.test \"<command>\"` \
         (`gastown rig config {} show` lists every knob), then `gastown sling <bead> {}`",
        c.name,
        rig.dir().display(),
        c.url,
        c.default_branch,
        c.prefix,
        rig.refinery_worktree().display(),
        landing(c),
        c.name,
        c.name,
        c.name
    ))?;
    Ok(())
}

/// What a clone's bar says beside its count: git's phase, and the bytes received so far.
fn clone_words(p: &git_cli::CloneProgress) -> String {
    let mut words = p.phase.clone();
    if p.total.is_none() {
        words.push_str(&format!(": {}", p.done));
    }
    if let Some(bytes) = &p.received {
        words.push_str(&format!(", {bytes}"));
    }
    words
}

fn list(town: &Town, json: bool) -> Result<()> {
    let rigs = Rig::list(town)?;
    if json {
        let configs: Vec<RigConfig> = rigs.iter().map(|r| shown(&r.config)).collect();
        return print_json(&configs);
    }
    if rigs.is_empty() {
        output::line("No rigs yet: add one with `gastown rig add <name> <url-or-path>`")?;
    }
    for rig in &rigs {
        let polecats = rig.polecats_present()?.len();
        output::line(format!(
            "{}\t{}\t{} polecat(s)\t{}",
            rig.config.name,
            rig.config.default_branch,
            polecats,
            git_cli::redact(&rig.config.url)
        ))?;
    }
    Ok(())
}

/// The config as printed: a URL's credentials (`https://me:token@host/…`) never shown.
fn shown(config: &RigConfig) -> RigConfig {
    let mut config = config.clone();
    config.url = git_cli::redact(&config.url);
    config
}

/// Everything `rig show --json` prints.
#[derive(Debug, Serialize)]
struct RigView {
    dir: PathBuf,
    config: RigConfig,
    bare_repo: PathBuf,
    refinery: PathBuf,
    worktrees: Vec<Worktree>,
    polecats: Vec<PolecatStatus>,
    crew: Vec<String>,
    branches: Vec<BranchTip>,
    /// Where the refinery lands (`origin` of the bare clone, credentials redacted).
    origin: String,
    /// Polecat branches gastown pushed to origin (while their work is in flight).
    on_origin: Vec<BranchTip>,
    /// Worktrees, polecat branches and homes that belong to no identity (never removed here).
    orphans: Orphans,
}

#[derive(Debug, Serialize)]
struct BranchTip {
    name: String,
    commit: String,
}

fn show(town: &Town, name: &str, json: bool) -> Result<()> {
    let rig = Rig::load(town, name)?;
    let bare = rig.bare_repo();
    let polecats = rig
        .polecats_present()?
        .iter()
        .map(|p| rig::polecat_status(&rig, p))
        .collect::<Result<Vec<_>, _>>()?;
    let view = RigView {
        dir: rig.dir().to_path_buf(),
        config: shown(&rig.config),
        bare_repo: bare.clone(),
        refinery: rig.refinery_worktree(),
        worktrees: git_cli::worktree_list(&bare)?,
        polecats,
        crew: rig.crew_present()?,
        branches: git_cli::branch_tips(&bare)?
            .into_iter()
            .map(|(name, commit)| BranchTip { name, commit })
            .collect(),
        origin: git_cli::origin_url(&bare),
        on_origin: pushed_branches(&bare)?,
        orphans: orphans::find(&rig, &claims(town)?)?,
    };
    if json {
        return print_json(&view);
    }
    output::text(&render_show(&view))?;
    Ok(())
}

/// The polecat branches gastown pushed to origin (`refs/gastown/pushed/*`), by name.
fn pushed_branches(bare: &std::path::Path) -> Result<Vec<BranchTip>> {
    let prefix = gastown_town::refinery::pushed_ref("");
    let text = git_cli::git(
        bare,
        &["for-each-ref", "--format=%(refname) %(objectname)", &prefix],
    )?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(name, commit)| BranchTip {
            name: name.trim_start_matches(&prefix).to_string(),
            commit: commit.to_string(),
        })
        .collect())
}

fn render_show(v: &RigView) -> String {
    let c = &v.config;
    let gates = Gate::ALL
        .iter()
        .map(|g| format!("{g}: {}", c.gates.command(*g).unwrap_or("-")))
        .collect::<Vec<_>>()
        .join(", ");
    let mut s = format!(
        "rig {}\n  dir:            {}\n  source:         {}\n  default branch: {}\n  \
         bead prefix:    {}\n  merge:          {}, batch {}, max polecats {}\n  \
         runtime:        {}\n  gates:          {gates} (timeout {})\n  bare clone:     {}\n  \
         origin:         {}, lands on {}\n",
        c.name,
        v.dir.display(),
        c.url,
        c.default_branch,
        c.prefix,
        c.merge_strategy,
        c.batch,
        c.max_polecats,
        c.runtime.as_deref().unwrap_or("(town default)"),
        humantime::format_duration(c.gates.timeout.0),
        v.bare_repo.display(),
        v.origin,
        landing(c),
    );
    s.push_str("worktrees:\n");
    for w in v.worktrees.iter().filter(|w| !w.bare) {
        let on = w.branch.as_deref().unwrap_or("(detached)");
        let head = w.head.as_deref().map(short).unwrap_or("-");
        let gone = if w.prunable { " (missing)" } else { "" };
        s.push_str(&format!("  {} {on} {head}{gone}\n", w.path.display()));
    }
    s.push_str("polecats:\n");
    if v.polecats.is_empty() {
        s.push_str("  (none)\n");
    }
    for p in &v.polecats {
        let on = p.branch.as_deref().unwrap_or("(no worktree)");
        let dirty = if p.dirty { ", dirty" } else { "" };
        s.push_str(&format!("  {} {on}, {} ahead{dirty}\n", p.name, p.ahead));
    }
    let crew = if v.crew.is_empty() {
        "(none)".to_string()
    } else {
        v.crew.join(", ")
    };
    s.push_str(&format!("crew: {crew}\nbranches:\n"));
    for b in &v.branches {
        s.push_str(&format!("  {} {}\n", b.name, short(&b.commit)));
    }
    if !v.on_origin.is_empty() {
        s.push_str("on origin (pushed by `gastown done`):\n");
        for b in &v.on_origin {
            s.push_str(&format!("  {} {}\n", b.name, short(&b.commit)));
        }
    }
    if v.orphans.is_empty() {
        s.push_str("orphans: none\n");
    } else {
        s.push_str(
            "orphans (belong to no identity; kept until merged or saved, then remove by hand):\n",
        );
        for line in v.orphans.lines() {
            s.push_str(&format!("  {line}\n"));
        }
    }
    s
}

/// How the refinery lands, in words.
fn landing(c: &RigConfig) -> String {
    let r = &c.refinery;
    if !r.push {
        return "the town only (`[refinery] push = false`)".to_string();
    }
    format!(
        "origin's {} (pushed with a lease{}; remote timeout {})",
        c.default_branch,
        if r.push_branches {
            "; polecat branches pushed while in flight"
        } else {
            ""
        },
        humantime::format_duration(r.remote_timeout.0)
    )
}

/// What the ledger says belongs to whom: from the supervisor when it runs (it owns the ledger),
/// else from the ledger opened here.
fn claims(town: &Town) -> Result<Claims> {
    if let Some(mut supervisor) = crate::client::connect(town)? {
        return match crate::client::call(&mut supervisor, TownRequest::RigClaims)? {
            TownReply::Claims(claims) => Ok(claims),
            other => Err(super::routed::unexpected(&other)),
        };
    }
    let ledger = town.open_ledger()?;
    let claims = Claims::read(&ledger);
    ledger.close_ledger()?;
    claims
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn run_gate(
    town: &Town,
    name: &str,
    gate: Gate,
    worktree: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    let rig = Rig::load(town, name)?;
    let dir = match worktree {
        Some(dir) => dir,
        None => rig::ensure_refinery_worktree(&rig)?,
    };
    let outcome: GateOutcome = rig::run_gate(&rig, gate, &dir)?;
    if json {
        print_json(&outcome)?;
    } else {
        output::text(&outcome.output)?;
    }
    let what = format!("gate {gate} of rig {name}");
    match (&outcome.command, outcome.ok, outcome.timed_out) {
        (None, _, _) if !json => output::line(format!("{what}: not configured (passes)"))?,
        (None, _, _) | (Some(_), true, _) => {}
        (Some(cmd), false, true) => bail!(
            "{what} (`{cmd}`) timed out after {} and was killed: raise [gates] timeout in {}",
            humantime::format_duration(rig.config.gates.timeout.0),
            rig.config_path().display()
        ),
        (Some(cmd), false, false) => bail!(
            "{what} (`{cmd}`) failed with exit code {}",
            outcome.exit_code.map_or_else(
                || "none (killed by a signal)".to_string(),
                |c| c.to_string()
            )
        ),
    }
    Ok(())
}

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot render JSON")?;
    output::line(text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::clone_words;
    use gastown_town::git_cli::CloneProgress;

    #[test]
    fn a_clone_bar_says_the_phase_and_the_bytes_received() {
        let receiving =
            CloneProgress::parse("Receiving objects:  45% (405/900), 1.20 MiB | 3 MiB/s")
                .expect("progress");
        assert_eq!(clone_words(&receiving), "receiving objects, 1.20 MiB");
        let enumerating =
            CloneProgress::parse("remote: Enumerating objects: 900, done.").expect("progress");
        assert_eq!(
            clone_words(&enumerating),
            "enumerating objects (remote): 900"
        );
    }
}
