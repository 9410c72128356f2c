//! Test fixture: a throw-away town and a helper that runs the real `gastown` binary in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A town in a temp dir, removed when dropped.
pub struct TestTown {
    /// Keeps the directory alive.
    _dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl TestTown {
    /// `gastown install --agent sim` into a fresh temp dir: tests run the built-in sim agent
    /// (a town chooses its agent explicitly; nothing falls back to sim).
    pub fn new() -> TestTown {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("town");
        TestTown::install_at(dir, root)
    }

    /// `gastown install --agent sim` into `root`, a directory below `dir` (kept alive with the
    /// town): for a town on a file system the test made, e.g. a small tmpfs.
    pub fn install_at(dir: tempfile::TempDir, root: PathBuf) -> TestTown {
        let out = gastown(
            dir.path(),
            &[
                "install",
                root.to_str().expect("utf-8 path"),
                "--agent",
                "sim",
            ],
        );
        assert!(out.status.success(), "install failed: {}", stderr(&out));
        TestTown { _dir: dir, root }
    }

    /// `gastown install --from <url>`: a second machine's town, joined to the town at `url`.
    pub fn joined(url: &str) -> TestTown {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("town");
        let out = gastown(
            dir.path(),
            &["install", root.to_str().expect("utf-8 path"), "--from", url],
        );
        assert!(
            out.status.success(),
            "install --from failed: {}",
            stderr(&out)
        );
        TestTown { _dir: dir, root }
    }

    /// Run `gastown <args>` inside the town; returns the output whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        gastown(&self.root, args)
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "gastown {args:?} failed ({}):\n{}",
            out.status,
            stderr(&out)
        );
        stdout(&out)
    }

    /// Run and require failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "gastown {args:?} should have failed but printed:\n{}",
            stdout(&out)
        );
        stderr(&out)
    }

    /// `create --json` and return the new id.
    pub fn create(&self, args: &[&str]) -> String {
        let mut full = vec!["bead", "create"];
        full.extend_from_slice(args);
        full.push("--json");
        let bead: serde_json::Value =
            serde_json::from_str(&self.ok(&full)).expect("create --json prints one JSON object");
        bead["id"].as_str().expect("bead has an id").to_string()
    }

    /// Run git in the town and return stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.root)
            .args(args)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
        stdout(&out)
    }
}

/// Run the real binary with `cwd` as working directory and no inherited town.
pub fn gastown(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(cwd)
        .env_remove("GASTOWN_TOWN")
        .env_remove("GASTOWN_AGENT")
        .args(args)
        .output()
        .expect("the gastown binary runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Ids in a `--json` array.
pub fn ids(json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json).expect("a JSON array");
    v.as_array()
        .expect("an array")
        .iter()
        .map(|b| b["id"].as_str().expect("id").to_string())
        .collect()
}

/// A source repository with one commit on `main`, in `dir/source`. It keeps `main` checked
/// out, so it is set to accept the refinery's pushes into it (`receive.denyCurrentBranch
/// updateInstead`: its work tree follows), as `rig add` asks of such a repository.
pub fn source_repo(dir: &Path) -> String {
    let repo = dir.join("source");
    std::fs::create_dir_all(&repo).expect("mkdir");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    };
    git(&["init", "--quiet", "--initial-branch=main"]);
    git(&["config", "receive.denyCurrentBranch", "updateInstead"]);
    std::fs::write(repo.join("README.md"), "# sample\n").expect("write");
    git(&["add", "."]);
    git(&["commit", "--quiet", "-m", "first"]);
    repo.to_string_lossy().into_owned()
}

/// A town with a rig `alpha` made from a fresh source repository.
pub fn town_with_rig() -> TestTown {
    let town = TestTown::new();
    let src = source_repo(town.root.parent().expect("parent"));
    town.ok(&["rig", "add", "alpha", &src]);
    town
}

/// Run `gastown <args>` in the town as agent `who` would from its session (`GASTOWN_AGENT`
/// set); returns the output whatever the exit status.
pub fn as_agent(town: &TestTown, who: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gastown"))
        .current_dir(&town.root)
        .env_remove("GASTOWN_TOWN")
        .env("GASTOWN_AGENT", who)
        .args(args)
        .output()
        .expect("the gastown binary runs")
}

/// A bead "Tricky migration" slung to `alpha/polecats/nux` (no formula), then given up on with
/// `gastown done --status escalated -m "the schema is locked"` run as that polecat: the bead and
/// the command's output, whatever its status.
pub fn polecat_escalates(town: &TestTown) -> (String, Output) {
    let bead = town.create(&["Tricky migration"]);
    town.ok(&["sling", &bead, "alpha/polecats/nux", "--no-formula"]);
    let done = &[
        "done",
        "--status",
        "escalated",
        "-m",
        "the schema is locked",
    ];
    (bead, as_agent(town, "alpha/polecats/nux", done))
}

/// [`as_agent`], requiring success; returns stdout.
pub fn as_agent_ok(town: &TestTown, who: &str, args: &[&str]) -> String {
    let out = as_agent(town, who, args);
    assert!(
        out.status.success(),
        "{who}: gastown {args:?}: {}",
        stderr(&out)
    );
    stdout(&out)
}

/// Run git in `dir` with a test identity, requiring success; returns stdout trimmed.
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=test", "-c", "user.email=test@localhost"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        stderr(&out)
    );
    stdout(&out).trim().to_string()
}
