//! Throw-away towns for the domain's unit tests: `gastown install` (agent `sim`, prefix `gt`)
//! into a temp dir, with the town's ledger opened, and optionally a bare rig directory `alpha`.

use crate::town::{DefaultAgent, InstallOptions, Town, install};
use gastown_beads::Ledger;

/// A fresh town and its ledger; the temp dir removes it when dropped.
pub fn town() -> (tempfile::TempDir, Town, Ledger) {
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = InstallOptions {
        prefix: "gt".to_string(),
        name: None,
        agent: DefaultAgent::Named("sim".to_string()),
    };
    let town = install(&dir.path().join("town"), &opts).expect("install");
    let ledger = town.open_ledger().expect("ledger");
    (dir, town, ledger)
}

/// [`town`] with a rig directory `alpha` holding an empty `rig.toml` (the defaults).
pub fn town_with_alpha() -> (tempfile::TempDir, Town, Ledger) {
    let (dir, town, ledger) = self::town();
    let rig = town.root.join("alpha");
    std::fs::create_dir_all(&rig).expect("rig dir");
    std::fs::write(rig.join("rig.toml"), "").expect("rig.toml");
    (dir, town, ledger)
}
