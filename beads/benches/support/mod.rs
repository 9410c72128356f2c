//! What the git and sync benches share: base-36 ids, a tiny deterministic generator, a fresh
//! repository, and medians and 90th percentiles in milliseconds.

#![allow(dead_code)] // Each bench uses its own part.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII digits")
}

/// A tiny deterministic generator, so the bench needs no extra dependency.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

pub fn git_init(dir: &Path) {
    let status = Command::new("git")
        .args(["init", "-q", "-b", "main"])
        .arg(dir)
        .status()
        .expect("git is installed");
    assert!(status.success(), "git init failed");
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

pub fn median(samples: &mut [Duration]) -> f64 {
    samples.sort_unstable();
    ms(samples[samples.len() / 2])
}

pub fn p90(samples: &mut [Duration]) -> f64 {
    samples.sort_unstable();
    ms(samples[(samples.len() * 9 / 10).min(samples.len() - 1)])
}
