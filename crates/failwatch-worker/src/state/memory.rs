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
//! [`MemoryGroupStore`] keeps the grouping state (`super::groups`) in a map: not durable, so a message
//! folded into one of its groups stays in flight until the digest carrying it was delivered.
//!
//! Claims need no record here: [`super::State`] serialises one process's messages per key, and there
//! is no other process to race. This is best effort within one worker process: an alert picked up by
//! another worker (or after a restart) may repeat a post. The calls never fail.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use failwatch_core::Deduper;
use tokio::time::Instant;

use super::groups::{GroupEntry, GroupStore, StoredGroup};
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

/// This process's open groups: each stored body with its version, and its index entry.
#[derive(Debug, Default)]
pub(crate) struct MemoryGroupStore {
    groups: Mutex<HashMap<String, (StoredGroup, GroupEntry)>>,
}

#[async_trait]
impl GroupStore for MemoryGroupStore {
    fn durable(&self) -> bool {
        false
    }

    async fn get(&self, key: &str) -> Result<Option<StoredGroup>, StateError> {
        Ok(lock(&self.groups).get(key).map(|(group, _)| group.clone()))
    }

    async fn put(
        &self,
        key: &str,
        body: &str,
        expected: Option<u64>,
        entry: Option<&GroupEntry>,
    ) -> Result<bool, StateError> {
        let mut groups = lock(&self.groups);
        let stored = groups.get(key);
        if stored.map(|(group, _)| group.version) != expected {
            return Ok(false);
        }
        // Without an entry the group keeps its own; a first write always names one (the trait's
        // contract), so the fallback, an entry with nothing due, is never reached.
        debug_assert!(
            entry.is_some() || stored.is_some(),
            "a first write names its entry"
        );
        let entry = entry
            .or(stored.map(|(_, entry)| entry))
            .cloned()
            .unwrap_or_else(|| GroupEntry {
                key: key.to_owned(),
                due: None,
                scope: None,
            });
        let group = StoredGroup {
            body: body.to_owned(),
            version: expected.map_or(1, |v| v + 1),
        };
        groups.insert(key.to_owned(), (group, entry));
        Ok(true)
    }

    async fn remove(&self, key: &str, expected: u64) -> Result<bool, StateError> {
        let mut groups = lock(&self.groups);
        if groups.get(key).map(|(group, _)| group.version) != Some(expected) {
            return Ok(false);
        }
        groups.remove(key);
        Ok(true)
    }

    async fn open_groups(&self) -> Result<Vec<GroupEntry>, StateError> {
        Ok(lock(&self.groups)
            .values()
            .map(|(_, entry)| entry.clone())
            .collect())
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

    fn entry(key: &str, due: Option<i64>) -> GroupEntry {
        GroupEntry {
            key: key.into(),
            due,
            scope: Some("svc".into()),
        }
    }

    #[tokio::test]
    async fn a_group_is_written_only_over_the_version_it_was_read_at() {
        let groups = MemoryGroupStore::default();
        assert!(!groups.durable());
        assert_eq!(groups.get("g").await.unwrap(), None);
        assert!(
            groups
                .put("g", "a", None, Some(&entry("g", Some(5))))
                .await
                .unwrap()
        );
        assert!(
            !groups
                .put("g", "b", None, Some(&entry("g", None)))
                .await
                .unwrap(),
            "a second first write loses"
        );
        let stored = groups.get("g").await.unwrap().unwrap();
        assert_eq!((stored.body.as_str(), stored.version), ("a", 1));
        assert!(
            groups
                .put("g", "c", Some(1), Some(&entry("g", None)))
                .await
                .unwrap()
        );
        assert!(
            !groups
                .put("g", "d", Some(1), Some(&entry("g", None)))
                .await
                .unwrap(),
            "a stale version loses"
        );
        let stored = groups.get("g").await.unwrap().unwrap();
        assert_eq!((stored.body.as_str(), stored.version), ("c", 2));
        assert_eq!(groups.open_groups().await.unwrap(), [entry("g", None)]);
    }

    #[tokio::test]
    async fn a_group_is_removed_with_its_index_entry_only_at_its_version() {
        let groups = MemoryGroupStore::default();
        groups
            .put("g", "a", None, Some(&entry("g", Some(1))))
            .await
            .unwrap();
        groups
            .put("h", "a", None, Some(&entry("h", None)))
            .await
            .unwrap();
        assert!(!groups.remove("g", 2).await.unwrap());
        assert!(groups.remove("g", 1).await.unwrap());
        assert_eq!(groups.get("g").await.unwrap(), None);
        assert_eq!(groups.open_groups().await.unwrap(), [entry("h", None)]);
        assert!(!groups.remove("g", 1).await.unwrap(), "already gone");
    }

    #[tokio::test(start_paused = true)]
    async fn deliveries_are_forgotten_with_the_alert_ttl() {
        let d = MemoryStore::new(NonZeroUsize::new(10).unwrap(), Duration::ZERO);
        d.record_delivery("k1", "slack").await.unwrap();
        assert_eq!(d.delivered_to("k1", &["slack"]).await.unwrap(), [false]);
    }
}
