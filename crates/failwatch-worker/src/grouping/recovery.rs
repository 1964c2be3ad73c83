//! Recovery notices: a silent event that says a resource is healthy again (`failwatch_core::
//! recovery_signal`) closes every open group of that resource that alerted and has `recovery_notices`
//! on — first its pending digest is posted, then the recovery notice (in Google Chat, in the group's
//! thread), then the group is removed.
//!
//! A group is closed only once it has been quiet for its `group_interval` (`Group::recovery_wait`):
//! one success among failures (a state machine whose concurrent executions fail and succeed in turn)
//! is no recovery, and telling it would post every failure alone and a recovery after each. Until
//! then the recovery event's message is handed back to the queue (one more receive, at most an
//! interval later), and a failure that arrives meanwhile makes it stay silent.
//!
//! The recovery event's message is deleted once those posts are final, and handed back like an alert
//! when one is still failing, when another poster holds the group's digest, or when the store
//! failed: its group is still open, so the next receive tries again.

use std::time::Duration;

use failwatch_core::{RecoverySignal, RenderOptions};
use time::OffsetDateTime;

use super::digest::{self, Posted};
use super::{Read, core_policy, split_key};
use crate::consumer::Shared;
use crate::delivery::Delivery;
use crate::metrics;
use crate::retry::{self, Outcome};

/// How often a group that keeps receiving alerts while it is being closed is looked at again.
const CLOSE_ATTEMPTS: usize = 3;
/// How soon a recovery event is looked at again when the store failed or its group kept changing.
const LOOK_AGAIN: Duration = Duration::from_secs(5);

/// What closing one group came to.
#[derive(Debug)]
enum Closed {
    /// Nothing to tell: the group is gone, did not alert, has recovery notices off, or failed
    /// after the signal.
    Nothing,
    /// The recovery notice's delivery.
    Delivered(Delivery),
    /// Not yet: the group has not been quiet for its interval, its digest is being posted by another
    /// poster or could not be posted yet, or the store failed. Look again after this long.
    Later(Duration),
}

/// Tells every open group of `signal`'s scope that it recovered, and decides the recovery message's
/// outcome.
pub(crate) async fn recover(shared: &Shared, signal: &RecoverySignal) -> Outcome {
    let Some(entries) = shared.grouping.open_groups(&shared.state).await else {
        return Outcome::busy(LOOK_AGAIN);
    };
    let mut deliveries = Vec::new();
    let mut later: Option<Duration> = None;
    for entry in entries
        .iter()
        .filter(|e| e.scope.as_deref() == Some(signal.scope.as_str()))
    {
        match close(shared, &entry.key, signal).await {
            Closed::Nothing => {}
            Closed::Delivered(delivery) => deliveries.push(delivery),
            Closed::Later(wait) => later = later.max(Some(wait)),
        }
    }
    let outcome = retry::handback(
        &deliveries,
        shared.soft_stop.is_cancelled(),
        shared.malformed_visibility,
    );
    match (later, outcome) {
        (None, outcome) => outcome,
        (Some(wait), Outcome::Delete) => Outcome::busy(wait),
        (Some(wait), Outcome::Release { reason, visibility }) => Outcome::Release {
            reason,
            visibility: visibility.max(wait),
        },
    }
}

/// Closes group `key` with a recovery notice.
async fn close(shared: &Shared, key: &str, signal: &RecoverySignal) -> Closed {
    let grouping = &shared.grouping;
    let Some((name, group_key)) = split_key(key) else {
        return Closed::Nothing;
    };
    let Some(index) = super::destination_index(shared, name) else {
        return Closed::Nothing;
    };
    for attempt in 0..CLOSE_ATTEMPTS {
        super::cas_backoff(attempt).await;
        let Some(read) = grouping.read(&shared.state, key).await else {
            return Closed::Later(LOOK_AGAIN);
        };
        let Some(Read { body, .. }) = read else {
            return Closed::Nothing;
        };
        if !body.policy.recovery_notices {
            return Closed::Nothing;
        }
        let Some(recovery) = body.group.recovery(signal) else {
            return Closed::Nothing;
        };
        let quiet = body
            .group
            .recovery_wait(OffsetDateTime::now_utc(), &core_policy(&body.policy));
        if !quiet.is_zero() {
            return Closed::Later(quiet);
        }
        if body.group.due().is_some() {
            // The failures before the recovery are told first, in order.
            match digest::post(shared, key).await {
                Posted::Done => continue,
                Posted::Later(wait) | Posted::Busy(wait) => return Closed::Later(wait),
            }
        }
        let destination = &shared.config.destinations[index];
        let payload = failwatch_core::render_recovery(
            &recovery,
            destination.kind,
            &RenderOptions {
                mention: body.mention.clone(),
            },
        );
        let delivery = super::deliver(shared, index, &payload, &shared.soft_stop).await;
        if matches!(delivery, Delivery::Delivered { .. }) {
            ::metrics::counter!(metrics::RECOVERIES_POSTED, "destination" => name.to_owned())
                .increment(1);
            tracing::info!(
                destination = name,
                group_key,
                failures = recovery.failures,
                "recovery delivered"
            );
            remove(shared, key).await;
        }
        return Closed::Delivered(delivery);
    }
    Closed::Later(LOOK_AGAIN)
}

/// Removes the closed group `key` once nothing is pending in it: an alert folded while the recovery
/// was posted is posted in a digest first, so no held message is woken before its digest went out.
async fn remove(shared: &Shared, key: &str) {
    let grouping = &shared.grouping;
    for attempt in 0..CLOSE_ATTEMPTS {
        super::cas_backoff(attempt).await;
        let Some(Some(read)) = grouping.read(&shared.state, key).await else {
            return;
        };
        if read.body.group.due().is_some() {
            if digest::post(shared, key).await != Posted::Done {
                return;
            }
            continue;
        }
        let _local = grouping.lock(key).await;
        if grouping.remove(&shared.state, key, read.version).await != Some(false) {
            return;
        }
    }
}
