//! Attachments: an interactive terminal joined to a session's PTY.
//!
//! `AttachStart` subscribes to the session's output and returns the screen to paint; the client
//! then opens `AttachOutput`, a stream of the session's output as it is written (no polling),
//! on that connection, and sends keystrokes with `AttachInput` on another. The output
//! subscription is taken at `AttachStart`, so nothing written between the two is lost.
//!
//! Everything a client controls is bounded: terminal sizes are clamped to the session's maximum
//! (`MAX_ROWS` × `MAX_COLS`), one output reply carries at most [`REPLY_MAX_BYTES`] (plus one
//! chunk), one attachment has one output stream, at most [`MAX_PER_SESSION`] attachments are
//! open on one session and [`MAX_TOTAL`] in the town, and an attachment nobody has used for
//! [`ABANDONED_AFTER`] with no stream open (its client went away without `AttachEnd`) is closed
//! when the next one starts. `AttachEnd` ends the output stream too.

use crate::protocol::TownReply;
use crate::socket::{ErrorCode, WireError};
use gastown_actors::session::{SessionMsg, clamp_size, client};
use ractor::ActorRef;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, OwnedMutexGuard, broadcast};
use tokio_util::sync::CancellationToken;

/// Attachments open at once on one session.
pub const MAX_PER_SESSION: usize = 8;
/// Attachments open at once in the town.
pub const MAX_TOTAL: usize = 64;
/// An attachment with no output stream open and not written to for this long is closed by the
/// next start.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(60);
/// Output bytes one reply of the stream gathers from what is already there (the chunk that
/// crosses it is kept whole).
pub const REPLY_MAX_BYTES: usize = 256 * 1024;

struct Attachment {
    /// The attached agent's address, for the per-session cap.
    agent: String,
    /// The attached session (inputs go straight to it, never waiting behind a poll).
    session: ActorRef<SessionMsg>,
    /// The session's output not yet sent; held by the output stream while it is open.
    output: Arc<Mutex<broadcast::Receiver<Arc<[u8]>>>>,
    /// When a client last used this attachment (output sent, an input, a resize).
    last_used: std::sync::Mutex<Instant>,
    /// Cancelled by `AttachEnd`: the output stream ends.
    ended: CancellationToken,
}

impl Attachment {
    fn touch(&self) {
        *self
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    /// Unused for [`ABANDONED_AFTER`] and no output stream open.
    fn abandoned(&self, now: Instant) -> bool {
        let last = *self
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        now.saturating_duration_since(last) >= ABANDONED_AFTER && self.output.try_lock().is_ok()
    }
}

/// Open attachments by id.
#[derive(Clone, Default)]
pub struct Attachments {
    next: Arc<AtomicU64>,
    open: Arc<Mutex<HashMap<u64, Arc<Attachment>>>>,
    /// Who started each attachment (the caller's name): only it may poll, type into, resize or
    /// end it, so an attachment id guessed by another caller reaches nothing.
    owners: Arc<std::sync::Mutex<HashMap<u64, String>>>,
}

fn gone(id: u64) -> WireError {
    WireError::new(
        ErrorCode::NotFound,
        format!("no attachment {id}: attach again"),
    )
}

impl Attachments {
    pub async fn start(
        &self,
        agent: String,
        session: ActorRef<SessionMsg>,
        rows: u16,
        cols: u16,
    ) -> Result<TownReply, WireError> {
        {
            let mut open = self.open.lock().await;
            let now = Instant::now();
            open.retain(|_, attachment| !attachment.abandoned(now));
            let on_session = open.values().filter(|a| a.agent == agent).count();
            if on_session >= MAX_PER_SESSION {
                return Err(WireError::new(
                    ErrorCode::Unavailable,
                    format!(
                        "{agent} already has {MAX_PER_SESSION} attachments open (the maximum per session): detach one (Ctrl-]), or wait {ABANDONED_AFTER:?} for abandoned ones to close"
                    ),
                ));
            }
            if open.len() >= MAX_TOTAL {
                return Err(WireError::new(
                    ErrorCode::Unavailable,
                    format!(
                        "the town already has {MAX_TOTAL} attachments open (the maximum): detach some (Ctrl-]), or wait {ABANDONED_AFTER:?} for abandoned ones to close"
                    ),
                ));
            }
        }
        // A client without a terminal sends 0×0: keep the session's size.
        if rows > 0 && cols > 0 {
            let (rows, cols) = clamp_size(rows, cols);
            let _ = client::resize(&session, rows, cols).await;
        }
        let sub = client::subscribe(&session)
            .await
            .map_err(|e| WireError::new(ErrorCode::Unavailable, e.to_string()))?;
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let attachment = Attachment {
            agent,
            session,
            output: Arc::new(Mutex::new(sub.output)),
            last_used: std::sync::Mutex::new(Instant::now()),
            ended: CancellationToken::new(),
        };
        self.open.lock().await.insert(id, Arc::new(attachment));
        Ok(TownReply::Attached {
            id,
            screen: sub.screen,
        })
    }

    async fn get(&self, id: u64) -> Result<Arc<Attachment>, WireError> {
        let attachment = self
            .open
            .lock()
            .await
            .get(&id)
            .cloned()
            .ok_or_else(|| gone(id))?;
        attachment.touch();
        Ok(attachment)
    }

    /// The attachment's output as it comes, for the `AttachOutput` stream: each reply has what
    /// the session wrote since the last one; the last says `ended` when the session is gone
    /// (and the attachment closes). It ends, without `ended`, when the attachment is ended.
    pub async fn output(
        &self,
        id: u64,
    ) -> Result<impl futures::Stream<Item = TownReply> + Send + 'static, WireError> {
        let attachment = self.get(id).await?;
        let receiver = Arc::clone(&attachment.output)
            .try_lock_owned()
            .map_err(|_| {
                WireError::new(
                    ErrorCode::Unavailable,
                    format!("attachment {id} already streams its output: attach again for another"),
                )
            })?;
        let state = OutputState {
            attachment,
            receiver,
            open: Arc::clone(&self.open),
            id,
            done: false,
        };
        Ok(futures::stream::unfold(state, OutputState::next))
    }

    pub async fn input(&self, id: u64, bytes: Vec<u8>) -> Result<TownReply, WireError> {
        let attachment = self.get(id).await?;
        let session = attachment.session.clone();
        client::write(&session, bytes)
            .await
            .map_err(|e| WireError::new(ErrorCode::Unavailable, e.to_string()))?;
        Ok(TownReply::Done)
    }

    pub async fn resize(&self, id: u64, rows: u16, cols: u16) -> Result<TownReply, WireError> {
        let attachment = self.get(id).await?;
        let session = attachment.session.clone();
        let (rows, cols) = clamp_size(rows, cols);
        client::resize(&session, rows, cols)
            .await
            .map_err(|e| WireError::new(ErrorCode::Unavailable, e.to_string()))?;
        Ok(TownReply::Done)
    }

    pub async fn end(&self, id: u64) -> Result<TownReply, WireError> {
        if let Some(attachment) = self.open.lock().await.remove(&id) {
            attachment.ended.cancel();
        }
        Ok(TownReply::Done)
    }

    /// Records `owner` as the caller that started attachment `id`.
    pub fn claim(&self, id: u64, owner: &str) {
        self.owners_table().insert(id, owner.to_string());
    }

    /// Refuses a caller that did not start attachment `id` (an unknown id is `NotFound`).
    pub fn check_owner(&self, id: u64, caller: &str) -> Result<(), WireError> {
        match self.owners_table().get(&id) {
            Some(owner) if owner == caller => Ok(()),
            Some(owner) => Err(WireError::new(
                ErrorCode::Forbidden,
                format!(
                    "{caller} may not use attachment {id}: it is {owner}'s; attach yourself (`gastown attach <agent>`)"
                ),
            )),
            None => Err(gone(id)),
        }
    }

    /// Forgets the owner of an attachment that ended.
    pub fn forget_owner(&self, id: u64) {
        self.owners_table().remove(&id);
    }

    fn owners_table(&self) -> std::sync::MutexGuard<'_, HashMap<u64, String>> {
        self.owners
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An open output stream: the attachment's receiver, held until the stream is dropped.
struct OutputState {
    attachment: Arc<Attachment>,
    receiver: OwnedMutexGuard<broadcast::Receiver<Arc<[u8]>>>,
    open: Arc<Mutex<HashMap<u64, Arc<Attachment>>>>,
    id: u64,
    /// The `ended` reply went out: the stream is over.
    done: bool,
}

impl OutputState {
    /// The next reply: waits for output, then takes whatever else is already there.
    async fn next(mut self) -> Option<(TownReply, OutputState)> {
        if self.done {
            return None;
        }
        let mut bytes = Vec::new();
        let mut ended = false;
        while bytes.is_empty() && !ended {
            let first = tokio::select! {
                () = self.attachment.ended.cancelled() => return None,
                chunk = self.receiver.recv() => chunk,
            };
            match first {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                // A client that fell behind loses the oldest output; the screen catches up.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => ended = true,
            }
        }
        while !ended && bytes.len() < REPLY_MAX_BYTES {
            match self.receiver.try_recv() {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(broadcast::error::TryRecvError::Closed) => ended = true,
                Err(_) => break,
            }
        }
        self.attachment.touch();
        if ended {
            self.done = true;
            self.open.lock().await.remove(&self.id);
        }
        Some((TownReply::Output { bytes, ended }, self))
    }
}
