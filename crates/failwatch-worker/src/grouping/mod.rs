//! Grouping in the worker: one group per (destination, `group_key`), kept in a [`GroupStore`] as the
//! core's [`Group`] with the policy and mention it was opened with, and what the consumer, the digest
//! scheduler ([`digest`]) and recovery notices ([`recovery`]) do with it.
//!
//! The core decides (`Group::observe`: post, fold or repeat; when a digest is due; what it says); this
//! module reads, changes and writes groups back with compare-and-set, retrying a conflict a few times.
//! Every store call goes through [`State::call`], so it is bounded by the call timeout and a failure is
//! counted and logged like the alert state's. A failed call is redone after the same jittered wait as
//! a conflict, at most [`STORE_FAILURES`] times: a store slowed down by a storm is waited for rather
//! than flooded around (posting every alert of a storm is the flood grouping exists to prevent), and a
//! store that stays down never loses or holds an alert for long: it is posted as if grouping were off.
//!
//! **Writes are combined.** Alerts of one group observed at once in this process (a storm's receives
//! bring dozens) wait for the group's lock together, and whoever takes it observes all of them in one
//! read-modify-write: a storm costs one read and one write per group per round trip, not per alert.
//! **The index is written only when it changes**: the body remembers what its index entry says
//! ([`Body::indexed`]); a write rewrites the entry only when the group's due time or scope changed, after
//! a write of this group failed or conflicted in this process (its entry may have landed over a newer
//! one), or once the entry is older than [`INDEX_REFRESH`] — so folding into a pending digest is one
//! body write, and the index item, which every group shares, is not rewritten per alert.
//!
//! **Where a folded failure lives until its digest is delivered** depends on the store. A durable
//! store (DynamoDB) holds it: the fold is recorded as that destination's delivery and the message is
//! deleted. The memory store does not survive the process, so the message is **held** ([`held`]): kept
//! in flight, without its concurrency permit, until the digest carrying it was delivered, and handed
//! back on shutdown.

pub(crate) mod digest;
pub(crate) mod fold;
pub(crate) mod held;
pub(crate) mod recovery;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use failwatch_core::{Alert, Group, GroupPolicy, Observed};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::{Notify, Semaphore, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::env::{self, Env as _, ProcessEnv};
use crate::config::{Config, GroupingConfig, StateBackend};
use crate::consumer::Shared;
use crate::delivery::Delivery;
use crate::state::State;
use crate::state::dynamodb::groups::DynamoGroupStore;
use crate::state::groups::{GroupEntry, GroupStore};
use crate::state::locks::KeyLocks;
use crate::state::memory::MemoryGroupStore;

/// How often a read-modify-write is redone when another writer changed the group first. Writers of
/// one group in one process are combined, so a conflict means another replica; a conflict is progress
/// elsewhere, so it is waited out much longer than a failure (two replicas folding a storm into the
/// same groups lost eight times in a row twice in 10,000 alerts), and only then is the alert posted.
const CAS_ATTEMPTS: usize = 16;
/// The first ceiling of the fully jittered wait before a read-modify-write is redone; it doubles with
/// each conflict up to [`CAS_MAX_BACKOFF`]. Replicas folding a storm into the same groups collide
/// often; without a wait they collide again at once (the storm harness's two replicas posted hundreds
/// of alerts after four conflicts in a row), with it they take turns.
const CAS_BACKOFF: Duration = Duration::from_millis(20);
/// The largest ceiling of that wait: sixteen attempts wait at most about 4.2 s in all, within one
/// receive's delivery budget and the visibility timeout the heartbeat keeps extending.
const CAS_MAX_BACKOFF: Duration = Duration::from_millis(320);
/// How many failed store calls one read-modify-write waits out before it gives up: a timeout costs the
/// call timeout (2 s by default), so three of them and their waits stay well within a receive.
const STORE_FAILURES: usize = 3;
/// How long an index entry is trusted without being written again: far within any store's entry
/// lifetime (the DynamoDB backend keeps one two days after its write).
const INDEX_REFRESH: Duration = Duration::from_secs(3600);
/// Separates the parts of a store key (destination names, partitions, account ids and regions never
/// contain it).
const KEY_SEPARATOR: char = '\u{1f}';

/// Before read-modify-write attempt `attempt` (from 0) of a group: nothing before the first, a fully
/// jittered wait before each retry after a conflict, so replicas that collided take turns.
pub(crate) async fn cas_backoff(attempt: usize) {
    if attempt > 0 {
        let ceiling = CAS_BACKOFF.saturating_mul(1 << (attempt - 1).min(4));
        tokio::time::sleep(crate::retry::full_jitter(ceiling.min(CAS_MAX_BACKOFF))).await;
    }
}

/// The store key of `alert`'s group at `destination`: the destination, where the alert comes from
/// (partition, account and region — one cluster or state machine name in two accounts or regions is
/// two problems, and a digest must not fold them together), and the alert's `group_key`.
pub(crate) fn store_key(destination: &str, alert: &Alert) -> String {
    let account = alert.account.as_deref().unwrap_or_default();
    let region = alert.region.as_deref().unwrap_or_default();
    let partition = &alert.partition;
    let group_key = &alert.group_key;
    format!("{destination}{KEY_SEPARATOR}{partition}:{account}:{region}{KEY_SEPARATOR}{group_key}")
}

/// The destination name and `group_key` of a store key.
pub(crate) fn split_key(key: &str) -> Option<(&str, &str)> {
    let mut parts = key.splitn(3, KEY_SEPARATOR);
    let destination = parts.next()?;
    let _origin = parts.next()?;
    Some((destination, parts.next()?))
}

/// What is stored for one group: the core's state and what the worker needs to post for it without the
/// alert that opened it (the scheduler and recovery notices read only this).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Body {
    /// The effective `[grouping]` of the route that chose the destination, at the latest alert.
    pub(crate) policy: GroupingConfig,
    /// The route's mention, for the digest.
    #[serde(default)]
    pub(crate) mention: Option<String>,
    /// The core's state of the group.
    pub(crate) group: Group,
    /// What the group's index entry said when it was last written, and when: a write whose entry
    /// would say the same leaves the index alone. Absent in bodies written before it existed.
    #[serde(default)]
    pub(crate) indexed: Option<Indexed>,
}

/// What a group's index entry was last written with (see [`Body::indexed`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Indexed {
    /// The entry's due time, Unix seconds.
    due: Option<i64>,
    /// The entry's recovery scope.
    scope: Option<String>,
    /// When the entry was written, Unix seconds.
    at: i64,
}

impl Body {
    /// A new, empty group under `policy`.
    fn new(policy: &GroupingConfig) -> Self {
        Body {
            policy: policy.clone(),
            mention: None,
            group: Group::default(),
            indexed: None,
        }
    }

    /// The index entry of this group under `key`.
    fn entry(&self, key: &str) -> GroupEntry {
        GroupEntry {
            key: key.to_owned(),
            due: self.group.due().map(OffsetDateTime::unix_timestamp),
            scope: self.group.scope().map(str::to_owned),
        }
    }

    /// Whether the index entry, as this body last wrote it, still says what `entry` says and is recent
    /// at `now` (Unix seconds).
    fn index_holds(&self, entry: &GroupEntry, now: i64) -> bool {
        self.indexed.as_ref().is_some_and(|indexed| {
            indexed.due == entry.due
                && indexed.scope == entry.scope
                && now.saturating_sub(indexed.at) < INDEX_REFRESH.as_secs().cast_signed()
        })
    }
}

/// The core's policy from a `[grouping]` section.
pub(crate) fn core_policy(config: &GroupingConfig) -> GroupPolicy {
    GroupPolicy {
        group_interval: config.group_interval,
        crash_loop_threshold: config.crash_loop_threshold,
        crash_loop_window: config.crash_loop_window,
    }
}

/// A group as read: its body and the version a write must name.
#[derive(Debug, Clone)]
pub(crate) struct Read {
    pub(crate) body: Body,
    pub(crate) version: u64,
}

/// What observing an alert for one destination decided.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Observation {
    /// The core's answer.
    pub(crate) observed: Observed,
    /// When the group's pending digest falls due after the change, if anything is pending.
    pub(crate) due: Option<OffsetDateTime>,
    /// Whether the alert's `dedup_key` is settled in the group (always false for a fold).
    pub(crate) settled: bool,
}

/// An observation waiting for its group's lock (see [`Grouping::observe`]).
#[derive(Debug)]
struct Waiting {
    alert: Arc<Alert>,
    policy: GroupingConfig,
    mention: Option<String>,
    now: OffsetDateTime,
    reply: oneshot::Sender<Option<Observation>>,
}

impl Waiting {
    /// Observes this alert in `body` (the route's policy and mention become the group's).
    fn observe(&self, body: &mut Body) -> Observation {
        body.policy = self.policy.clone();
        body.mention.clone_from(&self.mention);
        let observed = body
            .group
            .observe(&self.alert, self.now, &core_policy(&self.policy));
        Observation {
            due: body.group.due(),
            settled: body.group.is_settled(&self.alert.dedup_key),
            observed,
        }
    }
}

/// Locks a map of this process's, whatever a panicking holder left in it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The grouping state of this process: the store, who this process is, and the held messages.
#[derive(Debug)]
pub(crate) struct Grouping {
    store: Arc<dyn GroupStore>,
    /// Serialises read-modify-writes of one group within this process.
    locks: KeyLocks,
    /// Per group key, the observations waiting for its lock: whoever takes it observes them all.
    waiting: Mutex<HashMap<String, Vec<Waiting>>>,
    /// Groups whose last write from this process failed or conflicted: their index entry may be
    /// stale, so the next write rewrites it.
    unindexed: Mutex<HashSet<String>>,
    /// This process, as the owner of digest claims.
    owner: String,
    /// Groups whose digest a task of this process is posting (claimed, delivering, settling): the
    /// scheduler and a recovery share this process's claim, so the claim alone cannot keep them from
    /// posting one digest twice.
    posting: Mutex<HashSet<String>>,
    /// Per group key, bumped each time a digest of it is settled or it is removed; held messages
    /// watch the groups they were folded into.
    changes: Mutex<HashMap<String, watch::Sender<u64>>>,
    /// Room for held messages (`grouping.max_held`).
    held: Arc<Semaphore>,
    max_held: usize,
    /// Wakes the scheduler to post pending digests early (the held messages' room runs short).
    early: Notify,
}

impl Grouping {
    /// The store `[state] backend` chooses (the same table as the alert state's, for `dynamodb`);
    /// builds no client and makes no call: a store that cannot be reached never stops start-up.
    pub(crate) fn from_config(config: &Config, owner: String) -> Self {
        let store: Arc<dyn GroupStore> = match config.state.backend {
            StateBackend::Memory => Arc::new(MemoryGroupStore::default()),
            StateBackend::Dynamodb => Arc::new(DynamoGroupStore::new(
                config.state.table.clone(),
                config.state.call_timeout,
            )),
        };
        Grouping::new(store, owner, config.grouping.max_held)
    }

    /// Groups in `store`, with room for `max_held` held messages.
    pub(crate) fn new(store: Arc<dyn GroupStore>, owner: String, max_held: u32) -> Self {
        let max_held = usize::try_from(max_held).unwrap_or(usize::MAX).max(1);
        Grouping {
            store,
            locks: KeyLocks::default(),
            waiting: Mutex::default(),
            unindexed: Mutex::default(),
            owner,
            posting: Mutex::default(),
            changes: Mutex::default(),
            held: Arc::new(Semaphore::new(max_held)),
            max_held,
            early: Notify::new(),
        }
    }

    /// Whether the store outlives this process (a folded message may then be deleted at once).
    pub(crate) fn durable(&self) -> bool {
        self.store.durable()
    }

    /// Observes `alert` in its group at `destination` under `policy` (read, `Group::observe`, write with
    /// compare-and-set), together with every other alert of the group waiting at the same time. `None`
    /// when the store failed or kept conflicting: post the alert.
    pub(crate) async fn observe(
        &self,
        state: &State,
        destination: &str,
        alert: &Arc<Alert>,
        (policy, mention): (&GroupingConfig, Option<&str>),
        now: OffsetDateTime,
    ) -> Option<Observation> {
        let key = store_key(destination, alert);
        loop {
            let (reply, mut answer) = oneshot::channel();
            lock(&self.waiting)
                .entry(key.clone())
                .or_default()
                .push(Waiting {
                    alert: alert.clone(),
                    policy: policy.clone(),
                    mention: mention.map(str::to_owned),
                    now,
                    reply,
                });
            // Answered by whoever holds the lock, or this caller takes it and answers everyone waiting.
            let local = tokio::select! {
                biased;
                answered = &mut answer => match answered {
                    Ok(observation) => return observation,
                    Err(_) => continue,
                },
                local = self.locks.lock(&key) => local,
            };
            // Empty when whoever held the lock before took this observation along.
            let batch = lock(&self.waiting).remove(&key).unwrap_or_default();
            if !batch.is_empty() {
                let answers = self.observe_all(state, &key, &batch).await;
                for (waiting, answer) in batch.into_iter().zip(answers) {
                    // A caller that went away (its receive ended) needs no answer.
                    let _ = waiting.reply.send(answer);
                }
            }
            drop(local);
            if let Ok(observation) = answer.await {
                return observation;
            }
            // The caller that took this observation went away before answering (its receive was
            // cancelled): observe it again; a write of it that landed is then a repeat.
        }
    }

    /// Observes `batch`, in order, in group `key` with one read-modify-write, redone on a conflict or a
    /// failed call (see [`CAS_ATTEMPTS`], [`STORE_FAILURES`]); an answer per observation.
    async fn observe_all(
        &self,
        state: &State,
        key: &str,
        batch: &[Waiting],
    ) -> Vec<Option<Observation>> {
        let mut failures = 0;
        for attempt in 0..CAS_ATTEMPTS {
            cas_backoff(attempt).await;
            let Some(read) = self.read(state, key).await else {
                failures += 1;
                if failures == STORE_FAILURES {
                    break;
                }
                continue;
            };
            let (mut body, version) = match read {
                Some(Read { body, version }) => (body, Some(version)),
                None => (Body::new(&batch[0].policy), None),
            };
            let answers: Vec<Observation> = batch
                .iter()
                .map(|waiting| waiting.observe(&mut body))
                .collect();
            if answers.iter().all(|a| a.observed == Observed::Repeat) {
                return answers.into_iter().map(Some).collect();
            }
            match self.write(state, key, &mut body, version).await {
                Some(true) => return answers.into_iter().map(Some).collect(),
                Some(false) => {}
                None => {
                    failures += 1;
                    if failures == STORE_FAILURES {
                        break;
                    }
                }
            }
        }
        let (destination, group_key) = split_key(key).unwrap_or_default();
        tracing::warn!(
            destination,
            group_key,
            alerts = batch.len(),
            "the group store kept failing or the group kept changing under this worker; posting the alerts"
        );
        vec![None; batch.len()]
    }

    /// The group stored under `key`: `Some(None)` when there is none (or its body cannot be read, an
    /// older format: it starts again), `None` when the store failed.
    pub(crate) async fn read(&self, state: &State, key: &str) -> Option<Option<Read>> {
        let stored = state.call("group_get", self.store.get(key)).await?;
        let Some(stored) = stored else {
            return Some(None);
        };
        match serde_json::from_str::<Body>(&stored.body) {
            Ok(body) => Some(Some(Read {
                body,
                version: stored.version,
            })),
            Err(err) => {
                tracing::warn!(group = %key, error = %err, "a stored group cannot be read; starting it again");
                // Written over at its version, so a concurrent writer still conflicts.
                Some(Some(Read {
                    body: Body::new(&GroupingConfig::default()),
                    version: stored.version,
                }))
            }
        }
    }

    /// Writes `body` under `key` over `version`: `Some(false)` on a conflict, `None` when the store
    /// failed. The index entry is written with it only when it would change (see the module docs);
    /// `body.indexed` then records it.
    pub(crate) async fn write(
        &self,
        state: &State,
        key: &str,
        body: &mut Body,
        version: Option<u64>,
    ) -> Option<bool> {
        let entry = body.entry(key);
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let stale = lock(&self.unindexed).contains(key);
        let reindex = version.is_none() || stale || !body.index_holds(&entry, now);
        if reindex {
            body.indexed = Some(Indexed {
                due: entry.due,
                scope: entry.scope.clone(),
                at: now,
            });
            // Marked until the write is known to have landed with its entry: a write that fails,
            // conflicts or is cancelled may have left its entry over a newer writer's, and the next
            // write of the group rewrites it.
            lock(&self.unindexed).insert(key.to_owned());
        }
        let text = serde_json::to_string(body).ok()?;
        let written = state
            .call(
                "group_put",
                self.store
                    .put(key, &text, version, reindex.then_some(&entry)),
            )
            .await;
        if reindex && written == Some(true) {
            lock(&self.unindexed).remove(key);
        }
        written
    }

    /// Rewrites group `key`'s index entry from its body when the index says otherwise (`listed`: the
    /// due time the index listed): an entry written by a write that then lost, on another replica
    /// perhaps, must not strand a pending digest or announce one that is not there. Returns the version
    /// after the write; the read's when nothing needed writing; `None` when the write did not land
    /// (the next look tries again).
    pub(crate) async fn repair(
        &self,
        state: &State,
        key: &str,
        Read { mut body, version }: Read,
        listed: Option<i64>,
    ) -> Option<(Body, u64)> {
        if body.entry(key).due == listed {
            return Some((body, version));
        }
        tracing::debug!(group = %key, "the index of open groups disagreed with the group; rewriting its entry");
        lock(&self.unindexed).insert(key.to_owned());
        match self.write(state, key, &mut body, Some(version)).await {
            Some(true) => Some((body, version + 1)),
            _ => None,
        }
    }

    /// Removes the group `key` at `version`: `Some(false)` on a conflict, `None` when the store failed.
    /// Held messages of the group are woken (a removed group has nothing pending).
    pub(crate) async fn remove(&self, state: &State, key: &str, version: u64) -> Option<bool> {
        let removed = state
            .call("group_remove", self.store.remove(key, version))
            .await?;
        if removed {
            self.changed(key);
        }
        Some(removed)
    }

    /// Every open group's index entry, or `None` when the store failed.
    pub(crate) async fn open_groups(&self, state: &State) -> Option<Vec<GroupEntry>> {
        state.call("open_groups", self.store.open_groups()).await
    }

    /// Whether `dedup_key` is no longer pending in group `key` (true when the group is gone); `None`
    /// when the store failed. A folded key leaves the pending list only when a digest carrying it was
    /// settled (or the group was removed after posting it), so this stays true however many digests
    /// were settled since and when the group has closed and opened again.
    pub(crate) async fn is_settled(
        &self,
        state: &State,
        key: &str,
        dedup_key: &str,
    ) -> Option<bool> {
        Some(
            self.read(state, key)
                .await?
                .is_none_or(|read| !read.body.group.is_pending(dedup_key)),
        )
    }

    /// Marks group `key`'s digest as being posted by the caller until the guard is dropped; `None`
    /// while another task of this process posts it.
    pub(crate) fn start_posting(&self, key: &str) -> Option<Posting<'_>> {
        lock(&self.posting).insert(key.to_owned()).then(|| Posting {
            grouping: self,
            key: key.to_owned(),
        })
    }

    /// Takes the lock of group `key` within this process.
    pub(crate) async fn lock(&self, key: &str) -> crate::state::locks::KeyGuard {
        self.locks.lock(key).await
    }

    /// Who this process is, as the owner of digest claims.
    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    /// Says that group `key` changed (a digest was settled, or it was removed) to the messages waiting
    /// on it.
    pub(crate) fn changed(&self, key: &str) {
        let mut changes = self.changes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = changes.get(key) {
            sender.send_modify(|n| *n = n.wrapping_add(1));
            if sender.receiver_count() == 0 {
                changes.remove(key);
            }
        }
    }

    /// A receiver that sees every later [`Grouping::changed`] of group `key`.
    pub(crate) fn watch(&self, key: &str) -> watch::Receiver<u64> {
        self.changes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Whether held messages are short of room: pending digests should be posted early.
    pub(crate) fn short_of_room(&self) -> bool {
        self.held.available_permits() < self.max_held / 4
    }

    /// Wakes the scheduler to post pending digests now.
    pub(crate) fn post_early(&self) {
        self.early.notify_one();
    }
}

/// A digest being posted by one task of this process ([`Grouping::start_posting`]).
#[derive(Debug)]
pub(crate) struct Posting<'a> {
    grouping: &'a Grouping,
    key: String,
}

impl Drop for Posting<'_> {
    fn drop(&mut self) {
        lock(&self.grouping.posting).remove(&self.key);
    }
}

/// Delivers a digest's or recovery's `payload` to destination `index` as an alert is delivered: counted
/// by admission from now, paced, retried within one receive's budget; `stop` ends waits for a turn.
pub(crate) async fn deliver(
    shared: &Shared,
    index: usize,
    payload: &str,
    stop: &CancellationToken,
) -> Delivery {
    let deadline = shared.deliverer.deadline(Instant::now());
    let queued = shared.deliverer.enqueue(index);
    shared
        .deliverer
        .deliver_queued(index, queued, payload, deadline, stop)
        .await
}

/// The index of the configured destination named `name` (a group's store key names it).
pub(crate) fn destination_index(shared: &Shared, name: &str) -> Option<usize> {
    shared
        .config
        .destinations
        .iter()
        .position(|d| d.name == name)
}

/// This process as the owner of digest claims: its host name (the pod's, in Kubernetes), process id
/// and a random part — replicas without a `HOSTNAME` in their environment, each process 1 of its
/// container, must still never share a claim.
pub(crate) fn process_owner() -> String {
    let host = ProcessEnv
        .get(env::HOSTNAME)
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "failwatch".to_owned());
    format!(
        "{host}/{}/{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// From `now` until `at` (zero when it has passed).
pub(crate) fn until(at: OffsetDateTime, now: OffsetDateTime) -> Duration {
    Duration::try_from(at - now).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests;
