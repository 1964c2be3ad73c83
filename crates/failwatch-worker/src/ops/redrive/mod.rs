//! `failwatch dlq redrive`: move messages from the dead-letter queue back to the queue (or `--to`).
//!
//! Two ways to move, chosen per run:
//!
//! - **Native** ([`native`]): SQS's own StartMessageMoveTask, followed to completion with progress.
//! - **Client-side** ([`client_side`]), when the native API is unavailable (some emulators and
//!   partitions), when a filter (`--kind`, `--cluster`) is given, or with `--client-side`: receive, send
//!   with body and attributes unchanged, and only then delete from the DLQ what arrived.
//!
//! The command asks for confirmation unless `--yes` (and refuses, exit 64, when it cannot ask because
//! stdin is not a terminal), prints counts at the end, and exits 1 if any message it set out to move was
//! left behind.

mod client_side;
mod native;

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Described, Dlq, OpsError, resolve_dlq, say};
use crate::cli::RedriveArgs;
use crate::config::QueueConfig;
use crate::routing::{self, Pattern};
use crate::sqs::{Queue, QueueInfo};
use client_side::ClientSideMove;

/// Which messages to move.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    /// `--kind`: a glob over alert kinds.
    pub(crate) kind: Option<Pattern>,
    /// `--cluster`: a glob over the alert's cluster.
    pub(crate) cluster: Option<Pattern>,
}

impl Filter {
    /// Whether no filter was given (everything is selected).
    pub(crate) fn is_empty(&self) -> bool {
        self.kind.is_none() && self.cluster.is_none()
    }

    /// Whether a message with this description is selected. Without a filter everything is.
    pub(crate) fn selects(&self, described: &Described) -> bool {
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
pub(crate) struct Plan {
    /// `--to`: the destination queue URL (default: the configured queue).
    pub(crate) to: Option<String>,
    /// `--max-per-second`.
    pub(crate) max_per_second: Option<u32>,
    /// `--dry-run`: show, move nothing.
    pub(crate) dry_run: bool,
    /// `--yes`: no question asked.
    pub(crate) confirmed: bool,
    /// Which messages to move.
    pub(crate) filter: Filter,
    /// Move with send-then-delete rather than StartMessageMoveTask.
    pub(crate) client_side: bool,
    /// How long received DLQ messages stay hidden during a client-side move.
    pub(crate) visibility: Duration,
    /// Fault injection: abort after sending this many batches, before deleting the last.
    #[cfg(feature = "fault-injection")]
    pub(crate) crash_after_send: Option<u32>,
}

impl Plan {
    /// Checks the arguments before anything touches SQS.
    pub(crate) fn from_args(args: &RedriveArgs) -> Result<Plan, OpsError> {
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
            #[cfg(feature = "fault-injection")]
            crash_after_send: args.crash_after_send,
        })
    }
}

/// What a client-side move did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MoveCounts {
    /// Distinct DLQ messages looked at.
    pub(crate) examined: u64,
    /// Sent to the destination and deleted from the DLQ.
    pub(crate) moved: u64,
    /// Not selected by the filter; left in the DLQ on purpose.
    pub(crate) skipped: u64,
    /// The send failed; still in the DLQ.
    pub(crate) send_failed: u64,
    /// Sent, but the delete from the DLQ failed: in both queues now.
    pub(crate) delete_failed: u64,
    /// Dry run: would have been moved.
    pub(crate) would_move: u64,
    /// The operator pressed Ctrl-C; the run stopped between batches.
    pub(crate) interrupted: bool,
}

impl MoveCounts {
    /// Messages this run set out to move and did not.
    pub(crate) fn left_behind(&self) -> u64 {
        self.send_failed + self.delete_failed
    }
}

/// Runs the redrive the plan describes, from the DLQ of `main` to the plan's destination (default
/// `main`).
pub(crate) async fn run(
    main: &Queue,
    config: &QueueConfig,
    plan: &Plan,
    out: &mut dyn Write,
) -> Result<(), OpsError> {
    let dlq = resolve_dlq(main, config).await?;
    let destination = plan
        .to
        .as_deref()
        .map_or_else(|| main.clone(), |url| main.at(url));
    if destination.url() == dlq.queue.url() {
        return Err(OpsError::Usage(format!(
            "{} is the dead-letter queue itself; nothing to move",
            destination.url()
        )));
    }
    let dlq_info = dlq.queue.info().await?;
    let dest_info = destination.info().await?;
    let waiting = dlq_info.counts.visible + dlq_info.counts.delayed;
    if !introduce(&dlq, &dlq_info, destination.url(), plan, out)? {
        return Ok(());
    }
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
    if !plan.dry_run && !plan.confirmed && !confirm(waiting, dlq.queue.url(), destination.url())? {
        return Err(OpsError::Incomplete(
            "not confirmed; nothing was moved".to_owned(),
        ));
    }
    if !plan.client_side {
        match native::start(&dlq.queue, &dlq_info, &dest_info, plan).await? {
            Some(handle) => {
                return native::follow(&dlq.queue, &dlq_info, &handle, waiting, out).await;
            }
            None => say(out, "moving client-side instead (send, then delete)")?,
        }
    }
    let (counts, error) = move_client_side(&dlq.queue, &destination, plan, waiting).await;
    // The counts are printed even when an SQS error stopped the run; that error is what the exit
    // status reports.
    let reported = report(&dlq.queue, destination.url(), plan, &counts, out).await;
    match error {
        Some(err) => Err(err.into()),
        None => reported,
    }
}

/// Prints what is in the DLQ and how it will be moved; `false` when there is nothing to move.
fn introduce(
    dlq: &Dlq,
    info: &QueueInfo,
    destination: &str,
    plan: &Plan,
    out: &mut dyn Write,
) -> Result<bool, OpsError> {
    let counts = info.counts;
    say(
        out,
        &format!(
            "dead-letter queue {} (from {}): visible {}, in flight {}",
            info.url, dlq.source, counts.visible, counts.in_flight
        ),
    )?;
    if counts.in_flight > 0 {
        say(
            out,
            &format!(
                "note: {} message(s) are in flight (someone is receiving them) and are only moved \
                 once they become visible again",
                counts.in_flight
            ),
        )?;
    }
    if counts.visible + counts.delayed == 0 && counts.in_flight == 0 {
        say(out, "nothing to move: the dead-letter queue is empty")?;
        return Ok(false);
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
    Ok(true)
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

/// The client-side move, interruptible with Ctrl-C between batches.
async fn move_client_side(
    dlq: &Queue,
    destination: &Queue,
    plan: &Plan,
    approx: u64,
) -> (MoveCounts, Option<crate::sqs::SqsError>) {
    let interrupt = CancellationToken::new();
    let watcher = tokio::spawn({
        let interrupt = interrupt.clone();
        async move {
            // Without a signal handler the run simply cannot be interrupted gracefully.
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupt.cancel();
            }
        }
    });
    let result = ClientSideMove::new(dlq, destination, plan, approx, interrupt)
        .run()
        .await;
    watcher.abort();
    let _ = watcher.await;
    result
}

/// Prints the counts of a client-side move and decides the exit status.
async fn report(
    dlq: &Queue,
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
    let now = dlq.depth().await?;
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
