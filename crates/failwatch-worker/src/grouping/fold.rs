//! The consumer's grouping step for one routed destination: observe the alert in the destination's
//! group and say whether to post it (perhaps as a crash-loop notice), whether that destination is done
//! with, or whether the message must be held for the group's digest.

use std::sync::Arc;

use failwatch_core::{Alert, Observed};
use time::OffsetDateTime;

use super::held::Fold;
use super::store_key;
use crate::consumer::Shared;
use crate::metrics;
use crate::routing::Routed;
use crate::state::ClaimGuard;

/// What to do about one routed destination.
#[derive(Debug)]
pub(crate) enum Step {
    /// Post this alert there (the original, or a crash-loop copy).
    Post(Arc<Alert>),
    /// Nothing to post: a fold the durable store now holds (recorded as delivered).
    Done,
    /// Folded into a group of this process only: hold the message until its digest is delivered.
    Hold(Fold),
    /// The group's digest is full and due: hand the message back and offer the alert again after
    /// [`defer_for`], once the digest is posted.
    Defer,
}

/// How long a message whose group's digest was full ([`Group::MAX_PENDING`]) waits before its alert
/// is offered again: a delivery lease, the longest the due digest's post can take. Waiting costs no
/// time: the alert folds into the next digest, due a whole interval after that one is settled. And a
/// chat outage that holds the full digest up costs the message one receive per lease, as an alert's
/// own retries do, so it rides the outage out instead of reaching the DLQ within seconds.
///
/// [`Group::MAX_PENDING`]: failwatch_core::Group::MAX_PENDING
pub(crate) fn defer_for(shared: &Shared) -> std::time::Duration {
    shared.deliverer.lease().max(crate::retry::MIN_HANDBACK)
}

/// Decides what happens to `alert` at `routed`'s destination under the route's `[grouping]`. Grouping
/// off, or a store that failed: post it.
pub(crate) async fn step(
    shared: &Shared,
    routed: &Routed,
    alert: &Arc<Alert>,
    claim: &ClaimGuard,
) -> Step {
    let policy = shared
        .config
        .grouping
        .with(&routed.grouping.unwrap_or_default());
    if !policy.enabled() {
        return Step::Post(alert.clone());
    }
    let name = &shared.config.destinations[routed.destination].name;
    let Some(seen) = shared
        .grouping
        .observe(
            &shared.state,
            name,
            alert,
            (&policy, routed.mention.as_deref()),
            OffsetDateTime::now_utc(),
        )
        .await
    else {
        return Step::Post(alert.clone());
    };
    let label = || name.clone();
    match seen.observed {
        Observed::Post { crash_loop: None } => Step::Post(alert.clone()),
        Observed::Post {
            crash_loop: Some(crash_loop),
        } => {
            ::metrics::counter!(metrics::CRASH_LOOPS, "destination" => label()).increment(1);
            tracing::info!(destination = %name, group_key = %alert.group_key, failures = crash_loop.failures, "crash loop: posting the alert as critical");
            let mut copy = Alert::clone(alert);
            failwatch_core::mark_crash_loop(&mut copy, crash_loop);
            Step::Post(Arc::new(copy))
        }
        Observed::Deferred => {
            tracing::info!(destination = %name, group_key = %alert.group_key, "the group's digest is full; offering the alert again once it is posted");
            shared.grouping.post_early();
            Step::Defer
        }
        Observed::Folded { due } => {
            ::metrics::counter!(metrics::ALERTS_FOLDED, "destination" => label()).increment(1);
            tracing::info!(destination = %name, group_key = %alert.group_key, "alert folded into the group's next digest");
            hold_or_record(shared, name, alert, claim, due).await
        }
        // A redelivered copy of an alert a delivered digest carried.
        Observed::Repeat if seen.settled => Step::Done,
        // A copy of an alert still pending: with memory, this message waits for that digest too.
        Observed::Repeat => {
            let due = seen.due.unwrap_or_else(OffsetDateTime::now_utc);
            hold_or_record(shared, name, alert, claim, due).await
        }
    }
}

/// A fold the durable store holds is that destination's delivery; one in memory holds the message.
async fn hold_or_record(
    shared: &Shared,
    name: &str,
    alert: &Alert,
    claim: &ClaimGuard,
    due: OffsetDateTime,
) -> Step {
    if shared.grouping.durable() {
        shared.state.record_delivery(claim, name).await;
        return Step::Done;
    }
    Step::Hold(Fold {
        key: store_key(name, alert),
        dedup_key: alert.dedup_key.clone(),
        due,
    })
}
