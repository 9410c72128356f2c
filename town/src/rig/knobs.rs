//! `gastown rig config <rig> set|unset|show`: the knobs of `rig.toml` a user changes after
//! `rig add` — gates, merge strategy, landing on origin, the witness — by command instead of by
//! hand. `rig.toml` is edited in place with `toml_edit` (comments, order and unknown keys kept),
//! each value is checked for its key first (durations in humantime syntax, counts, booleans,
//! enums), the whole result is checked with the loader's own parser and rules
//! ([`RigConfig::read`]'s), and only then written and committed to the town repository.

use super::config::{RIG_CONFIG_FILE, RigConfig};
use super::error::RigError;
use super::names::validate_name;
use crate::git_cli::git;
use crate::runtimes::{Change, known_names};
use crate::town::Town;
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::fs;
use std::path::PathBuf;
use toml_edit::{DocumentMut, Item, Table, TableLike, value};

/// What kind of value a knob takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// humantime: `"30s"`, `"10m"`, `"500ms"`.
    Duration,
    /// A whole number, 0 or more.
    Count,
    /// `true` or `false`.
    Bool,
    /// `merge`, `squash` or `rebase`.
    Strategy,
    /// A shell command (a gate).
    Command,
    /// An agent runtime the town knows.
    Runtime,
    /// An agent runtime the town knows, or `none`.
    RuntimeOrNone,
    /// Dollars, 0 or more (a budget).
    Dollars,
}

impl Kind {
    fn accepted(self) -> &'static str {
        match self {
            Kind::Duration => "a duration like \"30s\", \"10m\" or \"500ms\"",
            Kind::Count => "a whole number (0, 1, 2, …)",
            Kind::Bool => "true or false",
            Kind::Strategy => "merge, squash or rebase",
            Kind::Command => "a shell command, run with `sh -c` in a worktree",
            Kind::Runtime => "an agent runtime (`gastown config agent list` shows them)",
            Kind::RuntimeOrNone => {
                "an agent runtime (`gastown config agent list` shows them), or none"
            }
            Kind::Dollars => "dollars, 0 or more, like 25 or 2.50 (0: nothing may be dispatched)",
        }
    }
}

/// One key `gastown rig config` sets.
struct Knob {
    /// Dotted: `merge_strategy`, `gates.test`, `witness.nudges`.
    key: &'static str,
    kind: Kind,
    /// When a running town sees a change.
    effect: &'static str,
}

const AT_NEXT_ROUND: &str = "the refinery uses it from its next round";
const AT_WITNESS_START: &str =
    "the rig's witness reads it when it starts: restart `gastown run` for a running town";
const AT_NEXT_START: &str = "used from the next sling or session start";
const AT_RIG_START: &str =
    "read when the rig's subtree starts: restart `gastown run` for a running town";
const AT_NEXT_TICK: &str = "the escalation timer of `gastown run` reads it at its next tick";
const AT_NEXT_DISPATCH: &str = "used from the next sling, dispatch or cost collection (work queued for budget goes out by itself)";

/// Every key, in the order `show` lists them.
const KNOBS: [Knob; 22] = [
    knob("merge_strategy", Kind::Strategy, AT_NEXT_ROUND),
    knob("batch", Kind::Count, AT_NEXT_ROUND),
    knob("max_polecats", Kind::Count, AT_NEXT_START),
    knob("runtime", Kind::Runtime, AT_NEXT_START),
    knob("gates.setup", Kind::Command, AT_NEXT_ROUND),
    knob("gates.build", Kind::Command, AT_NEXT_ROUND),
    knob("gates.test", Kind::Command, AT_NEXT_ROUND),
    knob("gates.lint", Kind::Command, AT_NEXT_ROUND),
    knob("gates.timeout", Kind::Duration, AT_NEXT_ROUND),
    knob("refinery.push", Kind::Bool, AT_NEXT_ROUND),
    knob("refinery.push_branches", Kind::Bool, AT_NEXT_START),
    knob("refinery.remote_timeout", Kind::Duration, AT_NEXT_ROUND),
    knob("witness.patrol_every", Kind::Duration, AT_WITNESS_START),
    knob("witness.start_after", Kind::Duration, AT_WITNESS_START),
    knob("witness.stall_after", Kind::Duration, AT_WITNESS_START),
    knob("witness.hung_after", Kind::Duration, AT_WITNESS_START),
    knob("witness.nudges", Kind::Count, AT_WITNESS_START),
    knob("witness.restarts", Kind::Count, AT_WITNESS_START),
    knob("witness.judge_for", Kind::Duration, AT_NEXT_TICK),
    knob("roles.witness", Kind::RuntimeOrNone, AT_RIG_START),
    knob("budget.daily", Kind::Dollars, AT_NEXT_DISPATCH),
    knob("budget.total", Kind::Dollars, AT_NEXT_DISPATCH),
];

const fn knob(key: &'static str, kind: Kind, effect: &'static str) -> Knob {
    Knob { key, kind, effect }
}

/// Every key `gastown rig config` sets, in `show` order.
pub fn knob_keys() -> Vec<&'static str> {
    KNOBS.iter().map(|k| k.key).collect()
}

fn find_knob(key: &str) -> Result<&'static Knob> {
    if let Some(knob) = KNOBS.iter().find(|k| k.key == key) {
        return Ok(knob);
    }
    let hint = KNOBS
        .iter()
        .find(|k| k.key.rsplit('.').next() == Some(key))
        .map(|k| format!(" (did you mean `{}`?)", k.key))
        .unwrap_or_default();
    bail!(
        "unknown rig.toml key {key:?}{hint}: `gastown rig config` sets {}",
        knob_keys().join(", ")
    )
}

/// `<town>/<rig>/rig.toml` of an existing rig (its content need not be valid: `set` may fix it).
fn config_path(town: &Town, rig: &str) -> Result<PathBuf> {
    validate_name("rig", rig)?;
    let path = town.root.join(rig).join(RIG_CONFIG_FILE);
    if !path.is_file() {
        return Err(RigError::NotFound {
            name: rig.to_string(),
            town: town.root.clone(),
        }
        .into());
    }
    Ok(path)
}

/// The TOML value `text` means for `knob`, or an error naming the key and what it accepts.
fn parse_value(town: &Town, knob: &Knob, text: &str) -> Result<Item> {
    let key = knob.key;
    let bad = |why: String| -> anyhow::Error {
        anyhow::anyhow!(
            "bad value {text:?} for `{key}`: {why}; `{key}` takes {}",
            knob.kind.accepted()
        )
    };
    let trimmed = text.trim();
    Ok(match knob.kind {
        Kind::Duration => {
            humantime::parse_duration(trimmed).map_err(|e| bad(e.to_string()))?;
            value(trimmed)
        }
        Kind::Count => {
            let n: u32 = trimmed
                .parse()
                .map_err(|_| bad("not a whole number".to_string()))?;
            value(i64::from(n))
        }
        Kind::Bool => match trimmed {
            "true" => value(true),
            "false" => value(false),
            _ => return Err(bad("not a boolean".to_string())),
        },
        Kind::Strategy => match trimmed {
            "merge" | "squash" | "rebase" => value(trimmed),
            _ => return Err(bad("not a merge strategy".to_string())),
        },
        Kind::Command => {
            if trimmed.is_empty() {
                return Err(bad(format!(
                    "empty; to run no {} gate, `unset` it",
                    key.trim_start_matches("gates.")
                )));
            }
            value(text)
        }
        Kind::Runtime | Kind::RuntimeOrNone => {
            let known = known_names(town);
            let none_ok = knob.kind == Kind::RuntimeOrNone && trimmed == "none";
            if !none_ok && !known.iter().any(|n| n == trimmed) {
                return Err(bad(format!(
                    "not a runtime this town knows (known: {})",
                    known.join(", ")
                )));
            }
            value(trimmed)
        }
        Kind::Dollars => {
            let dollars = crate::budget::parse_dollars(key, trimmed)?;
            value(dollars)
        }
    })
}

/// What `set` or `unset` did, and when a running town sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    pub change: Change,
    pub path: PathBuf,
    pub effect: &'static str,
}

/// `gastown rig config <rig> set <key> <value>`.
pub fn set_knob(town: &Town, rig: &str, key: &str, text: &str) -> Result<Edited> {
    let knob = find_knob(key)?;
    let path = config_path(town, rig)?;
    let item = parse_value(town, knob, text)?;
    let message = format!("gastown rig config {rig} set {key} {text}");
    let change = edit(town, rig, &path, &message, |doc| {
        let (table, name) = table_of(doc, knob.key, true)?;
        let table = table.context("a table was just made")?;
        match table.get_mut(name) {
            // Keep the comment and spacing around an existing value.
            Some(old) if old.is_value() => {
                let decor = old.as_value().map(|v| v.decor().clone());
                *old = item;
                if let (Some(decor), Some(new)) = (decor, old.as_value_mut()) {
                    *new.decor_mut() = decor;
                }
            }
            _ => {
                table.insert(name, item);
            }
        }
        Ok(())
    })?;
    Ok(Edited {
        change,
        path,
        effect: knob.effect,
    })
}

/// `gastown rig config <rig> unset <key>`: the key goes back to its default.
pub fn unset_knob(town: &Town, rig: &str, key: &str) -> Result<Edited> {
    let knob = find_knob(key)?;
    let path = config_path(town, rig)?;
    let message = format!("gastown rig config {rig} unset {key}");
    let change = edit(town, rig, &path, &message, |doc| {
        let Some(section) = knob.key.split_once('.').map(|(s, _)| s) else {
            doc.remove(knob.key);
            return Ok(());
        };
        let (table, name) = table_of(doc, knob.key, false)?;
        let Some(table) = table else {
            return Ok(());
        };
        table.remove(name);
        // A table this left empty goes too, unless someone wrote a comment above it.
        let empty_and_bare = doc.get(section).is_some_and(|item| match item {
            Item::Table(t) => t.is_empty() && !t.decor().prefix().is_some_and(has_comment),
            Item::Value(v) => v.as_inline_table().is_some_and(|t| t.is_empty()),
            _ => false,
        });
        if empty_and_bare {
            doc.remove(section);
        }
        Ok(())
    })?;
    Ok(Edited {
        change,
        path,
        effect: knob.effect,
    })
}

fn has_comment(raw: &toml_edit::RawString) -> bool {
    raw.as_str().is_some_and(|s| s.contains('#'))
}

/// The table that holds `key` (the document for an undotted key) and the key's last part;
/// `make`: create a missing `[section]`.
fn table_of<'d>(
    doc: &'d mut DocumentMut,
    key: &'static str,
    make: bool,
) -> Result<(Option<&'d mut dyn TableLike>, &'static str)> {
    let Some((section, name)) = key.split_once('.') else {
        return Ok((Some(doc.as_table_mut() as &mut dyn TableLike), key));
    };
    if make && !doc.contains_key(section) {
        doc.insert(section, Item::Table(Table::new()));
    }
    match doc.get_mut(section) {
        None => Ok((None, name)),
        Some(item) => match item.as_table_like_mut() {
            Some(table) => Ok((Some(table), name)),
            None => bail!("`{section}` in rig.toml is not a table: make it `[{section}]`"),
        },
    }
}

/// Edit `path` with `change`, check it the way the loader does, write and commit it.
fn edit(
    town: &Town,
    rig: &str,
    path: &PathBuf,
    message: &str,
    change: impl FnOnce(&mut DocumentMut) -> Result<()>,
) -> Result<Change> {
    let before =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut doc: DocumentMut = before
        .parse()
        .with_context(|| format!("{} is not valid TOML: fix it by hand first", path.display()))?;
    change(&mut doc)?;
    let after = doc.to_string();
    if after == before {
        return Ok(Change::Unchanged);
    }
    check(rig, &after).with_context(|| {
        format!(
            "refusing to write {}: the change would make it invalid",
            path.display()
        )
    })?;
    fs::write(path, &after).with_context(|| format!("cannot write {}", path.display()))?;
    let file = format!("{rig}/{RIG_CONFIG_FILE}");
    git(&town.root, &["add", "--", &file])?;
    git(
        &town.root,
        &["commit", "--quiet", "-m", message, "--", &file],
    )?;
    Ok(Change::Committed)
}

/// The loader's parse and rules, on text.
fn check(rig: &str, text: &str) -> Result<()> {
    let config: RigConfig =
        toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))?;
    config.check().map_err(anyhow::Error::msg)?;
    if config.name != rig {
        bail!("`name` is {:?} but the rig is {rig:?}", config.name);
    }
    Ok(())
}

/// One row of `gastown rig config <rig> show`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShownKnob {
    pub key: &'static str,
    /// The value in effect (`null`: an unset gate, or no runtime of its own).
    pub value: serde_json::Value,
    /// Whether rig.toml sets it (else the default applies).
    pub set: bool,
    /// What it accepts.
    pub accepts: &'static str,
}

/// `gastown rig config <rig> show`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShownConfig {
    pub rig: String,
    pub path: PathBuf,
    pub knobs: Vec<ShownKnob>,
}

/// Every knob of the rig: its value in effect and whether rig.toml sets it.
pub fn show_knobs(town: &Town, rig: &str) -> Result<ShownConfig> {
    let path = config_path(town, rig)?;
    let config = RigConfig::read(&path)?;
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    let knobs = KNOBS
        .iter()
        .map(|k| ShownKnob {
            key: k.key,
            value: effective(&config, k.key),
            set: is_set(&doc, k.key),
            accepts: k.kind.accepted(),
        })
        .collect();
    Ok(ShownConfig {
        rig: rig.to_string(),
        path,
        knobs,
    })
}

fn is_set(doc: &DocumentMut, key: &str) -> bool {
    match key.split_once('.') {
        None => doc.contains_key(key),
        Some((section, name)) => doc
            .get(section)
            .and_then(Item::as_table_like)
            .is_some_and(|t| t.contains_key(name)),
    }
}

fn effective(c: &RigConfig, key: &str) -> serde_json::Value {
    use serde_json::json;
    let text = |s: &Option<String>| s.as_ref().map_or(json!(null), |s| json!(s));
    match key {
        "merge_strategy" => json!(c.merge_strategy.to_string()),
        "batch" => json!(c.batch),
        "max_polecats" => json!(c.max_polecats),
        "runtime" => text(&c.runtime),
        "gates.setup" => text(&c.gates.setup),
        "gates.build" => text(&c.gates.build),
        "gates.test" => text(&c.gates.test),
        "gates.lint" => text(&c.gates.lint),
        "gates.timeout" => json!(c.gates.timeout.to_string()),
        "refinery.push" => json!(c.refinery.push),
        "refinery.push_branches" => json!(c.refinery.push_branches),
        "refinery.remote_timeout" => json!(c.refinery.remote_timeout.to_string()),
        "witness.patrol_every" => json!(c.witness.patrol_every.to_string()),
        "witness.start_after" => json!(c.witness.start_after.to_string()),
        "witness.stall_after" => json!(c.witness.stall_after.to_string()),
        "witness.hung_after" => json!(c.witness.hung_after.to_string()),
        "witness.nudges" => json!(c.witness.nudges),
        "witness.restarts" => json!(c.witness.restarts),
        "witness.judge_for" => json!(c.witness.judge_for.to_string()),
        "roles.witness" => text(&c.roles.witness),
        "budget.daily" => json!(c.budget.daily),
        "budget.total" => json!(c.budget.total),
        _ => json!(null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A commented rig.toml, the way a user leaves it after editing by hand.
    const COMMENTED: &str = "\
# my rig: keep this comment
name = \"alpha\"
url = \"/src\"
default_branch = \"main\"
prefix = \"alpha\"

[gates]
# the tests take a while
timeout = \"20m\" # generous

[witness]
# patrol often
patrol_every = \"10s\"
nudges = 3
";

    /// A town (real `gastown install`, a git repository) with rig `alpha`'s rig.toml committed.
    fn town_with_rig() -> (tempfile::TempDir, Town) {
        let (dir, town, _ledger) = crate::testing::town();
        fs::create_dir_all(town.root.join("alpha")).expect("rig dir");
        fs::write(town.root.join("alpha/rig.toml"), COMMENTED).expect("rig.toml");
        git(&town.root, &["add", "--", "alpha/rig.toml"]).expect("git add");
        git(&town.root, &["commit", "--quiet", "-m", "rig alpha"]).expect("git commit");
        (dir, town)
    }

    fn text(town: &Town) -> String {
        fs::read_to_string(town.root.join("alpha/rig.toml")).expect("read rig.toml")
    }

    fn read(town: &Town) -> RigConfig {
        RigConfig::read(&town.root.join("alpha/rig.toml")).expect("a valid rig.toml")
    }

    #[test]
    fn set_and_unset_keep_comments_and_are_committed() {
        let (_dir, town) = town_with_rig();
        let set = |key: &str, value: &str| {
            let edited = set_knob(&town, "alpha", key, value).expect("set");
            assert_eq!(edited.change, Change::Committed, "{key}");
        };
        set("witness.stall_after", "10m");
        set("gates.test", "cargo test --workspace");
        set("merge_strategy", "squash");
        set("refinery.push", "false");
        set("gates.timeout", "30m");
        let config = read(&town);
        assert_eq!(config.witness.stall_after.0, Duration::from_secs(600));
        assert_eq!(config.witness.patrol_every.0, Duration::from_secs(10));
        assert_eq!(config.gates.test.as_deref(), Some("cargo test --workspace"));
        assert_eq!(config.merge_strategy, super::super::MergeStrategy::Squash);
        assert!(!config.refinery.push);
        assert_eq!(config.gates.timeout.0, Duration::from_secs(1800));
        let after = text(&town);
        for comment in [
            "# my rig: keep this comment",
            "# the tests take a while",
            "timeout = \"30m\" # generous",
            "# patrol often",
        ] {
            assert!(after.contains(comment), "{comment:?} lost:\n{after}");
        }
        set("witness.judge_for", "2m");
        set("roles.witness", "none");
        let config = read(&town);
        assert_eq!(config.witness.judge_for.0, Duration::from_secs(120));
        assert_eq!(config.roles.witness.as_deref(), Some("none"));
        unset_knob(&town, "alpha", "roles.witness").expect("unset");
        assert!(!text(&town).contains("[roles]"), "{}", text(&town));
        // The same value again changes nothing and commits nothing.
        let again = set_knob(&town, "alpha", "merge_strategy", "squash").expect("set");
        assert_eq!(again.change, Change::Unchanged);

        unset_knob(&town, "alpha", "witness.nudges").expect("unset");
        unset_knob(&town, "alpha", "refinery.push").expect("unset");
        let config = read(&town);
        assert_eq!(config.witness.nudges, 2, "back to the default");
        assert!(config.refinery.push, "back to the default");
        let after = text(&town);
        assert!(after.contains("# patrol often"), "{after}");
        // The [refinery] table `set` made, now empty and without a comment, is gone.
        assert!(!after.contains("[refinery]"), "{after}");
        assert!(after.contains("[witness]"), "{after}");

        let log = git(&town.root, &["log", "--format=%s", "--", "alpha/rig.toml"]).expect("log");
        assert!(
            log.contains("gastown rig config alpha set witness.stall_after 10m")
                && log.contains("gastown rig config alpha unset witness.nudges"),
            "{log}"
        );
        let status = git(&town.root, &["status", "--porcelain"]).expect("status");
        assert_eq!(status, "", "the town's work tree stays clean");
    }

    #[test]
    fn bad_input_names_the_key_and_what_it_takes_and_writes_nothing() {
        let (_dir, town) = town_with_rig();
        let err = |key: &str, value: &str| {
            set_knob(&town, "alpha", key, value)
                .expect_err("refused")
                .to_string()
        };
        let e = err("colour", "red");
        assert!(
            e.contains("\"colour\"") && e.contains("witness.stall_after"),
            "{e}"
        );
        let e = err("stall_after", "5m");
        assert!(e.contains("did you mean `witness.stall_after`"), "{e}");
        let e = err("witness.stall_after", "soon");
        assert!(
            e.contains("`witness.stall_after`") && e.contains("\"10m\""),
            "{e}"
        );
        let e = err("witness.nudges", "-1");
        assert!(
            e.contains("`witness.nudges`") && e.contains("whole number"),
            "{e}"
        );
        let e = err("refinery.push", "yes");
        assert!(e.contains("true or false"), "{e}");
        let e = err("merge_strategy", "yolo");
        assert!(e.contains("merge, squash or rebase"), "{e}");
        let e = err("runtime", "nonesuch");
        assert!(e.contains("sim") && e.contains("claude"), "{e}");
        let e = err("roles.witness", "nonesuch");
        assert!(e.contains("or none"), "{e}");
        let e = err("gates.test", " ");
        assert!(e.contains("unset"), "{e}");
        // Parsed fine, refused by the loader's own rules: the file is not written.
        let e = format!(
            "{:#}",
            set_knob(&town, "alpha", "witness.patrol_every", "0s").expect_err("refused")
        );
        assert!(
            e.contains("witness.patrol_every") && e.contains("refusing"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            set_knob(&town, "alpha", "max_polecats", "0").expect_err("refused")
        );
        assert!(e.contains("max_polecats"), "{e}");
        let e = set_knob(&town, "nosuch", "batch", "2")
            .expect_err("unknown rig")
            .to_string();
        assert!(e.contains("no rig named \"nosuch\""), "{e}");
        let e = unset_knob(&town, "alpha", "url")
            .expect_err("not a knob")
            .to_string();
        assert!(e.contains("unknown rig.toml key"), "{e}");
        assert_eq!(text(&town), COMMENTED, "nothing was written");
    }

    #[test]
    fn show_gives_values_in_effect_and_what_the_file_sets() {
        let (_dir, town) = town_with_rig();
        let shown = show_knobs(&town, "alpha").expect("show");
        assert_eq!(
            shown.knobs.iter().map(|k| k.key).collect::<Vec<_>>(),
            knob_keys()
        );
        let get = |key: &str| {
            shown
                .knobs
                .iter()
                .find(|k| k.key == key)
                .cloned()
                .expect("listed")
        };
        let patrol = get("witness.patrol_every");
        assert_eq!((patrol.value, patrol.set), (serde_json::json!("10s"), true));
        let stall = get("witness.stall_after");
        assert_eq!((stall.value, stall.set), (serde_json::json!("5m"), false));
        let test = get("gates.test");
        assert_eq!((test.value, test.set), (serde_json::Value::Null, false));
        let push = get("refinery.push");
        assert_eq!((push.value, push.set), (serde_json::json!(true), false));
        assert_eq!(get("witness.nudges").value, serde_json::json!(3));
    }
}
