//! How every CLI command reaches the supervisor: one blocking socket client, found through the
//! town's runtime dir (or `GASTOWN_SOCKET`), authenticated by `GASTOWN_TOKEN` in agent sessions.

use crate::protocol::{TownReply, TownRequest};
use crate::socket::{Client, ClientError, ReplyBody, RequestBody, locate_socket};
use anyhow::{Context, Result, anyhow, bail};
use gastown_town::town::Town;
use std::path::PathBuf;

fn socket_path(town: &Town) -> PathBuf {
    match std::env::var_os("GASTOWN_SOCKET") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => locate_socket(&town.runtime_dir()),
    }
}

/// A connection to the town's supervisor, or `None` when no `gastown run` is up.
pub fn connect(town: &Town) -> Result<Option<Client>> {
    let token = std::env::var("GASTOWN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    match Client::connect(&socket_path(town), token.as_deref(), "gastown cli") {
        Ok(client) => Ok(Some(client)),
        Err(e) if e.is_no_supervisor() => Ok(None),
        // Says itself what to do: restart `gastown run`.
        Err(e @ ClientError::VersionMismatch { .. }) => Err(anyhow!(e)),
        Err(e) => Err(anyhow!(e).context("cannot talk to the town's supervisor")),
    }
}

/// A connection, for commands that only make sense with the supervisor running.
pub fn require(town: &Town) -> Result<Client> {
    match connect(town)? {
        Some(client) => Ok(client),
        None => bail!(
            "no supervisor is running for the town at {}: start one with `gastown run` (in another terminal)",
            town.root.display()
        ),
    }
}

/// One town request.
pub fn call(client: &mut Client, request: TownRequest) -> Result<TownReply> {
    match client.call(RequestBody::Town(Box::new(request))) {
        Ok(ReplyBody::Town(reply)) => Ok(*reply),
        Ok(_) => bail!(
            "the supervisor answered a town request with a socket-layer reply: restart `gastown run`"
        ),
        Err(ClientError::Request(e)) => bail!("{}", e.message),
        Err(e) => Err(anyhow!(e)),
    }
}

/// The town's event stream, filtered (the supervisor must be running).
pub fn subscribe(town: &Town, filter: crate::protocol::EventFilter) -> Result<Events> {
    let replies = stream(require(town)?, TownRequest::Subscribe(filter))
        .context("cannot subscribe to the town's events")?;
    Ok(Events(replies))
}

/// A streaming town request on `client` (which it then serves alone): its replies as they come.
pub fn stream(client: Client, request: TownRequest) -> Result<TownStream> {
    let subscription = client
        .subscribe(RequestBody::Town(Box::new(request)))
        .map_err(|e| anyhow!(e))?;
    Ok(TownStream(subscription))
}

/// The replies of a streaming town request.
pub struct TownStream(crate::socket::Subscription);

impl TownStream {
    /// The next reply, waiting as long as it takes; `None` once the stream ended (or `gastown
    /// run` stopped).
    pub fn next(&mut self) -> Result<Option<TownReply>> {
        match self.0.next() {
            Ok(Some(ReplyBody::Town(reply))) => Ok(Some(*reply)),
            Ok(Some(_)) => bail!(
                "the supervisor streamed a socket-layer reply instead of a town reply: restart `gastown run`"
            ),
            Ok(None) => Ok(None),
            Err(ClientError::Request(e)) => bail!("{}", e.message),
            Err(e) => Err(anyhow!(e).context("the stream broke")),
        }
    }
}

/// An open event stream.
pub struct Events(TownStream);

impl Events {
    /// The next batch of events, waiting as long as it takes; `None` once `gastown run` stopped.
    pub fn next(&mut self) -> Result<Option<Vec<crate::protocol::TownEvent>>> {
        match self.0.next()? {
            Some(TownReply::Events(events)) => Ok(Some(events)),
            Some(other) => {
                bail!("the supervisor streamed {other:?} instead of events: restart `gastown run`")
            }
            None => Ok(None),
        }
    }
}
