//! The native redrive: SQS's own StartMessageMoveTask, followed to completion through
//! ListMessageMoveTasks with progress. SQS moves the messages itself, so nothing is lost or duplicated
//! by this process crashing; interrupting the command only stops the watching.

use std::io::Write;
use std::time::Duration;

use tokio::time::Instant;

use super::Plan;
use crate::ops::progress::Progress;
use crate::ops::{OpsError, say};
use crate::sqs::{MAX_NATIVE_RATE, MoveTaskStart, Queue, QueueInfo};

/// How often a native move task is polled.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// A native task that reports no progress for this long is left running and the command gives up
/// watching it, saying so.
const STALL_LIMIT: Duration = Duration::from_secs(600);
/// After a native task completes, SQS's approximate counts can lag; the final check waits this long at
/// most for the DLQ to read empty.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// Starts the native move from `dlq` to `destination`; `None` when the API is not available here.
pub(super) async fn start(
    dlq: &Queue,
    dlq_info: &QueueInfo,
    destination: &QueueInfo,
    plan: &Plan,
) -> Result<Option<String>, OpsError> {
    let (Some(dlq_arn), Some(dest_arn)) = (&dlq_info.arn, &destination.arn) else {
        eprintln!(
            "note: the queues' ARNs are unknown (GetQueueAttributes did not return QueueArn), so \
             StartMessageMoveTask cannot be used"
        );
        return Ok(None);
    };
    if let Some(rate) = plan.max_per_second
        && rate > MAX_NATIVE_RATE
    {
        eprintln!("note: StartMessageMoveTask moves at most {MAX_NATIVE_RATE} messages per second");
    }
    let started = dlq
        .start_move_task(dlq_arn, Some(dest_arn), plan.max_per_second)
        .await
        .map_err(|err| {
            // A refusal (no permission, a queue SQS does not consider a DLQ) is not a reason to move
            // differently behind the operator's back, but the client-side move may well work.
            OpsError::Incomplete(format!(
                "{err}\nnothing was moved; `--client-side` moves the messages without \
                 StartMessageMoveTask (it needs sqs:SendMessage on the destination and \
                 sqs:ReceiveMessage, sqs:DeleteMessage and sqs:ChangeMessageVisibility on the DLQ)"
            ))
        })?;
    match started {
        MoveTaskStart::Started { handle } => Ok(Some(handle)),
        MoveTaskStart::Unavailable { reason } => {
            eprintln!("note: StartMessageMoveTask is not available here: {reason}");
            Ok(None)
        }
    }
}

/// Polls the native move task `handle` until it ends, showing progress, then checks the DLQ is empty.
pub(super) async fn follow(
    dlq: &Queue,
    dlq_info: &QueueInfo,
    handle: &str,
    approx: u64,
    out: &mut dyn Write,
) -> Result<(), OpsError> {
    let dlq_arn = dlq_info.arn.as_deref().unwrap_or_default();
    say(out, &format!("started StartMessageMoveTask {handle}"))?;
    let mut progress = Progress::new("moved", Some(approx));
    let mut last_moved = 0;
    let mut last_change = Instant::now();
    let task = loop {
        tokio::time::sleep(POLL_INTERVAL).await;
        let task = dlq.move_task(dlq_arn, handle).await?;
        progress.set(task.moved, task.to_move, &task.status.to_ascii_lowercase());
        if task.moved != last_moved {
            last_moved = task.moved;
            last_change = Instant::now();
        }
        match task.status.as_str() {
            "RUNNING" | "CANCELLING" => {}
            _ => break task,
        }
        if last_change.elapsed() > STALL_LIMIT {
            progress.finish();
            return Err(OpsError::Incomplete(format!(
                "the move task {handle} made no progress for {}s; it is still running in SQS \
                 (see `aws sqs list-message-move-tasks --source-arn {dlq_arn}`)",
                STALL_LIMIT.as_secs()
            )));
        }
    };
    progress.finish();
    let left = settle(dlq).await?;
    say(
        out,
        &format!(
            "StartMessageMoveTask {}: moved {} message(s); left in the dead-letter queue: {left}",
            task.status.to_ascii_lowercase(),
            task.moved
        ),
    )?;
    if task.status != "COMPLETED" {
        let why = task
            .failure_reason
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        return Err(OpsError::Incomplete(format!(
            "the move task ended {}{why}",
            task.status
        )));
    }
    if left > 0 {
        return Err(OpsError::Incomplete(format!(
            "{left} message(s) are still in the dead-letter queue"
        )));
    }
    Ok(())
}

/// The DLQ's message count once SQS's approximate counts settle at zero, or what it still says after
/// [`SETTLE_LIMIT`].
async fn settle(dlq: &Queue) -> Result<u64, OpsError> {
    let deadline = Instant::now() + SETTLE_LIMIT;
    loop {
        let left = dlq.depth().await?.total();
        if left == 0 || Instant::now() >= deadline {
            return Ok(left);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
