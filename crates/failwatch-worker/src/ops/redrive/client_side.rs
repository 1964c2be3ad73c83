//! The client-side move, for endpoints without StartMessageMoveTask, for filtered moves and on request:
//! receive up to ten messages, send them to the destination with body and message attributes unchanged
//! (SendMessageBatch), and only then delete from the DLQ the entries whose send succeeded
//! (DeleteMessageBatch).
//!
//! A crash between the two calls leaves that one batch in both queues — a duplicate the worker's
//! de-duplication absorbs — and a crash anywhere else loses nothing, because a message leaves the DLQ
//! only after its copy exists. Messages that do not match the filter, or whose send failed, stay hidden
//! until the end of the run (so they are not received again) and are then made visible again.
//!
//! The move is a small state machine ([`State`]): receive, send, delete, and back to receive until the
//! DLQ reads empty twice, the run has received more than it could have held, Ctrl-C, or an SQS error.
//! Ctrl-C is honoured only between batches — never between a send and its delete — so an interrupted
//! run duplicates nothing and hands everything it held back to the DLQ at once.

use std::collections::HashMap;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{MoveCounts, Plan};
use crate::ops::Described;
use crate::ops::dlq::release;
use crate::ops::progress::Progress;
use crate::sqs::batch::{self, EntryFailure};
use crate::sqs::{BatchOutcome, MAX_BATCH, Outgoing, Queue, Received, SqsError};

/// Long-poll wait of each receive: an empty long poll means the DLQ has nothing visible.
const RECEIVE_WAIT: Duration = Duration::from_secs(1);
/// Empty receives in a row after which the DLQ counts as drained.
const EMPTY_POLLS_TO_STOP: u32 = 2;

/// Where the move is.
#[derive(Debug)]
enum State {
    /// Ask the DLQ for the next batch.
    Receive,
    /// Send these selected messages once the pace allows.
    Send(Vec<Received>),
    /// `sent` says which of `batch` arrived at the destination; delete those from the DLQ.
    Delete {
        batch: Vec<Received>,
        sent: BatchOutcome,
    },
    /// Stop, with the SQS error that ended the run, if one did.
    Done(Option<SqsError>),
}

/// One client-side move: what it has done so far and what it holds.
#[derive(Debug)]
pub(super) struct ClientSideMove<'a> {
    dlq: &'a Queue,
    destination: &'a Queue,
    plan: &'a Plan,
    /// Cancelled on Ctrl-C.
    interrupt: CancellationToken,
    counts: MoveCounts,
    /// Messages to make visible again at the end, by id: not selected, failed to send, or (dry run)
    /// would have moved. A message SQS hands out again (its visibility ran out) replaces the old entry,
    /// because only the newest receipt handle can change its visibility.
    held: HashMap<String, Received>,
    progress: Progress,
    /// Messages per receive: ten, or fewer under a low `--max-per-second`.
    per_receive: usize,
    /// New messages can keep arriving in the DLQ; the run stops after receiving this many and says so,
    /// rather than chasing a queue that never empties.
    max_received: u64,
    received: u64,
    empty_polls: u32,
    sent: u64,
    batches_sent: u32,
    started: Instant,
}

impl<'a> ClientSideMove<'a> {
    /// A move from `dlq` to `destination` of about `approx` messages; `interrupt` is Ctrl-C.
    pub(super) fn new(
        dlq: &'a Queue,
        destination: &'a Queue,
        plan: &'a Plan,
        approx: u64,
        interrupt: CancellationToken,
    ) -> Self {
        let label = if plan.dry_run { "examined" } else { "moved" };
        ClientSideMove {
            dlq,
            destination,
            plan,
            interrupt,
            counts: MoveCounts::default(),
            held: HashMap::new(),
            progress: Progress::new(label, Some(approx)),
            per_receive: plan
                .max_per_second
                .map_or(MAX_BATCH, |r| (r as usize).clamp(1, MAX_BATCH)),
            max_received: approx.saturating_mul(2).saturating_add(1000),
            received: 0,
            empty_polls: 0,
            sent: 0,
            batches_sent: 0,
            started: Instant::now(),
        }
    }

    /// Runs the move to its end. Returns what it did and the error that stopped it, if any; either way
    /// every message it still holds has been made visible again.
    pub(super) async fn run(mut self) -> (MoveCounts, Option<SqsError>) {
        let mut state = State::Receive;
        let error = loop {
            state = match state {
                State::Receive => self.receive().await,
                State::Send(batch) => self.send(batch).await,
                State::Delete { batch, sent } => self.delete(batch, sent).await,
                State::Done(error) => break error,
            };
        };
        (self.finish().await, error)
    }

    /// Receives the next batch and sorts it: what to send next, or receive again, or stop.
    async fn receive(&mut self) -> State {
        if self.empty_polls >= EMPTY_POLLS_TO_STOP {
            return State::Done(None);
        }
        if self.received >= self.max_received {
            self.progress.println(&format!(
                "stopping after receiving {} messages: the dead-letter queue keeps filling; run the \
                 redrive again once it is quiet",
                self.received
            ));
            return State::Done(None);
        }
        // Copies of the references, so the receive borrows nothing of `self` while the arms change it.
        let (dlq, interrupt) = (self.dlq, self.interrupt.clone());
        let receive = dlq.receive_whole(self.per_receive, RECEIVE_WAIT, self.plan.visibility);
        tokio::pin!(receive);
        let received = tokio::select! {
            biased;
            () = interrupt.cancelled() => {
                // The receive in progress is finished, not dropped: SQS may already have handed its
                // messages out, and a dropped answer would leave them hidden in the DLQ for the whole
                // visibility timeout. What it returns is held, so it is handed back at the end.
                self.counts.interrupted = true;
                if let Ok(batch) = receive.await {
                    batch.into_iter().for_each(|message| self.hold(message));
                }
                return State::Done(None);
            }
            received = &mut receive => received,
        };
        let batch = match received {
            Ok(batch) => batch,
            Err(err) => return State::Done(Some(err)),
        };
        if batch.is_empty() {
            self.empty_polls += 1;
            return State::Receive;
        }
        self.empty_polls = 0;
        self.received += batch.len() as u64;
        let selected = self.select(batch);
        if selected.is_empty() {
            self.progress.set(self.counts.examined, None, "");
            return State::Receive;
        }
        State::Send(selected)
    }

    /// Keeps the messages to send now; holds the rest (not selected, or a dry run's).
    fn select(&mut self, batch: Vec<Received>) -> Vec<Received> {
        let mut selected = Vec::new();
        for message in batch {
            if let Some(held) = self.held.get_mut(&message.message_id) {
                *held = message;
                continue;
            }
            self.counts.examined += 1;
            let described = Described::of(
                &message.body,
                Some(&message.message_id),
                message.sent_at.unwrap_or_else(OffsetDateTime::now_utc),
            );
            if !self.plan.filter.selects(&described) {
                self.counts.skipped += 1;
                self.hold(message);
            } else if self.plan.dry_run {
                self.counts.would_move += 1;
                self.progress.println(&format!(
                    "would move {}  {}",
                    message.message_id,
                    described.line()
                ));
                self.hold(message);
            } else {
                selected.push(message);
            }
        }
        selected
    }

    /// Waits for the pace, then sends `batch` to the destination. Failed sends are held, so this run
    /// does not retry them in a loop.
    async fn send(&mut self, batch: Vec<Received>) -> State {
        if let Some(rate) = self.plan.max_per_second {
            // Messages already sent set the earliest time the next batch may go.
            let due = self.started + Duration::from_secs_f64(self.sent as f64 / f64::from(rate));
            let interrupt = self.interrupt.clone();
            tokio::select! {
                biased;
                () = interrupt.cancelled() => {
                    self.counts.interrupted = true;
                    batch.into_iter().for_each(|message| self.hold(message));
                    return State::Done(None);
                }
                () = tokio::time::sleep_until(due) => {}
            }
        }
        let outgoing: Vec<Outgoing> = batch.iter().map(Outgoing::from_received).collect();
        let sent = match self.send_within_limits(&outgoing).await {
            Ok(sent) => sent,
            Err((sent, err)) if sent.succeeded.is_empty() => {
                // Nothing of this batch was sent; it stays in the DLQ.
                self.counts.send_failed += batch.len() as u64;
                batch.into_iter().for_each(|message| self.hold(message));
                return State::Done(Some(err));
            }
            // An earlier call sent part of the batch: that part is deleted from the DLQ as usual (or
            // it would arrive twice), and the unsent rest counts as failed entries.
            Err((sent, err)) => unsent_failed(sent, batch.len(), &err),
        };
        self.sent += sent.succeeded.len() as u64;
        self.batches_sent += 1;
        self.counts.send_failed += sent.failed.len() as u64;
        for failure in &sent.failed {
            let message = &batch[failure.index];
            self.progress.println(&format!(
                "not moved {}: send failed: {} {}",
                message.message_id, failure.code, failure.message
            ));
            self.hold(message.clone());
        }
        State::Delete { batch, sent }
    }

    /// Sends `outgoing` in as many SendMessageBatch calls as SQS's total-size limit needs (ten
    /// messages of 100 KB each would break it in one call, and SQS would refuse all ten). On a failed
    /// call, the outcome so far comes back with the error.
    async fn send_within_limits(
        &self,
        outgoing: &[Outgoing],
    ) -> Result<BatchOutcome, (BatchOutcome, SqsError)> {
        let mut sent = BatchOutcome::default();
        let mut offset = 0;
        for part in batch::split(outgoing, Outgoing::size) {
            match self.destination.send_batch(part).await {
                Ok(outcome) => sent.extend(outcome, offset),
                Err(err) => return Err((sent, err)),
            }
            offset += part.len();
        }
        Ok(sent)
    }

    /// Deletes from the DLQ what arrived at the destination, and only that.
    async fn delete(&mut self, batch: Vec<Received>, sent: BatchOutcome) -> State {
        #[cfg(feature = "fault-injection")]
        if self.plan.crash_after_send == Some(self.batches_sent) {
            eprintln!(
                "aborting after sending batch {} and before deleting it (--crash-after-send)",
                self.batches_sent
            );
            std::process::abort();
        }
        let handles: Vec<&str> = sent
            .succeeded
            .iter()
            .map(|&i| batch[i].receipt_handle.as_str())
            .collect();
        let deleted = match self.dlq.delete_batch(&handles).await {
            Ok(deleted) => deleted,
            Err(err) => {
                self.counts.delete_failed += handles.len() as u64;
                return State::Done(Some(err));
            }
        };
        self.counts.moved += deleted.succeeded.len() as u64;
        self.counts.delete_failed += deleted.failed.len() as u64;
        for failure in &deleted.failed {
            let message = &batch[sent.succeeded[failure.index]];
            self.progress.println(&format!(
                "sent but not deleted {}: {} {} (it is now in both queues)",
                message.message_id, failure.code, failure.message
            ));
        }
        self.progress.set(self.counts.moved, None, "");
        State::Receive
    }

    /// Keeps `message` hidden until the end of the run.
    fn hold(&mut self, message: Received) {
        self.held.insert(message.message_id.clone(), message);
    }

    /// Hands every held message back to the DLQ at once.
    async fn finish(self) -> MoveCounts {
        self.progress.finish();
        let to_release: Vec<Received> = self.held.into_values().collect();
        let (_, unreleased) = release(self.dlq, &to_release).await;
        if unreleased > 0 {
            eprintln!(
                "warning: {unreleased} message(s) left in the dead-letter queue could not be made \
                 visible at once; SQS shows them again within {}s",
                self.plan.visibility.as_secs()
            );
        }
        self.counts
    }
}

/// `sent`, the outcome of the first calls of a batch of `len` entries, with every entry after them
/// failed by the call error `err`.
fn unsent_failed(mut sent: BatchOutcome, len: usize, err: &SqsError) -> BatchOutcome {
    let first_unsent = sent
        .succeeded
        .iter()
        .chain(sent.failed.iter().map(|f| &f.index))
        .max()
        .map_or(0, |&i| i + 1);
    sent.failed
        .extend((first_unsent..len).map(|index| EntryFailure {
            index,
            code: "SendMessageBatch".to_owned(),
            message: err.to_string(),
            sender_fault: false,
        }));
    sent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_after_the_calls_that_answered_fail_with_the_call_error() {
        let sent = BatchOutcome {
            succeeded: vec![0, 2],
            failed: vec![EntryFailure {
                index: 1,
                code: "InvalidMessageContents".to_owned(),
                message: "bad".to_owned(),
                sender_fault: true,
            }],
        };
        let err = SqsError::unusable("SendMessageBatch", "https://sqs.example/q", "timed out");
        let whole = unsent_failed(sent, 5, &err);
        assert_eq!(whole.succeeded, vec![0, 2]);
        let failed: Vec<(usize, bool)> = whole
            .failed
            .iter()
            .map(|f| (f.index, f.sender_fault))
            .collect();
        assert_eq!(failed, vec![(1, true), (3, false), (4, false)]);
    }
}
