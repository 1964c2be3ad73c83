//! A bounded, time-limited memory of alerts already handled. (Being written.)

/// Remembers dedup keys for a bounded time and count.
#[derive(Debug)]
pub struct Deduper;
