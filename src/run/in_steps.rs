//! Town requests whose commands run git or gates between their ledger steps: they run on a
//! blocking thread, each ledger step one operation of the ledger actor
//! (`gastown_town::steps`), so a 30-second gate never stalls the town's other ledger users.
//!
//! `sling` and `done` (the handler's work requests) and `mq process` (here).

use super::handler::TownHandler;
use super::protocol::TownReply;
use crate::cli::mq::{self, ProcessRequest};
use crate::socket::{ErrorCode, WireError};

impl TownHandler {
    /// `mq process` sent to the supervisor: land the rig's queue in steps.
    pub(super) async fn mq_process(&self, req: ProcessRequest) -> Result<TownReply, WireError> {
        let town = self.tree.town.clone();
        self.ledger
            .in_steps(move |steps| mq::process(steps, &town, &req).map_err(|e| format!("{e:#}")))
            .await
            .map_err(|e| WireError::new(ErrorCode::Unavailable, e.to_string()))?
            .map(TownReply::Text)
            .map_err(|e| WireError::new(ErrorCode::InvalidArgument, e))
    }
}
