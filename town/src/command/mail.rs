//! `gastown mail …` and `gastown dnd`: mail between agents and the overseer.
//!
//! Every command runs as the [`Caller`]: the connection's authenticated identity when the
//! supervisor runs it, else `GASTOWN_AGENT` or the overseer. A body not given with `-m` is read
//! from stdin by the CLI process before the request leaves it. The ledger side lives in
//! [`crate::mail`]; `docs/mail.md` describes the model.

mod defs;

pub use defs::{
    ChannelRequest, ChannelSummary, Group, GroupRequest, QueueItem, QueueRequest, QueueSummary,
};

use super::as_json;
use crate::caller::Caller;
use crate::identity::AgentIdentity;
use crate::mail::{self, Outgoing, store};
use anyhow::{Result, bail};
use defs::{channel_command, group, queue_command};
use gastown_beads::{Bead, Ledger};
use serde::{Deserialize, Serialize};

/// One mail command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MailRequest {
    /// Send mail to an address (agent, overseer, @group, queue:<name>, channel:<name>).
    Send(SendRequest),
    /// An inbox (default: the caller's): unread mail, or all open mail with `all`; at most
    /// `limit` mails (0: all).
    Inbox {
        address: Option<String>,
        all: bool,
        limit: usize,
    },
    /// One mail, marked read when the caller is its recipient.
    Read { id: String },
    /// Mark mail read.
    Ack { ids: Vec<String> },
    /// Mark mail read and close it.
    Archive { ids: Vec<String> },
    /// Mark mail unread again (reopens archived mail).
    MarkUnread { ids: Vec<String> },
    /// Reply to the sender of a mail.
    Reply {
        id: String,
        message: Option<String>,
        urgent: bool,
    },
    /// The whole thread a mail belongs to.
    Thread { id: String },
    /// Mail the caller may see whose subject or body contains `text`.
    Search { text: String },
    /// The caller's unread mail; with `inject`, only mail not yet delivered, marked delivered.
    Check { inject: bool },
    /// Mail groups.
    Group(GroupRequest),
    /// Work queues.
    Queue(QueueRequest),
    /// Broadcast channels.
    Channel(ChannelRequest),
    /// Do-not-disturb for `agent` (default: the caller).
    Dnd { on: bool, agent: Option<String> },
}

/// `mail send`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendRequest {
    pub address: String,
    pub subject: String,
    pub message: Option<String>,
    pub urgent: bool,
    pub reply_to: Option<String>,
}

/// What a mail command did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MailOutcome {
    /// `send`: one mail bead per inbox, in recipient order.
    Sent {
        to: String,
        #[serde(with = "as_json")]
        mail: Vec<Bead>,
    },
    /// `reply`: the reply.
    Replied(#[serde(with = "as_json")] Bead),
    /// `inbox`: the mail shown (oldest first) and how many there were before the limit.
    Inbox {
        address: String,
        all: bool,
        total: usize,
        #[serde(with = "as_json")]
        mail: Vec<Bead>,
    },
    /// `read`: the mail (marked read if the caller received it).
    Message(#[serde(with = "as_json")] Bead),
    /// `ack`, `archive`, `mark-unread`: the ids, and their state now (`read`, `archived`,
    /// `unread`).
    Marked { ids: Vec<String>, state: String },
    /// `thread`, `search`: the mail found.
    Found(#[serde(with = "as_json")] Vec<Bead>),
    /// `check`: the caller's unread (or, with `inject`, newly delivered) mail.
    Unread {
        address: String,
        inject: bool,
        #[serde(with = "as_json")]
        mail: Vec<Bead>,
    },
    /// A change to a group, queue, channel or do-not-disturb, in the domain's words (one line
    /// or a few, ending in a newline).
    Noted(String),
    /// `group list`.
    Groups(Vec<Group>),
    /// `queue list` without a name.
    Queues(Vec<QueueSummary>),
    /// `queue list <name>`: its open items, oldest first.
    QueueItems(Vec<QueueItem>),
    /// `channel list`.
    Channels(Vec<ChannelSummary>),
}

impl MailRequest {
    /// The subcommand's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            MailRequest::Send(_) => "send",
            MailRequest::Inbox { .. } => "inbox",
            MailRequest::Read { .. } => "read",
            MailRequest::Ack { .. } => "ack",
            MailRequest::Archive { .. } => "archive",
            MailRequest::MarkUnread { .. } => "mark-unread",
            MailRequest::Reply { .. } => "reply",
            MailRequest::Thread { .. } => "thread",
            MailRequest::Search { .. } => "search",
            MailRequest::Check { .. } => "check",
            MailRequest::Group(_) => "group",
            MailRequest::Queue(_) => "queue",
            MailRequest::Channel(_) => "channel",
            MailRequest::Dnd { .. } => "dnd",
        }
    }
}

/// Run one mail command against the ledger as `caller`.
pub fn apply(ledger: &mut Ledger, request: MailRequest, caller: &Caller) -> Result<MailOutcome> {
    let started = std::time::Instant::now();
    let command = request.name();
    let result = apply_inner(ledger, request, caller);
    // The ledger-side cost of each command (`GASTOWN_LOG=gastown_town::command::mail=debug`);
    // the mail benchmark reads it.
    tracing::debug!(
        command,
        micros = started.elapsed().as_micros() as u64,
        "mail command applied"
    );
    result
}

fn apply_inner(ledger: &mut Ledger, request: MailRequest, caller: &Caller) -> Result<MailOutcome> {
    let who = caller.name();
    Ok(match request {
        MailRequest::Send(args) => {
            let out = Outgoing {
                to: args.address,
                subject: args.subject,
                body: args.message.unwrap_or_default(),
                urgent: args.urgent,
                reply_to: args.reply_to,
            };
            let mail = mail::send(ledger, who, &out)?;
            MailOutcome::Sent { to: out.to, mail }
        }
        MailRequest::Reply {
            id,
            message,
            urgent,
        } => {
            let body = message.unwrap_or_default();
            MailOutcome::Replied(store::reply(ledger, caller, &id, &body, urgent)?)
        }
        MailRequest::Inbox {
            address,
            all,
            limit,
        } => inbox(ledger, address, all, limit, caller)?,
        MailRequest::Read { id } => MailOutcome::Message(read(ledger, &id, caller)?),
        MailRequest::Ack { ids } => change(ledger, ids, caller, "read", store::mark_read)?,
        MailRequest::Archive { ids } => change(ledger, ids, caller, "archived", store::archive)?,
        MailRequest::MarkUnread { ids } => {
            change(ledger, ids, caller, "unread", store::mark_unread)?
        }
        MailRequest::Thread { id } => MailOutcome::Found(store::thread(ledger, caller, &id)?),
        MailRequest::Search { text } => MailOutcome::Found(store::search(ledger, caller, &text)?),
        MailRequest::Check { inject } => check(ledger, inject, who)?,
        MailRequest::Group(request) => {
            // Who gets a group's mail is town-wide routing: the mayor's and the overseer's.
            if !matches!(request, GroupRequest::List { .. })
                && caller
                    .agent()
                    .is_some_and(|me| me.role != crate::identity::Role::Mayor)
            {
                return Err(crate::authz::Forbidden::new(format!(
                    "{caller} may not change mail groups (who receives a group's mail): only the mayor and the overseer may"
                ))
                .into());
            }
            group(ledger, request, who)?
        }
        MailRequest::Queue(request) => queue_command(ledger, request, caller)?,
        MailRequest::Channel(request) => channel_command(ledger, request, caller)?,
        MailRequest::Dnd { on, agent } => {
            MailOutcome::Noted(dnd(ledger, caller, agent.as_deref(), on)?)
        }
    })
}

fn inbox(
    ledger: &mut Ledger,
    address: Option<String>,
    all: bool,
    limit: usize,
    caller: &Caller,
) -> Result<MailOutcome> {
    let address = address.unwrap_or_else(|| caller.name().to_string());
    if !caller.may_act_for(&address) {
        return Err(crate::authz::Forbidden::new(format!(
            "{caller} may not read {address}'s inbox: only {address} itself, and those who may act on it (the mayor; a rig's witness and refinery for its polecats; the overseer) may"
        ))
        .into());
    }
    let mut mail = mail::open_mail(ledger, &address)?;
    if !all {
        mail.retain(mail::is_unread);
    }
    let total = mail.len();
    if limit > 0 {
        mail.truncate(limit);
    }
    Ok(MailOutcome::Inbox {
        address,
        all,
        total,
        mail,
    })
}

fn read(ledger: &mut Ledger, id: &str, caller: &Caller) -> Result<Bead> {
    let bead = store::get_mail(ledger, id)?;
    if !store::can_see(caller, &bead) {
        return Err(crate::authz::Forbidden::new(format!(
            "{caller} may not read mail {id}: it is not its mail (an agent reads mail it sent or received, and mail of agents it may act on)"
        ))
        .into());
    }
    if bead.assignee == caller.name() && mail::is_unread(&bead) {
        return mail::mark_read(ledger, id, caller.name());
    }
    Ok(bead)
}

type Change = fn(&mut Ledger, &str, &str) -> Result<Bead>;

fn change(
    ledger: &mut Ledger,
    ids: Vec<String>,
    caller: &Caller,
    state: &str,
    f: Change,
) -> Result<MailOutcome> {
    for id in &ids {
        let bead = store::get_mail(ledger, id)?;
        if !store::can_change(caller, &bead) {
            return Err(crate::authz::Forbidden::new(format!(
                "{caller} may not mark mail {id}: it is {}'s; only its recipient, those who may act on it and the overseer may",
                bead.assignee
            ))
            .into());
        }
        f(ledger, id, caller.name())?;
    }
    Ok(MailOutcome::Marked {
        ids,
        state: state.to_string(),
    })
}

fn check(ledger: &mut Ledger, inject: bool, who: &str) -> Result<MailOutcome> {
    let mail = if inject {
        let fresh = store::undelivered_for(ledger, who)?;
        for b in &fresh {
            store::mark_delivered(ledger, &b.id, who)?;
        }
        fresh
    } else {
        mail::unread_for(ledger, who)?
    };
    Ok(MailOutcome::Unread {
        address: who.to_string(),
        inject,
        mail,
    })
}

/// `gastown dnd on|off` for `agent` (default: the caller); only the overseer acts for someone
/// else, and the overseer has no session to hold mail for.
pub fn dnd(ledger: &mut Ledger, caller: &Caller, agent: Option<&str>, on: bool) -> Result<String> {
    let identity = match (agent, caller) {
        (Some(target), _) if !caller.may_act_for(target) => {
            return Err(crate::authz::Forbidden::new(format!(
                "{caller} may not set do-not-disturb for {target}: only {target} itself, the mayor and the overseer may"
            ))
            .into())
        }
        (Some(target), _) => AgentIdentity::parse(target)?,
        (None, Caller::Agent(identity)) => identity.clone(),
        (None, Caller::Overseer) => bail!(
            "do-not-disturb is for agent sessions: run `gastown dnd` from inside one (GASTOWN_AGENT), or name one with --agent"
        ),
    };
    mail::dnd(ledger, &identity, on)
}
