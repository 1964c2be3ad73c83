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

use clap::Args;
use time::OffsetDateTime;

use super::queue_admin::{MAX_BATCH, QueueAdmin, QueueCounts, Received};
use super::{Described, OpsError, age_since, format_age, resolve_dlq, say};
use crate::cli::ConfigArgs;
use crate::config::QueueConfig;

/// How many DLQ messages `stats` samples for the age of the oldest.
const STATS_SAMPLE: usize = 50;
/// The most messages one `peek` shows.
const PEEK_MAX: usize = 1000;
/// Long-poll wait of each receive while scanning: a long poll asks every SQS server, so an empty answer
/// means the queue has nothing visible left, where a short poll could miss messages.
const SCAN_WAIT: Duration = Duration::from_secs(1);

/// Arguments of `failwatch dlq stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Arguments of `failwatch dlq peek`.
#[derive(Debug, Args)]
pub struct PeekArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Show at most N messages (1 to 1000).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=PEEK_MAX as i64))]
    pub max: u16,
}

/// Prints counts of the queue and its DLQ, and the age of the DLQ's oldest message.
pub async fn stats(
    admin: &QueueAdmin,
    config: &QueueConfig,
    out: &mut dyn Write,
) -> Result<(), OpsError> {
    let queue = admin.info(&config.queue_url).await?;
    say(out, &format!("queue        {}", queue.url))?;
    say(out, &format!("  {}", counts(&queue.counts)))?;
    say(
        out,
        "  oldest: not sampled (receiving would count toward maxReceiveCount); see the CloudWatch \
         metric ApproximateAgeOfOldestMessage",
    )?;
    let dlq = resolve_dlq(admin, config).await?;
    let info = admin.info(&dlq.url).await?;
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
        let sample = scan(admin, &dlq.url, STATS_SAMPLE).await?;
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
pub async fn peek(
    admin: &QueueAdmin,
    config: &QueueConfig,
    args: &PeekArgs,
    out: &mut dyn Write,
) -> Result<(), OpsError> {
    let dlq = resolve_dlq(admin, config).await?;
    let info = admin.info(&dlq.url).await?;
    say(
        out,
        &format!(
            "dead-letter queue {} (from {}): {}",
            dlq.url,
            dlq.source,
            counts(&info.counts)
        ),
    )?;
    if info.redrive_policy.is_some() {
        return Err(OpsError::Usage(format!(
            "{}: this queue has a RedrivePolicy of its own, so peeking would count toward moving its \
             messages on; refusing",
            dlq.url
        )));
    }
    let sample = scan(admin, &dlq.url, usize::from(args.max)).await?;
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
        let described = Described::of(&m.body, Some(&m.id), received_at);
        let receives = m
            .receive_count
            .map_or_else(|| "?".to_owned(), |n| n.to_string());
        let age = m
            .sent_at
            .map_or_else(|| "?".to_owned(), |at| format_age(age_since(at, now)));
        say(
            out,
            &format!(
                "{:<36}  {receives:>8}  {age:>6}  {}",
                m.id,
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
pub struct Scan {
    pub messages: Vec<Received>,
    /// How many were made visible again at once.
    pub released: usize,
    /// Messages that stay hidden until their visibility timeout runs out, because handing them back
    /// failed (they are not lost: SQS shows them again after `hidden_for`).
    pub unreleased: usize,
    pub hidden_for: Duration,
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

/// Receives up to `max` distinct messages from `url`, then makes them all visible again.
///
/// They stay hidden while the scan pages through the queue, so no message is listed twice; the
/// visibility timeout grows with `max` so that a long scan does not outlive it.
pub async fn scan(admin: &QueueAdmin, url: &str, max: usize) -> Result<Scan, OpsError> {
    let hidden_for = Duration::from_secs(30 + (max / MAX_BATCH) as u64);
    let mut messages: Vec<Received> = Vec::new();
    let mut seen = HashSet::new();
    // Each round either adds a message or ends the scan, except when SQS hands back one we already
    // hold; the round limit bounds that case too.
    let max_rounds = max.div_ceil(MAX_BATCH) * 3 + 3;
    let mut result = Ok(());
    for _ in 0..max_rounds {
        if messages.len() >= max {
            break;
        }
        let batch = match admin
            .receive(
                url,
                (max - messages.len()).min(MAX_BATCH),
                hidden_for,
                SCAN_WAIT,
            )
            .await
        {
            Ok(batch) => batch,
            Err(err) => {
                // Hand back what was already received before reporting the error.
                result = Err(err);
                break;
            }
        };
        if batch.is_empty() {
            break;
        }
        for m in batch {
            if seen.insert(m.id.clone()) {
                messages.push(m);
            }
        }
    }
    let (released, unreleased) = release(admin, url, &messages).await;
    result?;
    Ok(Scan {
        messages,
        released,
        unreleased,
        hidden_for,
    })
}

/// Makes received messages visible again at once; returns how many succeeded and failed.
pub async fn release(admin: &QueueAdmin, url: &str, messages: &[Received]) -> (usize, usize) {
    let mut released = 0;
    let mut failed = 0;
    for chunk in messages.chunks(MAX_BATCH) {
        let handles: Vec<&str> = chunk.iter().map(|m| m.receipt_handle.as_str()).collect();
        match admin.change_visibility(url, &handles, Duration::ZERO).await {
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

fn counts(c: &QueueCounts) -> String {
    format!(
        "visible {}, in flight {}, delayed {}",
        c.visible, c.in_flight, c.delayed
    )
}
