//! The `memory` backend: today's de-duplication, in this process only.
//!
//! Two memories, both the core's bounded TTL [`Deduper`] on tokio's clock (so tests can pause time):
//! - **Alerts** by `dedup_key`: one stopped task gives one alert even when EventBridge or SQS deliver its
//!   events twice. A key is recorded only after every routed destination accepted the alert
//!   ([`StateStore::complete`]), so a failed delivery is retried rather than suppressed.
//! - **Deliveries** by `dedup_key` and destination: when an alert routed to several destinations is
//!   retried, the destinations that already accepted it are skipped — whether the retry is the same SQS
//!   message received again or another message carrying the same alert (an EventBridge or SQS duplicate,
//!   or a DLQ redrive, which gets a new message id). It lives as long as the alert memory, so it never
//!   suppresses an alert the alert memory would let through.
//!
//! Claims need no record here: [`super::State`] serialises one process's messages per key, and there
//! is no other process to race. This is best effort within one worker process: an alert picked up by
//! another worker (or after a restart) may repeat a post. The calls never fail.

use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use failwatch_core::Deduper;
use tokio::time::Instant;

use super::{Claim, StateError, StateStore};

/// How many (alert, destination) successes are remembered per remembered alert: an alert usually goes
/// to one or two destinations; this bounds memory, not correctness.
const DELIVERED_PER_ALERT: NonZeroUsize = NonZeroUsize::new(4).expect("non-zero");

/// This process's memory of alerts and deliveries.
#[derive(Debug)]
pub(crate) struct MemoryStore {
    alerts: Mutex<Deduper>,
    delivered: Mutex<Deduper>,
}

impl MemoryStore {
    /// Remembers at most `capacity` alerts (and four deliveries per alert), each for `ttl`
    /// (`dedup_capacity`, `dedup_ttl_secs`).
    pub(crate) fn new(capacity: NonZeroUsize, ttl: Duration) -> Self {
        MemoryStore {
            alerts: Mutex::new(Deduper::new(capacity, ttl)),
            // The same TTL as the alert memory: once an alert may be sent again, so may each part of it.
            delivered: Mutex::new(Deduper::new(
                capacity.saturating_mul(DELIVERED_PER_ALERT),
                ttl,
            )),
        }
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    async fn claim(&self, key: &str, _lease: Duration) -> Result<Claim<()>, StateError> {
        Ok(if lock(&self.alerts).is_duplicate(key, now()) {
            Claim::Done
        } else {
            Claim::Won(())
        })
    }

    async fn delivered_to(
        &self,
        key: &str,
        destinations: &[&str],
    ) -> Result<Vec<bool>, StateError> {
        let mut delivered = lock(&self.delivered);
        let now = now();
        Ok(destinations
            .iter()
            .map(|destination| delivered.is_duplicate(&delivery_key(key, destination), now))
            .collect())
    }

    async fn record_delivery(&self, key: &str, destination: &str) -> Result<(), StateError> {
        lock(&self.delivered).record(&delivery_key(key, destination), now());
        Ok(())
    }

    async fn complete(&self, key: &str) -> Result<(), StateError> {
        lock(&self.alerts).record(key, now());
        Ok(())
    }

    async fn release(&self, _key: &str) -> Result<(), StateError> {
        // Nothing was written for the claim; the per-key lock is released by the caller's guard.
        Ok(())
    }
}

/// Tokio's clock, which tests can pause and advance; the core's [`Deduper`] takes `std` instants.
fn now() -> std::time::Instant {
    Instant::now().into_std()
}

fn delivery_key(key: &str, destination: &str) -> String {
    // Destination names cannot contain a space (they are label-safe) and come last, so the key is
    // unambiguous even if the alert's key contains spaces.
    format!("{key} {destination}")
}

/// A poisoned lock only means another task panicked mid-update of a cache; the cache is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    fn store() -> MemoryStore {
        MemoryStore::new(NonZeroUsize::new(10).unwrap(), TTL)
    }

    async fn is_duplicate(store: &MemoryStore, key: &str) -> bool {
        store.claim(key, TTL).await.unwrap() == Claim::Done
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_is_a_duplicate_only_once_recorded() {
        let d = store();
        assert!(!is_duplicate(&d, "k").await);
        assert!(!is_duplicate(&d, "k").await, "claiming does not record");
        d.release("k").await.unwrap();
        assert!(!is_duplicate(&d, "k").await, "releasing does not record");
        d.complete("k").await.unwrap();
        assert!(is_duplicate(&d, "k").await);
    }

    #[tokio::test(start_paused = true)]
    async fn deliveries_are_remembered_per_alert_and_destination() {
        let d = store();
        d.record_delivery("k1", "slack").await.unwrap();
        assert_eq!(
            d.delivered_to("k1", &["slack", "chat"]).await.unwrap(),
            [true, false]
        );
        assert_eq!(d.delivered_to("k2", &["slack"]).await.unwrap(), [false]);
    }

    #[tokio::test(start_paused = true)]
    async fn alerts_and_deliveries_are_forgotten_after_the_ttl() {
        let d = store();
        d.complete("k1").await.unwrap();
        d.record_delivery("k1", "slack").await.unwrap();
        tokio::time::advance(TTL - Duration::from_millis(1)).await;
        assert!(is_duplicate(&d, "k1").await);
        assert_eq!(d.delivered_to("k1", &["slack"]).await.unwrap(), [true]);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(!is_duplicate(&d, "k1").await);
        assert_eq!(d.delivered_to("k1", &["slack"]).await.unwrap(), [false]);
    }

    #[tokio::test(start_paused = true)]
    async fn deliveries_are_forgotten_with_the_alert_ttl() {
        let d = MemoryStore::new(NonZeroUsize::new(10).unwrap(), Duration::ZERO);
        d.record_delivery("k1", "slack").await.unwrap();
        assert_eq!(d.delivered_to("k1", &["slack"]).await.unwrap(), [false]);
    }
}
