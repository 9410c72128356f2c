//! `gastown mail …` (and `gastown dnd`): mail between agents and the overseer.
//!
//! Every command runs as `who`: the connection's authenticated identity when the supervisor runs
//! the command, else `GASTOWN_AGENT` or the overseer. A body not given with `-m` is read from
//! stdin (when stdin is not a terminal) by the CLI process, before the command leaves it.
//! The ledger side lives in `gastown_town::mail`; `docs/mail.md` describes the model.

use anyhow::{Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use gastown_beads::{Bead, Ledger};
use gastown_town::mail::{self, OVERSEER, Outgoing, channel, format, groups, queue, store};
use serde::{Deserialize, Serialize};
use std::io::{IsTerminal, Read};

#[derive(Debug, Clone, PartialEq, Subcommand, Serialize, Deserialize)]
pub enum MailCommand {
    /// Send mail to an address (agent, overseer, @group, queue:<name>, channel:<name>).
    Send(SendArgs),
    /// An inbox: unread mail (--all adds read mail). The overseer may read any inbox.
    Inbox(InboxArgs),
    /// Print one mail and mark it read (when you are its recipient).
    Read {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge mail: mark it read.
    Ack {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Archive mail: mark it read and close it (it leaves the inbox, stays searchable).
    Archive {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Mark mail unread again (reopens archived mail).
    MarkUnread {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Reply to the sender of a mail ("Re: …", linked by replies-to).
    Reply(ReplyArgs),
    /// The whole thread a mail belongs to.
    Thread {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Mail you may see whose subject or body contains TEXT.
    Search {
        text: String,
        #[arg(long)]
        json: bool,
    },
    /// For runtime hooks: your unread mail in a short block, or nothing at all.
    Check {
        /// Format as a system-reminder block for a UserPromptSubmit hook (each mail once).
        #[arg(long)]
        inject: bool,
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
    Dnd { state: DndState },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum DndState {
    On,
    Off,
}

#[derive(Debug, Clone, PartialEq, Args, Serialize, Deserialize)]
pub struct SendArgs {
    /// Recipient: mayor, deacon, <rig>/witness, <rig>/polecats/<name>, overseer, @group, …
    pub address: String,
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

#[derive(Debug, Clone, PartialEq, Args, Serialize, Deserialize)]
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
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Args, Serialize, Deserialize)]
pub struct ReplyArgs {
    pub id: String,
    /// The body (default: read from stdin when it is not a terminal).
    #[arg(long = "message", short = 'm')]
    pub message: Option<String>,
    #[arg(long)]
    pub urgent: bool,
}

#[derive(Debug, Clone, PartialEq, Subcommand, Serialize, Deserialize)]
pub enum GroupCommand {
    /// Create a group with these members (addresses or @groups).
    Create { name: String, members: Vec<String> },
    /// Add members.
    Add {
        name: String,
        #[arg(required = true)]
        members: Vec<String>,
    },
    /// Remove members.
    Remove {
        name: String,
        #[arg(required = true)]
        members: Vec<String>,
    },
    /// Groups and their members (built-in ones included).
    List { name: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Subcommand, Serialize, Deserialize)]
pub enum QueueCommand {
    /// Create queue:<name>.
    Create { name: String },
    /// Claim the oldest unclaimed item of a queue, or one item by id.
    Claim { target: String },
    /// Give a claimed item back to its queue.
    Release { id: String },
    /// The queues, or one queue's open items and their claimants.
    List { name: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Subcommand, Serialize, Deserialize)]
pub enum ChannelCommand {
    /// Create channel:<name>.
    Create { name: String },
    /// Subscribe yourself (or, as the overseer, ADDRESS).
    Subscribe {
        name: String,
        address: Option<String>,
    },
    /// Unsubscribe yourself (or, as the overseer, ADDRESS).
    Unsubscribe {
        name: String,
        address: Option<String>,
    },
    /// Channels and their subscribers.
    List,
}

/// Run one mail command against the ledger as `who` (an agent address or `overseer`).
pub fn apply(ledger: &mut Ledger, cmd: MailCommand, who: &str) -> Result<String> {
    apply_with_sent(ledger, cmd, who).map(|(text, _)| text)
}

/// [`apply`], also returning the mail beads the command created (`send`, `reply`: one per
/// inbox), for the router to cast to the recipients' actors.
pub fn apply_with_sent(
    ledger: &mut Ledger,
    cmd: MailCommand,
    who: &str,
) -> Result<(String, Vec<Bead>)> {
    let started = std::time::Instant::now();
    let command = cmd.name();
    let result = apply_inner(ledger, cmd, who);
    // The ledger-side cost of each command (`GASTOWN_LOG=gastown::cli::mail=debug`); the mail
    // benchmark reads it.
    tracing::debug!(
        command,
        micros = started.elapsed().as_micros() as u64,
        "mail command applied"
    );
    result
}

impl MailCommand {
    /// The subcommand's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            MailCommand::Send(_) => "send",
            MailCommand::Inbox(_) => "inbox",
            MailCommand::Read { .. } => "read",
            MailCommand::Ack { .. } => "ack",
            MailCommand::Archive { .. } => "archive",
            MailCommand::MarkUnread { .. } => "mark-unread",
            MailCommand::Reply(_) => "reply",
            MailCommand::Thread { .. } => "thread",
            MailCommand::Search { .. } => "search",
            MailCommand::Check { .. } => "check",
            MailCommand::Group(_) => "group",
            MailCommand::Queue(_) => "queue",
            MailCommand::Channel(_) => "channel",
            MailCommand::Dnd { .. } => "dnd",
        }
    }
}

fn apply_inner(ledger: &mut Ledger, cmd: MailCommand, who: &str) -> Result<(String, Vec<Bead>)> {
    match cmd {
        MailCommand::Send(args) => send(ledger, args, who),
        MailCommand::Reply(args) => {
            let body = args.message.unwrap_or_default();
            let bead = store::reply(ledger, who, &args.id, &body, args.urgent)?;
            let text = format!("sent {} to {}: {}\n", bead.id, bead.assignee, bead.title);
            Ok((text, vec![bead]))
        }
        other => Ok((apply_other(ledger, other, who)?, Vec::new())),
    }
}

fn apply_other(ledger: &mut Ledger, cmd: MailCommand, who: &str) -> Result<String> {
    match cmd {
        MailCommand::Send(_) | MailCommand::Reply(_) => {
            bail!("send and reply go through apply_with_sent")
        }
        MailCommand::Inbox(args) => inbox(ledger, args, who),
        MailCommand::Read { id, json } => read(ledger, &id, json, who),
        MailCommand::Ack { ids } => change(ledger, &ids, who, "read", store::mark_read),
        MailCommand::Archive { ids } => change(ledger, &ids, who, "archived", store::archive),
        MailCommand::MarkUnread { ids } => change(ledger, &ids, who, "unread", store::mark_unread),
        MailCommand::Thread { id, json } => listing(&store::thread(ledger, who, &id)?, json),
        MailCommand::Search { text, json } => listing(&store::search(ledger, who, &text)?, json),
        MailCommand::Check { inject } => check(ledger, inject, who),
        MailCommand::Group(cmd) => group(ledger, cmd, who),
        MailCommand::Queue(cmd) => match cmd {
            QueueCommand::Create { name } => queue::create(ledger, who, &name),
            QueueCommand::Claim { target } => queue::claim(ledger, who, &target),
            QueueCommand::Release { id } => queue::release(ledger, who, &id),
            QueueCommand::List { name } => queue::list(ledger, name.as_deref()),
        },
        MailCommand::Channel(cmd) => match cmd {
            ChannelCommand::Create { name } => channel::create(ledger, who, &name),
            ChannelCommand::Subscribe { name, address } => {
                channel::change(ledger, who, &name, address.as_deref(), true)
            }
            ChannelCommand::Unsubscribe { name, address } => {
                channel::change(ledger, who, &name, address.as_deref(), false)
            }
            ChannelCommand::List => channel::list(ledger),
        },
        MailCommand::Dnd { state } => dnd(ledger, who, state == DndState::On),
    }
}

/// `gastown dnd on|off` as `who`.
pub fn dnd(ledger: &mut Ledger, who: &str, on: bool) -> Result<String> {
    mail::dnd(ledger, who, on)
}

fn send(ledger: &mut Ledger, args: SendArgs, who: &str) -> Result<(String, Vec<Bead>)> {
    let out = Outgoing {
        to: args.address,
        subject: args.subject,
        body: args.message.unwrap_or_default(),
        urgent: args.urgent,
        reply_to: args.reply_to,
    };
    let sent = mail::send(ledger, who, &out)?;
    let text = match sent.as_slice() {
        [one] => format!("sent {} to {}\n", one.id, one.assignee),
        many => {
            let ids: Vec<&str> = many.iter().map(|b| b.id.as_str()).collect();
            format!(
                "sent to {} ({} inboxes): {}\n",
                out.to,
                many.len(),
                ids.join(" ")
            )
        }
    };
    Ok((text, sent))
}

fn inbox(ledger: &mut Ledger, args: InboxArgs, who: &str) -> Result<String> {
    let address = args.address.unwrap_or_else(|| who.to_string());
    if address != who && who != OVERSEER {
        bail!(
            "{who} may read only its own inbox, not {address}'s: the overseer may read any inbox"
        );
    }
    let mut mail = mail::open_mail(ledger, &address)?;
    if !args.all {
        mail.retain(mail::is_unread);
    }
    let total = mail.len();
    if args.limit > 0 {
        mail.truncate(args.limit);
    }
    if args.json {
        return json(&mail);
    }
    let shown: Vec<&gastown_beads::Bead> = mail.iter().collect();
    let mut text = format::inbox(&address, &shown, args.all);
    if total > mail.len() {
        text.push_str(&format!(
            "… and {} more: archive some, or see them with --limit {}\n",
            total - mail.len(),
            total
        ));
    }
    Ok(text)
}

fn read(ledger: &mut Ledger, id: &str, json_out: bool, who: &str) -> Result<String> {
    let mut bead = store::get_mail(ledger, id)?;
    if !store::can_see(who, &bead) {
        bail!("{id} is not your mail: an agent reads only mail it sent or received");
    }
    if bead.assignee == who && mail::is_unread(&bead) {
        bead = mail::mark_read(ledger, id, who)?;
    }
    if json_out {
        return Ok(format!("{}\n", bead.to_json_line()));
    }
    Ok(format::message(&bead))
}

type Change = fn(&mut Ledger, &str, &str) -> Result<Bead>;

fn change(ledger: &mut Ledger, ids: &[String], who: &str, what: &str, f: Change) -> Result<String> {
    let mut out = String::new();
    for id in ids {
        let bead = store::get_mail(ledger, id)?;
        if !store::can_change(who, &bead) {
            bail!(
                "{id} is {}'s mail: only its recipient or the overseer can mark it",
                bead.assignee
            );
        }
        f(ledger, id, who)?;
        out.push_str(&format!("{id}: {what}\n"));
    }
    Ok(out)
}

fn check(ledger: &mut Ledger, inject: bool, who: &str) -> Result<String> {
    if !inject {
        return Ok(format::check(who, &mail::unread_for(ledger, who)?));
    }
    let fresh = store::undelivered_for(ledger, who)?;
    let text = format::inject(who, &fresh);
    for b in &fresh {
        store::mark_delivered(ledger, &b.id, who)?;
    }
    Ok(text)
}

fn group(ledger: &mut Ledger, cmd: GroupCommand, who: &str) -> Result<String> {
    match cmd {
        GroupCommand::Create { name, members } => groups::create(ledger, who, &name, &members),
        GroupCommand::Add { name, members } => groups::change(ledger, who, &name, &members, true),
        GroupCommand::Remove { name, members } => {
            groups::change(ledger, who, &name, &members, false)
        }
        GroupCommand::List { name } => groups::list(ledger, name.as_deref()),
    }
}

fn listing(mail: &[Bead], json_out: bool) -> Result<String> {
    if json_out {
        return json(mail);
    }
    if mail.is_empty() {
        return Ok("no mail\n".to_string());
    }
    Ok(format::messages(mail))
}

fn json<B: Serialize>(mail: &[B]) -> Result<String> {
    let mut text = serde_json::to_string_pretty(mail)?;
    text.push('\n');
    Ok(text)
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

/// Put a stdin body into the command, so it travels with it.
fn with_body(cmd: MailCommand) -> Result<MailCommand> {
    Ok(match cmd {
        MailCommand::Send(mut args) => {
            args.message = body_from_stdin(args.message)?;
            MailCommand::Send(args)
        }
        MailCommand::Reply(mut args) => {
            args.message = body_from_stdin(args.message)?;
            MailCommand::Reply(args)
        }
        other => other,
    })
}

/// `gastown mail …` from the CLI: through the supervisor when it runs, else on the ledger.
pub fn run(town: &gastown_town::town::Town, cmd: MailCommand) -> Result<()> {
    let cmd = with_body(cmd)?;
    let request = crate::run::protocol::TownRequest::Mail(cmd.clone());
    crate::cli::routed::run(town, request, |ledger, who| apply(ledger, cmd, who))
}
