//! Attachments: an interactive terminal joined to a session's PTY over request/response.
//!
//! `AttachStart` subscribes to the session's output and returns the screen to paint; the client
//! then long-polls `AttachPoll` for output and sends keystrokes with `AttachInput`. The output
//! subscription lives here between polls, so nothing is lost between two polls.

use crate::protocol::TownReply;
use crate::socket::{ErrorCode, WireError};
use gastown_actors::session::{SessionMsg, client};
use ractor::ActorRef;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, broadcast};

struct Attachment {
    /// The attached session (inputs go straight to it, never waiting behind a poll).
    session: ActorRef<SessionMsg>,
    /// Output since the last poll; locked only by the poll.
    output: Mutex<broadcast::Receiver<Arc<[u8]>>>,
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
        session: ActorRef<SessionMsg>,
        rows: u16,
        cols: u16,
    ) -> Result<TownReply, WireError> {
        if rows > 0 && cols > 0 {
            let _ = client::resize(&session, rows, cols).await;
        }
        let sub = client::subscribe(&session)
            .await
            .map_err(|e| WireError::new(ErrorCode::Unavailable, e.to_string()))?;
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let attachment = Attachment {
            session,
            output: Mutex::new(sub.output),
        };
        self.open.lock().await.insert(id, Arc::new(attachment));
        Ok(TownReply::Attached {
            id,
            screen: sub.screen,
        })
    }

    async fn get(&self, id: u64) -> Result<Arc<Attachment>, WireError> {
        self.open
            .lock()
            .await
            .get(&id)
            .cloned()
            .ok_or_else(|| gone(id))
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
        while !ended && bytes.len() < 256 * 1024 {
            match output.try_recv() {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(broadcast::error::TryRecvError::Closed) => ended = true,
                Err(_) => break,
            }
        }
        drop(output);
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
