//! What the worker remembers about alerts between messages: which alerts were delivered everywhere
//! (de-duplication), which destinations accepted which alert, and who is delivering an alert now.
//!
//! [`StateStore`] is the seam a backend implements: [`memory::MemoryStore`] (one process, the default) and
//! [`dynamodb::DynamoStore`] (one table shared by every replica), chosen by `[state] backend`
//! ([`State::from_config`]). The consumer never calls a backend directly: it goes through [`State`],
//! which adds what every backend needs —
//! - a per-key lock within the process ([`locks`]), so two copies of one alert in one batch never race;
//! - a timeout on every call (`state.call_timeout`, by default [`CALL_TIMEOUT`]), and its latency
//!   (`failwatch_state_call_duration_seconds{op}`), claims by outcome (`failwatch_state_claims_total`)
//!   and the posts the store prevented (`failwatch_state_duplicates_suppressed_total`);
//! - the failure policy: **when the store fails, deliver anyway.** A possible duplicate beats a lost
//!   alert. A failed or timed-out call is counted (`failwatch_state_errors_total{op}`) and logged at
//!   most once per [`ERROR_LOG_INTERVAL`], and its answer is taken as "not known": a claim as won, a
//!   delivered-to lookup as "not delivered", a record as not written. No store call holds a message past
//!   its visibility: calls are bounded by the call timeout (less than half the visibility timeout, and
//!   the heartbeat keeps extending it meanwhile), and waiting for a claim by the lease.
//!
//! A message's alert goes through: [`State::claim`] → [`State::delivered_to`] (skip destinations that
//! accepted it already) → [`State::record_delivery`] as each destination accepts → [`State::complete`]
//! when every destination accepted it, or [`State::release`] when it goes back to the queue.

pub(crate) mod dynamodb;
pub(crate) mod groups;
pub(crate) mod locks;
pub(crate) mod memory;

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::config::env::{self, Env as _, ProcessEnv};
use crate::config::{Config, StateBackend, defaults};
use crate::metrics;
use dynamodb::DynamoStore;
use locks::{KeyGuard, KeyLocks};
use memory::MemoryStore;

/// The longest one store call may take before it counts as failed, unless `state.call_timeout` says
/// otherwise. A shared store answers in milliseconds; the shortest visibility timeout allowed is five
/// seconds.
pub(crate) const CALL_TIMEOUT: Duration = defaults::STATE_CALL_TIMEOUT;
/// A failing store is logged at most this often (every failure is counted).
pub(crate) const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(30);

/// What a claim on an alert found. The backend's answer carries no holder (`Claim<()>`); [`State`]
/// hands the caller a [`ClaimGuard`] in [`Claim::Won`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claim<T> {
    /// This worker delivers the alert.
    Won(T),
    /// Every routed destination accepted the alert within the TTL: the message is a duplicate.
    Done,
    /// Another holder (another message in this process, or another replica) is delivering the alert
    /// now: look again after `retry_in`, when it has finished or its lease has run out.
    Held {
        /// How long until the holder's lease runs out.
        retry_in: Duration,
    },
}

/// A store call that failed: the backend's error, or a timeout.
#[derive(Debug, thiserror::Error)]
#[error("the state store failed")]
pub(crate) struct StateError(#[source] Box<dyn std::error::Error + Send + Sync>);

impl StateError {
    /// Wraps a backend's own error.
    pub(crate) fn new(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        StateError(Box::new(source))
    }
}

/// A backend of the worker's state. Keys are alerts' `dedup_key`s; destinations are configured names.
///
/// Calls are fallible and may be slow; [`State`] bounds and forgives them (see the module docs), so a
/// backend reports every failure as a [`StateError`] and never retries for long itself. A shared
/// backend makes every write whose race matters conditional, keeps items small (no payloads), and
/// expires what it writes after the dedup TTL without relying on its store's lazy TTL deletion for
/// correctness. Calls for one key never overlap within one process ([`State`] serialises them).
#[async_trait]
pub(crate) trait StateStore: fmt::Debug + Send + Sync {
    /// Claims alert `key` for this worker for `lease` (the retry budget and one last attempt): no
    /// other holder may deliver it until the claim is completed, released or expires. `Done` when the
    /// alert was completed within the TTL; `Held` when another unexpired claim exists.
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim<()>, StateError>;

    /// For each of `destinations`, in order, whether it already accepted alert `key` within the TTL.
    async fn delivered_to(&self, key: &str, destinations: &[&str])
    -> Result<Vec<bool>, StateError>;

    /// Records that `destination` accepted alert `key`, so no later receive of any copy posts it there
    /// again within the TTL.
    async fn record_delivery(&self, key: &str, destination: &str) -> Result<(), StateError>;

    /// Records that every routed destination accepted alert `key` (later copies are duplicates for the
    /// TTL) and ends this worker's claim.
    async fn complete(&self, key: &str) -> Result<(), StateError>;

    /// Ends this worker's claim on `key` without completing it (the message goes back to the queue), so
    /// another holder need not wait for the lease.
    async fn release(&self, key: &str) -> Result<(), StateError>;
}

/// This worker's hold on an alert, from [`State::claim`]: the alert's key, locked in this process.
/// Clones share the hold (one per destination being delivered); it ends when the last one drops, or
/// with [`State::complete`] / [`State::release`].
#[derive(Debug, Clone)]
pub(crate) struct ClaimGuard {
    key: Arc<str>,
    _local: Arc<KeyGuard>,
}

impl ClaimGuard {
    /// The alert's `dedup_key`.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }
}

/// The state the consumer uses: a backend behind the per-key lock, the call timeout and the "deliver
/// anyway" failure policy.
#[derive(Debug)]
pub(crate) struct State {
    store: Arc<dyn StateStore>,
    locks: KeyLocks,
    lease: Duration,
    call_timeout: Duration,
    errors: ErrorLog,
    /// Fault injection for the system tests: abort the process right after a delivery was recorded,
    /// before its message can be deleted (`FAILWATCH_FAULT_CRASH_AFTER_RECORD`).
    #[cfg(feature = "fault-injection")]
    crash_after_record: bool,
}

impl State {
    /// `store`, with claims that last `lease` (see [`crate::delivery::Deliverer::lease`]).
    pub(crate) fn new(store: Arc<dyn StateStore>, lease: Duration) -> Self {
        State {
            store,
            locks: KeyLocks::default(),
            lease,
            call_timeout: CALL_TIMEOUT,
            errors: ErrorLog::default(),
            #[cfg(feature = "fault-injection")]
            crash_after_record: false,
        }
    }

    /// The backend `[state]` chooses, with claims lasting `state.lease` or else `delivery_lease` (as
    /// long as one receive may work on an alert, [`crate::delivery::Deliverer::lease`]). Builds no
    /// client and makes no call: a store that cannot be reached never keeps the worker from starting.
    pub(crate) fn from_config(config: &Config, delivery_lease: Duration) -> Self {
        let lease = config.state.lease.unwrap_or(delivery_lease);
        let mut state = match config.state.backend {
            StateBackend::Memory => {
                let capacity =
                    NonZeroUsize::new(usize::try_from(config.dedup.capacity).unwrap_or(usize::MAX))
                        .unwrap_or(NonZeroUsize::MIN);
                State::memory(capacity, config.dedup.ttl, lease)
            }
            StateBackend::Dynamodb => {
                let host = ProcessEnv
                    .get(env::HOSTNAME)
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "failwatch".to_owned());
                let store = DynamoStore::new(
                    config.state.table.clone(),
                    config.dedup.ttl,
                    config.state.call_timeout,
                    &host,
                );
                State::new(Arc::new(store), lease)
            }
        };
        state.call_timeout = config.state.call_timeout;
        #[cfg(feature = "fault-injection")]
        {
            state.crash_after_record = ProcessEnv.get(env::FAULT_CRASH_AFTER_RECORD).is_some();
        }
        state
    }

    /// The `memory` backend: at most `capacity` alerts, each remembered for `ttl`.
    pub(crate) fn memory(capacity: NonZeroUsize, ttl: Duration, lease: Duration) -> Self {
        State::new(Arc::new(MemoryStore::new(capacity, ttl)), lease)
    }

    /// Claims alert `key`, first waiting (at most one lease) for any other message of this process
    /// handling the same key, so it sees what that one recorded. A store failure counts as won.
    pub(crate) async fn claim(&self, key: &str) -> Claim<ClaimGuard> {
        let Ok(local) = tokio::time::timeout(self.lease, self.locks.lock(key)).await else {
            count_claim("held");
            return Claim::Held {
                retry_in: self.lease,
            };
        };
        let found = self.call("claim", self.store.claim(key, self.lease)).await;
        match &found {
            Some(Claim::Won(())) => count_claim("won"),
            Some(Claim::Held { .. }) => count_claim("held"),
            Some(Claim::Done) => {
                count_claim("done");
                count_suppressed("alert", 1);
            }
            None => {}
        }
        match found.unwrap_or(Claim::Won(())) {
            Claim::Won(()) => Claim::Won(ClaimGuard {
                key: Arc::from(key),
                _local: Arc::new(local),
            }),
            Claim::Done => Claim::Done,
            Claim::Held { retry_in } => Claim::Held { retry_in },
        }
    }

    /// For each of `destinations`, whether it already accepted the claimed alert. When the store
    /// fails, none has: a possible duplicate post beats a lost one.
    pub(crate) async fn delivered_to(
        &self,
        claim: &ClaimGuard,
        destinations: &[&str],
    ) -> Vec<bool> {
        let found = self
            .call(
                "delivered_to",
                self.store.delivered_to(claim.key(), destinations),
            )
            .await;
        match found {
            Some(found) if found.len() == destinations.len() => {
                count_suppressed("destination", found.iter().filter(|&&d| d).count());
                found
            }
            _ => vec![false; destinations.len()],
        }
    }

    /// Records that `destination` accepted the claimed alert (a failure is counted and logged).
    pub(crate) async fn record_delivery(&self, claim: &ClaimGuard, destination: &str) {
        self.call(
            "record_delivery",
            self.store.record_delivery(claim.key(), destination),
        )
        .await;
        #[cfg(feature = "fault-injection")]
        if self.crash_after_record {
            eprintln!("aborting after recording a delivery, before its message is deleted");
            std::process::abort();
        }
    }

    /// Records that every routed destination accepted the claimed alert, and ends the claim.
    pub(crate) async fn complete(&self, claim: ClaimGuard) {
        self.call("complete", self.store.complete(claim.key()))
            .await;
    }

    /// Ends the claim without completing it: the message goes back to the queue.
    pub(crate) async fn release(&self, claim: ClaimGuard) {
        self.call("release", self.store.release(claim.key())).await;
    }

    /// Runs one store call within the call timeout, timing it; `None` (counted and logged) when it
    /// failed. The grouping state's calls (`crate::grouping`) go through it too.
    pub(crate) async fn call<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, StateError>>,
    ) -> Option<T> {
        let started = Instant::now();
        let result = tokio::time::timeout(self.call_timeout, call).await;
        ::metrics::histogram!(metrics::STATE_CALL_DURATION, "op" => op)
            .record(started.elapsed().as_secs_f64());
        let error = match result {
            Ok(Ok(value)) => return Some(value),
            Ok(Err(err)) => err,
            Err(elapsed) => StateError::new(elapsed),
        };
        self.errors.report(op, &error);
        None
    }
}

/// Counts a claim's answer: `won`, `held` (by another message or replica) or `done` (a duplicate).
fn count_claim(outcome: &'static str) {
    ::metrics::counter!(metrics::STATE_CLAIMS, "outcome" => outcome).increment(1);
}

/// Counts posts the store prevented: a whole alert, or `n` destinations that had accepted it.
fn count_suppressed(level: &'static str, n: usize) {
    if n > 0 {
        ::metrics::counter!(metrics::STATE_DUPLICATES_SUPPRESSED, "level" => level)
            .increment(u64::try_from(n).unwrap_or(u64::MAX));
    }
}

/// Counts every store failure and logs the first of each [`ERROR_LOG_INTERVAL`], with how many were
/// not logged since: a store that is down must not flood the log with one line per message.
#[derive(Debug, Default)]
struct ErrorLog {
    /// When a failure was last logged, and how many failed calls were not logged since.
    last: Mutex<(Option<Instant>, u64)>,
}

impl ErrorLog {
    fn report(&self, op: &'static str, error: &StateError) {
        ::metrics::counter!(metrics::STATE_ERRORS, "op" => op).increment(1);
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let (logged_at, unlogged) = &mut *last;
        if logged_at.is_some_and(|at| now.duration_since(at) < ERROR_LOG_INTERVAL) {
            *unlogged += 1;
            return;
        }
        tracing::warn!(
            op,
            error = %crate::errors::chain(error),
            not_logged_since = *unlogged,
            "the state store failed; delivering anyway, so an alert may be posted twice"
        );
        *logged_at = Some(now);
        *unlogged = 0;
    }
}

#[cfg(test)]
pub(crate) mod tests;
