//! Who may do what: the one place with the town's authorization rules.
//!
//! An agent acts on its own session, hook and mail. Acting on another agent (nudging, killing,
//! peeking at, attaching to or restarting its session; putting work on its hook; reading or
//! changing its mail) is for the overseer, the mayor, and the witness and refinery of a rig for
//! that rig's polecats ([`may_act_on`]). Ledger-wide operations (importing or exporting the
//! ledger, editing beads that are not the caller's, making coordination records by hand) are
//! the overseer's. Anyone may raise an escalation; acknowledging and closing one is the mayor's
//! and the overseer's ([`handle_escalation`]). A refusal is a [`Forbidden`] whose reason says who may do it.
//!
//! The request-level rules ([`act_on`], [`overseer_only`]) are applied by the supervisor to every
//! request before it runs; the rules that need ledger data ([`check_bead`], [`may_see_mail`],
//! [`may_change_mail`]) run inside the commands, the same with or without a supervisor.

use crate::caller::Caller;
use crate::identity::{AgentIdentity, Role};
use gastown_beads::{Bead, IssueType};

/// A refusal: the caller may not do this; `reason` says who may.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("forbidden: {reason}")]
pub struct Forbidden {
    /// What was refused and who may do it.
    pub reason: String,
}

impl Forbidden {
    /// A refusal with its reason.
    pub fn new(reason: impl Into<String>) -> Forbidden {
        Forbidden {
            reason: reason.into(),
        }
    }
}

/// May `caller` act on the agent at `address` (its session, hook and mail)? The overseer on
/// anyone; an agent on itself; the mayor on anyone; a rig's witness and refinery on that rig's
/// polecats. An address that is no agent (a queue, a group) is acted on by the overseer only.
pub fn may_act_on(caller: &Caller, address: &str) -> bool {
    let me = match caller {
        Caller::Overseer => return true,
        Caller::Agent(me) => me,
    };
    if me.address == address || me.role == Role::Mayor {
        return true;
    }
    let Ok(target) = AgentIdentity::parse(address) else {
        return false;
    };
    minds_polecats_of(me, target.rig.as_deref()) && target.role == Role::Polecat
}

/// Is `me` a witness or refinery of `rig`?
fn minds_polecats_of(me: &AgentIdentity, rig: Option<&str>) -> bool {
    matches!(me.role, Role::Witness | Role::Refinery) && rig.is_some() && me.rig.as_deref() == rig
}

/// Who may act on `address`, in words, for refusals.
fn who_may_act_on(address: &str) -> String {
    match AgentIdentity::parse(address) {
        Ok(target) if target.role == Role::Polecat => {
            let rig = target.rig.unwrap_or_default();
            format!("{address} itself, the mayor, {rig}'s witness and refinery, and the overseer")
        }
        Ok(_) => format!("{address} itself, the mayor and the overseer"),
        Err(_) => "the overseer".to_string(),
    }
}

/// [`may_act_on`] as a check: `what` is the action, e.g. `nudge` (said as "may nudge X").
pub fn act_on(caller: &Caller, address: &str, what: &str) -> Result<(), Forbidden> {
    if may_act_on(caller, address) {
        return Ok(());
    }
    Err(Forbidden::new(format!(
        "{caller} may not {what} {address}: only {} may",
        who_may_act_on(address)
    )))
}

/// May `caller` act on rig `rig` as a whole (`what`: sling work to a new or idle polecat of it,
/// land its merge queue)? The overseer, the mayor, the deacon (it feeds stranded convoys), and
/// the rig's witness and refinery.
pub fn act_on_rig(caller: &Caller, rig: &str, what: &str) -> Result<(), Forbidden> {
    let allowed = match caller {
        Caller::Overseer => true,
        Caller::Agent(me) => {
            matches!(me.role, Role::Mayor | Role::Deacon) || minds_polecats_of(me, Some(rig))
        }
    };
    if allowed {
        return Ok(());
    }
    Err(Forbidden::new(format!(
        "{caller} may not {what} rig {rig}: only the mayor, the deacon, {rig}'s witness and refinery, and the overseer may"
    )))
}

/// Taking a bead off another agent's hook (`--force`): the overseer and the mayor.
pub fn force_hook(caller: &Caller) -> Result<(), Forbidden> {
    match caller {
        Caller::Overseer => Ok(()),
        Caller::Agent(me) if me.role == Role::Mayor => Ok(()),
        Caller::Agent(_) => Err(Forbidden::new(format!(
            "{caller} may not take beads off other agents' hooks (--force): only the mayor and the overseer may"
        ))),
    }
}

/// A ledger-wide operation (`what`, e.g. `import beads`): the overseer's.
pub fn overseer_only(caller: &Caller, what: &str) -> Result<(), Forbidden> {
    if caller.is_overseer() {
        return Ok(());
    }
    Err(Forbidden::new(format!(
        "{caller} may not {what}: only the overseer may (from a shell outside every agent session)"
    )))
}

/// Acknowledging or closing an escalation (`what`: `ack`, `close`): the mayor and the overseer
/// (anyone may raise one, see `gastown escalate`).
pub fn handle_escalation(caller: &Caller, what: &str) -> Result<(), Forbidden> {
    match caller {
        Caller::Overseer => Ok(()),
        Caller::Agent(me) if me.role == Role::Mayor => Ok(()),
        Caller::Agent(_) => Err(Forbidden::new(format!(
            "{caller} may not {what} an escalation: only the mayor and the overseer may (anyone may raise one)"
        ))),
    }
}

/// Closing or forwarding an escalation a witness agent holds (`judge`: the address holding it,
/// if any): the mayor, the overseer, and that witness agent.
pub fn judge_escalation(caller: &Caller, judge: Option<&str>, what: &str) -> Result<(), Forbidden> {
    match caller {
        Caller::Agent(me) if judge == Some(me.address.as_str()) => Ok(()),
        Caller::Overseer => Ok(()),
        Caller::Agent(me) if me.role == Role::Mayor => Ok(()),
        Caller::Agent(_) => Err(Forbidden::new(format!(
            "{caller} may not {what} this escalation: only the mayor, the overseer and the witness agent judging it may"
        ))),
    }
}

/// Saving or restoring a polecat's checkpoint (`what`): the overseer, the mayor, the polecat
/// itself and its rig's witness. Restoring writes into the worktree: nobody else's business.
pub fn checkpoint(caller: &Caller, polecat: &AgentIdentity, what: &str) -> Result<(), Forbidden> {
    match caller {
        Caller::Overseer => Ok(()),
        Caller::Agent(me)
            if me.role == Role::Mayor
                || me == polecat
                || (me.role == Role::Witness && me.rig == polecat.rig) =>
        {
            Ok(())
        }
        Caller::Agent(_) => Err(Forbidden::new(format!(
            "{caller} may not {what} {polecat}'s checkpoint: only {polecat} itself, its rig's witness, the mayor and the overseer may"
        ))),
    }
}

/// Running a dog's chore by hand: the overseer, the mayor and the deacon.
pub fn run_dog(caller: &Caller) -> Result<(), Forbidden> {
    match caller {
        Caller::Overseer => Ok(()),
        Caller::Agent(me) if matches!(me.role, Role::Mayor | Role::Deacon) => Ok(()),
        Caller::Agent(_) => Err(Forbidden::new(format!(
            "{caller} may not run a dog: only the overseer, the mayor and the deacon may"
        ))),
    }
}

/// Closing a convoy by hand (it then counts as delivered or abandoned for everyone watching it):
/// the overseer, the mayor, and whoever created it.
pub fn close_convoy(caller: &Caller, creator: &str) -> Result<(), Forbidden> {
    match caller {
        Caller::Overseer => Ok(()),
        Caller::Agent(me) if me.role == Role::Mayor || me.address == creator => Ok(()),
        Caller::Agent(_) => Err(Forbidden::new(format!(
            "{caller} may not close a convoy {creator} created: only its creator, the mayor and the overseer may"
        ))),
    }
}

/// Setting a budget (what the agents may spend): the overseer and the mayor, never the agents
/// whose work it limits.
pub fn set_budget(caller: &Caller) -> Result<(), Forbidden> {
    match caller {
        Caller::Overseer => Ok(()),
        Caller::Agent(me) if me.role == Role::Mayor => Ok(()),
        Caller::Agent(_) => Err(Forbidden::new(format!(
            "{caller} may not set a budget: only the mayor and the overseer may"
        ))),
    }
}

/// May `caller` see this mail? The overseer, its sender, and whoever may act on its
/// recipient; anyone for a queue item (claimed by whoever takes it).
pub fn may_see_mail(caller: &Caller, mail: &Bead, sender: &str) -> bool {
    caller.name() == sender
        || may_act_on(caller, &mail.assignee)
        || mail.assignee.starts_with("queue:")
}

/// May `caller` change this mail's state (read, ack, archive)? Whoever may act on its
/// recipient, or the claimant of a queue item.
pub fn may_change_mail(caller: &Caller, mail: &Bead, claimant: Option<&str>) -> bool {
    may_act_on(caller, &mail.assignee) || claimant == Some(caller.name())
}

/// What a `bead` command does to one existing bead, for [`check_bead`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeadAction {
    /// Read it (`show`, `events`).
    Read,
    /// Comment on it.
    Comment,
    /// Change its state: close, reopen, labels (what a mail's recipient does to it).
    Mark,
    /// Change its fields or dependencies.
    Edit,
}

impl BeadAction {
    fn verb(self) -> &'static str {
        match self {
            BeadAction::Read => "read",
            BeadAction::Comment => "comment on",
            BeadAction::Mark => "close, reopen or label",
            BeadAction::Edit => "edit",
        }
    }
}

/// Is this bead a record that coordinates work, made and changed only by its own commands
/// (agent identities, merge requests, molecules)?
pub fn is_coordination_record(bead: &Bead) -> bool {
    matches!(
        bead.issue_type,
        IssueType::Agent | IssueType::MergeRequest | IssueType::Molecule | IssueType::Escalation
    )
}

/// May `caller` do `action` to `bead` through `gastown bead`? `mail` is its sender and queue
/// claimant when it is a mail (the caller reads those from the mail's view).
///
/// - mail: read by [`may_see_mail`]; closed, reopened or labelled by [`may_change_mail`];
///   edited or commented on by the overseer only (what a mail says is its sender's);
/// - agent identities, merge requests, molecules: read by anyone; changed by the overseer only
///   (their commands change them);
/// - work: read and commented on by anyone; changed by its assignee or creator, by whoever may
///   act on its assignee (the mayor, a rig's witness and refinery for its polecats), and by the
///   overseer.
pub fn check_bead(
    caller: &Caller,
    bead: &Bead,
    action: BeadAction,
    mail: Option<(&str, Option<&str>)>,
) -> Result<(), Forbidden> {
    if caller.is_overseer() {
        return Ok(());
    }
    let id = &bead.id;
    let verb = action.verb();
    if let Some((sender, claimant)) = mail {
        let allowed = match action {
            BeadAction::Read => may_see_mail(caller, bead, sender),
            BeadAction::Mark => may_change_mail(caller, bead, claimant),
            BeadAction::Comment | BeadAction::Edit => false,
        };
        if allowed {
            return Ok(());
        }
        let who = match action {
            BeadAction::Read => {
                format!("its sender ({sender}), {}", who_may_act_on(&bead.assignee))
            }
            BeadAction::Mark => who_may_act_on(&bead.assignee),
            BeadAction::Comment | BeadAction::Edit => "the overseer".to_string(),
        };
        return Err(Forbidden::new(format!(
            "{caller} may not {verb} mail {id} (to {}): only {who} may",
            bead.assignee
        )));
    }
    if action == BeadAction::Read || action == BeadAction::Comment {
        return Ok(());
    }
    if is_coordination_record(bead) {
        return Err(Forbidden::new(format!(
            "{caller} may not {verb} {id}, a {} record: its own commands change it; only the overseer may by hand",
            bead.issue_type
        )));
    }
    let own = bead.assignee == caller.name() || bead.created_by == caller.name();
    let minded = !bead.assignee.is_empty() && may_act_on(caller, &bead.assignee);
    let mayor = caller.agent().is_some_and(|me| me.role == Role::Mayor);
    if own || minded || mayor {
        return Ok(());
    }
    let holder = if bead.assignee.is_empty() {
        "its creator".to_string()
    } else {
        who_may_act_on(&bead.assignee)
    };
    Err(Forbidden::new(format!(
        "{caller} may not {verb} {id}: it is not {caller}'s (assigned to {}, created by {}); only {holder}, the mayor or the overseer may",
        if bead.assignee.is_empty() {
            "nobody"
        } else {
            &bead.assignee
        },
        bead.created_by
    )))
}

/// May `caller` change `molecule` (finish its steps, squash it, or with `burn` throw it away)?
/// One assigned to an agent: whoever may act on that agent. An unassigned one is shared work:
/// anyone finishes its steps or squashes it; burning it is for its creator, the mayor and the
/// overseer.
pub fn change_molecule(caller: &Caller, molecule: &Bead, burn: bool) -> Result<(), Forbidden> {
    if !molecule.assignee.is_empty() {
        return act_on(
            caller,
            &molecule.assignee,
            &format!("change molecule {} of", molecule.id),
        );
    }
    let mayor = caller.agent().is_some_and(|me| me.role == Role::Mayor);
    if !burn || caller.is_overseer() || mayor || molecule.created_by == caller.name() {
        return Ok(());
    }
    Err(Forbidden::new(format!(
        "{caller} may not burn molecule {}: only its creator ({}), the mayor and the overseer may",
        molecule.id, molecule.created_by
    )))
}

/// May `caller` create a bead of `issue_type` by hand? Mail, identities, merge requests and
/// molecules are made by their own commands (`mail send`, `sling`, `done`, `mol pour`): an
/// agent may not forge them; the overseer may.
pub fn create_bead(caller: &Caller, issue_type: &IssueType) -> Result<(), Forbidden> {
    let record = matches!(
        issue_type,
        IssueType::Message
            | IssueType::Agent
            | IssueType::MergeRequest
            | IssueType::Molecule
            | IssueType::Escalation
    );
    if !record || caller.is_overseer() {
        return Ok(());
    }
    Err(Forbidden::new(format!(
        "{caller} may not create a {issue_type} bead by hand: mail is sent with `gastown mail send` (from its sender), and identities, merge requests and molecules are made by their commands; only the overseer may"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gastown_beads::Status;

    fn caller(address: &str) -> Caller {
        Caller::from_name(address).expect("a caller")
    }

    fn bead(issue_type: IssueType, assignee: &str, created_by: &str) -> Bead {
        let mut bead = Bead::new("gt-abc", "a title");
        bead.issue_type = issue_type;
        bead.assignee = assignee.to_string();
        bead.created_by = created_by.to_string();
        bead.status = Status::Open;
        bead
    }

    #[test]
    fn only_the_overseer_and_the_mayor_set_budgets_never_the_agents_they_limit() {
        assert!(set_budget(&Caller::Overseer).is_ok());
        assert!(set_budget(&caller("mayor")).is_ok());
        for agent in [
            "alpha/polecats/nux",
            "alpha/crew/sam",
            "alpha/witness",
            "deacon",
        ] {
            let refused = set_budget(&caller(agent)).expect_err(agent);
            assert!(
                refused.reason.contains(agent) && refused.reason.contains("only the mayor"),
                "{}",
                refused.reason
            );
        }
    }

    #[test]
    fn agents_act_on_themselves_and_the_roles_whose_job_it_is_on_others() {
        let nux = "alpha/polecats/nux";
        assert!(may_act_on(&Caller::Overseer, nux));
        assert!(may_act_on(&caller(nux), nux));
        assert!(may_act_on(&caller("mayor"), nux));
        assert!(may_act_on(&caller("alpha/witness"), nux));
        assert!(may_act_on(&caller("alpha/refinery"), nux));
        assert!(!may_act_on(&caller("beta/witness"), nux), "another rig's");
        assert!(!may_act_on(&caller("alpha/polecats/max"), nux));
        assert!(!may_act_on(&caller("alpha/crew/sam"), nux));
        assert!(!may_act_on(&caller("deacon"), nux));
        assert!(
            !may_act_on(&caller("alpha/witness"), "alpha/crew/sam"),
            "a witness minds polecats, not crew"
        );
        assert!(!may_act_on(&caller(nux), "mayor"));
        assert!(!may_act_on(&caller(nux), "overseer"));
        assert!(!may_act_on(&caller(nux), "queue:work"), "not an agent");
        let refused = act_on(&caller("alpha/polecats/max"), nux, "nudge").expect_err("refused");
        assert!(
            refused
                .reason
                .contains("alpha/polecats/max may not nudge alpha/polecats/nux")
                && refused.reason.contains("alpha's witness and refinery"),
            "{refused}"
        );
    }

    #[test]
    fn rig_slings_and_forced_hooks() {
        assert!(act_on_rig(&caller("mayor"), "alpha", "sling to").is_ok());
        assert!(act_on_rig(&caller("alpha/witness"), "alpha", "sling to").is_ok());
        assert!(act_on_rig(&caller("beta/witness"), "alpha", "sling to").is_err());
        assert!(act_on_rig(&caller("alpha/polecats/nux"), "alpha", "sling to").is_err());
        assert!(force_hook(&caller("mayor")).is_ok());
        assert!(force_hook(&Caller::Overseer).is_ok());
        assert!(force_hook(&caller("alpha/crew/sam")).is_err());
    }

    #[test]
    fn ledger_wide_operations_are_the_overseers() {
        assert!(overseer_only(&Caller::Overseer, "import beads").is_ok());
        let refused = overseer_only(&caller("mayor"), "import beads").expect_err("refused");
        assert!(
            refused.to_string().contains("only the overseer"),
            "{refused}"
        );
        assert!(create_bead(&caller("alpha/polecats/nux"), &IssueType::Task).is_ok());
        assert!(create_bead(&caller("alpha/polecats/nux"), &IssueType::Message).is_err());
        assert!(create_bead(&caller("mayor"), &IssueType::Agent).is_err());
        assert!(create_bead(&Caller::Overseer, &IssueType::Message).is_ok());
    }

    #[test]
    fn mail_is_its_recipients_and_senders() {
        let mail = bead(IssueType::Message, "alpha/polecats/nux", "mayor");
        let as_mail = Some(("mayor", None));
        let nux = caller("alpha/polecats/nux");
        let max = caller("alpha/polecats/max");
        assert!(check_bead(&nux, &mail, BeadAction::Read, as_mail).is_ok());
        assert!(check_bead(&caller("mayor"), &mail, BeadAction::Read, as_mail).is_ok());
        assert!(check_bead(&caller("alpha/witness"), &mail, BeadAction::Read, as_mail).is_ok());
        assert!(check_bead(&max, &mail, BeadAction::Read, as_mail).is_err());
        assert!(check_bead(&nux, &mail, BeadAction::Mark, as_mail).is_ok());
        assert!(check_bead(&max, &mail, BeadAction::Mark, as_mail).is_err());
        let edit = check_bead(&nux, &mail, BeadAction::Edit, as_mail).expect_err("refused");
        assert!(edit.reason.contains("only the overseer"), "{edit}");
        assert!(check_bead(&Caller::Overseer, &mail, BeadAction::Edit, as_mail).is_ok());
        let claimed = Some(("mayor", Some("alpha/polecats/max")));
        assert!(check_bead(&max, &mail, BeadAction::Mark, claimed).is_ok());
    }

    #[test]
    fn molecules_are_changed_by_those_who_may_act_on_their_agent() {
        let assigned = bead(IssueType::Molecule, "alpha/polecats/nux", "mayor");
        assert!(change_molecule(&caller("alpha/polecats/nux"), &assigned, false).is_ok());
        assert!(change_molecule(&caller("alpha/witness"), &assigned, true).is_ok());
        assert!(change_molecule(&caller("alpha/polecats/max"), &assigned, false).is_err());
        let shared = bead(IssueType::Molecule, "", "alpha/crew/sam");
        assert!(change_molecule(&caller("alpha/polecats/max"), &shared, false).is_ok());
        assert!(change_molecule(&caller("alpha/polecats/max"), &shared, true).is_err());
        assert!(change_molecule(&caller("alpha/crew/sam"), &shared, true).is_ok());
    }

    #[test]
    fn work_is_changed_by_its_owner_and_those_minding_it() {
        let work = bead(IssueType::Task, "alpha/polecats/nux", "mayor");
        for who in ["alpha/polecats/nux", "mayor", "alpha/refinery"] {
            assert!(
                check_bead(&caller(who), &work, BeadAction::Edit, None).is_ok(),
                "{who}"
            );
        }
        let refused = check_bead(&caller("alpha/polecats/max"), &work, BeadAction::Mark, None)
            .expect_err("refused");
        assert!(
            refused.reason.contains("not alpha/polecats/max's"),
            "{refused}"
        );
        assert!(
            check_bead(
                &caller("alpha/polecats/max"),
                &work,
                BeadAction::Comment,
                None
            )
            .is_ok()
        );
        assert!(check_bead(&caller("alpha/polecats/max"), &work, BeadAction::Read, None).is_ok());
        let filed = bead(IssueType::Bug, "", "alpha/crew/sam");
        assert!(check_bead(&caller("alpha/crew/sam"), &filed, BeadAction::Edit, None).is_ok());
        assert!(check_bead(&caller("alpha/crew/joe"), &filed, BeadAction::Edit, None).is_err());
        let record = bead(IssueType::Agent, "alpha/polecats/nux", "alpha/polecats/nux");
        assert!(
            check_bead(
                &caller("alpha/polecats/nux"),
                &record,
                BeadAction::Edit,
                None
            )
            .is_err()
        );
        assert!(check_bead(&Caller::Overseer, &record, BeadAction::Edit, None).is_ok());
    }
}
