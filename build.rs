//! Build script: names the commit this binary is built from, for `gastown --version`.
//!
//! The commit comes from `GASTOWN_COMMIT` when set (a packager building from a tarball can say
//! it), else from `git rev-parse` in the source tree — only when the source tree is the top of
//! its git repository, so a tarball unpacked inside another repository does not take that
//! repository's commit; a tree without git builds as "unknown commit". Cargo reruns this when
//! HEAD or the branch it points at moves.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=GASTOWN_COMMIT");
    let commit = std::env::var("GASTOWN_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown commit".to_string());
    println!("cargo:rustc-env=GASTOWN_COMMIT={commit}");
    // Rerun when the commit moves: HEAD itself, the branch it names, and packed refs.
    for path in ["HEAD", "packed-refs"]
        .into_iter()
        .map(str::to_string)
        .chain(git(&["symbolic-ref", "-q", "HEAD"]))
        .filter_map(|name| git(&["rev-parse", "--git-path", &name]))
    {
        if Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

/// The commit checked out, abbreviated, if the source tree is a git repository of its own.
fn git_commit() -> Option<String> {
    let top = git(&["rev-parse", "--show-toplevel"])?;
    let dir = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let same = |a: &str, b: &str| {
        Path::new(a)
            .canonicalize()
            .ok()
            .is_some_and(|a| Path::new(b).canonicalize().ok() == Some(a))
    };
    if !same(&top, &dir) {
        return None;
    }
    git(&["rev-parse", "--short=12", "HEAD"])
}

/// One line of git's output in the source tree, or `None` without git or outside a repository.
fn git(args: &[&str]) -> Option<String> {
    let dir = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let out = Command::new("git")
        .args(args)
        .current_dir(&dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    if text.is_empty() {
        return None;
    }
    // `--git-path` answers relative to the directory git ran in.
    if args.first() == Some(&"rev-parse") && args.get(1) == Some(&"--git-path") {
        return Some(Path::new(&dir).join(text).display().to_string());
    }
    Some(text)
}
