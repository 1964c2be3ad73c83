//! A bounded, time-limited memory of alerts already handled, keyed on [`crate::Alert::dedup_key`].
//!
//! ECS sends several events for one stopped task (DEPROVISIONING, STOPPED, and SQS may deliver any of them
//! twice); all carry the same dedup key, and only the first should reach a chat room. The memory is
//! bounded twice over: by entry count, evicting the least recently recorded key, so a burst cannot exhaust
//! memory; and by age, so a key seen long ago (a task ARN is never reused, but a service placement
//! failure is) alerts again once its TTL has passed.
//!
//! Time is passed in as [`Instant`]s: this crate reads no clock, and tests can move time freely.
//! The window is fixed from the first record: a duplicate does not extend it, so a problem that keeps
//! repeating is reported again once per TTL.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use lru::LruCache;

/// Remembers dedup keys for a bounded time and count.
#[derive(Debug)]
pub struct Deduper {
    /// Key → when it was recorded.
    seen: LruCache<String, Instant>,
    ttl: Duration,
}

impl Deduper {
    /// A memory of at most `capacity` keys, each forgotten `ttl` after it was recorded.
    pub fn new(capacity: NonZeroUsize, ttl: Duration) -> Self {
        Deduper {
            seen: LruCache::new(capacity),
            ttl,
        }
    }

    /// Whether `key` was recorded less than the TTL before `now`. Forgets it when it has expired.
    pub fn is_duplicate(&mut self, key: &str, now: Instant) -> bool {
        match self.seen.peek(key) {
            Some(&at) if now.saturating_duration_since(at) < self.ttl => true,
            Some(_) => {
                self.seen.pop(key);
                false
            }
            None => false,
        }
    }

    /// Records `key` as handled at `now` (the worker calls this only after a successful delivery, so a
    /// failed delivery is retried rather than suppressed).
    pub fn record(&mut self, key: &str, now: Instant) {
        if let Some(at) = self.seen.get_mut(key) {
            *at = now;
        } else {
            self.seen.put(key.to_owned(), now);
        }
    }

    /// Returns `true` when `key` is a duplicate; otherwise records it and returns `false`. This is what
    /// `failwatch render` uses, where "delivery" is printing and cannot fail.
    pub fn check_and_record(&mut self, key: &str, now: Instant) -> bool {
        if self.is_duplicate(key, now) {
            true
        } else {
            self.record(key, now);
            false
        }
    }

    /// Keys held, including expired ones not yet looked up or evicted.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// The most keys held at once.
    pub fn capacity(&self) -> NonZeroUsize {
        self.seen.cap()
    }
}
