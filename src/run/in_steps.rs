//! Town requests whose commands run git or gates between their ledger steps: they run on a
//! blocking thread, each ledger step one operation of the ledger actor
//! (`gastown_town::steps`), so a 30-second gate never stalls the town's other ledger users.
//!
//! `sling` and `done` (the handler's work requests) and the mq commands (here).

use super::authorize::command_error;
use super::handler::TownHandler;
use crate::protocol::TownReply;
use crate::socket::{ErrorCode, WireError};
use gastown_town::Caller;
use gastown_town::command::mq::{self, MqRequest};

impl TownHandler {
    /// An mq command sent to the supervisor, in steps: `mq process`'s gates and `mq show`'s git
    /// never run in the ledger actor.
    pub(super) async fn mq_in_steps(
        &self,
        caller: &Caller,
        request: MqRequest,
    ) -> Result<TownReply, WireError> {
        let (town, caller) = (self.tree.town.clone(), caller.clone());
        self.ledger
            .in_steps(move |steps| {
                mq::apply(steps, &town, request, &caller).map_err(|e| command_error(&e))
            })
            .await
            .map_err(|e| WireError::new(ErrorCode::Unavailable, e.to_string()))?
            .map(TownReply::Mq)
    }
}
