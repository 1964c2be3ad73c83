//! Batched, concurrent deletion. Messages finish one by one; deleting each with its own call would
//! double the SQS requests of the worker under load, and one call at a time would make a burst of
//! finished messages wait behind several round trips (every crash in that window is a duplicate alert).
//! So the deleter sends a DeleteMessageBatch as soon as a message's outcome is final and one of
//! [`CONCURRENT_CALLS`] call slots is free, with every other finished message already waiting (up to
//! ten); while all slots are busy, finished messages gather into the next full batch. It checks every
//! entry and tells each message task whether its delete succeeded.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::metrics;
use crate::sqs::{MAX_BATCH, Queue};

/// DeleteMessageBatch calls in flight at once. Each call has the SQS client's timeout, so a slow call
/// holds its slot for at most that long.
const CONCURRENT_CALLS: usize = 4;

struct Request {
    message_id: String,
    receipt_handle: String,
    /// When the message's outcome became final, for [`metrics::DELETE_DURATION`].
    queued_at: Instant,
    done: oneshot::Sender<bool>,
}

/// Sends finished messages to the deleter task.
#[derive(Debug, Clone)]
pub(crate) struct Deleter {
    tx: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("message_id", &self.message_id)
            .finish_non_exhaustive()
    }
}

impl Deleter {
    /// Starts the deleter task. It ends once every [`Deleter`] clone is dropped and the queue of pending
    /// deletes is drained, so dropping the senders and awaiting the handle flushes everything.
    pub(crate) fn start(queue: Queue) -> (Deleter, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        (Deleter { tx }, tokio::spawn(run(queue, rx)))
    }

    /// Deletes one message; `true` when SQS confirmed it.
    pub(crate) async fn delete(&self, message_id: &str, receipt_handle: &str) -> bool {
        let (done, result) = oneshot::channel();
        let request = Request {
            message_id: message_id.to_owned(),
            receipt_handle: receipt_handle.to_owned(),
            queued_at: Instant::now(),
            done,
        };
        if self.tx.send(request).await.is_err() {
            return false;
        }
        result.await.unwrap_or(false)
    }
}

async fn run(queue: Queue, mut rx: mpsc::Receiver<Request>) {
    let slots = Arc::new(Semaphore::new(CONCURRENT_CALLS));
    let mut calls = JoinSet::new();
    // A slot first, then the messages: while every slot is busy, finished messages wait in the channel
    // and the next call takes ten of them.
    while let Ok(slot) = slots.clone().acquire_owned().await {
        let Some(first) = rx.recv().await else { break };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let queue = queue.clone();
        calls.spawn(async move {
            flush(&queue, batch).await;
            drop(slot);
        });
        // Reaps finished calls so the set does not grow.
        while calls.try_join_next().is_some() {}
    }
    while calls.join_next().await.is_some() {}
}

async fn flush(queue: &Queue, batch: Vec<Request>) {
    let handles: Vec<&str> = batch.iter().map(|r| r.receipt_handle.as_str()).collect();
    // A message counts as deleted only when SQS confirmed its entry; anything else (refused, not
    // mentioned, or lost in a failed call) is reported as not deleted.
    let mut ok = vec![false; batch.len()];
    match queue.delete_batch(&handles).await {
        Ok(outcome) => {
            for index in outcome.succeeded {
                ok[index] = true;
            }
            for failure in outcome.failed {
                // The message will come back after its visibility timeout; the dedup memory then keeps
                // it from alerting twice.
                tracing::warn!(
                    message_id = batch[failure.index].message_id.as_str(),
                    code = %failure.code,
                    error = %failure.message,
                    sender_fault = failure.sender_fault,
                    "SQS did not confirm deleting a message; it will be received again"
                );
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, count = batch.len(), "deleting messages failed; they will be received again");
        }
    }
    let deleted = ok.iter().filter(|ok| **ok).count();
    ::metrics::counter!(metrics::MESSAGES_DELETED).increment(deleted as u64);
    let waited = ::metrics::histogram!(metrics::DELETE_DURATION);
    for (request, ok) in batch.into_iter().zip(ok) {
        waited.record(request.queued_at.elapsed().as_secs_f64());
        let _ = request.done.send(ok);
    }
}
