//! `failwatch dlq redrive`: move messages from the dead-letter queue back to the queue (or `--to`).
//!
//! Two ways to move, chosen per run:
//!
//! - **Native**: SQS's own StartMessageMoveTask, followed to completion through ListMessageMoveTasks
//!   with progress. SQS moves the messages itself, so nothing is lost or duplicated by this process
//!   crashing; interrupting this command only stops the watching.
//! - **Client-side**, when the native API is unavailable (some emulators and partitions), when a filter
//!   (`--kind`, `--cluster`) is given, or with `--client-side`: receive up to ten messages, send them to
//!   the destination with body and message attributes unchanged (SendMessageBatch), and only then
//!   delete from the DLQ the entries whose send succeeded (DeleteMessageBatch). A crash between the two
//!   calls leaves that one batch in both queues — a duplicate the worker's de-duplication absorbs — and
//!   a crash anywhere else loses nothing, because a message leaves the DLQ only after its copy exists.
//!   Messages that do not match the filter, or whose send failed, stay hidden until the end of the run
//!   (so they are not received again) and are then made visible again.
//!
//! The command asks for confirmation unless `--yes` (and refuses, exit 64, when it cannot ask because
//! stdin is not a terminal), prints counts at the end, and exits 1 if any message it set out to move was
//! left behind.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use clap::Args;
use time::OffsetDateTime;
use tokio::time::Instant;

use super::dlq::release;
use super::progress::Progress;
use super::queue_admin::{
    MAX_BATCH, MAX_NATIVE_RATE, MoveTaskStart, Outgoing, QueueAdmin, QueueInfo, Received,
};
use super::{Described, OpsError, resolve_dlq, say};
use crate::cli::ConfigArgs;
use crate::config::QueueConfig;
use crate::routing::{self, Pattern};

/// How often a native move task is polled.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// A native task that reports no progress for this long is left running and the command gives up
/// watching it, saying so.
const NATIVE_STALL_LIMIT: Duration = Duration::from_secs(600);
/// After a native task completes, SQS's approximate counts can lag; the final check waits this long at
/// most for the DLQ to read empty.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);
/// Long-poll wait of each client-side receive: an empty long poll means the DLQ has nothing visible.
const RECEIVE_WAIT: Duration = Duration::from_secs(1);

/// Arguments of `failwatch dlq redrive`.
#[derive(Debug, Args)]
pub struct RedriveArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The queue to move messages to (default: the configured queue_url).
    #[arg(long, value_name = "QUEUE_URL")]
    pub to: Option<String>,
    /// Move at most N messages per second (StartMessageMoveTask accepts at most 500).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_per_second: Option<u32>,
    /// Show what would be moved, and move nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Only move messages whose alert kind matches this glob (ecs_task, ecs_deployment, ecs_service,
    /// sfn_execution). Implies the client-side move; malformed and silent messages never match.
    #[arg(long, value_name = "GLOB")]
    pub kind: Option<String>,
    /// Only move messages whose alert's cluster matches this glob. Implies the client-side move.
    #[arg(long, value_name = "GLOB")]
    pub cluster: Option<String>,
    /// Move client-side (send, then delete) even where StartMessageMoveTask is available.
    #[arg(long)]
    pub client_side: bool,
    /// Client-side move: how long received DLQ messages stay hidden while the run works on them; the
    /// ones it leaves behind become visible again at the end of the run, or after this time if it
    /// crashed.
    #[arg(long, value_name = "SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u32).range(1..=43_200))]
    pub visibility_timeout_secs: u32,
    /// Testing only: abort the process after sending this many batches, before deleting the last one
    /// from the DLQ, to prove what a crash at the worst moment costs.
    #[arg(long, hide = true, value_name = "BATCHES")]
    pub crash_after_send: Option<u32>,
}

/// Which messages to move.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<Pattern>,
    pub cluster: Option<Pattern>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.kind.is_none() && self.cluster.is_none()
    }

    /// Whether a message with this description is selected. Without a filter everything is.
    pub fn selects(&self, described: &Described) -> bool {
        if self.is_empty() {
            return true;
        }
        match described {
            Described::Alert { kind, cluster, .. } => {
                self.kind.as_ref().is_none_or(|p| p.is_match(kind))
                    && self
                        .cluster
                        .as_ref()
                        .is_none_or(|p| p.is_match(cluster.as_deref().unwrap_or("")))
            }
            Described::Silent { .. } | Described::Malformed { .. } => false,
        }
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = &self.kind {
            parts.push(format!("kind {:?}", p.as_str()));
        }
        if let Some(p) = &self.cluster {
            parts.push(format!("cluster {:?}", p.as_str()));
        }
        parts.join(" and ")
    }
}

/// A validated redrive request.
#[derive(Debug, Clone)]
pub struct Plan {
    pub to: Option<String>,
    pub max_per_second: Option<u32>,
    pub dry_run: bool,
    pub confirmed: bool,
    pub filter: Filter,
    pub client_side: bool,
    pub visibility: Duration,
    pub crash_after_send: Option<u32>,
}

impl Plan {
    /// Checks the arguments before anything touches SQS.
    pub fn from_args(args: &RedriveArgs) -> Result<Plan, OpsError> {
        Plan::check(args, std::io::stdin().is_terminal())
    }

    fn check(args: &RedriveArgs, stdin_is_terminal: bool) -> Result<Plan, OpsError> {
        let kind = args
            .kind
            .as_deref()
            .map(|text| {
                let p = Pattern::new(text).map_err(|m| OpsError::Usage(format!("--kind: {m}")))?;
                routing::check_matches_some(&p, routing::KINDS.iter().map(|k| k.as_str()))
                    .map_err(|m| OpsError::Usage(format!("--kind: {m}")))?;
                Ok::<_, OpsError>(p)
            })
            .transpose()?;
        let cluster = args
            .cluster
            .as_deref()
            .map(|text| Pattern::new(text).map_err(|m| OpsError::Usage(format!("--cluster: {m}"))))
            .transpose()?;
        let filter = Filter { kind, cluster };
        if !args.yes && !args.dry_run && !stdin_is_terminal {
            return Err(OpsError::Usage(
                "refusing to move messages without confirmation: standard input is not a terminal, \
                 so there is no one to ask. Re-run with --yes (or with --dry-run to see what would move)"
                    .to_owned(),
            ));
        }
        Ok(Plan {
            to: args.to.clone(),
            max_per_second: args.max_per_second,
            dry_run: args.dry_run,
            confirmed: args.yes,
            client_side: args.client_side || !filter.is_empty(),
            filter,
            visibility: Duration::from_secs(args.visibility_timeout_secs.into()),
            crash_after_send: args.crash_after_send,
        })
    }
}

/// What a client-side move did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MoveCounts {
    /// Distinct DLQ messages looked at.
    pub examined: u64,
    /// Sent to the destination and deleted from the DLQ.
    pub moved: u64,
    /// Not selected by the filter; left in the DLQ on purpose.
    pub skipped: u64,
    /// The send failed; still in the DLQ.
    pub send_failed: u64,
    /// Sent, but the delete from the DLQ failed: in both queues now.
    pub delete_failed: u64,
    /// Dry run: would have been moved.
    pub would_move: u64,
    /// The operator pressed Ctrl-C; the run stopped between batches.
    pub interrupted: bool,
}

impl MoveCounts {
    /// Messages this run set out to move and did not.
    pub fn left_behind(&self) -> u64 {
        self.send_failed + self.delete_failed
    }
}

/// Runs the redrive the plan describes.
pub async fn run(
    admin: &QueueAdmin,
    config: &QueueConfig,
    plan: &Plan,
    out: &mut dyn Write,
) -> Result<(), OpsError> {
    let dlq = resolve_dlq(admin, config).await?;
    let destination = plan.to.as_deref().unwrap_or(&config.queue_url);
    if destination == dlq.url {
        return Err(OpsError::Usage(format!(
            "{destination} is the dead-letter queue itself; nothing to move"
        )));
    }
    let dlq_info = admin.info(&dlq.url).await?;
    let dest_info = admin.info(destination).await?;
    let waiting = dlq_info.counts.visible + dlq_info.counts.delayed;
    say(
        out,
        &format!(
            "dead-letter queue {} (from {}): visible {}, in flight {}",
            dlq.url, dlq.source, dlq_info.counts.visible, dlq_info.counts.in_flight
        ),
    )?;
    if dlq_info.counts.in_flight > 0 {
        say(
            out,
            &format!(
                "note: {} message(s) are in flight (someone is receiving them) and are only moved \
                 once they become visible again",
                dlq_info.counts.in_flight
            ),
        )?;
    }
    if waiting == 0 && dlq_info.counts.in_flight == 0 {
        say(out, "nothing to move: the dead-letter queue is empty")?;
        return Ok(());
    }
    let how = if plan.client_side {
        "client-side (send, then delete)"
    } else {
        "StartMessageMoveTask"
    };
    let only = if plan.filter.is_empty() {
        String::new()
    } else {
        format!(", only messages with {}", plan.filter.describe())
    };
    let pace = plan
        .max_per_second
        .map(|n| format!(", at most {n} per second"))
        .unwrap_or_default();
    say(
        out,
        &format!("destination {destination}; method: {how}{only}{pace}"),
    )?;

    if plan.dry_run && !plan.client_side {
        say(
            out,
            &format!(
                "dry run: would move about {waiting} message(s) with StartMessageMoveTask; nothing \
                 was moved"
            ),
        )?;
        return Ok(());
    }
    if !plan.dry_run && !plan.confirmed && !confirm(waiting, &dlq.url, destination)? {
        return Err(OpsError::Incomplete(
            "not confirmed; nothing was moved".to_owned(),
        ));
    }

    if !plan.client_side {
        match start_native(admin, &dlq_info, &dest_info, plan).await? {
            Some(handle) => {
                return follow_native(admin, &dlq_info, &handle, waiting, out).await;
            }
            None => say(out, "moving client-side instead (send, then delete)")?,
        }
    }
    let (counts, error) = move_client_side(admin, &dlq.url, destination, plan, waiting).await;
    // The counts are printed even when an SQS error stopped the run; that error is what the exit
    // status reports.
    let reported = report(admin, &dlq.url, destination, plan, &counts, out).await;
    match error {
        Some(err) => Err(err),
        None => reported,
    }
}

/// Asks on stderr, reads the answer from stdin.
fn confirm(approx: u64, dlq: &str, destination: &str) -> Result<bool, OpsError> {
    eprint!("Move about {approx} message(s) from {dlq} to {destination}? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Starts the native move; `None` when the API is not available here.
async fn start_native(
    admin: &QueueAdmin,
    dlq: &QueueInfo,
    destination: &QueueInfo,
    plan: &Plan,
) -> Result<Option<String>, OpsError> {
    let (Some(dlq_arn), Some(dest_arn)) = (&dlq.arn, &destination.arn) else {
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
    let started = admin
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

/// Polls a native move task until it ends, showing progress.
async fn follow_native(
    admin: &QueueAdmin,
    dlq: &QueueInfo,
    handle: &str,
    approx: u64,
    out: &mut dyn Write,
) -> Result<(), OpsError> {
    let dlq_arn = dlq.arn.as_deref().unwrap_or_default();
    say(out, &format!("started StartMessageMoveTask {handle}"))?;
    let mut progress = Progress::new("moved", Some(approx));
    let mut last_moved = 0;
    let mut last_change = Instant::now();
    let task = loop {
        tokio::time::sleep(POLL_INTERVAL).await;
        let task = admin.move_task(dlq_arn, handle).await?;
        progress.set(task.moved, task.to_move, &task.status.to_ascii_lowercase());
        if task.moved != last_moved {
            last_moved = task.moved;
            last_change = Instant::now();
        }
        match task.status.as_str() {
            "RUNNING" | "CANCELLING" => {}
            _ => break task,
        }
        if last_change.elapsed() > NATIVE_STALL_LIMIT {
            progress.finish();
            return Err(OpsError::Incomplete(format!(
                "the move task {handle} made no progress for {}s; it is still running in SQS \
                 (see `aws sqs list-message-move-tasks --source-arn {dlq_arn}`)",
                NATIVE_STALL_LIMIT.as_secs()
            )));
        }
    };
    progress.finish();
    let left = settle(admin, &dlq.url).await?;
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
async fn settle(admin: &QueueAdmin, url: &str) -> Result<u64, OpsError> {
    let deadline = Instant::now() + SETTLE_LIMIT;
    loop {
        let left = admin.info(url).await?.counts.total();
        if left == 0 || Instant::now() >= deadline {
            return Ok(left);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A received message that stays hidden in the DLQ until the end of the run.
#[derive(Debug)]
struct Held {
    message: Received,
}

/// The client-side move: receive, send, delete, batch by batch. Returns what it did and the error that
/// stopped it, if any; either way every message it still holds has been made visible again.
///
/// Ctrl-C is honoured only between batches — never between a send and its delete — so an interrupted
/// run duplicates nothing and hands everything it held back to the DLQ at once.
async fn move_client_side(
    admin: &QueueAdmin,
    dlq: &str,
    destination: &str,
    plan: &Plan,
    approx: u64,
) -> (MoveCounts, Option<OpsError>) {
    let mut counts = MoveCounts::default();
    // Messages to make visible again at the end, by id: not selected, failed to send, or (dry run)
    // would have moved. A message SQS hands out again (its visibility ran out) replaces the old entry,
    // because only the newest receipt handle can change its visibility.
    let mut held: HashMap<String, Held> = HashMap::new();
    let rate = plan.max_per_second.map(f64::from);
    let per_receive = plan
        .max_per_second
        .map_or(MAX_BATCH, |r| (r as usize).clamp(1, MAX_BATCH));
    // New messages can keep arriving in the DLQ; the run stops after this many receives at most and
    // says so, rather than chasing a queue that never empties.
    let max_received = approx.saturating_mul(2).saturating_add(1000);
    let mut received_total: u64 = 0;
    let mut batches_sent: u32 = 0;
    let mut sent_total: u64 = 0;
    let started = Instant::now();
    let label = if plan.dry_run { "examined" } else { "moved" };
    let mut progress = Progress::new(label, Some(approx));
    let mut empty_polls = 0;
    let mut error: Option<OpsError> = None;
    let interrupt = async {
        // Without a signal handler the run simply cannot be interrupted gracefully.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(interrupt);

    while empty_polls < 2 {
        if received_total >= max_received {
            progress.println(&format!(
                "stopping after receiving {received_total} messages: the dead-letter queue keeps \
                 filling; run the redrive again once it is quiet"
            ));
            break;
        }
        let receive = admin.receive(dlq, per_receive, plan.visibility, RECEIVE_WAIT);
        tokio::pin!(receive);
        let received = tokio::select! {
            biased;
            () = &mut interrupt => {
                // The receive in progress is finished, not dropped: SQS may already have handed its
                // messages out, and a dropped answer would leave them hidden in the DLQ for the whole
                // visibility timeout. What it returns is held, so it is handed back below.
                counts.interrupted = true;
                if let Ok(batch) = receive.await {
                    for message in batch {
                        held.insert(message.id.clone(), Held { message });
                    }
                }
                break;
            }
            received = &mut receive => received,
        };
        let batch = match received {
            Ok(batch) => batch,
            Err(err) => {
                error = Some(err.into());
                break;
            }
        };
        if batch.is_empty() {
            empty_polls += 1;
            continue;
        }
        empty_polls = 0;
        received_total += batch.len() as u64;

        let mut selected: Vec<Received> = Vec::new();
        for message in batch {
            if let Some(h) = held.get_mut(&message.id) {
                h.message = message;
                continue;
            }
            counts.examined += 1;
            let described = Described::of(
                &message.body,
                Some(&message.id),
                message.sent_at.unwrap_or_else(OffsetDateTime::now_utc),
            );
            if !plan.filter.selects(&described) {
                counts.skipped += 1;
                held.insert(message.id.clone(), Held { message });
            } else if plan.dry_run {
                counts.would_move += 1;
                progress.println(&format!("would move {}  {}", message.id, described.line()));
                held.insert(message.id.clone(), Held { message });
            } else {
                selected.push(message);
            }
        }
        if selected.is_empty() {
            progress.set(counts.examined, None, "");
            continue;
        }

        if let Some(rate) = rate {
            // Messages already sent set the earliest time the next batch may go.
            let due = started + Duration::from_secs_f64(sent_total as f64 / rate);
            tokio::select! {
                biased;
                () = &mut interrupt => {
                    counts.interrupted = true;
                    for message in selected {
                        held.insert(message.id.clone(), Held { message });
                    }
                    break;
                }
                () = tokio::time::sleep_until(due) => {}
            }
        }
        let outgoing: Vec<Outgoing> = selected.iter().map(Outgoing::from_received).collect();
        let sent = match admin.send_batch(destination, &outgoing).await {
            Ok(sent) => sent,
            Err(err) => {
                // Nothing of this batch was sent; it stays in the DLQ.
                counts.send_failed += selected.len() as u64;
                for message in selected {
                    held.insert(message.id.clone(), Held { message });
                }
                error = Some(err.into());
                break;
            }
        };
        sent_total += sent.succeeded.len() as u64;
        batches_sent += 1;
        for failure in &sent.failed {
            progress.println(&format!(
                "not moved {}: send failed: {} {}",
                selected[failure.index].id, failure.code, failure.message
            ));
        }
        if plan.crash_after_send == Some(batches_sent) {
            eprintln!(
                "aborting after sending batch {batches_sent} and before deleting it \
                 (--crash-after-send)"
            );
            std::process::abort();
        }
        // Only what arrived at the destination leaves the DLQ.
        let handles: Vec<&str> = sent
            .succeeded
            .iter()
            .map(|&i| selected[i].receipt_handle.as_str())
            .collect();
        let deleted = match admin.delete_batch(dlq, &handles).await {
            Ok(deleted) => deleted,
            Err(err) => {
                counts.delete_failed += handles.len() as u64;
                error = Some(err.into());
                break;
            }
        };
        counts.moved += deleted.succeeded.len() as u64;
        counts.delete_failed += deleted.failed.len() as u64;
        for failure in &deleted.failed {
            let index = sent.succeeded[failure.index];
            progress.println(&format!(
                "sent but not deleted {}: {} {} (it is now in both queues)",
                selected[index].id, failure.code, failure.message
            ));
        }
        // Failed sends stay hidden until the end so this run does not retry them in a loop.
        let mut failed_indices: Vec<usize> = sent.failed.iter().map(|f| f.index).collect();
        failed_indices.sort_unstable();
        counts.send_failed += failed_indices.len() as u64;
        for (i, message) in selected.into_iter().enumerate() {
            if failed_indices.binary_search(&i).is_ok() {
                held.insert(message.id.clone(), Held { message });
            }
        }
        progress.set(counts.moved, None, "");
    }
    progress.finish();

    let to_release: Vec<Received> = held.into_values().map(|h| h.message).collect();
    let (_, unreleased) = release(admin, dlq, &to_release).await;
    if unreleased > 0 {
        eprintln!(
            "warning: {unreleased} message(s) left in the dead-letter queue could not be made \
             visible at once; SQS shows them again within {}s",
            plan.visibility.as_secs()
        );
    }
    (counts, error)
}

/// Prints the counts of a client-side move and decides the exit status.
async fn report(
    admin: &QueueAdmin,
    dlq: &str,
    destination: &str,
    plan: &Plan,
    counts: &MoveCounts,
    out: &mut dyn Write,
) -> Result<(), OpsError> {
    if plan.dry_run {
        say(
            out,
            &format!(
                "dry run: examined {}, would move {}, not selected {}; nothing was moved",
                counts.examined, counts.would_move, counts.skipped
            ),
        )?;
        return Ok(());
    }
    say(
        out,
        &format!(
            "moved {} message(s) to {destination} (sent, then deleted from the dead-letter queue)",
            counts.moved
        ),
    )?;
    say(
        out,
        &format!(
            "  examined {}, not selected {}, send failed {}, sent but not deleted {}",
            counts.examined, counts.skipped, counts.send_failed, counts.delete_failed
        ),
    )?;
    let now = admin.info(dlq).await?.counts;
    say(
        out,
        &format!(
            "dead-letter queue now: visible {}, in flight {}",
            now.visible, now.in_flight
        ),
    )?;
    if counts.interrupted {
        return Err(OpsError::Incomplete(
            "interrupted: stopped between batches; everything not moved is back in the \
             dead-letter queue"
                .to_owned(),
        ));
    }
    if counts.left_behind() > 0 {
        return Err(OpsError::Incomplete(format!(
            "{} selected message(s) were not moved ({} failed to send and are still in the \
             dead-letter queue; {} were sent but not deleted, so they are in both queues)",
            counts.left_behind(),
            counts.send_failed,
            counts.delete_failed
        )));
    }
    // Without a filter everything should have gone; what is still there arrived or reappeared during
    // the run, or was in flight elsewhere.
    let remaining = now.visible + now.in_flight;
    if plan.filter.is_empty() && remaining > 0 {
        return Err(OpsError::Incomplete(format!(
            "{remaining} message(s) are still in the dead-letter queue"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: RedriveArgs,
    }

    fn args(extra: &[&str]) -> RedriveArgs {
        let mut argv = vec!["redrive"];
        argv.extend_from_slice(extra);
        Wrapper::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn without_a_terminal_or_yes_it_refuses() {
        let err = Plan::check(&args(&[]), false).unwrap_err();
        assert_eq!(err.exit_code(), 64);
        assert!(err.to_string().contains("--yes"), "{err}");
        assert!(Plan::check(&args(&["--yes"]), false).is_ok());
        assert!(Plan::check(&args(&["--dry-run"]), false).is_ok());
        assert!(Plan::check(&args(&[]), true).is_ok());
    }

    #[test]
    fn a_filter_implies_the_client_side_move() {
        let plan = Plan::check(&args(&["-y"]), false).unwrap();
        assert!(!plan.client_side);
        let plan = Plan::check(&args(&["-y", "--kind", "sfn_*"]), false).unwrap();
        assert!(plan.client_side);
        let plan = Plan::check(&args(&["-y", "--cluster", "prod-*"]), false).unwrap();
        assert!(plan.client_side);
        let plan = Plan::check(&args(&["-y", "--client-side"]), false).unwrap();
        assert!(plan.client_side);
    }

    #[test]
    fn a_kind_that_matches_nothing_is_a_usage_error() {
        let err = Plan::check(&args(&["-y", "--kind", "ecs-task"]), false).unwrap_err();
        assert_eq!(err.exit_code(), 64);
        assert!(err.to_string().starts_with("--kind:"), "{err}");
        let err = Plan::check(&args(&["-y", "--cluster", "a[b"]), false).unwrap_err();
        assert!(err.to_string().starts_with("--cluster:"), "{err}");
    }

    #[test]
    fn filters_select_alerts_by_kind_and_cluster_only() {
        let filter = Filter {
            kind: Some(Pattern::new("ecs_*").unwrap()),
            cluster: Some(Pattern::new("prod-*").unwrap()),
        };
        let alert = |kind, cluster: Option<&str>| Described::Alert {
            title: "t".into(),
            kind,
            cluster: cluster.map(str::to_owned),
        };
        assert!(filter.selects(&alert("ecs_task", Some("prod-eu"))));
        assert!(!filter.selects(&alert("ecs_task", Some("staging"))));
        assert!(!filter.selects(&alert("sfn_execution", Some("prod-eu"))));
        assert!(!filter.selects(&alert("ecs_task", None)));
        assert!(!filter.selects(&Described::Malformed { reason: "x".into() }));
        assert!(!filter.selects(&Described::Silent { code: "x" }));
        assert!(Filter::default().selects(&Described::Malformed { reason: "x".into() }));
    }

    #[test]
    fn left_behind_counts_failed_sends_and_deletes() {
        let counts = MoveCounts {
            moved: 5,
            skipped: 3,
            send_failed: 1,
            delete_failed: 2,
            ..MoveCounts::default()
        };
        assert_eq!(counts.left_behind(), 3);
    }
}
