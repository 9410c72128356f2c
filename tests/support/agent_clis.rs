//! The real agent CLIs for the tests: installed from the npm registry into a cache outside the
//! repository, pinned, and run with no network but loopback.
//!
//! - Cache: `$GASTOWN_AGENT_CACHE`, else `$HOME/.cache/gastown/agents` (an npm prefix: the
//!   programs are in `node_modules/.bin`). Missing or at another version, the pinned versions
//!   are installed there with `npm install` (which needs the registry, so it runs before the
//!   test isolates itself).
//! - With no CLIs (no npm, no registry) a test skips, saying why — unless
//!   `GASTOWN_REQUIRE_AGENTS=1` (CI), where it fails.
//! - Isolation: as root each test re-runs itself in a private network namespace
//!   (`unshare --net`, loopback up): the fake model and the CLIs are inside, the internet is
//!   not. A developer who is not root gets `unshare --map-root-user --net` where user namespaces
//!   are allowed, else the test runs in place (the CLIs' non-essential traffic is switched off
//!   by environment and their model is the fake one, so nothing should leave the machine) —
//!   except under `GASTOWN_REQUIRE_AGENTS=1` (CI), where no namespace fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The pinned packages: (npm package, version, program in `node_modules/.bin`).
pub const PACKAGES: [(&str, &str, &str); 2] = [
    ("@anthropic-ai/claude-code", "2.1.197", "claude"),
    ("@openai/codex", "0.171.0", "codex"),
];

/// Set inside the re-run: the test body runs here.
const ISOLATED: &str = "GASTOWN_AGENTS_ISOLATED";

/// The cache directory.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("GASTOWN_AGENT_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/gastown/agents"),
    }
}

/// The installed version of `package` in `cache`, if any.
fn installed_version(cache: &Path, package: &str) -> Option<String> {
    let manifest = cache
        .join("node_modules")
        .join(package)
        .join("package.json");
    let text = std::fs::read_to_string(manifest).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["version"].as_str().map(str::to_string)
}

fn all_installed(cache: &Path) -> bool {
    PACKAGES.iter().all(|(package, version, program)| {
        installed_version(cache, package).as_deref() == Some(*version)
            && cache.join("node_modules/.bin").join(program).exists()
    })
}

/// The directory holding `claude` and `codex`, installing them when missing; `Err` says why
/// there are none.
fn ensure_installed() -> Result<PathBuf, String> {
    let cache = cache_dir();
    if all_installed(&cache) {
        return Ok(cache.join("node_modules/.bin"));
    }
    std::fs::create_dir_all(&cache)
        .map_err(|e| format!("cannot create the agent cache {}: {e}", cache.display()))?;
    let specs: Vec<String> = PACKAGES
        .iter()
        .map(|(package, version, _)| format!("{package}@{version}"))
        .collect();
    let out = Command::new("npm")
        .arg("install")
        .arg("--prefix")
        .arg(&cache)
        .args(["--no-audit", "--no-fund", "--save-exact"])
        .args(&specs)
        .output()
        .map_err(|e| format!("npm is not installed ({e}); install node and npm"))?;
    if !out.status.success() || !all_installed(&cache) {
        return Err(format!(
            "`npm install --prefix {} {}` failed: {}",
            cache.display(),
            specs.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(cache.join("node_modules/.bin"))
}

/// The CLIs' directory, or `None` (after saying why) when the test must skip. Fails instead of
/// skipping when `GASTOWN_REQUIRE_AGENTS=1`.
pub fn agent_bin() -> Option<PathBuf> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match FOUND.get_or_init(ensure_installed) {
        Ok(dir) => Some(dir.clone()),
        Err(why) => {
            assert!(
                std::env::var("GASTOWN_REQUIRE_AGENTS").as_deref() != Ok("1"),
                "GASTOWN_REQUIRE_AGENTS=1 but the agent CLIs are not available: {why}"
            );
            eprintln!(
                "SKIPPED: the real agent CLIs are not available: {why}. Set \
                 GASTOWN_AGENT_CACHE to an npm prefix holding {}",
                PACKAGES
                    .iter()
                    .map(|(p, v, _)| format!("{p}@{v}"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            );
            None
        }
    }
}

/// How this machine can isolate a test from the network, if it can.
fn isolation() -> Option<&'static [&'static str]> {
    static HOW: OnceLock<Option<&'static [&'static str]>> = OnceLock::new();
    *HOW.get_or_init(|| {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let how: &'static [&'static str] = if root {
            &["--net"]
        } else {
            &["--map-root-user", "--net"]
        };
        let works = Command::new("unshare")
            .args(how)
            .args(["sh", "-c", "ip link set lo up"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !works {
            // CI must prove the CLIs need no network but loopback: no quiet fallback there.
            assert!(
                std::env::var("GASTOWN_REQUIRE_AGENTS").as_deref() != Ok("1"),
                "GASTOWN_REQUIRE_AGENTS=1 but no private network namespace can be made here \
                 (`unshare {} sh -c 'ip link set lo up'` failed): run as root, or where user \
                 namespaces are allowed, with util-linux's unshare and iproute2's ip installed",
                how.join(" ")
            );
            eprintln!(
                "note: cannot make a private network namespace here (`unshare {}` with `ip`); \
                 the real-agent tests run without one",
                how.join(" ")
            );
        }
        works.then_some(how)
    })
}

/// Run the test `name` (this test binary's full test path) in a private network namespace
/// and check that it passed. Returns true when it did so — the caller then returns — and false
/// when the caller is the isolated run itself (or no isolation is possible): run the body.
pub fn ran_isolated(name: &str) -> bool {
    if std::env::var_os(ISOLATED).is_some() {
        return false;
    }
    let Some(how) = isolation() else {
        return false;
    };
    let exe = std::env::current_exe().expect("the test binary");
    let status = Command::new("unshare")
        .args(how)
        .args(["sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ISOLATED, "1")
        // gastown sets IS_SANDBOX=1 for Claude Code run as root with its bypass flag, unless
        // the user set it: the developer's own value (Claude accepts only `1`) must not decide.
        .env_remove("IS_SANDBOX")
        .status()
        .expect("unshare runs");
    assert!(
        status.success(),
        "{name} failed in its network namespace: {status}"
    );
    true
}
