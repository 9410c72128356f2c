//! What the benchmarks that drive the real binary share: running `gastown`, a supervisor that
//! is stopped when dropped, environment knobs, percentiles. Included by path from each bench
//! (`mod support;`); not every bench uses every helper.

#![allow(dead_code, reason = "each bench uses the part it needs")]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under measurement (the bench profile's build).
pub const BIN: &str = env!("CARGO_BIN_EXE_gastown");

/// Run `gastown <args>` in `dir` with no inherited town or agent.
pub fn gastown(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .env_remove("GASTOWN_TOWN")
        .env_remove("GASTOWN_AGENT")
        .args(args)
        .output()
        .expect("gastown runs")
}

/// [`gastown`], requiring success; returns stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = gastown(dir, args);
    assert!(
        out.status.success(),
        "gastown {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A number from the environment, or `default`.
pub fn env_number<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0.0–1.0) of `samples` (sorted in place).
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

/// `gastown run` in a town, stopped (SIGTERM, then waited for) when dropped.
pub struct Supervisor(Child);

impl Drop for Supervisor {
    fn drop(&mut self) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

/// Start `gastown run` in `town` with log filter `filter`, its stderr to `log`, and wait until
/// it answers.
pub fn start(town: &Path, log: &Path, filter: &str) -> Supervisor {
    let log = std::fs::File::create(log).expect("log file");
    let child = Command::new(BIN)
        .current_dir(town)
        .env_remove("GASTOWN_TOWN")
        .env("GASTOWN_LOG", filter)
        .arg("run")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("gastown run starts");
    let supervisor = Supervisor(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !gastown(town, &["actors", "--json"]).status.success() {
        assert!(Instant::now() < deadline, "the supervisor did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    supervisor
}
