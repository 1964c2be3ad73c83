//! Grouping: what a burst of alerts of one `group_key` becomes — its first alert, digests of the
//! alerts that follow within `group_interval`, a crash-loop notice, and a recovery.
//!
//! [`Group`] is the pure state machine of one group for one destination. It reads no clock: the
//! worker passes its own `now` to every call, and stores the group as JSON between calls (it is
//! `Serialize + Deserialize`, small by construction: see [`Group::MAX_PENDING`]). Two clocks meet
//! here, and each is used for one purpose only:
//!
//! - the worker's clock (`now`) schedules: intervals, when a digest falls due, claims, expiry;
//! - the alerts' own times (when AWS says the failure happened) count: the crash-loop window, a
//!   digest's first and last time, and how long the group failed before it recovered. A backlog
//!   processed at once is therefore no crash loop unless its failures really were close together.
//!
//! The intervals: the first alert of a group is posted at once ([`Observed::Post`]) and opens an
//! interval `[now, now + group_interval)`. Alerts arriving while an interval is open, or while a
//! digest is pending, are folded ([`Observed::Folded`]) and fall due at the end of the interval. When
//! the digest is settled ([`Group::settle_digest`]) the next interval starts at that moment. An
//! interval in which nothing arrives posts nothing, and once it ends the group no longer folds: its
//! next alert is posted at once and opens a new burst. The group itself is kept (for crash-loop
//! counting and for its recovery) until [`Group::expired`] says it may be forgotten.
//!
//! Everything a digest or recovery says comes from alerts that [`crate::classify()`] already
//! redacted; nothing here reads raw event text.

mod digest;
mod document;
mod recovery;
mod state;
mod words;

use std::time::Duration;

pub use document::{
    CrashLoop, DIGEST_SCHEMA, Digest, FoldedAlert, RECOVERY_SCHEMA, Recovery, Tally,
};
pub use recovery::{RecoverySignal, recovery_scope, recovery_signal};
pub use state::Group;
use time::OffsetDateTime;

use crate::{Alert, Severity};

/// How one destination groups alerts: the `[grouping]` settings of the worker's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupPolicy {
    /// How long alerts following a group's first alert are folded into one digest (default 5 min).
    /// Zero turns grouping off: every alert is posted at once.
    pub group_interval: Duration,
    /// How many failures within `crash_loop_window` make a crash loop (default 5); 0 turns crash-loop
    /// notices off.
    pub crash_loop_threshold: u32,
    /// The window the crash-loop threshold is counted in (default 10 min), on the alerts' own times.
    pub crash_loop_window: Duration,
}

impl Default for GroupPolicy {
    /// 5 min interval, 5 failures in 10 min make a crash loop: the defaults.
    fn default() -> Self {
        GroupPolicy {
            group_interval: Duration::from_secs(300),
            crash_loop_threshold: 5,
            crash_loop_window: Duration::from_secs(600),
        }
    }
}

/// What to do with an alert a [`Group`] observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// Post this alert now (the group's first in its interval, or grouping would not help: grouping
    /// is off, or its `dedup_key` is too long to keep); with a crash loop, apply [`mark_crash_loop`]
    /// to the alert first. Also returned again for a redelivered copy of an alert the group told to
    /// post, so a post that failed is retried (the worker's own deduplication drops a copy of one that
    /// was delivered).
    Post {
        /// Set when the group is crash-looping, counting this alert.
        crash_loop: Option<CrashLoop>,
    },
    /// Folded into the pending digest, due at `due` (the worker's clock; in the past when the digest
    /// is overdue or full).
    Folded {
        /// When the pending digest falls due: [`Group::due`].
        due: OffsetDateTime,
    },
    /// This `dedup_key` is already in the group (pending, or in a recently settled digest): a
    /// redelivered copy, nothing to post and nothing to count.
    Repeat,
    /// The pending digest is full ([`Group::MAX_PENDING`]) and due now; the group is unchanged. Keep
    /// the message and offer the alert again once the digest is settled (e.g. let its SQS visibility
    /// timeout run out): posting it alone would flood the room, and folding it would let the stored
    /// group grow without bound while the destination is slow.
    Deferred,
}

/// Sets `alert.crash_loop`, makes the alert critical and replaces its title with the crash-loop
/// title, e.g. "payments-api is crash-looping: 8 tasks failed in 10 min" (its summary keeps the facts
/// of this failure).
pub fn mark_crash_loop(alert: &mut Alert, crash_loop: CrashLoop) {
    alert.title = words::crash_loop_title(&words::subject(alert), alert.kind, crash_loop);
    alert.severity = Severity::Critical;
    alert.crash_loop = Some(crash_loop);
}
