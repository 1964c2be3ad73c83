//! De-duplication across messages, and the memory of which destinations already accepted a message.
//!
//! Two memories, both the core's bounded TTL [`Deduper`]:
//! - **Alerts** by `dedup_key`: one stopped task gives one alert even when EventBridge or SQS deliver its
//!   events twice. A key is recorded only after every routed destination accepted the alert, so a failed
//!   delivery is retried rather than suppressed. Two messages with the same key that are worked on at
//!   once (DEPROVISIONING and STOPPED in one batch) are serialised by a per-key lock, so the second sees
//!   the first's outcome instead of racing it.
//! - **Deliveries** by `dedup_key` and destination: when an alert routed to several destinations is
//!   retried, the destinations that already accepted it are skipped — whether the retry is the same SQS
//!   message received again or another message carrying the same alert (an EventBridge or SQS duplicate,
//!   or a DLQ redrive, which gets a new message id). It is written under the same per-key lock as the
//!   alert memory, and lives as long, so it never suppresses an alert the alert memory would let through.
//!   This is best effort within one worker process: an alert picked up by another worker (or after a
//!   restart) may repeat a post.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use failwatch_core::Deduper;
use tokio::sync::OwnedMutexGuard;

/// How many (alert, destination) successes are remembered per remembered alert: an alert usually goes
/// to one or two destinations; this bounds memory, not correctness.
const DELIVERED_PER_ALERT: NonZeroUsize = NonZeroUsize::new(4).expect("non-zero");

/// The worker's de-duplication state.
#[derive(Debug)]
pub struct Dedup {
    alerts: Mutex<Deduper>,
    delivered: Mutex<Deduper>,
    busy: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held while one message's alert with this key is being handled.
#[derive(Debug)]
pub struct KeyGuard<'a> {
    dedup: &'a Dedup,
    key: String,
    lock: Option<OwnedMutexGuard<()>>,
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        self.lock.take();
        let mut busy = lock(&self.dedup.busy);
        // Remove the entry when no other message holds or waits for it: the map holds one reference;
        // every waiter holds another.
        if busy
            .get(&self.key)
            .is_some_and(|entry| Arc::strong_count(entry) == 1)
        {
            busy.remove(&self.key);
        }
    }
}

impl Dedup {
    pub fn new(capacity: NonZeroUsize, ttl: Duration) -> Self {
        Dedup {
            alerts: Mutex::new(Deduper::new(capacity, ttl)),
            // The same TTL as the alert memory: once an alert may be sent again, so may each part of it.
            delivered: Mutex::new(Deduper::new(
                capacity.saturating_mul(DELIVERED_PER_ALERT),
                ttl,
            )),
            busy: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until no other message with `key` is being handled, and holds the key until dropped.
    pub async fn lock_key(&self, key: &str) -> KeyGuard<'_> {
        let entry = lock(&self.busy).entry(key.to_owned()).or_default().clone();
        let guard = entry.lock_owned().await;
        KeyGuard {
            dedup: self,
            key: key.to_owned(),
            lock: Some(guard),
        }
    }

    /// Whether an alert with `key` was already delivered everywhere within the TTL.
    pub fn is_duplicate(&self, key: &str) -> bool {
        lock(&self.alerts).is_duplicate(key, Instant::now())
    }

    /// Records that the alert with `key` reached every destination it was routed to.
    pub fn record(&self, key: &str) {
        lock(&self.alerts).record(key, Instant::now());
    }

    /// Whether `destination` already accepted the alert with `key`. Call with the key locked.
    pub fn already_delivered(&self, key: &str, destination: &str) -> bool {
        lock(&self.delivered).is_duplicate(&delivery_key(key, destination), Instant::now())
    }

    /// Records that `destination` accepted the alert with `key`. Call with the key locked.
    pub fn record_delivery(&self, key: &str, destination: &str) {
        lock(&self.delivered).record(&delivery_key(key, destination), Instant::now());
    }

    /// Keys currently locked (for tests).
    pub fn busy_keys(&self) -> usize {
        lock(&self.busy).len()
    }
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

    fn dedup() -> Dedup {
        Dedup::new(NonZeroUsize::new(10).unwrap(), Duration::from_secs(60))
    }

    #[test]
    fn a_key_is_a_duplicate_only_once_recorded() {
        let d = dedup();
        assert!(!d.is_duplicate("k"));
        assert!(!d.is_duplicate("k"), "checking does not record");
        d.record("k");
        assert!(d.is_duplicate("k"));
    }

    #[test]
    fn deliveries_are_remembered_per_alert_and_destination() {
        let d = dedup();
        d.record_delivery("k1", "slack");
        assert!(d.already_delivered("k1", "slack"));
        assert!(!d.already_delivered("k1", "chat"));
        assert!(!d.already_delivered("k2", "slack"));
    }

    #[test]
    fn deliveries_are_forgotten_with_the_alert_ttl() {
        let d = Dedup::new(NonZeroUsize::new(10).unwrap(), Duration::ZERO);
        d.record_delivery("k1", "slack");
        assert!(!d.already_delivered("k1", "slack"));
    }

    #[tokio::test]
    async fn the_same_key_is_handled_by_one_message_at_a_time() {
        let d = Arc::new(dedup());
        let first = d.lock_key("k").await;
        let d2 = d.clone();
        let second = tokio::spawn(async move {
            let _guard = d2.lock_key("k").await;
            // By the time the second message gets the key, the first recorded its delivery.
            d2.is_duplicate("k")
        });
        tokio::task::yield_now().await;
        assert!(!second.is_finished());
        // Another key is not blocked.
        drop(d.lock_key("other").await);
        d.record("k");
        drop(first);
        assert!(second.await.unwrap());
        assert_eq!(
            d.busy_keys(),
            0,
            "entries are removed when nobody holds them"
        );
    }
}
