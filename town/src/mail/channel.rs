//! Channels: `channel:<name>` broadcasts to its subscribers.
//!
//! A channel is a definition bead (see [`super::groups::Def`]) labelled `mail:channel` whose
//! description lists the subscribers, one address per line. A mail to the channel becomes one
//! bead per subscriber (the sender excepted), labelled `channel:<name>`.

use super::groups::{Def, lines};
use super::{Resolved, resolve};
use crate::caller::Caller;
use anyhow::{Result, bail};
use gastown_beads::Ledger;

pub const CHANNEL: Def = Def {
    label: "mail:channel",
    prefix: "channel:",
    noun: "channel",
};

/// Every channel name.
pub fn names(ledger: &Ledger) -> Result<Vec<String>> {
    CHANNEL.names(ledger)
}

/// Subscribers of channel `name`, or `None` when there is no such channel.
pub fn subscribers(ledger: &Ledger, name: &str) -> Result<Option<Vec<String>>> {
    Ok(CHANNEL.find(ledger, name)?.map(|d| lines(&d)))
}

/// `mail channel create <name>`.
pub fn create(ledger: &mut Ledger, who: &str, name: &str) -> Result<String> {
    let name = name.strip_prefix("channel:").unwrap_or(name);
    let bead = CHANNEL.create(ledger, name, &[], who)?;
    Ok(format!("created channel:{name} ({})\n", bead.id))
}

/// `mail channel subscribe|unsubscribe <name> [address]`: an agent (un)subscribes itself; the
/// overseer may name anyone.
pub fn change(
    ledger: &mut Ledger,
    caller: &Caller,
    name: &str,
    address: Option<&str>,
    subscribe: bool,
) -> Result<String> {
    let name = name.strip_prefix("channel:").unwrap_or(name);
    let who = caller.name();
    let address = address.unwrap_or(who).to_string();
    if !caller.may_act_for(&address) {
        bail!("{who} may only (un)subscribe itself; the overseer may (un)subscribe anyone");
    }
    let def = CHANNEL.get(ledger, name)?;
    let mut subs = lines(&def);
    let present = subs.contains(&address);
    match (subscribe, present) {
        (true, true) => {
            return Ok(format!(
                "{address} is subscribed to channel:{name} already\n"
            ));
        }
        (false, false) => bail!("{address} is not subscribed to channel:{name}"),
        (true, false) => {
            if !matches!(resolve(ledger, &address, who)?, Resolved::One(_)) {
                bail!("{address} cannot subscribe: use an agent address or overseer");
            }
            subs.push(address.clone());
        }
        (false, true) => subs.retain(|s| *s != address),
    }
    CHANNEL.set_lines(ledger, &def, &subs, who)?;
    let verb = if subscribe {
        "subscribed"
    } else {
        "unsubscribed"
    };
    Ok(format!(
        "{verb} {address} {} channel:{name}\n",
        if subscribe { "to" } else { "from" }
    ))
}

/// `mail channel list`: channels with their subscribers.
pub fn list(ledger: &Ledger) -> Result<String> {
    let mut out = String::new();
    for def in CHANNEL.all(ledger)? {
        out.push_str(&format!("{}: {}\n", def.title, lines(&def).join(", ")));
    }
    Ok(out)
}
