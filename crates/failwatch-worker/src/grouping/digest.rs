//! The digest scheduler: one task per process that posts every pending digest when it falls due and
//! forgets groups that went quiet.
//!
//! Every second (or at once when held messages run short of room) it reads the index of open groups.
//! For each group whose digest is due it claims the digest (`Group::claim_digest` for the delivery
//! lease, written with compare-and-set, so two replicas never post one digest and a replica that dies
//! mid-post is replaced when the lease ends), renders it for the destination's service, delivers it
//! through the deliverer like an alert (paced, retried within the budget), then settles it
//! (`Group::settle_digest`) and wakes the messages held for it. A digest that could not be delivered
//! stays pending and is tried again after the wait the retry policy asked for. A group with nothing
//! pending that `Group::expired` says was quiet long enough is removed.
//!
//! From SIGTERM on, every pending digest counts as due (held messages are deleted only once theirs is
//! delivered), and its deliveries may wait for their turn until the hard stop.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use failwatch_core::{Digest, RenderOptions};
use time::OffsetDateTime;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{Grouping, Read, core_policy, split_key};
use crate::consumer::Shared;
use crate::delivery::Delivery;
use crate::metrics;
use crate::state::groups::GroupEntry;

/// How often the index of open groups is read.
const TICK: Duration = Duration::from_secs(1);
/// How often quiet groups are looked at for expiry: each look is a read per group.
const EXPIRY_SWEEP: Duration = Duration::from_secs(10);
/// How often a group with pending failures for a destination this replica does not have is looked
/// at again.
const UNCONFIGURED_LOOK_AGAIN: Duration = Duration::from_secs(60);

/// What posting a group's pending digest came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Posted {
    /// Delivered and settled (or rejected for good and settled), or nothing was pending.
    Done,
    /// Not delivered (transient failure, or the store failed): try again after this long.
    Later(Duration),
    /// Someone else is posting it — another replica holding the claim (for as long as its lease
    /// lasts), or another task of this process (for at most a delivery lease): look again after
    /// this long.
    Busy(Duration),
}

/// Runs until `done` (after the consumer has stopped), posting digests as they fall due.
pub(crate) async fn run(shared: Arc<Shared>, done: CancellationToken) {
    let mut posting: JoinSet<(String, Posted)> = JoinSet::new();
    let mut busy: HashSet<String> = HashSet::new();
    let mut not_before: HashMap<String, Instant> = HashMap::new();
    let mut last_sweep = Instant::now();
    loop {
        tokio::select! {
            () = done.cancelled() => break,
            () = tokio::time::sleep(TICK) => {}
            () = shared.grouping.early.notified() => {}
            Some(joined) = posting.join_next() => {
                if let Ok((key, posted)) = joined {
                    busy.remove(&key);
                    match posted {
                        Posted::Done => { not_before.remove(&key); }
                        Posted::Later(wait) | Posted::Busy(wait) => {
                            not_before.insert(key, Instant::now() + wait);
                        }
                    }
                }
                continue;
            }
        }
        let Some(entries) = shared.grouping.open_groups(&shared.state).await else {
            continue;
        };
        ::metrics::gauge!(metrics::GROUPS_OPEN).set(entries.len() as f64);
        let early = shared.soft_stop.is_cancelled() || shared.grouping.short_of_room();
        let now = OffsetDateTime::now_utc();
        let sweep = last_sweep.elapsed() >= EXPIRY_SWEEP;
        if sweep {
            last_sweep = Instant::now();
        }
        for GroupEntry { key, due, .. } in entries {
            if busy.contains(&key) || not_before.get(&key).is_some_and(|t| *t > Instant::now()) {
                continue;
            }
            match due {
                Some(due) if early || due <= now.unix_timestamp() => {
                    busy.insert(key.clone());
                    let shared = shared.clone();
                    let listed = Listed { due, early };
                    posting.spawn(
                        async move {
                            let posted = post_listed(&shared, &key, Some(listed)).await;
                            (key, posted)
                        }
                        .in_current_span(),
                    );
                }
                Some(_) => {}
                None if sweep => expire(&shared, &key, now).await,
                None => {}
            }
        }
    }
    posting.shutdown().await;
}

/// What the index listed for a group the scheduler posts: its due time (Unix seconds), and whether
/// pending digests are posted before it (shutdown, held messages short of room).
#[derive(Debug, Clone, Copy)]
pub(super) struct Listed {
    pub(super) due: i64,
    pub(super) early: bool,
}

/// Posts group `key`'s pending digest, if it has one and no other owner holds its claim, whatever its
/// due time.
pub(crate) async fn post(shared: &Shared, key: &str) -> Posted {
    post_listed(shared, key, None).await
}

/// [`post`], for the group the index `listed` as due: an entry that disagrees with the group is
/// rewritten first, and a digest the group says is not due yet (and not `early`) waits.
pub(super) async fn post_listed(shared: &Shared, key: &str, listed: Option<Listed>) -> Posted {
    let grouping = &shared.grouping;
    let retry = || Posted::Later(crate::retry::MIN_HANDBACK);
    let Some((name, group_key)) = split_key(key) else {
        return Posted::Done;
    };
    let Some(index) = super::destination_index(shared, name) else {
        return forget(shared, key, name, group_key).await;
    };
    // The delivery's own deadline starts after the claim is written: the lease covers that write too,
    // so no other replica takes the digest over while its last attempt may still be running.
    let lease = shared.deliverer.lease() + shared.config.state.call_timeout;
    // Held until the digest is settled or given up, so a recovery of this group in this process waits
    // for this post instead of claiming (with this process's own claim) and posting it again.
    let Some(_posting) = grouping.start_posting(key) else {
        return Posted::Busy(lease);
    };
    let (digest, mention) = {
        let _local = grouping.lock(key).await;
        let Some(read) = grouping.read(&shared.state, key).await else {
            return retry();
        };
        let Some(read) = read else {
            return Posted::Done;
        };
        let (mut body, version) = match listed {
            None => (read.body, read.version),
            Some(listed) => match grouping
                .repair(&shared.state, key, read, Some(listed.due))
                .await
            {
                Some(repaired) => repaired,
                None => return retry(),
            },
        };
        let now = OffsetDateTime::now_utc();
        let Some(due) = body.group.due() else {
            return Posted::Done;
        };
        if listed.is_some_and(|listed| !listed.early && due > now) {
            return Posted::Done;
        }
        if !body.group.claim_digest(grouping.owner(), now, lease) {
            return match body.group.claimed_until(grouping.owner(), now) {
                Some(until) => {
                    Posted::Busy(super::until(until, now).max(crate::retry::MIN_HANDBACK))
                }
                None => Posted::Done,
            };
        }
        let Some(digest) = body.group.digest(now, &core_policy(&body.policy)) else {
            return Posted::Done;
        };
        if grouping
            .write(&shared.state, key, &mut body, Some(version))
            .await
            != Some(true)
        {
            return retry();
        }
        (digest, body.mention)
    };
    let destination = &shared.config.destinations[index];
    let payload =
        failwatch_core::render_digest(&digest, destination.kind, &RenderOptions { mention });
    let delivery = super::deliver(shared, index, &payload, &shared.hard_stop).await;
    match delivery {
        Delivery::Delivered { .. } => {
            ::metrics::counter!(metrics::DIGESTS_POSTED, "destination" => name.to_owned())
                .increment(1);
            if digest.crash_loop.is_some() {
                ::metrics::counter!(metrics::CRASH_LOOPS, "destination" => name.to_owned())
                    .increment(1);
            }
            tracing::info!(
                destination = name,
                group_key,
                count = digest.count,
                crash_loop = digest.crash_loop.is_some(),
                "digest delivered"
            );
            settle(shared, key, &digest).await;
            Posted::Done
        }
        Delivery::Rejected { failure } => {
            // Posting it again cannot help; the failures stay counted in the group for a recovery.
            tracing::error!(destination = name, group_key, count = digest.count, error = %failure, "destination rejected the digest; not retrying it");
            settle(shared, key, &digest).await;
            Posted::Done
        }
        Delivery::Deferred { retry_in, failure } => {
            tracing::warn!(destination = name, group_key, error = %failure, retry_in_secs = retry_in.as_secs(), "digest delivery still failing; trying again later");
            Posted::Later(retry_in.max(crate::retry::MIN_HANDBACK))
        }
    }
}

/// Settles a delivered digest in group `key` (read-modify-write) and wakes the messages held for it.
/// A conflict or a failed call is redone after a jittered wait, as an observation's is (the group's
/// lock is taken per attempt, so alerts of the group are not held up by the waits); when the store
/// keeps failing the digest stays pending and is posted again once its claim ends: a duplicate, never a
/// loss.
async fn settle(shared: &Shared, key: &str, digest: &Digest) {
    let grouping: &Grouping = &shared.grouping;
    let (mut conflicts, mut failures) = (0, 0);
    while conflicts < super::CAS_ATTEMPTS && failures < super::STORE_FAILURES {
        super::cas_backoff(conflicts + failures).await;
        let _local = grouping.lock(key).await;
        let Some(read) = grouping.read(&shared.state, key).await else {
            failures += 1;
            continue;
        };
        let Some(Read { mut body, version }) = read else {
            // Gone (closed by a recovery): nothing is pending in it any more.
            grouping.changed(key);
            return;
        };
        body.group.settle_digest(digest, OffsetDateTime::now_utc());
        match grouping
            .write(&shared.state, key, &mut body, Some(version))
            .await
        {
            Some(true) => {
                grouping.changed(key);
                return;
            }
            Some(false) => conflicts += 1,
            None => failures += 1,
        }
    }
    tracing::warn!(group = %key, "a delivered digest could not be settled; it may be posted again");
}

/// Removes group `key` when nothing is pending and it was quiet long enough.
async fn expire(shared: &Shared, key: &str, now: OffsetDateTime) {
    let grouping = &shared.grouping;
    let _local = grouping.lock(key).await;
    let Some(Some(read)) = grouping.read(&shared.state, key).await else {
        return;
    };
    // Listed with nothing due: a group with pending alerts gets its entry back first.
    let Some((body, version)) = grouping.repair(&shared.state, key, read, None).await else {
        return;
    };
    if body.group.expired(now, &core_policy(&body.policy))
        && grouping.remove(&shared.state, key, version).await == Some(true)
    {
        tracing::debug!(group = %key, "group closed after a quiet interval");
    }
}

/// Group `key` names a destination this process does not have: removed when nothing is pending in
/// it; otherwise left (and looked at again a minute later) for a replica that still has the
/// destination, since a durable store holds failures whose messages were deleted. A destination
/// removed for good leaves such a group until the store's expiry, warned about each minute.
async fn forget(shared: &Shared, key: &str, destination: &str, group_key: &str) -> Posted {
    let grouping = &shared.grouping;
    let _local = grouping.lock(key).await;
    let Some(read) = grouping.read(&shared.state, key).await else {
        return Posted::Later(crate::retry::MIN_HANDBACK);
    };
    let Some(read) = read else {
        return Posted::Done;
    };
    let pending = read.body.group.pending();
    if pending > 0 {
        // Their messages are gone (a durable store holds them): during a rolling deploy that renames
        // or removes the destination, a replica that still has it posts them.
        tracing::warn!(
            destination,
            group_key,
            pending,
            "a group's destination is not configured here; leaving its pending failures to a replica that has it"
        );
        return Posted::Later(UNCONFIGURED_LOOK_AGAIN);
    }
    tracing::info!(
        destination,
        group_key,
        "a group's destination is no longer configured; forgetting the group"
    );
    grouping.remove(&shared.state, key, read.version).await;
    Posted::Done
}
