//! Watching a landing: what [`super::process_rig`] and [`super::land_with`] are doing, step by
//! step, for a person at a terminal (`gastown mq process` draws one line per merge request).
//! A [`Watcher`] is a callback in [`super::LandOptions`]; the default one sees nothing, so the
//! refinery actor and every other caller pay nothing for it.

use super::MrResult;
use super::queue::MergeRequest;
use crate::rig::Gate;
use std::fmt;
use std::sync::Arc;

/// One step of a landing.
#[derive(Debug, Clone, Copy)]
pub enum LandStep<'a> {
    /// A batch was taken from the queue: these merge requests, in landing order.
    Batch(&'a [MergeRequest]),
    /// Fetching origin's target to merge on its tip.
    Fetching { target: &'a str },
    /// Merging one merge request onto the candidate.
    Merging(&'a MergeRequest),
    /// A gate runs on a candidate holding these merge requests (by id); `on_target`: on the
    /// target alone, to see whether it fails without them.
    Gate {
        gate: Gate,
        mrs: &'a [String],
        on_target: bool,
    },
    /// Publishing the new tip of `target` (pushing it to origin when `to_origin`).
    Pushing { target: &'a str, to_origin: bool },
    /// What became of one merge request of the batch.
    Done {
        mr: &'a MergeRequest,
        result: &'a MrResult,
    },
}

/// What a [`Watcher`] calls at every step.
type See = dyn Fn(&LandStep<'_>) + Send + Sync;

/// Who watches a landing (see the module documentation); cheap to clone.
#[derive(Clone, Default)]
pub struct Watcher(Option<Arc<See>>);

impl Watcher {
    /// A watcher calling `see` at every step.
    pub fn new(see: impl Fn(&LandStep<'_>) + Send + Sync + 'static) -> Watcher {
        Watcher(Some(Arc::new(see)))
    }

    /// Tell the watcher (if any) about `step`.
    pub fn see(&self, step: LandStep<'_>) {
        if let Some(see) = &self.0 {
            see(&step);
        }
    }
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Watcher(watching)"
        } else {
            "Watcher(none)"
        })
    }
}

/// A merge request's result in a few words, as a person watching reads it: `merged`, `sent
/// back: gate test failed`, `held: origin cannot take it`.
pub fn result_words(result: &MrResult) -> String {
    match result {
        MrResult::Merged { .. } => "merged".to_string(),
        MrResult::AlreadyMerged { .. } => "already merged (bookkeeping only)".to_string(),
        MrResult::Conflict { files } => format!("sent back: conflicts in {} file(s)", files.len()),
        MrResult::GateFailed { gate, .. } => format!("sent back: gate {gate} failed"),
        MrResult::TimedOut { gate, .. } => format!("sent back: gate {gate} timed out"),
        MrResult::OnDroppedHistory { dropped } => {
            format!("sent back: built on {dropped} commit(s) origin dropped")
        }
        MrResult::BranchMissing { branch } => format!("failed: branch {branch} is gone"),
        MrResult::GateFailedOnTarget { gate, .. } => {
            format!("held: gate {gate} fails on the target alone")
        }
        MrResult::Held { .. } => "held: the target still fails its gates".to_string(),
        MrResult::RemoteHeld { .. } => "waiting: origin cannot take it".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_watcher_sees_every_step_and_the_default_sees_none() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let watcher = Watcher::new(move |step| {
            log.lock().expect("not poisoned").push(format!("{step:?}"));
        });
        watcher.see(LandStep::Fetching { target: "main" });
        watcher.clone().see(LandStep::Pushing {
            target: "main",
            to_origin: true,
        });
        Watcher::default().see(LandStep::Fetching { target: "dev" });
        let seen = seen.lock().expect("not poisoned");
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(seen[0].contains("main") && seen[1].contains("to_origin: true"));
        assert_eq!(format!("{:?}", Watcher::default()), "Watcher(none)");
    }

    #[test]
    fn results_read_in_a_few_words() {
        let failed = MrResult::GateFailed {
            gate: "test".to_string(),
            output: "boom".to_string(),
        };
        assert_eq!(result_words(&failed), "sent back: gate test failed");
        let merged = MrResult::Merged {
            commit: "abc".to_string(),
            branch_tip: "def".to_string(),
        };
        assert_eq!(result_words(&merged), "merged");
        let conflict = MrResult::Conflict {
            files: vec!["a".to_string(), "b".to_string()],
        };
        assert_eq!(result_words(&conflict), "sent back: conflicts in 2 file(s)");
    }
}
