//! Message beads on the ledger: send, inbox, state changes, threads, search, protocol wisps.
//!
//! State: a mail is *unread* while open without the `read` label; reading or acking adds
//! `read`; `mark-unread` removes it (and reopens archived mail); archiving closes the bead (reason
//! `archived`). Delivery bookkeeping for the router: `delivered` is added once a session was told
//! of the mail (typed into its PTY or shown by `mail check --inject`).

use super::address::{Resolved, resolve};
use super::record::Mail;
pub use super::record::{is_mail, is_unread, protocol_kind, replies_to, sender_of};
use super::{MAX_BODY, MAX_SUBJECT, READ, URGENT};
use crate::caller::Caller;
use anyhow::{Result, bail};
use gastown_beads::{Bead, DepKind, IssueType, Ledger, ListFilter, NewBead, Status};
use std::collections::{HashMap, HashSet};

/// Label of mail a session has been told about.
pub const DELIVERED: &str = "delivered";

/// Label prefix of protocol messages (`protocol:POLECAT_DONE`).
pub const PROTOCOL: &str = "protocol:";

/// Close reason of archived mail.
pub const ARCHIVED: &str = "archived";

/// A mail to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outgoing {
    /// The address as typed: an identity, `@group`, `queue:<name>` or `channel:<name>`.
    pub to: String,
    pub subject: String,
    pub body: String,
    pub urgent: bool,
    /// The id of the mail this one answers (a `replies-to` dependency).
    pub reply_to: Option<String>,
}

/// Protocol messages between roles: typed, recorded as wisps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolKind {
    PolecatDone,
    MergeReady,
    Merged,
    MergeFailed,
    Rework,
    Help,
    Handoff,
}

impl ProtocolKind {
    pub const ALL: [ProtocolKind; 7] = [
        ProtocolKind::PolecatDone,
        ProtocolKind::MergeReady,
        ProtocolKind::Merged,
        ProtocolKind::MergeFailed,
        ProtocolKind::Rework,
        ProtocolKind::Help,
        ProtocolKind::Handoff,
    ];

    /// `POLECAT_DONE`, …
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolKind::PolecatDone => "POLECAT_DONE",
            ProtocolKind::MergeReady => "MERGE_READY",
            ProtocolKind::Merged => "MERGED",
            ProtocolKind::MergeFailed => "MERGE_FAILED",
            ProtocolKind::Rework => "REWORK",
            ProtocolKind::Help => "HELP",
            ProtocolKind::Handoff => "HANDOFF",
        }
    }

    /// Parse `POLECAT_DONE`, ….
    pub fn parse(text: &str) -> Option<ProtocolKind> {
        ProtocolKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

fn check_content(subject: &str, body: &str) -> Result<()> {
    if subject.trim().is_empty() {
        bail!("the subject is empty: give one with -s \"…\"");
    }
    if subject.len() > MAX_SUBJECT {
        bail!(
            "the subject is {} bytes, over the limit of {MAX_SUBJECT} bytes: put the detail in the body",
            subject.len()
        );
    }
    if body.len() > MAX_BODY {
        bail!(
            "the body is {} bytes, over the limit of {} KiB ({MAX_BODY} bytes): attach a file path or a bead id instead",
            body.len(),
            MAX_BODY / 1024
        );
    }
    Ok(())
}

/// Send mail from `who` (the authenticated caller); one bead per recipient inbox, returned in
/// recipient order.
pub fn send(ledger: &mut Ledger, who: &str, out: &Outgoing) -> Result<Vec<Bead>> {
    check_content(&out.subject, &out.body)?;
    if let Some(parent) = &out.reply_to {
        match ledger.get(parent)? {
            Some(b) if is_mail(&b) => {}
            _ => bail!("cannot reply to {parent:?}: it is not a mail in this town"),
        }
    }
    let resolved = resolve(ledger, &out.to, who)?;
    let mut labels = Vec::new();
    if out.urgent {
        labels.push(URGENT.to_string());
    }
    match &resolved {
        Resolved::Group { group, .. } => labels.push(format!("via:{group}")),
        Resolved::Channel { channel, .. } => labels.push(channel.clone()),
        _ => {}
    }
    let mut sent = Vec::new();
    for to in resolved.recipients() {
        let new = new_message(
            who,
            &to,
            &out.subject,
            &out.body,
            labels.clone(),
            out.reply_to.as_deref(),
            out.urgent,
        );
        sent.push(ledger.create(new, who)?);
    }
    Ok(sent)
}

fn new_message(
    from: &str,
    to: &str,
    subject: &str,
    body: &str,
    labels: Vec<String>,
    reply_to: Option<&str>,
    urgent: bool,
) -> NewBead {
    NewBead {
        title: subject.trim().to_string(),
        description: body.to_string(),
        issue_type: IssueType::Message,
        priority: if urgent { 0 } else { 2 },
        assignee: to.to_string(),
        labels,
        deps: reply_to
            .map(|r| (DepKind::RepliesTo, r.to_string()))
            .into_iter()
            .collect(),
        extra: Mail::sender_field(from).into_extra(),
        ..NewBead::default()
    }
}

/// Record a protocol message as a wisp from `from` to `to` (an identity address, not checked
/// against the town: protocol traffic is between live actors).
pub fn send_protocol(
    ledger: &mut Ledger,
    kind: ProtocolKind,
    to: &str,
    from: &str,
    body: &str,
) -> Result<Bead> {
    check_content(kind.as_str(), body)?;
    let labels = vec![format!("{PROTOCOL}{}", kind.as_str())];
    let mut new = new_message(from, to, kind.as_str(), body, labels, None, false);
    new.ephemeral = true;
    Ok(ledger.create(new, from)?)
}

/// Close the open protocol wisps of `kind` sent to `to` about `about` (a bead id their body starts
/// with): whoever consumes that kind handled them. Returns how many were closed.
pub fn close_handled(
    ledger: &mut Ledger,
    kind: ProtocolKind,
    to: &str,
    about: &str,
    who: &str,
) -> Result<usize> {
    let prefix = format!("{about} ");
    let handled: Vec<String> = open_mail(ledger, to)?
        .into_iter()
        .filter(|b| protocol_kind(b) == Some(kind) && b.description.starts_with(&prefix))
        .map(|b| b.id)
        .collect();
    for id in &handled {
        ledger.close(id, &format!("{} handled", kind.as_str()), who)?;
    }
    Ok(handled.len())
}

/// The open mail (read and unread) of `address`, oldest first: from the ledger's index of beads
/// by assignee, so it costs the inbox, not the town.
pub fn open_mail(ledger: &Ledger, address: &str) -> Result<Vec<Bead>> {
    let mut mail: Vec<Bead> = ledger
        .list(&ListFilter {
            issue_type: Some(IssueType::Message),
            assignee: Some(address.to_string()),
            ..ListFilter::default()
        })?
        .into_iter()
        .filter(is_mail)
        .collect();
    sort_by_time(&mut mail);
    Ok(mail)
}

/// Mail of `address`, oldest first: unread only, or (with `all`) read too. Archived mail is
/// left out.
pub fn inbox(ledger: &Ledger, address: &str, all: bool) -> Result<Vec<Bead>> {
    let mut mail = open_mail(ledger, address)?;
    if !all {
        mail.retain(is_unread);
    }
    Ok(mail)
}

/// The unread mail of `address`, oldest first: what its role actor's mailbox mirrors.
pub fn unread_for(ledger: &Ledger, address: &str) -> Result<Vec<Bead>> {
    inbox(ledger, address, false)
}

/// Unread mail of `address` its session has not been told about yet, oldest first.
pub fn undelivered_for(ledger: &Ledger, address: &str) -> Result<Vec<Bead>> {
    Ok(unread_for(ledger, address)?
        .into_iter()
        .filter(|b| !super::record::is_delivered(b))
        .collect())
}

fn sort_by_time(mail: &mut [Bead]) {
    mail.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
}

/// Note that the recipient's session was told of this mail.
pub fn mark_delivered(ledger: &mut Ledger, id: &str, who: &str) -> Result<Bead> {
    Ok(ledger.add_label(id, DELIVERED, who)?)
}

/// Mark read (acknowledge).
pub fn mark_read(ledger: &mut Ledger, id: &str, who: &str) -> Result<Bead> {
    Ok(ledger.add_label(id, READ, who)?)
}

/// Mark unread again; reopens archived mail.
pub fn mark_unread(ledger: &mut Ledger, id: &str, who: &str) -> Result<Bead> {
    let bead = get_mail(ledger, id)?;
    if bead.status == Status::Closed {
        ledger.reopen(id, who)?;
    }
    Ok(ledger.remove_label(id, READ, who)?)
}

/// Archive: mark read and close.
pub fn archive(ledger: &mut Ledger, id: &str, who: &str) -> Result<Bead> {
    let bead = get_mail(ledger, id)?;
    if bead.status == Status::Closed {
        return Ok(bead);
    }
    ledger.add_label(id, READ, who)?;
    Ok(ledger.close(id, ARCHIVED, who)?)
}

/// A mail by id, or an error that says so.
pub fn get_mail(ledger: &Ledger, id: &str) -> Result<Bead> {
    gastown_beads::id::validate_id(id)?;
    match ledger.get(id)? {
        Some(b) if is_mail(&b) => Ok(b),
        Some(b) => bail!("{id} is a {} bead, not a mail", b.issue_type),
        None => bail!("no mail {id:?} in this town: `gastown mail inbox --all` shows the ids"),
    }
}

/// May `caller` see this mail? See [`crate::authz::may_see_mail`]: its sender, whoever may act
/// on its recipient, anyone for queue items.
pub fn can_see(caller: &Caller, bead: &Bead) -> bool {
    crate::authz::may_see_mail(caller, bead, &sender_of(bead))
}

/// May `caller` change this mail's state (read, ack, archive)? See
/// [`crate::authz::may_change_mail`]: whoever may act on its recipient, a queue item's claimant.
pub fn can_change(caller: &Caller, bead: &Bead) -> bool {
    crate::authz::may_change_mail(caller, bead, super::queue::claimant(bead))
}

/// Every mail (not group/queue/channel records), archived ones too.
fn all_mail(ledger: &Ledger) -> Result<Vec<Bead>> {
    Ok(ledger
        .list(&ListFilter {
            issue_type: Some(IssueType::Message),
            all: true,
            ..ListFilter::default()
        })?
        .into_iter()
        .filter(is_mail)
        .collect())
}

/// The whole thread `id` belongs to (root first, by time), as `who` may see it.
pub fn thread(ledger: &Ledger, caller: &Caller, id: &str) -> Result<Vec<Bead>> {
    let start = get_mail(ledger, id)?;
    if !can_see(caller, &start) {
        return Err(crate::authz::Forbidden::new(format!(
            "{caller} may not read mail {id}: it is not its mail (an agent sees mail it sent or received)"
        ))
        .into());
    }
    let mail = all_mail(ledger)?;
    let by_id: HashMap<&str, &Bead> = mail.iter().map(|b| (b.id.as_str(), b)).collect();
    let mut root = start.id.clone();
    let mut seen = HashSet::new();
    while let Some(parent) = by_id.get(root.as_str()).and_then(|b| replies_to(b)) {
        if !seen.insert(parent.to_string()) || !by_id.contains_key(parent) {
            break;
        }
        root = parent.to_string();
    }
    let mut members: HashSet<String> = HashSet::from([root]);
    loop {
        let before = members.len();
        for b in &mail {
            if replies_to(b).is_some_and(|p| members.contains(p)) {
                members.insert(b.id.clone());
            }
        }
        if members.len() == before {
            break;
        }
    }
    let mut out: Vec<Bead> = mail
        .into_iter()
        .filter(|b| members.contains(&b.id) && can_see(caller, b))
        .collect();
    sort_by_time(&mut out);
    Ok(out)
}

/// Mail `who` may see whose subject or body contains `text` (case-insensitive), oldest first.
pub fn search(ledger: &Ledger, caller: &Caller, text: &str) -> Result<Vec<Bead>> {
    if text.trim().is_empty() {
        bail!("nothing to search for: give some text");
    }
    let needle = text.to_lowercase();
    let mut out: Vec<Bead> = all_mail(ledger)?
        .into_iter()
        .filter(|b| can_see(caller, b))
        .filter(|b| {
            b.title.to_lowercase().contains(&needle)
                || b.description.to_lowercase().contains(&needle)
        })
        .collect();
    sort_by_time(&mut out);
    Ok(out)
}

/// Reply to `id` from `caller`: to the original sender, subject `Re: …`, a `replies-to` edge.
pub fn reply(
    ledger: &mut Ledger,
    caller: &Caller,
    id: &str,
    body: &str,
    urgent: bool,
) -> Result<Bead> {
    let original = get_mail(ledger, id)?;
    if !can_see(caller, &original) {
        return Err(crate::authz::Forbidden::new(format!(
            "{caller} may not reply to mail {id}: an agent replies only to mail it sent or received"
        ))
        .into());
    }
    let subject = if original.title.starts_with("Re: ") {
        original.title.clone()
    } else {
        format!("Re: {}", original.title)
    };
    let out = Outgoing {
        to: sender_of(&original),
        subject,
        body: body.to_string(),
        urgent,
        reply_to: Some(original.id.clone()),
    };
    let mut sent = send(ledger, caller.name(), &out)?;
    sent.pop()
        .ok_or_else(|| anyhow::anyhow!("the reply reached no inbox"))
}
