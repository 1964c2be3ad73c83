//! Recovery notices: a silent event that says a resource is healthy again (`failwatch_core::
//! recovery_signal`) closes every open group of that resource that alerted and has `recovery_notices`
//! on — first its pending digest is posted, then the recovery notice (in Google Chat, in the group's
//! thread), then the group is removed.
//!
//! The recovery event's message is deleted once those posts are final, and handed back like an alert
//! when one is still failing: its group is still open, so the next receive tries again.

use failwatch_core::{RecoverySignal, RenderOptions};

use super::digest::{self, Posted};
use super::{Read, split_key};
use crate::consumer::Shared;
use crate::delivery::Delivery;
use crate::metrics;
use crate::retry::{self, Failure, Outcome};

/// How often a group that keeps receiving alerts while it is being closed is looked at again.
const CLOSE_ATTEMPTS: usize = 3;

/// Tells every open group of `signal`'s scope that it recovered, and decides the recovery message's
/// outcome.
pub(crate) async fn recover(shared: &Shared, signal: &RecoverySignal) -> Outcome {
    // A store that cannot be read has no groups to close: the event stays silent.
    let Some(entries) = shared.grouping.open_groups(&shared.state).await else {
        return Outcome::Delete;
    };
    let mut deliveries = Vec::new();
    for entry in entries
        .iter()
        .filter(|e| e.scope.as_deref() == Some(signal.scope.as_str()))
    {
        if let Some(delivery) = close(shared, &entry.key, signal).await {
            deliveries.push(delivery);
        }
    }
    retry::handback(
        &deliveries,
        shared.soft_stop.is_cancelled(),
        shared.malformed_visibility,
    )
}

/// Closes group `key` with a recovery notice; `None` when there was nothing to tell.
async fn close(shared: &Shared, key: &str, signal: &RecoverySignal) -> Option<Delivery> {
    let grouping = &shared.grouping;
    let (name, group_key) = split_key(key)?;
    let index = super::destination_index(shared, name)?;
    for attempt in 0..CLOSE_ATTEMPTS {
        super::cas_backoff(attempt).await;
        let Read { body, .. } = grouping.read(&shared.state, key).await??;
        if !body.policy.recovery_notices {
            return None;
        }
        let recovery = body.group.recovery(signal)?;
        if body.group.due().is_some() {
            // The failures before the recovery are told first, in order.
            if let Posted::Later(retry_in) = digest::post(shared, key).await {
                return Some(Delivery::Deferred {
                    retry_in,
                    failure: Failure::RateLimited { retry_after: None },
                });
            }
            continue;
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
        return Some(delivery);
    }
    None
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
            if let Posted::Later(_) = digest::post(shared, key).await {
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
