//! Text and JSON renderings of `mail` outcomes: inbox lines and whole messages as
//! `gastown_town::mail::format` writes them, JSON arrays of mail beads or of groups, queues
//! and channels.

use anyhow::Result;
use gastown_beads::Bead;
use gastown_town::command::mail::MailOutcome;
use gastown_town::mail::format;
use gastown_town::text::one_line;

/// What a mail command prints on stdout.
pub(super) fn render(outcome: &MailOutcome, json: bool) -> Result<String> {
    Ok(match outcome {
        MailOutcome::Sent { to, mail } => match mail.as_slice() {
            [one] => format!("sent {} to {}\n", one.id, one.assignee),
            many => {
                let ids: Vec<&str> = many.iter().map(|b| b.id.as_str()).collect();
                format!("sent to {to} ({} inboxes): {}\n", many.len(), ids.join(" "))
            }
        },
        MailOutcome::Replied(bead) => {
            let title = one_line(&bead.title);
            format!("sent {} to {}: {title}\n", bead.id, bead.assignee)
        }
        MailOutcome::Inbox { mail, .. } if json => pretty(mail)?,
        MailOutcome::Inbox {
            address,
            all,
            total,
            mail,
        } => {
            let shown: Vec<&Bead> = mail.iter().collect();
            let mut text = format::inbox(address, &shown, *all);
            if *total > mail.len() {
                text.push_str(&format!(
                    "… and {} more: archive some, or see them with --limit {total}\n",
                    total - mail.len(),
                ));
            }
            text
        }
        MailOutcome::Message(bead) if json => format!("{}\n", bead.to_json_line()),
        MailOutcome::Message(bead) => format::message(bead),
        MailOutcome::Marked { ids, state } => {
            ids.iter().map(|id| format!("{id}: {state}\n")).collect()
        }
        MailOutcome::Found(mail) if json => pretty(mail)?,
        MailOutcome::Found(mail) if mail.is_empty() => "no mail\n".to_string(),
        MailOutcome::Found(mail) => format::messages(mail),
        MailOutcome::Unread { mail, .. } if json => pretty(mail)?,
        MailOutcome::Unread {
            address,
            inject: true,
            mail,
        } => format::inject(address, mail),
        MailOutcome::Unread { address, mail, .. } => format::check(address, mail),
        MailOutcome::Noted(text) => text.clone(),
        MailOutcome::Groups(groups) if json => pretty(groups)?,
        MailOutcome::Groups(groups) => groups
            .iter()
            .map(|g| format!("@{}: {}\n", g.name, g.members.join(", ")))
            .collect(),
        MailOutcome::Queues(queues) if json => pretty(queues)?,
        MailOutcome::Queues(queues) => queues
            .iter()
            .map(|q| format!("queue:{} ({} open)\n", q.name, q.open))
            .collect(),
        MailOutcome::QueueItems(items) if json => pretty(items)?,
        MailOutcome::QueueItems(items) => items
            .iter()
            .map(|i| {
                let who = i.claimant.as_deref().unwrap_or("unclaimed");
                format!("{}  {:<24} {}\n", i.id, who, one_line(&i.title))
            })
            .collect(),
        MailOutcome::Channels(channels) if json => pretty(channels)?,
        MailOutcome::Channels(channels) => channels
            .iter()
            .map(|c| format!("{}: {}\n", c.address, c.subscribers.join(", ")))
            .collect(),
    })
}

/// Pretty JSON and a newline.
fn pretty<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(value)?))
}
