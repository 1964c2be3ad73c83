//! `failwatch dlq stats` and `failwatch dlq peek`: what is waiting in the queue and its dead-letter
//! queue, without changing either.
//!
//! Looking at a message in SQS means receiving it. Peek therefore receives with a visibility timeout
//! long enough to page through the requested messages without seeing one twice, then makes every one
//! of them visible again at once (ChangeMessageVisibility 0) — nothing is deleted. Receiving does raise
//! each message's receive count, which is harmless on a dead-letter queue (it has no redrive policy of
//! its own) but would push messages of the main queue toward the DLQ. So nothing here ever receives from
//! a queue that has a RedrivePolicy: `stats` samples the age of the oldest message on the DLQ only, and
//! points at CloudWatch's `ApproximateAgeOfOldestMessage` for the main queue.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use time::OffsetDateTime;

use super::{Described, OpsError, age_since, format_age, resolve_dlq, say};
use crate::cli::PeekArgs;
use crate::config::QueueConfig;
use crate::sqs::{Counts, MAX_BATCH, Queue, Received};

/// How many DLQ messages `stats` samples for the age of the oldest.
const STATS_SAMPLE: usize = 50;
/// Long-poll wait of each receive while scanning: a long poll asks every SQS server, so an empty answer
/// means the queue has nothing visible left, where a short poll could miss messages.
const SCAN_WAIT: Duration = Duration::from_secs(1);

/// Prints counts of the queue and its DLQ, and the age of the DLQ's oldest message.
pub(crate) async fn stats(
    main: &Queue,
    config: &QueueConfig,
    out: &mut dyn Write,
) -> Result<(), OpsError> {
    let queue = main.info().await?;
    say(out, &format!("queue        {}", queue.url))?;
    say(out, &format!("  {}", counts(&queue.counts)))?;
    say(
        out,
        "  oldest: not sampled (receiving would count toward maxReceiveCount); see the CloudWatch \
         metric ApproximateAgeOfOldestMessage",
    )?;
    let dlq = resolve_dlq(main, config).await?;
    let info = dlq.queue.info().await?;
    let found = match dlq.max_receive_count {
        Some(n) => format!("from the queue's {}, maxReceiveCount {n}", dlq.source),
        None => format!("from {}", dlq.source),
    };
    say(out, &format!("dead-letter  {} ({found})", info.url))?;
    say(out, &format!("  {}", counts(&info.counts)))?;
    if info.redrive_policy.is_some() {
        say(
            out,
            "  oldest: not sampled (this queue has a RedrivePolicy of its own)",
        )?;
    } else if info.counts.visible == 0 {
        say(out, "  oldest: (no visible messages)")?;
    } else {
        let sample = scan(&dlq.queue, STATS_SAMPLE).await?;
        let now = OffsetDateTime::now_utc();
        let oldest = sample.messages.iter().filter_map(|m| m.sent_at).min();
        let of = if (sample.messages.len() as u64) < info.counts.visible {
            format!(" (oldest of {} sampled messages)", sample.messages.len())
        } else {
            String::new()
        };
        match oldest {
            Some(at) => say(
                out,
                &format!("  oldest: {}{of}", format_age(age_since(at, now))),
            )?,
            None => say(
                out,
                "  oldest: (no message in the sample had a SentTimestamp)",
            )?,
        }
        sample.warn_unreleased();
    }
    Ok(())
}

/// Lists up to `--max` DLQ messages and makes them visible again.
pub(crate) async fn peek(
    main: &Queue,
    config: &QueueConfig,
    args: &PeekArgs,
    out: &mut dyn Write,
) -> Result<(), OpsError> {
    let dlq = resolve_dlq(main, config).await?;
    let info = dlq.queue.info().await?;
    say(
        out,
        &format!(
            "dead-letter queue {} (from {}): {}",
            info.url,
            dlq.source,
            counts(&info.counts)
        ),
    )?;
    if info.redrive_policy.is_some() {
        return Err(OpsError::Usage(format!(
            "{}: this queue has a RedrivePolicy of its own, so peeking would count toward moving its \
             messages on; refusing",
            info.url
        )));
    }
    let sample = scan(&dlq.queue, usize::from(args.max)).await?;
    let now = OffsetDateTime::now_utc();
    say(
        out,
        &format!(
            "{:<36}  {:>8}  {:>6}  ALERT",
            "MESSAGE ID", "RECEIVES", "AGE"
        ),
    )?;
    for m in &sample.messages {
        let received_at = m.sent_at.unwrap_or(now);
        let described = Described::of(&m.body, Some(&m.message_id), received_at);
        let receives = m.receive_count;
        let age = m
            .sent_at
            .map_or_else(|| "?".to_owned(), |at| format_age(age_since(at, now)));
        say(
            out,
            &format!(
                "{:<36}  {receives:>8}  {age:>6}  {}",
                m.message_id,
                described.line()
            ),
        )?;
    }
    say(
        out,
        &format!(
            "peeked {} message(s); {} made visible again",
            sample.messages.len(),
            sample.released
        ),
    )?;
    sample.warn_unreleased();
    Ok(())
}

/// Messages received from a queue and handed back.
#[derive(Debug)]
pub(crate) struct Scan {
    pub(crate) messages: Vec<Received>,
    /// How many were made visible again at once.
    pub(crate) released: usize,
    /// Messages that stay hidden until their visibility timeout runs out, because handing them back
    /// failed (they are not lost: SQS shows them again after `hidden_for`).
    pub(crate) unreleased: usize,
    pub(crate) hidden_for: Duration,
}

impl Scan {
    fn warn_unreleased(&self) {
        if self.unreleased > 0 {
            eprintln!(
                "warning: {} message(s) could not be made visible at once; SQS shows them again \
                 within {}",
                self.unreleased,
                format_age(self.hidden_for)
            );
        }
    }
}

/// Receives up to `max` distinct messages from `queue`, then makes them all visible again.
///
/// They stay hidden while the scan pages through the queue, so no message is listed twice; the
/// visibility timeout grows with `max` so that a long scan does not outlive it.
pub(crate) async fn scan(queue: &Queue, max: usize) -> Result<Scan, OpsError> {
    let hidden_for = Duration::from_secs(30 + (max / MAX_BATCH) as u64);
    let mut messages: Vec<Received> = Vec::new();
    let mut seen = HashSet::new();
    // Each round either adds a message or ends the scan, except when SQS hands back one we already
    // hold; the round limit bounds that case too.
    let max_rounds = max.div_ceil(MAX_BATCH) * 3 + 3;
    let mut result: Result<(), OpsError> = Ok(());
    for _ in 0..max_rounds {
        if messages.len() >= max {
            break;
        }
        let batch = match queue
            .receive((max - messages.len()).min(MAX_BATCH), SCAN_WAIT, hidden_for)
            .await
        {
            Ok(batch) => batch,
            Err(err) => {
                // Hand back what was already received before reporting the error.
                result = Err(err.into());
                break;
            }
        };
        if batch.is_empty() {
            break;
        }
        for m in batch {
            if seen.insert(m.message_id.clone()) {
                messages.push(m);
            }
        }
    }
    let (released, unreleased) = release(queue, &messages).await;
    result?;
    Ok(Scan {
        messages,
        released,
        unreleased,
        hidden_for,
    })
}

/// Makes received messages visible again at once; returns how many succeeded and failed.
pub(crate) async fn release(queue: &Queue, messages: &[Received]) -> (usize, usize) {
    let mut released = 0;
    let mut failed = 0;
    for chunk in messages.chunks(MAX_BATCH) {
        let entries: Vec<(&str, Duration)> = chunk
            .iter()
            .map(|m| (m.receipt_handle.as_str(), Duration::ZERO))
            .collect();
        match queue.change_visibility_batch(&entries).await {
            Ok(result) => {
                released += result.succeeded.len();
                failed += result.failed.len();
            }
            Err(err) => {
                eprintln!("warning: {err}");
                failed += chunk.len();
            }
        }
    }
    (released, failed)
}

fn counts(c: &Counts) -> String {
    format!(
        "visible {}, in flight {}, delayed {}",
        c.visible, c.in_flight, c.delayed
    )
}
