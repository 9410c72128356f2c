//! Target tips known to pass a rig's gates, kept in a file of the rig:
//! `<rig>/.repo.git/gastown/known-good` (beside the remote-problem streak of [`super::problem`]).
//!
//! After a landing, the target's new tip passed every gate. When a later batch fails its gates,
//! the refinery must tell a broken target from a broken MR; a tip in this file is not gated
//! alone again for that. Each line is `<gates> <commit>`, where `<gates>` is a digest of the
//! rig's gate commands: a tip is known good only for the gates it passed, so a change to
//! `rig.toml`'s gates starts afresh. The file keeps the last [`KEEP`] tips (only the newest
//! matter: a batch lands on the current tip).
//!
//! Its owner is the rig's refinery (one per rig, see `docs/refinery.md`). It replaces a
//! process-global set: the knowledge now survives a restart of `gastown run`, and two
//! processes landing on the same rig (the supervisor's refinery and an `mq process`) share it.
//! A file that cannot be read counts as empty (the target is then gated alone, as on a first
//! run); one that cannot be written only costs that.

use crate::rig::Rig;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// How many known-good tips the file keeps.
pub const KEEP: usize = 64;

/// The known-good tips of one rig, for its current gates.
#[derive(Debug, Clone)]
pub struct KnownGood {
    path: PathBuf,
    /// Digest of the gate commands the tips passed.
    gates: String,
}

impl KnownGood {
    /// The file of `rig`, for the gates its config has now.
    pub fn of(rig: &Rig) -> KnownGood {
        let digest = Sha256::digest(format!("{:?}", rig.config.gates).as_bytes());
        let gates = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        KnownGood {
            path: rig.bare_repo().join("gastown").join("known-good"),
            gates,
        }
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.path)
            .map(|text| text.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    fn line(&self, commit: &str) -> String {
        format!("{} {commit}", self.gates)
    }

    /// Did `commit` pass these gates before?
    pub fn contains(&self, commit: &str) -> bool {
        let line = self.line(commit);
        self.lines().contains(&line)
    }

    /// Remember that `commit` passed these gates (the file is replaced whole, so a reader never
    /// sees half of it).
    pub fn remember(&self, commit: &str) {
        let line = self.line(commit);
        let mut lines = self.lines();
        lines.retain(|l| *l != line);
        lines.push(line);
        let keep = lines.len().saturating_sub(KEEP);
        let text = lines.split_off(keep).join("\n") + "\n";
        if let Err(e) = self.write(&text) {
            tracing::warn!(path = %self.path.display(), "cannot remember a known-good target tip: {e}");
        }
    }

    fn write(&self, text: &str) -> std::io::Result<()> {
        let dir = self
            .path
            .parent()
            .expect("the file is inside the repository");
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".known-good.{}", std::process::id()));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rig(root: &std::path::Path, test: Option<&str>) -> Rig {
        let dir = root.join("alpha");
        std::fs::create_dir_all(&dir).expect("rig dir");
        let toml = "name = \"alpha\"\nurl = \"/src\"\ndefault_branch = \"main\"\nprefix = \"al\"\n";
        std::fs::write(dir.join("rig.toml"), toml).expect("rig.toml");
        let mut rig = Rig::from_dir(&dir).expect("a rig");
        rig.config.gates.test = test.map(str::to_string);
        rig
    }

    #[test]
    fn tips_are_known_for_the_gates_they_passed_and_the_newest_are_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let good = KnownGood::of(&rig(dir.path(), Some("make test")));
        assert!(!good.contains("c1"), "nothing is known at first");
        good.remember("c1");
        assert!(good.contains("c1"));
        let again = KnownGood::of(&rig(dir.path(), Some("make test")));
        assert!(
            again.contains("c1"),
            "a later run (another process) knows it too"
        );
        let other = KnownGood::of(&rig(dir.path(), Some("cargo test")));
        assert!(!other.contains("c1"), "other gates have not passed it");
        for n in 0..KEEP {
            good.remember(&format!("t{n}"));
        }
        assert!(!good.contains("c1"), "only the newest {KEEP} are kept");
        assert!(good.contains("t0") && good.contains(&format!("t{}", KEEP - 1)));
    }
}
