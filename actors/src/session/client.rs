//! Typed helpers that call a session actor with a timeout and flatten ractor's call results into
//! the session's error types. Everything outside the session (role actors, the socket server)
//! should use these rather than building [`SessionMsg`] requests by hand.

use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{ActorRef, MessagingErr, RpcReplyPort};

use super::{
    Attachment, CallError, ExitInfo, NudgeError, NudgeOptions, ResizeError, SessionMsg,
    SessionSnapshot, WriteError,
};

/// Timeout for requests the session answers at once (peek, snapshot, resize, subscribe, kill).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Extra time a terminate waits beyond the session's stop timeout for the answer.
const TERMINATE_SLACK: Duration = Duration::from_secs(5);

async fn call<T: Send + 'static>(
    session: &ActorRef<SessionMsg>,
    request: impl FnOnce(RpcReplyPort<T>) -> SessionMsg,
    timeout: Duration,
) -> Result<T, CallError> {
    match session.call(request, Some(timeout)).await {
        Ok(CallResult::Success(value)) => Ok(value),
        Ok(CallResult::Timeout) => Err(CallError::Timeout { waited: timeout }),
        Ok(CallResult::SenderError)
        | Err(
            MessagingErr::SendErr(_) | MessagingErr::ChannelClosed | MessagingErr::InvalidActorType,
        ) => Err(CallError::Stopped),
    }
}

/// The screen as text (`lines: None`) or its last `lines` lines.
pub async fn peek(
    session: &ActorRef<SessionMsg>,
    lines: Option<usize>,
) -> Result<String, CallError> {
    call(
        session,
        |reply| SessionMsg::Peek { lines, reply },
        CALL_TIMEOUT,
    )
    .await
}

/// Pid, timestamps, exit status and byte counts.
pub async fn snapshot(session: &ActorRef<SessionMsg>) -> Result<SessionSnapshot, CallError> {
    call(session, SessionMsg::Snapshot, CALL_TIMEOUT).await
}

/// Raw bytes into the PTY through the input queue (attach keystrokes).
pub async fn write(session: &ActorRef<SessionMsg>, bytes: Vec<u8>) -> Result<(), WriteError> {
    call(
        session,
        |reply| SessionMsg::Write { bytes, reply },
        CALL_TIMEOUT,
    )
    .await?
}

/// New window size for the PTY and the screen model.
pub async fn resize(
    session: &ActorRef<SessionMsg>,
    rows: u16,
    cols: u16,
) -> Result<(), ResizeError> {
    call(
        session,
        |reply| SessionMsg::Resize { rows, cols, reply },
        CALL_TIMEOUT,
    )
    .await?
}

/// Waits for idle, types `text`, checks it landed, presses Enter. Waits at most
/// `options.worst_case()` (plus the time queued behind earlier nudges, bounded by the call timeout).
pub async fn nudge(
    session: &ActorRef<SessionMsg>,
    text: &str,
    options: NudgeOptions,
) -> Result<(), NudgeError> {
    let text = text.to_string();
    let request = |reply| SessionMsg::Nudge {
        text,
        options: Some(options),
        reply,
    };
    call(session, request, options.worst_case() + CALL_TIMEOUT).await?
}

/// The current screen and a receiver of every later output chunk.
pub async fn subscribe(session: &ActorRef<SessionMsg>) -> Result<Attachment, CallError> {
    call(session, SessionMsg::Subscribe, CALL_TIMEOUT).await
}

/// Terminates the process group (SIGTERM, then SIGKILL after `stop_timeout`) and stops the actor.
pub async fn terminate(
    session: &ActorRef<SessionMsg>,
    stop_timeout: Duration,
) -> Result<Option<ExitInfo>, CallError> {
    call(
        session,
        SessionMsg::Terminate,
        stop_timeout + TERMINATE_SLACK,
    )
    .await
}

/// SIGKILLs the process group at once; the actor then fails as crashed and its supervisor restarts it.
pub async fn kill(session: &ActorRef<SessionMsg>) -> Result<(), CallError> {
    call(session, SessionMsg::Kill, CALL_TIMEOUT).await
}
