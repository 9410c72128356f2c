//! The policy applied to every town request before it runs: [`authorize`].
//!
//! The rules themselves are the domain's (`gastown_town::authz`): this maps each request to the
//! rule it falls under. Rules that need ledger data (is this mail addressed to the caller, is
//! this bead its own) run inside the ledger commands, with or without a supervisor. A refusal
//! becomes an `ErrorCode::Forbidden` reply, counted in the socket's `forbidden` counter.

use crate::protocol::TownRequest;
use crate::socket::{ErrorCode, WireError};
use gastown_town::Caller;
use gastown_town::authz::{self, Forbidden};

/// May `caller` make `request`? `Err` says who may.
///
/// - the live tree: peeking at, nudging, restarting, killing, attaching to or spawning an agent
///   is acting on it ([`authz::act_on`]); the tree, one actor and heartbeats are anyone's; an
///   attachment's output stream, keys and resizes are its starter's alone (checked where they are
///   answered, `live.rs`);
/// - ledger commands are checked by the commands themselves, with or without a supervisor
///   (mail, beads, hooks and slings, merge queues: landing, retrying or rejecting a rig's merge
///   requests is the mayor's, and the rig's witness and refinery's, [`authz::act_on_rig`]).
pub fn authorize(caller: &Caller, request: &TownRequest) -> Result<(), Forbidden> {
    match request {
        TownRequest::Peek { agent, .. } => authz::act_on(caller, agent, "peek at the session of"),
        TownRequest::Nudge { agent, .. } => authz::act_on(caller, agent, "nudge"),
        TownRequest::Restart { agent } => authz::act_on(caller, agent, "restart the session of"),
        TownRequest::Kill { agent } => authz::act_on(caller, agent, "kill the session of"),
        TownRequest::AttachStart { agent, .. } => {
            authz::act_on(caller, agent, "attach to the session of")
        }
        TownRequest::Spawn { address, .. } => authz::act_on(caller, address, "spawn"),
        TownRequest::DogRun { .. } => authz::run_dog(caller),
        TownRequest::Doctor { fix: true } => {
            authz::overseer_only(caller, "run `gastown doctor --fix`")
        }
        TownRequest::Bead(_)
        | TownRequest::Mail(_)
        | TownRequest::Mol(_)
        | TownRequest::Mq(_)
        | TownRequest::Convoy(_)
        | TownRequest::Work(_)
        | TownRequest::Hook { .. }
        | TownRequest::Seance { .. }
        | TownRequest::Sync(_)
        | TownRequest::RigClaims
        | TownRequest::Actors
        | TownRequest::Actor { .. }
        | TownRequest::Heartbeat
        | TownRequest::AttachOutput { .. }
        | TownRequest::AttachInput { .. }
        | TownRequest::AttachResize { .. }
        | TownRequest::AttachEnd { .. }
        | TownRequest::Escalate(_)
        | TownRequest::Dogs
        | TownRequest::Status
        | TownRequest::Subscribe(_)
        | TownRequest::Costs { .. }
        | TownRequest::Doctor { fix: false }
        | TownRequest::RuntimeSession { .. } => Ok(()),
    }
}

/// The wire's answer to a refusal.
pub fn forbidden(refusal: Forbidden) -> WireError {
    WireError::new(ErrorCode::Forbidden, refusal.reason)
}

/// A domain command's error on the wire: a refusal by the rules is `Forbidden`, a ledger that
/// cannot be used right now (locked by another process, a full disk, reopening) is
/// `Unavailable`, anything else the caller's `InvalidArgument` (its message says what to do).
pub fn command_error(error: &anyhow::Error) -> WireError {
    if let Some(refusal) = error.downcast_ref::<Forbidden>() {
        return forbidden(refusal.clone());
    }
    let unavailable = error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<gastown_beads::LedgerError>(),
            Some(gastown_beads::LedgerError::Unavailable(_))
        ) || matches!(
            cause.downcast_ref::<gastown_actors::ledger::LedgerCallError>(),
            Some(
                gastown_actors::ledger::LedgerCallError::LedgerUnavailable(_)
                    | gastown_actors::ledger::LedgerCallError::Unavailable
            )
        )
    });
    let code = if unavailable {
        ErrorCode::Unavailable
    } else {
        ErrorCode::InvalidArgument
    };
    WireError::new(code, format!("{error:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(address: &str) -> Caller {
        Caller::from_name(address).expect("a caller")
    }

    #[test]
    fn acting_on_another_agents_session_is_for_those_whose_job_it_is() {
        let nux = "alpha/polecats/nux".to_string();
        let requests = [
            TownRequest::Peek {
                agent: nux.clone(),
                lines: None,
            },
            TownRequest::Nudge {
                agent: nux.clone(),
                text: "hi".to_string(),
            },
            TownRequest::Restart { agent: nux.clone() },
            TownRequest::Kill { agent: nux.clone() },
            TownRequest::AttachStart {
                agent: nux.clone(),
                rows: 24,
                cols: 80,
            },
            TownRequest::Spawn {
                address: nux.clone(),
                runtime: None,
                env: Vec::new(),
            },
        ];
        for request in &requests {
            for allowed in ["overseer", "mayor", "alpha/witness", "alpha/refinery", &nux] {
                assert!(
                    authorize(&caller(allowed), request).is_ok(),
                    "{allowed}: {request:?}"
                );
            }
            for refused in [
                "alpha/polecats/max",
                "alpha/crew/sam",
                "beta/witness",
                "deacon",
            ] {
                let error = authorize(&caller(refused), request).expect_err("refused");
                assert!(error.reason.contains("only"), "{error}");
            }
        }
        assert!(authorize(&caller("alpha/polecats/max"), &TownRequest::Actors).is_ok());
        assert!(authorize(&caller("alpha/polecats/max"), &TownRequest::Heartbeat).is_ok());
    }

    /// A hostile but well-formed client in a polecat's session asking the supervisor to repair
    /// the ledger (release hooks, fold agent beads): only the overseer may; anyone may look.
    #[test]
    fn only_the_overseer_may_have_the_supervisor_fix_what_doctor_finds() {
        let fix = TownRequest::Doctor { fix: true };
        assert!(authorize(&Caller::Overseer, &fix).is_ok());
        for refused in ["alpha/polecats/nux", "mayor", "deacon", "alpha/witness"] {
            let error = authorize(&caller(refused), &fix).expect_err("refused");
            assert!(error.reason.contains("only the overseer"), "{error}");
        }
        let look = TownRequest::Doctor { fix: false };
        assert!(authorize(&caller("alpha/polecats/nux"), &look).is_ok());
    }

    #[test]
    fn an_attachment_is_its_starters_alone() {
        let attachments = super::super::attach::Attachments::default();
        attachments.claim(7, "overseer");
        assert!(attachments.check_owner(7, "overseer").is_ok());
        let hijack = attachments
            .check_owner(7, "alpha/polecats/nux")
            .expect_err("another caller's attachment");
        assert_eq!(hijack.code, ErrorCode::Forbidden);
        assert!(hijack.message.contains("it is overseer's"), "{hijack}");
        let unknown = attachments
            .check_owner(8, "overseer")
            .expect_err("no such id");
        assert_eq!(unknown.code, ErrorCode::NotFound);
        attachments.forget_owner(7);
        assert_eq!(
            attachments.check_owner(7, "overseer").map_err(|e| e.code),
            Err(ErrorCode::NotFound)
        );
    }

    #[test]
    fn refusals_of_the_domain_become_forbidden_on_the_wire() {
        let refusal = anyhow::Error::new(Forbidden::new("no"));
        assert_eq!(command_error(&refusal).code, ErrorCode::Forbidden);
        let wrapped = anyhow::Error::new(Forbidden::new("no")).context("while doing x");
        assert_eq!(command_error(&wrapped).code, ErrorCode::Forbidden);
        let other = anyhow::anyhow!("no such bead");
        assert_eq!(command_error(&other).code, ErrorCode::InvalidArgument);
    }
}
