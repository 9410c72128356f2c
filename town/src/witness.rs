//! The witness's judgement, with no I/O: its knobs (`[witness]` in `rig.toml`), how it classifies
//! one polecat session from an [`Observation`] ([`classify`]), and its per-polecat ladder
//! ([`Ladder`]): nudge, then restart the session, then escalate — each step taken only for the
//! very session (identity AND session id) that was judged.
//!
//! ```toml
//! [witness]              # optional; these are the defaults
//! patrol_every = "30s"   # how often the witness looks at the rig's polecats
//! start_after = "90s"    # a new session with no heartbeat by then is starting-stalled
//! stall_after = "5m"     # at its prompt, with work hooked, for this long: stalled
//! hung_after = "30m"     # no output and no heartbeat for this long, not at its prompt: hung
//! nudges = 2             # unanswered nudges before the session is restarted
//! restarts = 2           # restarts before the mayor and the overseer are told
//! ```
//!
//! Activity (output or a heartbeat) since the previous patrol always means [`Health::Working`]:
//! the witness never acts on a polecat that did something since it last looked.
//!
//! Its protocol mail is handled in [`inbox`].

pub mod inbox;

use crate::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

/// `[witness]` in `rig.toml`. A rig.toml without the table gets these defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// How often the witness patrols the rig's polecats.
    #[serde(default = "default_patrol_every")]
    pub patrol_every: HumanDuration,
    /// A session with no heartbeat this long after its start is starting-stalled.
    #[serde(default = "default_start_after")]
    pub start_after: HumanDuration,
    /// At its prompt with work hooked and quiet this long: stalled.
    #[serde(default = "default_stall_after")]
    pub stall_after: HumanDuration,
    /// No output and no heartbeat this long while not at its prompt: hung.
    #[serde(default = "default_hung_after")]
    pub hung_after: HumanDuration,
    /// Unanswered nudges before the witness restarts the session.
    #[serde(default = "default_nudges")]
    pub nudges: u32,
    /// Restarts before the witness escalates to the mayor and the overseer.
    #[serde(default = "default_restarts")]
    pub restarts: u32,
    /// With a witness agent (`[roles] witness`): how long it has to close or forward an
    /// escalation of the rig before the escalation goes up by itself.
    #[serde(default = "default_judge_for")]
    pub judge_for: HumanDuration,
}

impl Default for WitnessConfig {
    fn default() -> Self {
        WitnessConfig {
            patrol_every: default_patrol_every(),
            start_after: default_start_after(),
            stall_after: default_stall_after(),
            hung_after: default_hung_after(),
            nudges: default_nudges(),
            restarts: default_restarts(),
            judge_for: default_judge_for(),
        }
    }
}

fn default_patrol_every() -> HumanDuration {
    HumanDuration(crate::defaults::WITNESS_PATROL_EVERY)
}
fn default_start_after() -> HumanDuration {
    HumanDuration(crate::defaults::WITNESS_START_AFTER)
}
fn default_stall_after() -> HumanDuration {
    HumanDuration(crate::defaults::WITNESS_STALL_AFTER)
}
fn default_hung_after() -> HumanDuration {
    HumanDuration(crate::defaults::WITNESS_HUNG_AFTER)
}
fn default_nudges() -> u32 {
    crate::defaults::WITNESS_NUDGES
}
fn default_restarts() -> u32 {
    crate::defaults::WITNESS_RESTARTS
}
fn default_judge_for() -> HumanDuration {
    HumanDuration(crate::defaults::WITNESS_JUDGE_FOR)
}

impl WitnessConfig {
    /// The rules serde cannot express; the message names the key.
    pub fn check(&self) -> Result<(), String> {
        for (key, value) in [
            ("patrol_every", self.patrol_every),
            ("start_after", self.start_after),
            ("stall_after", self.stall_after),
            ("hung_after", self.hung_after),
            ("judge_for", self.judge_for),
        ] {
            if value.0.is_zero() {
                return Err(format!(
                    "`witness.{key}` is 0: give it a duration like \"30s\" or \"5m\""
                ));
            }
        }
        Ok(())
    }
}

/// Which session of an identity: its process (group) id and its wall-clock start. A restarted
/// session has another; the witness acts only on the session it judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionId {
    pub pid: u32,
    pub started_at_ms: u64,
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.pid, self.started_at_ms)
    }
}

/// What the witness sees of one polecat session at one patrol. Times are milliseconds since the
/// Unix epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub session: SessionId,
    /// When the witness looked.
    pub now_ms: u64,
    /// The last output byte of the PTY, if any.
    pub last_output_ms: Option<u64>,
    /// The last socket request of the identity (its heartbeat), if any.
    pub last_heartbeat_ms: Option<u64>,
    /// The runtime's ready prompt is on the screen (waiting for input).
    pub at_prompt: bool,
    /// The session shows its runtime's usage limit (`crate::limits`): it waits for the reset,
    /// which gastown itself resumes it at.
    pub limited: bool,
    /// The hooked bead and its molecule step (`bead` or `bead#step`); `None`: nothing hooked.
    pub work: Option<String>,
}

/// How a polecat session is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Doing something, or not yet overdue for anything.
    Working,
    /// At its prompt with work hooked, quiet for longer than `stall_after`.
    Stalled,
    /// Not at its prompt, no output and no heartbeat for longer than `hung_after`.
    Hung,
    /// No first heartbeat within `start_after` of the session's start.
    StartingStalled,
    /// Waiting out its runtime's usage limit: quiet by design, resumed at the reset by the
    /// supervisor, never nudged, restarted or escalated by the witness.
    Limited,
    /// Nothing hooked: nothing to watch.
    Finished,
}

impl Health {
    /// Whether the ladder acts on it.
    pub fn needs_help(self) -> bool {
        matches!(
            self,
            Health::Stalled | Health::Hung | Health::StartingStalled
        )
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Health::Working => "working",
            Health::Stalled => "stalled",
            Health::Hung => "hung",
            Health::StartingStalled => "starting-stalled",
            Health::Limited => "limited",
            Health::Finished => "finished",
        })
    }
}

fn elapsed(now: u64, since: u64) -> Duration {
    Duration::from_millis(now.saturating_sub(since))
}

/// Classify one observation. `last_patrol_ms`: when the witness last looked at this same session
/// (`None` on the first look); output or a heartbeat after it means [`Health::Working`].
pub fn classify(obs: &Observation, last_patrol_ms: Option<u64>, config: &WitnessConfig) -> Health {
    if obs.work.is_none() {
        return Health::Finished;
    }
    if obs.limited {
        return Health::Limited;
    }
    let start = obs.session.started_at_ms;
    let active_since = |t: u64| {
        obs.last_output_ms.is_some_and(|o| o > t) || obs.last_heartbeat_ms.is_some_and(|h| h > t)
    };
    if last_patrol_ms.is_some_and(active_since) {
        return Health::Working;
    }
    // A heartbeat from before this session belongs to another one.
    let heartbeat = obs.last_heartbeat_ms.filter(|&h| h >= start);
    let Some(heartbeat) = heartbeat else {
        return if elapsed(obs.now_ms, start) > config.start_after.0 {
            Health::StartingStalled
        } else {
            Health::Working
        };
    };
    let last_output = obs.last_output_ms.unwrap_or(start).max(start);
    if obs.at_prompt {
        return if elapsed(obs.now_ms, last_output) > config.stall_after.0 {
            Health::Stalled
        } else {
            Health::Working
        };
    }
    let last_sign = last_output.max(heartbeat);
    if elapsed(obs.now_ms, last_sign) > config.hung_after.0 {
        Health::Hung
    } else {
        Health::Working
    }
}

/// What the witness does about one polecat at one patrol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    None,
    /// Send the GUPP nudge (the `n`-th of this ladder) to `session`.
    Nudge { session: SessionId, n: u32 },
    /// Restart `session` (the `n`-th restart of this ladder).
    Restart { session: SessionId, n: u32 },
    /// Tell the mayor and the overseer; once per ladder.
    Escalate { session: SessionId },
}

/// One polecat's ladder: the session and work it is about, the steps taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rung {
    pub session: SessionId,
    pub work: Option<String>,
    /// When the witness last looked at this session.
    pub last_patrol_ms: u64,
    pub health: Health,
    pub nudges: u32,
    pub restarts: u32,
    pub escalated: bool,
    /// The session the witness restarted last: the next session seen is its successor, and
    /// keeps the ladder (any other new session starts it afresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarted: Option<SessionId>,
}

/// The ladders of a rig's polecats, by identity address.
#[derive(Debug, Default, Clone)]
pub struct Ladder {
    rungs: HashMap<String, Rung>,
}

impl Ladder {
    /// Judge `obs` of `address` and decide the next step. The step is recorded as taken; a caller
    /// whose step fails calls nothing back (the next patrol judges again).
    pub fn decide(
        &mut self,
        address: &str,
        obs: &Observation,
        config: &WitnessConfig,
    ) -> (Health, Action) {
        let fresh = |obs: &Observation| Rung {
            session: obs.session,
            work: obs.work.clone(),
            last_patrol_ms: obs.now_ms,
            health: Health::Working,
            nudges: 0,
            restarts: 0,
            escalated: false,
            restarted: None,
        };
        let (rung, last_patrol) = match self.rungs.get_mut(address) {
            Some(rung) if rung.session == obs.session && rung.work == obs.work => {
                let last = rung.last_patrol_ms;
                (rung, Some(last))
            }
            Some(rung) if rung.restarted == Some(rung.session) && rung.work == obs.work => {
                // The successor of the session the witness restarted: same ladder, judged afresh.
                rung.session = obs.session;
                rung.restarted = None;
                (rung, None)
            }
            _ => {
                self.rungs.insert(address.to_string(), fresh(obs));
                let Some(rung) = self.rungs.get_mut(address) else {
                    return (Health::Working, Action::None);
                };
                (rung, None)
            }
        };
        let health = classify(obs, last_patrol, config);
        rung.last_patrol_ms = obs.now_ms;
        rung.health = health;
        if !health.needs_help() || rung.escalated {
            return (health, Action::None);
        }
        let session = obs.session;
        let action = if rung.nudges < config.nudges {
            rung.nudges += 1;
            Action::Nudge {
                session,
                n: rung.nudges,
            }
        } else if rung.restarts < config.restarts {
            rung.restarts += 1;
            rung.restarted = Some(session);
            Action::Restart {
                session,
                n: rung.restarts,
            }
        } else {
            rung.escalated = true;
            Action::Escalate { session }
        };
        (health, action)
    }

    /// Forget polecats not in `present` (gone, recycled).
    pub fn retain(&mut self, present: &[&str]) {
        self.rungs
            .retain(|address, _| present.contains(&address.as_str()));
    }

    /// The ladder of `address`, if the witness has looked at it.
    pub fn get(&self, address: &str) -> Option<&Rung> {
        self.rungs.get(address)
    }

    /// Every ladder, by address (for the witness's snapshot).
    pub fn rungs(&self) -> impl Iterator<Item = (&String, &Rung)> {
        self.rungs.iter()
    }

    /// The ladders that took a step, one clause each, by address: what `gastown actors` shows
    /// on the witness's node (e.g. `alpha/polecats/nux hung: 2 nudges, 2 restarts, escalated`).
    /// `None` when the witness has done nothing to any polecat it still watches.
    pub fn summary(&self) -> Option<String> {
        let mut acted: Vec<(&String, &Rung)> = self
            .rungs
            .iter()
            .filter(|(_, r)| r.nudges > 0 || r.restarts > 0 || r.escalated)
            .collect();
        if acted.is_empty() {
            return None;
        }
        acted.sort_by(|a, b| a.0.cmp(b.0));
        let clauses: Vec<String> = acted
            .into_iter()
            .map(|(address, r)| {
                let mut steps = vec![plural(r.nudges, "nudge"), plural(r.restarts, "restart")];
                if r.escalated {
                    steps.push("escalated".to_string());
                }
                format!("{address} {}: {}", r.health, steps.join(", "))
            })
            .collect();
        Some(clauses.join("; "))
    }
}

/// `1 nudge`, `2 nudges`.
fn plural(n: u32, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests;

/// The runtime of a rig's witness agent: the rig's `[roles] witness`, else town.toml's; `"none"`
/// (or empty) in the rig keeps its witness mechanical. `None`: no witness agent.
pub fn agent_runtime(town: &crate::town::Town, rig: &crate::rig::RigConfig) -> Option<String> {
    let chosen = match rig.roles.witness.as_deref().map(str::trim) {
        Some("" | "none") => return None,
        Some(name) => name,
        None => town.config.roles.witness.as_deref().map(str::trim)?,
    };
    (!chosen.is_empty() && chosen != "none").then(|| chosen.to_string())
}
