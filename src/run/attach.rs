//! Attachments: an interactive terminal joined to a session's PTY over request/response.
//!
//! `AttachStart` subscribes to the session's output and returns the screen to paint; the client
//! then long-polls `AttachPoll` for output and sends keystrokes with `AttachInput`. The output
//! subscription lives here between polls, so nothing is lost between two polls.
//!
//! Everything a client controls is bounded: terminal sizes are clamped to the session's maximum
//! (`MAX_ROWS` × `MAX_COLS`), a poll returns at most [`POLL_MAX_BYTES`] (plus one chunk), at most
//! [`MAX_PER_SESSION`] attachments are open on one session and [`MAX_TOTAL`] in the town, and an
//! attachment nobody has used for [`ABANDONED_AFTER`] (its client went away without
//! `AttachEnd`) is closed when the next one starts.

use crate::protocol::TownReply;
use crate::socket::{ErrorCode, WireError};
use gastown_actors::session::{SessionMsg, clamp_size, client};
use ractor::ActorRef;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, broadcast};

/// Attachments open at once on one session.
pub const MAX_PER_SESSION: usize = 8;
/// Attachments open at once in the town.
pub const MAX_TOTAL: usize = 64;
/// An attachment neither polled nor written to for this long is closed by the next start.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(60);
/// Output bytes a poll gathers before it returns (the chunk that crosses it is kept whole).
pub const POLL_MAX_BYTES: usize = 256 * 1024;

struct Attachment {
    /// The attached agent's address, for the per-session cap.
    agent: String,
    /// The attached session (inputs go straight to it, never waiting behind a poll).
    session: ActorRef<SessionMsg>,
    /// Output since the last poll; locked only by the poll.
    output: Mutex<broadcast::Receiver<Arc<[u8]>>>,
    /// When a client last used this attachment (a poll's start or end, an input, a resize).
    last_used: std::sync::Mutex<Instant>,
}

impl Attachment {
    fn touch(&self) {
        *self
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    /// Unused for [`ABANDONED_AFTER`] and no poll waiting on it.
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
            output: Mutex::new(sub.output),
            last_used: std::sync::Mutex::new(Instant::now()),
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

    pub async fn poll(&self, id: u64, wait_ms: u64) -> Result<TownReply, WireError> {
        let attachment = self.get(id).await?;
        let mut output = attachment.output.lock().await;
        let mut bytes = Vec::new();
        let wait = Duration::from_millis(wait_ms.min(5000));
        // Wait for the first chunk, then take whatever else is already there.
        let first = tokio::time::timeout(wait, output.recv()).await;
        let mut ended = false;
        match first {
            Ok(Ok(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(broadcast::error::RecvError::Closed)) => ended = true,
            Err(_) => {}
        }
        while !ended && bytes.len() < POLL_MAX_BYTES {
            match output.try_recv() {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(broadcast::error::TryRecvError::Closed) => ended = true,
                Err(_) => break,
            }
        }
        drop(output);
        attachment.touch();
        if ended {
            self.open.lock().await.remove(&id);
        }
        Ok(TownReply::Output { bytes, ended })
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
        self.open.lock().await.remove(&id);
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
