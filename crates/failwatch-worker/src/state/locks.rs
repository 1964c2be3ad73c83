//! Per-key locks within one process: two messages carrying the same alert that are worked on at once
//! (DEPROVISIONING and STOPPED of one task in one batch) are serialised, so the second sees what the
//! first recorded instead of racing it. Every backend gets this for free from [`super::State`]; a
//! shared backend's claim then settles races between processes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::OwnedMutexGuard;

type Entries = Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>;

/// The keys being handled in this process. An entry exists only while some message holds or waits for
/// its key, so the map stays as small as the number of messages in flight.
#[derive(Debug, Default)]
pub(crate) struct KeyLocks {
    entries: Entries,
}

/// Held while one message handles the alert with this key; dropping it lets the next one in.
#[derive(Debug)]
pub(crate) struct KeyGuard {
    entries: Entries,
    key: String,
    lock: Option<OwnedMutexGuard<()>>,
}

impl KeyLocks {
    /// Waits until no other message of this process holds `key`, and holds it until the guard drops.
    pub(crate) async fn lock(&self, key: &str) -> KeyGuard {
        let entry = lock(&self.entries)
            .entry(key.to_owned())
            .or_default()
            .clone();
        let guard = entry.lock_owned().await;
        KeyGuard {
            entries: self.entries.clone(),
            key: key.to_owned(),
            lock: Some(guard),
        }
    }

    /// Keys currently held or waited for.
    #[cfg(test)]
    pub(crate) fn busy(&self) -> usize {
        lock(&self.entries).len()
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        self.lock.take();
        let mut entries = lock(&self.entries);
        // Remove the entry when no other message holds or waits for it: the map holds one reference;
        // every waiter holds another.
        if entries
            .get(&self.key)
            .is_some_and(|entry| Arc::strong_count(entry) == 1)
        {
            entries.remove(&self.key);
        }
    }
}

/// A poisoned lock only means another task panicked mid-update of the map; the map is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
