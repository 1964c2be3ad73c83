//! Held messages (memory store only): a message folded into a group that lives only in this process is
//! deleted only once the digest carrying it was delivered.
//!
//! While held, a message has given back its concurrency permit (polling goes on) and holds one of
//! `grouping.max_held` places instead. Its visibility is set once, to cover the digest's due time plus
//! the delivery lease and a margin — one ChangeMessageVisibility per message, not the per-third
//! heartbeat — and extended again only when the digest is late. It waits on a watch per group
//! ([`super::Grouping::watch`]), woken when a digest of the group is settled or the group is removed,
//! and is deleted when `Group::is_settled(dedup_key)` holds in every group it was folded into. At the
//! hard stop it is handed back at once (visibility 0): a restarted worker reads it again, and may post
//! it as a new first alert — a duplicate, never a loss.

use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use crate::consumer::Shared;
use crate::metrics;
use crate::retry::Outcome;
use crate::sqs::Received;
use crate::state::{Claim, ClaimGuard};

/// Added to a held message's visibility beyond its digest's due time and delivery lease: the scheduler
/// ticks every second and a digest may queue behind others to its room.
const MARGIN: Duration = Duration::from_secs(15);
/// SQS's longest visibility timeout.
const MAX_VISIBILITY: Duration = Duration::from_secs(43_200);

/// One fold of a held message: the group and the alert's key in it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fold {
    /// The group's store key.
    pub(crate) key: String,
    /// The alert's `dedup_key`.
    pub(crate) dedup_key: String,
    /// When the group's digest is due.
    pub(crate) due: OffsetDateTime,
}

/// A message whose alert was folded into groups of this process.
///
/// Its claim on the alert is released while it waits (a copy of the alert — ECS's DEPROVISIONING and
/// STOPPED events of one task — is then folded as a repeat and held too, instead of waiting for the
/// claim), and the alert is completed (later copies are duplicates) once the digest was delivered.
#[derive(Debug)]
pub(crate) struct Held {
    /// The groups it waits for.
    pub(crate) folds: Vec<Fold>,
    /// The alert's `dedup_key`.
    pub(crate) dedup_key: String,
}

impl Held {
    /// Holds the message of the claimed alert for `folds`, releasing the claim meanwhile.
    pub(crate) async fn new(shared: &Shared, folds: Vec<Fold>, claim: ClaimGuard) -> Held {
        let dedup_key = claim.key().to_owned();
        shared.state.release(claim).await;
        Held { folds, dedup_key }
    }
}

/// Takes a held place, asking the scheduler to post digests early when places run short and waiting
/// for one when none is left (the message keeps its concurrency permit meanwhile, so polling slows).
pub(crate) async fn place(shared: &Shared) -> Option<OwnedSemaphorePermit> {
    let grouping = &shared.grouping;
    if grouping.short_of_room() {
        grouping.post_early();
    }
    if let Ok(place) = grouping.held.clone().try_acquire_owned() {
        return Some(place);
    }
    tracing::info!("no room for another held message; posting pending digests early");
    tokio::select! {
        place = grouping.held.clone().acquire_owned() => place.ok(),
        () = shared.hard_stop.cancelled() => None,
    }
}

/// Keeps `message` until every group it was folded into settled it (delete) or the hard stop (hand
/// back at once); `place` is its held place.
pub(crate) async fn wait(
    shared: &Shared,
    message: &Received,
    held: Held,
    place: OwnedSemaphorePermit,
) -> Outcome {
    let gauge = ::metrics::gauge!(metrics::HELD_MESSAGES);
    gauge.increment(1.0);
    let now = OffsetDateTime::now_utc();
    let due = held.folds.iter().map(|f| f.due).max().unwrap_or(now);
    let lease = shared.deliverer.lease() + MARGIN;
    let mut visible_until = extend(shared, message, super::until(due, now) + lease).await;
    let mut settled = true;
    for fold in &held.folds {
        let mut changes = shared.grouping.watch(&fold.key);
        loop {
            if shared
                .grouping
                .is_settled(&shared.state, &fold.key, &fold.dedup_key)
                .await
                == Some(true)
            {
                break;
            }
            // Extended a margin before it would run out, by a lease at a time: the digest is late.
            let renew_at = visible_until.checked_sub(MARGIN).unwrap_or(visible_until);
            tokio::select! {
                biased;
                () = shared.hard_stop.cancelled() => {
                    settled = false;
                    break;
                }
                _ = changes.changed() => {}
                () = tokio::time::sleep_until(renew_at) => {
                    visible_until = extend(shared, message, lease).await;
                }
            }
        }
        if !settled {
            break;
        }
    }
    gauge.decrement(1.0);
    drop(place);
    if !settled {
        return Outcome::shutdown();
    }
    // Another holder (a copy held in this process, another replica) completes it otherwise.
    if let Claim::Won(claim) = shared.state.claim(&held.dedup_key).await {
        shared.state.complete(claim).await;
    }
    Outcome::Delete
}

/// Sets the message's visibility to `visible_for` (at most SQS's 12 h); returns when it runs out as
/// this process counts.
async fn extend(shared: &Shared, message: &Received, visible_for: Duration) -> Instant {
    let visible_for = visible_for.min(MAX_VISIBILITY);
    let asked = Instant::now();
    if let Err(err) = shared
        .queue
        .change_visibility(&message.receipt_handle, visible_for)
        .await
    {
        tracing::warn!(error = %err, "could not extend a held message's visibility");
    }
    asked + visible_for
}
