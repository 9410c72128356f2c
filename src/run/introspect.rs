//! The live tree as `gastown actors` shows it: the supervision snapshot, enriched with each
//! session's pid, flattened into the nested JSON shape the CLI prints. What a node is (its
//! `role`) is read from its path through `gastown_town::names`.

use super::witness_actor::WitnessMsg;
use gastown_actors::session::{SessionMsg, SessionSnapshot, client};
use gastown_supervision::{ChildSnapshot, ChildState, SupervisorRef, SupervisorSnapshot};
use gastown_town::identity::AgentIdentity;
use gastown_town::names::{self, TreeNode};
use std::future::Future;
use std::pin::Pin;

/// One node of `gastown actors --json` (a wire type: the protocol owns it).
pub use crate::protocol::ActorNode;

type NodeFuture<'a> = Pin<Box<dyn Future<Output = Vec<ActorNode>> + Send + 'a>>;

/// The whole tree under `root`, root included.
pub async fn tree(root: &SupervisorRef) -> Result<ActorNode, String> {
    let snapshot = root.snapshot().await.map_err(|e| e.to_string())?;
    let children = children(root, &snapshot).await;
    Ok(ActorNode {
        path: snapshot.path.clone(),
        role: "town".to_string(),
        kind: "supervisor".to_string(),
        state: "running".to_string(),
        pid: None,
        uptime_ms: Some(snapshot.uptime_ms),
        restarts_total: 0,
        restarts_recent: snapshot.restarts_in_window,
        last_failure: None,
        mailbox_depth: None,
        strategy: Some(format!("{:?}", snapshot.strategy)),
        children,
        note: None,
    })
}

fn children<'a>(sup: &'a SupervisorRef, snapshot: &'a SupervisorSnapshot) -> NodeFuture<'a> {
    Box::pin(async move {
        let mut out = Vec::new();
        for child in &snapshot.children {
            out.push(node(sup, child).await);
        }
        out
    })
}

async fn node(parent: &SupervisorRef, child: &ChildSnapshot) -> ActorNode {
    let mut pid = None;
    let mut blocked = None;
    let mut nested = Vec::new();
    let mut strategy = None;
    if let Some(snap) = &child.supervisor {
        strategy = Some(format!("{:?}", snap.strategy));
        if let Ok(Some(sub)) = parent.child_supervisor(&child.id).await {
            nested = children(&sub, snap).await;
        }
    } else if child.id == "session"
        && child.state == ChildState::Running
        && let Some(snapshot) = session_snapshot(parent).await
    {
        pid = Some(snapshot.pid);
        blocked = snapshot.blocked;
    }
    // The witness's mechanical patrol, `town/rigs/<rig>/witness/patrol` (the deacon has a
    // `patrol` of its own).
    let note = if child.path.ends_with("/witness/patrol") && child.state == ChildState::Running {
        witness_report(parent).await
    } else {
        None
    };
    ActorNode {
        path: child.path.clone(),
        role: role_of(&child.path, &child.id),
        kind: if child.supervisor.is_some() {
            "supervisor"
        } else {
            "worker"
        }
        .to_string(),
        // A session showing a dialog is running but waits for an answer, not for work.
        state: match blocked {
            Some(dialog) => format!("blocked: {dialog}"),
            None => state_name(child.state),
        },
        pid,
        uptime_ms: child.uptime_ms,
        restarts_total: child.restarts_total,
        restarts_recent: child.restarts_in_window,
        last_failure: child
            .last_failure
            .as_ref()
            .map(|f| format!("{} ({})", f.reason, f.at)),
        mailbox_depth: child.mailbox_depth,
        strategy,
        children: nested,
        note,
    }
}

/// How long `gastown actors` waits for the witness's report (it answers between patrols).
const WITNESS_REPORT_TIMEOUT_MS: u64 = 500;

/// The witness's steps on its polecats, or `None` (nothing done, or no answer in time).
async fn witness_report(witness_role: &SupervisorRef) -> Option<String> {
    let witness = witness_role
        .child_actor::<WitnessMsg>("patrol")
        .await
        .ok()??;
    ractor::call_t!(witness, WitnessMsg::Report, WITNESS_REPORT_TIMEOUT_MS)
        .ok()
        .flatten()
}

async fn session_snapshot(role: &SupervisorRef) -> Option<SessionSnapshot> {
    let session = role.child_actor::<SessionMsg>("session").await.ok()??;
    client::snapshot(&session).await.ok()
}

/// What a node is, from its path: an agent's role is its role (`town/rigs/alpha/crew/max` →
/// `crew`, `town/deacon/dogs/rex` → `dog`), a rig's supervisor is `rig`, any other node is its
/// id (`ledger`, `session`, `polecats`, …).
fn role_of(path: &str, id: &str) -> String {
    match names::tree_node(path) {
        TreeNode::Agent(identity) => identity.role.as_str().to_string(),
        TreeNode::Rig(_) => "rig".to_string(),
        TreeNode::Other => id.to_string(),
    }
}

/// The agent whose role `node` is (a role is a supervisor; the refinery's plain actor at
/// `town/rigs/<rig>/refinery` is none).
pub fn role_identity(node: &ActorNode) -> Option<AgentIdentity> {
    if node.kind != "supervisor" {
        return None;
    }
    names::identity_of_tree_path(&node.path)
}

fn state_name(state: ChildState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{state:?}"))
}

/// Find one node by path in a tree.
pub fn find<'a>(node: &'a ActorNode, path: &str) -> Option<&'a ActorNode> {
    if node.path == path {
        return Some(node);
    }
    node.children.iter().find_map(|c| find(c, path))
}

/// Call `f` on every node, depth first.
pub fn visit(node: &ActorNode, f: &mut impl FnMut(&ActorNode)) {
    f(node);
    for c in &node.children {
        visit(c, f);
    }
}

/// Call `f` on every node, depth first, mutably.
pub fn visit_mut(node: &mut ActorNode, f: &mut impl FnMut(&mut ActorNode)) {
    f(node);
    for c in &mut node.children {
        visit_mut(c, f);
    }
}
