//! `gastown formula list|show|cook`: the formulas on the search path and what they cook to.
//!
//! Search path, first of a name wins: the rig's `.beads/formulas/` (`--rig-dir`, else the
//! nearest `.beads/formulas/` at or above the working directory and below the town root),
//! the town's `<town>/.beads/formulas/`, then the formulas built into the binary. Outside a
//! town the commands work with the rig layer and the built-ins.

use crate::output;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gastown_formula::loader;
use gastown_formula::{Formula, Library, declared_vars};
use gastown_town::formulas::{absolute_if_path, cook, library};
use gastown_town::town::Town;
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Subcommand)]
pub enum FormulaCommand {
    /// List formulas on the search path (rig, town, built-in), broken files with their error.
    List {
        #[command(flatten)]
        search: SearchArgs,
        /// Print a JSON array of the formulas.
        #[arg(long)]
        json: bool,
    },
    /// Show a formula as written: its variables, steps, extends and composition.
    Show {
        /// A formula name, or a path to a `.formula.toml`.
        name: String,
        #[command(flatten)]
        search: SearchArgs,
        /// Print the formula as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cook a formula into its protomolecule: composition resolved, variables substituted,
    /// steps in order.
    Cook {
        /// A formula name, or a path to a `.formula.toml`.
        name: String,
        /// A variable value, `name=value` (repeatable).
        #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
        vars: Vec<(String, String)>,
        /// Print each step's description and acceptance too.
        #[arg(long, short = 'v')]
        verbose: bool,
        #[command(flatten)]
        search: SearchArgs,
        /// Print the protomolecule as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Where the rig layer of the search path is.
#[derive(Debug, Clone, PartialEq, Default, Args)]
pub struct SearchArgs {
    /// A rig directory whose `.beads/formulas/` comes first on the search path (default: the
    /// nearest `.beads/formulas/` at or above the working directory, below the town root).
    #[arg(long, value_name = "DIR")]
    pub rig_dir: Option<PathBuf>,
}

/// `name=value` of `--var`.
pub fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(format!(
            "{text:?} is not NAME=VALUE; write e.g. --var issue=gt-abc"
        )),
    }
}

/// Run a formula command. `town` is the explicit `--town`/`GASTOWN_TOWN`; without one the
/// town containing the working directory is used, and outside any town only the rig layer
/// and the built-ins are searched.
pub fn run(town: Option<&Path>, cmd: FormulaCommand) -> Result<()> {
    let town = match town {
        Some(dir) => Some(Town::find(Some(dir))?),
        None => Town::find(None).ok(),
    };
    let text = apply(town.as_ref(), cmd)?;
    output::text(&text)?;
    Ok(())
}

/// Run one formula command; returns what goes to stdout.
pub fn apply(town: Option<&Town>, cmd: FormulaCommand) -> Result<String> {
    match cmd {
        FormulaCommand::List { search, json } => {
            list(&library(town, search.rig_dir.as_deref(), None)?, json)
        }
        FormulaCommand::Show { name, search, json } => {
            let library = library(town, search.rig_dir.as_deref(), Some(&name))?;
            show(&library, &name, json)
        }
        FormulaCommand::Cook {
            name,
            vars,
            verbose,
            search,
            json,
        } => {
            let library = library(town, search.rig_dir.as_deref(), Some(&name))?;
            let proto = cook(&library, &name, &vars)?;
            if json {
                return Ok(format!("{}\n", serde_json::to_string_pretty(&proto)?));
            }
            Ok(if verbose {
                format!("{proto:#}")
            } else {
                format!("{proto}")
            })
        }
    }
}

fn list(library: &Library, json: bool) -> Result<String> {
    let listed = library.list();
    if json {
        let rows: Vec<_> = listed
            .iter()
            .map(|l| match l.formula {
                Ok(f) => json!({
                    "name": l.name, "type": f.kind().as_str(), "layer": l.layer,
                    "version": f.version, "description": f.description, "source": f.source,
                }),
                Err(e) => json!({"name": l.name, "layer": l.layer, "error": e.to_string()}),
            })
            .collect();
        return Ok(format!("{}\n", serde_json::to_string_pretty(&rows)?));
    }
    let width = listed
        .iter()
        .map(|l| l.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:width$}  {:10} {:8} DESCRIPTION\n",
        "NAME", "TYPE", "LAYER"
    );
    for l in &listed {
        let (kind, text) = match l.formula {
            Ok(f) => (f.kind().as_str(), first_line(&f.description)),
            Err(e) => ("broken", format!("ERROR: {e}")),
        };
        out.push_str(&format!(
            "{:width$}  {kind:10} {:8} {text}\n",
            l.name, l.layer
        ));
    }
    for hidden in library.shadowed() {
        out.push_str(&format!(
            "note: {} from {} is shadowed by a higher layer\n",
            hidden.formula.formula, hidden.formula.source
        ));
    }
    Ok(out)
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_string()
}

fn show(library: &Library, name: &str, json: bool) -> Result<String> {
    let (formula, layer) = if loader::looks_like_path(name) {
        let path = absolute_if_path(name)?;
        let formula = loader::read_formula(Path::new(&path))?;
        (std::sync::Arc::new(formula), "file".to_string())
    } else {
        let formula = library.get(name)?.clone();
        let layer = library
            .list()
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.layer.to_string())
            .unwrap_or_default();
        (formula, layer)
    };
    let vars = declared_vars(library, &formula)
        .with_context(|| format!("cannot resolve the variables of {name}"))?;
    if json {
        let value = json!({"layer": layer, "source": formula.source, "type": formula.kind().as_str(),
            "formula": *formula, "vars": vars});
        return Ok(format!("{}\n", serde_json::to_string_pretty(&value)?));
    }
    Ok(show_text(&formula, &layer, &vars))
}

fn show_text(
    f: &Formula,
    layer: &str,
    vars: &std::collections::BTreeMap<String, gastown_formula::VarDef>,
) -> String {
    let version = f.version.map(|v| format!(", v{v}")).unwrap_or_default();
    let mut out = format!(
        "{} ({}{version}) — layer {layer}, {}\n",
        f.formula,
        f.kind(),
        f.source
    );
    if !f.description.trim().is_empty() {
        out.push_str(&format!("{}\n", f.description.trim_end()));
    }
    if !f.extends.is_empty() {
        out.push_str(&format!("extends: {}\n", f.extends.join(", ")));
    }
    if !f.compose.aspects.is_empty() {
        out.push_str(&format!("aspects: {}\n", f.compose.aspects.join(", ")));
    }
    if !vars.is_empty() {
        out.push_str("vars:\n");
        for (name, def) in vars {
            let mut line = format!("  {name}");
            if def.required {
                line.push_str(" (required)");
            }
            if let Some(default) = &def.default {
                line.push_str(&format!(" = {default:?}"));
            }
            if !def.description.is_empty() {
                line.push_str(&format!(" — {}", first_line(&def.description)));
            }
            out.push_str(&line);
            out.push('\n');
        }
    }
    let steps = if f.steps.is_empty() {
        &f.template
    } else {
        &f.steps
    };
    if !steps.is_empty() {
        out.push_str(&format!("steps ({}):\n", steps.len()));
        for s in steps {
            let title = s.title.as_deref().unwrap_or(&s.id);
            out.push_str(&format!("  {} — {title}", s.id));
            if !s.needs.is_empty() {
                out.push_str(&format!("  [needs {}]", s.needs.join(", ")));
            }
            out.push('\n');
        }
    }
    if !f.legs.is_empty() {
        out.push_str(&format!("legs ({}):\n", f.legs.len()));
        for leg in &f.legs {
            out.push_str(&format!(
                "  {} — {}\n",
                leg.id,
                leg.title.as_deref().unwrap_or(&leg.id)
            ));
        }
    }
    out.push_str(&format!(
        "cook it: gastown formula cook {}{}\n",
        f.formula,
        required_hint(vars)
    ));
    out
}

fn required_hint(vars: &std::collections::BTreeMap<String, gastown_formula::VarDef>) -> String {
    vars.iter()
        .filter(|(_, d)| d.required)
        .map(|(n, _)| format!(" --var {n}=<value>"))
        .collect()
}
