//! Town requests whose commands run git or gates between their ledger steps: they run on a
//! blocking thread, each ledger step one operation of the ledger actor
//! (`gastown_town::steps`), so a 30-second gate never stalls the town's other ledger users.
//!
//! `sling` and `done` (the handler's work requests) and `mq process` (here).

use super::handler::TownHandler;
use crate::protocol::TownReply;
use crate::socket::{ErrorCode, WireError};
use gastown_town::command::mq::{self, MqRequest};

impl TownHandler {
    /// `mq process` sent to the supervisor: land the rig's queue in steps. Any other mq request
    /// is the caller's to route to the ledger.
    pub(super) async fn mq_process(&self, request: MqRequest) -> Result<TownReply, WireError> {
        let MqRequest::Process {
            rig,
            all,
            worktree_merge,
            land_only,
        } = request
        else {
            return Err(WireError::new(
                ErrorCode::Internal,
                "only `mq process` runs in steps",
            ));
        };
        let town = self.tree.town.clone();
        self.ledger
            .in_steps(move |steps| {
                mq::process(steps, &town, &rig, all, worktree_merge, land_only)
                    .map_err(|e| format!("{e:#}"))
            })
            .await
            .map_err(|e| WireError::new(ErrorCode::Unavailable, e.to_string()))?
            .map(TownReply::Mq)
            .map_err(|e| WireError::new(ErrorCode::InvalidArgument, e))
    }
}
