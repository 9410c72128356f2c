//! `gastown mail …` (and `gastown dnd`): mail between agents and the overseer.
//!
//! Every command runs as the caller: the connection's authenticated identity when the supervisor
//! runs the command, else `GASTOWN_AGENT` or the overseer. A body not given with `-m` is read from
//! stdin (when stdin is not a terminal) by the CLI process, before the command leaves it. The
//! command runs in the domain (`gastown_town::command::mail`); this file turns the arguments
//! into its request and renders its outcome. `docs/mail.md` describes the model.

mod render;

use super::routed::{self, unexpected};
use crate::output;
use crate::protocol::{TownReply, TownRequest};
use anyhow::{Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use gastown_town::command::mail::{
    self as domain, ChannelRequest, GroupRequest, MailRequest, QueueRequest, SendRequest,
};
use gastown_town::mail;
use gastown_town::town::Town;
use std::io::{IsTerminal, Read};

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum MailCommand {
    /// Send mail to an address (agent, overseer, @group, queue:<name>, channel:<name>).
    Send(SendArgs),
    /// An inbox: unread mail (--all adds read mail). The overseer may read any inbox.
    Inbox(InboxArgs),
    /// Print one mail and mark it read (when you are its recipient).
    Read {
        /// The mail's id.
        id: String,
        /// Print the mail as its JSONL object.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge mail: mark it read.
    Ack {
        /// The mails.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Archive mail: mark it read and close it (it leaves the inbox, stays searchable).
    Archive {
        /// The mails.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Mark mail unread again (reopens archived mail).
    MarkUnread {
        /// The mails.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Reply to the sender of a mail ("Re: …", linked by replies-to).
    Reply(ReplyArgs),
    /// The whole thread a mail belongs to.
    Thread {
        /// Any mail of the thread.
        id: String,
        /// Print a JSON array of the mail.
        #[arg(long)]
        json: bool,
    },
    /// Mail you may see whose subject or body contains TEXT.
    Search {
        /// What to look for (case does not matter).
        text: String,
        /// Print a JSON array of the mail.
        #[arg(long)]
        json: bool,
    },
    /// For runtime hooks: your unread mail in a short block, or nothing at all.
    Check {
        /// Format as a system-reminder block for a UserPromptSubmit hook (each mail once).
        #[arg(long)]
        inject: bool,
        /// Print a JSON array of the mail.
        #[arg(long)]
        json: bool,
    },
    /// Mail groups (@name).
    #[command(subcommand)]
    Group(GroupCommand),
    /// Work queues (queue:<name>): each item has exactly one claimant.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Broadcast channels (channel:<name>).
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Do-not-disturb for your session (same as `gastown dnd on|off`).
    Dnd {
        /// on: hold your mail; off: have it typed into your session again.
        state: DndState,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DndState {
    /// Hold mail until `dnd off`.
    On,
    /// Deliver mail into the session again.
    Off,
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct SendArgs {
    /// Recipient: mayor, deacon, <rig>/witness, <rig>/polecats/<name>, overseer, @group, …
    pub address: String,
    /// The subject line.
    #[arg(long, short = 's')]
    pub subject: String,
    /// The body (default: read from stdin when it is not a terminal).
    #[arg(long = "message", short = 'm')]
    pub message: Option<String>,
    /// Interrupt the recipient's session even when it is busy.
    #[arg(long)]
    pub urgent: bool,
    /// The id of the mail this one answers.
    #[arg(long)]
    pub reply_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct InboxArgs {
    /// Whose inbox (default: yours).
    pub address: Option<String>,
    /// Include read mail.
    #[arg(long)]
    pub all: bool,
    /// Show at most N mails, oldest first (0: all of them; a reply over the socket is capped
    /// at 1 MiB, a few thousand mails).
    #[arg(long, default_value = "1000")]
    pub limit: usize,
    /// Print a JSON array of the mail.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct ReplyArgs {
    /// The mail to answer.
    pub id: String,
    /// The body (default: read from stdin when it is not a terminal).
    #[arg(long = "message", short = 'm')]
    pub message: Option<String>,
    /// Interrupt the recipient's session even when it is busy.
    #[arg(long)]
    pub urgent: bool,
}

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum GroupCommand {
    /// Create a group with these members (addresses or @groups).
    Create {
        /// The group's name (with or without `@`).
        name: String,
        /// Its members: addresses, overseer or @groups.
        members: Vec<String>,
    },
    /// Add members.
    Add {
        /// The group's name.
        name: String,
        /// Members to add.
        #[arg(required = true)]
        members: Vec<String>,
    },
    /// Remove members.
    Remove {
        /// The group's name.
        name: String,
        /// Members to remove.
        #[arg(required = true)]
        members: Vec<String>,
    },
    /// Groups and their members (built-in ones included).
    List {
        /// One group only.
        name: Option<String>,
        /// Print a JSON array of the groups.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum QueueCommand {
    /// Create queue:<name>.
    Create {
        /// The queue's name (with or without `queue:`).
        name: String,
    },
    /// Claim the oldest unclaimed item of a queue, or one item by id.
    Claim {
        /// A queue's name, or an item's id.
        target: String,
    },
    /// Give a claimed item back to its queue.
    Release {
        /// The item's id.
        id: String,
    },
    /// The queues, or one queue's open items and their claimants.
    List {
        /// One queue: its open items.
        name: Option<String>,
        /// Print a JSON array of the queues (or items).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum ChannelCommand {
    /// Create channel:<name>.
    Create {
        /// The channel's name (with or without `channel:`).
        name: String,
    },
    /// Subscribe yourself (or, as the overseer, ADDRESS).
    Subscribe {
        /// The channel's name.
        name: String,
        /// Who subscribes (default: you; only the overseer names another).
        address: Option<String>,
    },
    /// Unsubscribe yourself (or, as the overseer, ADDRESS).
    Unsubscribe {
        /// The channel's name.
        name: String,
        /// Who unsubscribes (default: you; only the overseer names another).
        address: Option<String>,
    },
    /// Channels and their subscribers.
    List {
        /// Print a JSON array of the channels.
        #[arg(long)]
        json: bool,
    },
}

impl MailCommand {
    /// The request (a body not given with `-m` read from stdin first, so it travels with it)
    /// and whether to print JSON.
    fn into_request(self) -> Result<(MailRequest, bool)> {
        Ok(match self {
            MailCommand::Send(a) => (
                MailRequest::Send(SendRequest {
                    address: a.address,
                    subject: a.subject,
                    message: body_from_stdin(a.message)?,
                    urgent: a.urgent,
                    reply_to: a.reply_to,
                }),
                false,
            ),
            MailCommand::Inbox(a) => (
                MailRequest::Inbox {
                    address: a.address,
                    all: a.all,
                    limit: a.limit,
                },
                a.json,
            ),
            MailCommand::Read { id, json } => (MailRequest::Read { id }, json),
            MailCommand::Ack { ids } => (MailRequest::Ack { ids }, false),
            MailCommand::Archive { ids } => (MailRequest::Archive { ids }, false),
            MailCommand::MarkUnread { ids } => (MailRequest::MarkUnread { ids }, false),
            MailCommand::Reply(a) => (
                MailRequest::Reply {
                    id: a.id,
                    message: body_from_stdin(a.message)?,
                    urgent: a.urgent,
                },
                false,
            ),
            MailCommand::Thread { id, json } => (MailRequest::Thread { id }, json),
            MailCommand::Search { text, json } => (MailRequest::Search { text }, json),
            MailCommand::Check { inject, json } => (MailRequest::Check { inject }, json),
            MailCommand::Group(cmd) => group_request(cmd),
            MailCommand::Queue(cmd) => queue_request(cmd),
            MailCommand::Channel(cmd) => channel_request(cmd),
            MailCommand::Dnd { state } => (
                MailRequest::Dnd {
                    on: state == DndState::On,
                    agent: None,
                },
                false,
            ),
        })
    }
}

fn group_request(cmd: GroupCommand) -> (MailRequest, bool) {
    let (request, json) = match cmd {
        GroupCommand::Create { name, members } => (GroupRequest::Create { name, members }, false),
        GroupCommand::Add { name, members } => (GroupRequest::Add { name, members }, false),
        GroupCommand::Remove { name, members } => (GroupRequest::Remove { name, members }, false),
        GroupCommand::List { name, json } => (GroupRequest::List { name }, json),
    };
    (MailRequest::Group(request), json)
}

fn queue_request(cmd: QueueCommand) -> (MailRequest, bool) {
    let (request, json) = match cmd {
        QueueCommand::Create { name } => (QueueRequest::Create { name }, false),
        QueueCommand::Claim { target } => (QueueRequest::Claim { target }, false),
        QueueCommand::Release { id } => (QueueRequest::Release { id }, false),
        QueueCommand::List { name, json } => (QueueRequest::List { name }, json),
    };
    (MailRequest::Queue(request), json)
}

fn channel_request(cmd: ChannelCommand) -> (MailRequest, bool) {
    let (request, json) = match cmd {
        ChannelCommand::Create { name } => (ChannelRequest::Create { name }, false),
        ChannelCommand::Subscribe { name, address } => {
            (ChannelRequest::Subscribe { name, address }, false)
        }
        ChannelCommand::Unsubscribe { name, address } => {
            (ChannelRequest::Unsubscribe { name, address }, false)
        }
        ChannelCommand::List { json } => (ChannelRequest::List, json),
    };
    (MailRequest::Channel(request), json)
}

/// `gastown mail …` from the CLI: through the supervisor when it runs, else on the ledger.
pub fn run(town: &Town, cmd: MailCommand) -> Result<()> {
    let (request, json) = cmd.into_request()?;
    run_request(town, request, json)
}

/// Run one mail request (also `gastown dnd`) and print what it did.
pub fn run_request(town: &Town, request: MailRequest, json: bool) -> Result<()> {
    let reply = routed::run(
        town,
        TownRequest::Mail(request.clone()),
        |ledger, caller| domain::apply(ledger, request, caller).map(TownReply::Mail),
    )?;
    let TownReply::Mail(outcome) = reply else {
        return Err(unexpected(&reply));
    };
    output::text(&render::render(&outcome, json)?)?;
    Ok(())
}

/// Read a body from stdin when `-m` was not given and stdin is not a terminal; refuses more than
/// the body limit without reading it all.
fn body_from_stdin(message: Option<String>) -> Result<Option<String>> {
    if message.is_some() || std::io::stdin().is_terminal() {
        return Ok(message);
    }
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .take(mail::MAX_BODY as u64 + 1)
        .read_to_end(&mut buf)?;
    if buf.len() > mail::MAX_BODY {
        bail!(
            "the body on stdin is over the limit of {} KiB ({} bytes): attach a file path or a bead id instead",
            mail::MAX_BODY / 1024,
            mail::MAX_BODY
        );
    }
    Ok(Some(String::from_utf8(buf).map_err(|_| {
        anyhow::anyhow!("the body on stdin is not UTF-8 text")
    })?))
}
