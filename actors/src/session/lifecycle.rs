//! How a session starts and ends: spawning its threads and task (`pre_start`'s body), stopping on
//! request, and turning the agent's exit into a normal stop or a failure (see `docs/sessions.md`).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use ractor::{ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::{broadcast, mpsc, watch};

use super::input::{InputCounters, InputJob, InputWorker, NudgeReply, OutputStatus, PtyWriter};
use super::pty::{self, ExitInfo, GroupGuard};
use super::screen::OutputModel;
use super::{
    ATTACH_BACKLOG, DIALOG_CHECK, NudgeOptions, READER_GRACE, SessionArgs, SessionCrashed,
    SessionMsg, SessionState, SpawnError, ignore_gone,
};

/// Spawns the agent and the session's threads and task; the body of `pre_start`.
pub(super) fn start(
    myself: ActorRef<SessionMsg>,
    args: SessionArgs,
    spawned: pty::Spawned,
) -> Result<SessionState, SpawnError> {
    let pid = spawned.pid;
    let (exit_tx, exit_rx) = watch::channel(None);
    let guard = GroupGuard {
        pgid: pid,
        exit: exit_rx.clone(),
        _group: spawned.group,
    };
    let thread_error = |error: std::io::Error| SpawnError::Thread {
        reason: error.to_string(),
    };
    pty::start_waiter(pid, exit_tx, myself.clone()).map_err(thread_error)?;
    let (credits, credits_rx) = pty::credit_channel();
    pty::start_reader(spawned.reader, credits_rx, myself.clone()).map_err(thread_error)?;
    let counters = Arc::new(InputCounters::default());
    let writer = PtyWriter::start(spawned.writer, counters.clone()).map_err(thread_error)?;
    let mut model = OutputModel::new(
        (args.rows, args.cols),
        args.ring_bytes,
        args.ready_marker.clone(),
    );
    model.set_dialogs(args.dialogs.clone());
    if let Some(line) = &args.held {
        model.hold(line.clone());
    }
    let (status, status_rx) = watch::channel(OutputStatus {
        last_output_at: model.last_output_at,
        bytes_out: 0,
        bracketed_paste: false,
        exited: false,
    });
    let (input, jobs) = mpsc::unbounded_channel();
    if !args.dialogs.is_empty() || args.held.is_some() {
        // Dialogs are looked for on a timer, not per chunk: a flood of output renders no
        // extra screens, and a dialog that is the last thing printed is still seen.
        myself.send_interval(DIALOG_CHECK, || SessionMsg::DialogCheck);
    }
    let worker = InputWorker {
        jobs,
        writer,
        status: status_rx,
        session: myself,
        quiet_period: args.quiet_period,
    };
    tokio::spawn(worker.run());
    if let Some(text) = args.startup_input.as_deref() {
        let text = gastown_town::text::for_typing(text).into_owned();
        let options = NudgeOptions {
            idle_timeout: args.startup_timeout,
            wait_idle: true,
            ..args.nudge
        };
        let _ = input.send(InputJob::Nudge {
            text,
            options,
            reply: NudgeReply::Startup,
        });
    }
    tracing::info!(pid, program = %args.program, "session started");
    Ok(SessionState {
        pid,
        master: spawned.master,
        model,
        started_at: Instant::now(),
        started_wall: SystemTime::now(),
        last_output_wall: None,
        status,
        input,
        counters,
        output: broadcast::channel(ATTACH_BACKLOG).0,
        credits,
        exit: exit_rx,
        reader_closed: false,
        finishing: false,
        stopped: false,
        dialog_seen: None,
        _guard: guard,
        args,
    })
}

impl SessionState {
    pub(super) async fn terminate(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        reply: RpcReplyPort<Option<ExitInfo>>,
    ) {
        self.publish_status(true);
        if self.exit.borrow().is_none() {
            self.stopped = true;
        }
        let outcome = pty::terminate_group(self.pid, &mut self.exit, self.args.stop_timeout).await;
        tracing::info!(pid = self.pid, ?outcome, "session terminated on request");
        ignore_gone(reply.send(self.exit.borrow().clone()));
        myself.stop(Some("shutdown: terminated".to_string()));
    }

    /// The agent is gone: clean up what is left of its group, then stop once the last output is
    /// read (or after [`READER_GRACE`]).
    pub(super) async fn on_child_exited(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        exit: ExitInfo,
    ) -> Result<(), ActorProcessingErr> {
        tracing::info!(pid = self.pid, %exit, "session agent exited");
        self.publish_status(true);
        let outcome = pty::terminate_group(self.pid, &mut self.exit, self.args.stop_timeout).await;
        tracing::debug!(
            pid = self.pid,
            ?outcome,
            "rest of the session's process group cleaned up"
        );
        self.finishing = true;
        if self.reader_closed {
            return self.finish(myself);
        }
        myself.send_after(READER_GRACE, || SessionMsg::FinishDeadline);
        Ok(())
    }

    /// Stops normally after a clean exit, fails after a crash.
    pub(super) fn finish(
        &mut self,
        myself: &ActorRef<SessionMsg>,
    ) -> Result<(), ActorProcessingErr> {
        let Some(exit) = self.exit.borrow().clone() else {
            return Ok(());
        };
        if exit.success() {
            myself.stop(Some(format!("agent exited: {exit}")));
            return Ok(());
        }
        Err(Box::new(SessionCrashed {
            pid: self.pid,
            exit,
        }))
    }
}
