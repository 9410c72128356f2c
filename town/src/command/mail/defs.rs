//! Mail groups, work queues and channels: the addresses the ledger defines (see
//! [`crate::mail::groups::Def`]), created, changed and listed.

use crate::caller::Caller;
use crate::mail::{channel, groups, queue};
use anyhow::{Result, bail};
use gastown_beads::Ledger;
use serde::{Deserialize, Serialize};

use super::MailOutcome;

/// `mail group …`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GroupRequest {
    Create {
        name: String,
        members: Vec<String>,
    },
    Add {
        name: String,
        members: Vec<String>,
    },
    Remove {
        name: String,
        members: Vec<String>,
    },
    /// Every group, or one.
    List {
        name: Option<String>,
    },
}

/// `mail queue …`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum QueueRequest {
    Create {
        name: String,
    },
    /// A queue name (its oldest unclaimed item) or an item id.
    Claim {
        target: String,
    },
    Release {
        id: String,
    },
    /// The queues, or one queue's open items.
    List {
        name: Option<String>,
    },
}

/// `mail channel …`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChannelRequest {
    Create {
        name: String,
    },
    /// (Un)subscribe `address` (default: the caller; only the overseer names another).
    Subscribe {
        name: String,
        address: Option<String>,
    },
    Unsubscribe {
        name: String,
        address: Option<String>,
    },
    List,
}

/// A mail group and its members (groups expanded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Without the `@`.
    pub name: String,
    pub members: Vec<String>,
}

/// A work queue and how many open items it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueSummary {
    /// Without `queue:`.
    pub name: String,
    pub open: usize,
}

/// An open item of a work queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    pub id: String,
    /// Who claimed it, if anyone.
    pub claimant: Option<String>,
    pub title: String,
}

/// A channel and its subscribers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelSummary {
    /// Its address, `channel:<name>`.
    pub address: String,
    pub subscribers: Vec<String>,
}

pub(super) fn group(ledger: &mut Ledger, request: GroupRequest, who: &str) -> Result<MailOutcome> {
    Ok(match request {
        GroupRequest::Create { name, members } => {
            MailOutcome::Noted(groups::create(ledger, who, &name, &members)?)
        }
        GroupRequest::Add { name, members } => {
            MailOutcome::Noted(groups::change(ledger, who, &name, &members, true)?)
        }
        GroupRequest::Remove { name, members } => {
            MailOutcome::Noted(groups::change(ledger, who, &name, &members, false)?)
        }
        GroupRequest::List { name } => {
            let names = match name {
                Some(n) => vec![n.strip_prefix('@').unwrap_or(&n).to_string()],
                None => groups::names(ledger)?,
            };
            let mut listed = Vec::new();
            for name in names {
                let Some(members) = groups::expand(ledger, &name)? else {
                    bail!("no group @{name}: `gastown mail group list` shows the groups");
                };
                listed.push(Group { name, members });
            }
            MailOutcome::Groups(listed)
        }
    })
}

pub(super) fn queue_command(
    ledger: &mut Ledger,
    request: QueueRequest,
    caller: &Caller,
) -> Result<MailOutcome> {
    let who = caller.name();
    Ok(match request {
        QueueRequest::Create { name } => MailOutcome::Noted(queue::create(ledger, who, &name)?),
        QueueRequest::Claim { target } => MailOutcome::Noted(queue::claim(ledger, who, &target)?),
        QueueRequest::Release { id } => MailOutcome::Noted(queue::release(ledger, caller, &id)?),
        QueueRequest::List { name: None } => {
            let mut queues = Vec::new();
            for name in queue::names(ledger)? {
                let open = queue::items(ledger, &name)?.len();
                queues.push(QueueSummary { name, open });
            }
            MailOutcome::Queues(queues)
        }
        QueueRequest::List { name: Some(name) } => {
            let name = name.strip_prefix("queue:").unwrap_or(&name);
            queue::QUEUE.get(ledger, name)?;
            let items = queue::items(ledger, name)?
                .into_iter()
                .map(|item| QueueItem {
                    claimant: queue::claimant(&item).map(str::to_string),
                    id: item.id,
                    title: item.title,
                })
                .collect();
            MailOutcome::QueueItems(items)
        }
    })
}

pub(super) fn channel_command(
    ledger: &mut Ledger,
    request: ChannelRequest,
    caller: &Caller,
) -> Result<MailOutcome> {
    Ok(match request {
        ChannelRequest::Create { name } => {
            MailOutcome::Noted(channel::create(ledger, caller.name(), &name)?)
        }
        ChannelRequest::Subscribe { name, address } => MailOutcome::Noted(channel::change(
            ledger,
            caller,
            &name,
            address.as_deref(),
            true,
        )?),
        ChannelRequest::Unsubscribe { name, address } => MailOutcome::Noted(channel::change(
            ledger,
            caller,
            &name,
            address.as_deref(),
            false,
        )?),
        ChannelRequest::List => MailOutcome::Channels(
            channel::CHANNEL
                .all(ledger)?
                .iter()
                .map(|def| ChannelSummary {
                    address: def.title.clone(),
                    subscribers: groups::lines(def),
                })
                .collect(),
        ),
    })
}
