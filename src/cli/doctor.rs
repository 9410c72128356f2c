//! `gastown doctor [--fix] [--json]`: the town's health checks (`gastown_town::doctor`,
//! `docs/doctor.md`). Exit status 0 when all is well, 1 with warnings, 2 with an error.

use crate::output;
use crate::protocol::{TownReply, TownRequest};
use anyhow::Result;
use gastown_town::doctor::{self, Check, Options, Places, Status};
use gastown_town::town::{RUNTIME_DIR, Town};
use std::path::Path;

/// Run the checks on the town at or above `explicit`; returns the exit code.
pub fn run(explicit: Option<&Path>, fix: bool, json: bool) -> Result<i32> {
    let root = Town::find_root(explicit)?;
    let runtime = root.join(RUNTIME_DIR);
    let socket = match std::env::var_os("GASTOWN_SOCKET") {
        Some(path) if !path.is_empty() => path.into(),
        _ => crate::socket::locate_socket(&runtime),
    };
    // Whether a supervisor is up is asked of the socket itself, never through town.toml: a
    // supervisor keeps running (and its socket stays live) while someone breaks town.toml, and
    // `--fix` must not take that socket for a stale one.
    let supervisor_running = listener_answers(&socket);
    let stale_pid_file = match crate::run::pid_file::find(&runtime) {
        crate::run::pid_file::Found::Stale { why, .. }
        | crate::run::pid_file::Found::Unreadable { why } => Some(why),
        _ => None,
    };
    if fix {
        let caller = match Town::load(&root) {
            Ok(town) => crate::cli::routed::caller(&town)?,
            Err(_) => crate::cli::routed::caller_from_env()?,
        };
        gastown_town::authz::overseer_only(&caller, "run `gastown doctor --fix`")?;
    }
    let mut checks = doctor::examine(
        &root,
        Options {
            fix,
            supervisor_running,
            remote_timeout: None,
        },
        &Places {
            socket: Some(socket),
            stale_pid_file,
        },
    );
    if supervisor_running && let Ok(town) = Town::load(&root) {
        checks.extend(supervised(&town, fix));
    }
    let text = if json {
        format!("{}\n", serde_json::to_string_pretty(&checks)?)
    } else {
        render(&checks, fix)
    };
    output::text(&text)?;
    Ok(doctor::exit_code(&checks))
}

/// The checks that read the ledger, asked of the running supervisor that holds it (the same
/// ones its doctor dog runs); one `ledger-checks` warning when it cannot answer.
fn supervised(town: &Town, fix: bool) -> Vec<Check> {
    let asked = crate::client::connect(town).and_then(|supervisor| {
        let Some(mut supervisor) = supervisor else {
            anyhow::bail!("the supervisor stopped answering");
        };
        match crate::client::call(&mut supervisor, TownRequest::Doctor { fix })? {
            TownReply::Doctor(checks) => Ok(checks),
            other => Err(crate::cli::routed::unexpected(&other)),
        }
    });
    match asked {
        Ok(checks) => checks,
        Err(e) => vec![Check {
            name: "ledger-checks".to_string(),
            status: Status::Warn,
            found: format!(
                "stale-hooks, duplicate-agents, orphans and worktrees were not checked: the running supervisor holds the ledger and did not answer: {e:#}"
            ),
            fix: Some(
                "run `gastown doctor` again; if `gastown run` is from another gastown, restart it with this one"
                    .to_string(),
            ),
            fixed: false,
        }],
    }
}

/// A live listener accepts a connection on `socket`; a file left by a dead supervisor refuses
/// it (`ECONNREFUSED`), and a missing one is `ENOENT`. The connection is dropped at once (the
/// supervisor sees a client that said nothing, as with any aborted connect).
fn listener_answers(socket: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(socket).is_ok()
}

fn render(checks: &[Check], fix: bool) -> String {
    let mut out = String::new();
    for c in checks {
        let mark = match (c.status, c.fixed) {
            (_, true) => "fixed",
            (Status::Ok, _) => "ok",
            (Status::Warn, _) => "warn",
            (Status::Error, _) => "ERROR",
        };
        out.push_str(&format!("{mark:<6} {:<22} {}\n", c.name, c.found));
        if let (Some(what), false) = (&c.fix, c.fixed) {
            out.push_str(&format!("       {:<22} fix: {what}\n", ""));
        }
    }
    let (warn, error) = checks
        .iter()
        .filter(|c| !c.fixed)
        .fold((0, 0), |(w, e), c| match c.status {
            Status::Warn => (w + 1, e),
            Status::Error => (w, e + 1),
            Status::Ok => (w, e),
        });
    let fixed = checks.iter().filter(|c| c.fixed).count();
    out.push_str(&format!(
        "\n{} checks: {error} error(s), {warn} warning(s){}\n",
        checks.len(),
        if fix {
            format!(", {fixed} fixed")
        } else if warn + error > 0 {
            "; `gastown doctor --fix` repairs what it safely can".to_string()
        } else {
            String::new()
        }
    ));
    out
}
