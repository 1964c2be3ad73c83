//! `render --group-interval`: the core's grouping state machine over a stream, with input order standing
//! in for time.
//!
//! Each input takes the next second of a synthetic clock, so a stream of bodies behaves as the worker
//! would if they arrived one a second. `render` has one destination, so there is one [`Group`] per
//! `group_key`, account and region, as the worker keeps one per destination and key. Before each
//! input, the digests that fell due by its second are taken; at the end of the stream, every digest still pending is, as if the
//! worker ran until their intervals ended. A recovery event for a group's scope takes the group's
//! pending digest first (no folded failure is lost to a recovery), then its recovery, and closes it —
//! once the group has been quiet for its interval, as in the worker (`Group::recovery_wait`): until
//! then the event waits, and a failure after it makes it say nothing.

use std::collections::HashMap;
use std::time::Duration;

use failwatch_core::{Alert, Digest, Group, GroupPolicy, Observed, Recovery, RecoverySignal};
use time::OffsetDateTime;

/// How far the synthetic clock moves per input.
const TICK: Duration = Duration::from_secs(1);

/// What grouping decided for one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Post it now (a crash-loop notice is already marked on it).
    Post,
    /// Folded into its group's digest, due at this time of the synthetic clock.
    Folded(OffsetDateTime),
    /// A redelivered copy of an alert already in its group: nothing to post.
    Repeat,
}

/// A message grouping produced besides an alert.
#[derive(Debug)]
pub(crate) enum Notice {
    Digest(Digest),
    Recovery(Recovery),
}

/// The groups of one `render` stream and their synthetic clock.
#[derive(Debug)]
pub(crate) struct Grouping {
    policy: GroupPolicy,
    /// The time of the input being processed: the Unix epoch plus one second per input so far.
    now: OffsetDateTime,
    groups: HashMap<String, Group>,
    /// Recovery events waiting for their groups to be quiet, with the time of the clock they wait for.
    waiting: Vec<(OffsetDateTime, RecoverySignal)>,
}

impl Grouping {
    /// Groups under `policy` (the worker's `[grouping]` defaults unless `render` was told otherwise).
    pub(crate) fn new(policy: GroupPolicy) -> Self {
        Self {
            policy,
            now: OffsetDateTime::UNIX_EPOCH,
            groups: HashMap::new(),
            waiting: Vec::new(),
        }
    }

    /// Moves the clock to the next input's second and returns the digests due by then, earliest
    /// first, and the recoveries whose groups have been quiet long enough; groups quiet long enough to
    /// close are forgotten.
    pub(crate) fn tick(&mut self) -> Vec<Notice> {
        self.now += TICK;
        let mut notices = self.settle(|due, now| due <= now);
        notices.extend(self.recover_waiting(self.now));
        let (now, policy) = (self.now, &self.policy);
        self.groups.retain(|_, group| !group.expired(now, policy));
        notices
    }

    /// The notices of the waiting recovery events whose time came by `until`, in time order.
    fn recover_waiting(&mut self, until: OffsetDateTime) -> Vec<Notice> {
        self.waiting.sort_by_key(|(at, _)| *at);
        let ready = self.waiting.partition_point(|(at, _)| *at <= until);
        let signals: Vec<_> = self.waiting.drain(..ready).collect();
        signals
            .into_iter()
            .flat_map(|(_, signal)| self.recover(&signal))
            .collect()
    }

    /// Observes one alert of the stream in its group (marking a crash loop on it when it is to be
    /// posted). The notices are digests that had to go out first: a group holding
    /// [`Group::MAX_PENDING`] alerts defers the next one until its digest is settled, which `render`,
    /// the only owner of its groups, does at once.
    pub(crate) fn observe(&mut self, alert: &mut Alert) -> (Vec<Notice>, Verdict) {
        let (now, policy) = (self.now, &self.policy);
        // Keyed as the worker keys a destination's groups, so one group_key from two accounts or regions
        // is two groups here too.
        let key = crate::grouping::store_key("render", alert);
        let group = self.groups.entry(key).or_default();
        let mut first = Vec::new();
        let mut observed = group.observe(alert, now, policy);
        if observed == Observed::Deferred
            && let Some(digest) = group.digest(now, policy)
        {
            group.settle_digest(&digest, now);
            first.push(Notice::Digest(digest));
            observed = group.observe(alert, now, policy);
        }
        let verdict = match observed {
            Observed::Post { crash_loop } => {
                if let Some(crash_loop) = crash_loop {
                    failwatch_core::mark_crash_loop(alert, crash_loop);
                }
                Verdict::Post
            }
            Observed::Folded { due } => Verdict::Folded(due),
            Observed::Repeat => Verdict::Repeat,
            // Not again right after a settle, which empties the group; were it so, the alert is
            // printed alone rather than lost.
            Observed::Deferred => Verdict::Post,
        };
        (first, verdict)
    }

    /// The notices a recovery event produces: for each group of its scope that alerted, its pending
    /// digest and then its recovery; those groups close.
    pub(crate) fn recover(&mut self, signal: &RecoverySignal) -> Vec<Notice> {
        let mut keys: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, group)| group.scope() == Some(signal.scope.as_str()))
            .map(|(key, _)| key.clone())
            .collect();
        keys.sort();
        let mut notices = Vec::new();
        let mut wait = Duration::ZERO;
        for key in keys {
            let Some(group) = self.groups.get(&key) else {
                continue;
            };
            if group.recovery(signal).is_none() {
                continue;
            }
            let quiet = group.recovery_wait(self.now, &self.policy);
            if !quiet.is_zero() {
                wait = wait.max(quiet);
                continue;
            }
            let Some(mut group) = self.groups.remove(&key) else {
                continue;
            };
            if let Some(digest) = group.digest(self.now, &self.policy) {
                group.settle_digest(&digest, self.now);
                notices.push(Notice::Digest(digest));
            }
            if let Some(recovery) = group.recovery(signal) {
                notices.push(Notice::Recovery(recovery));
            }
        }
        if !wait.is_zero() {
            self.waiting.push((self.now + wait, signal.clone()));
        }
        notices
    }

    /// At the end of the stream, as if the worker ran on: every waiting recovery when its group has
    /// been quiet long enough (the digests due before it first), then every digest still pending,
    /// earliest due first.
    pub(crate) fn finish(&mut self) -> Vec<Notice> {
        let mut notices = Vec::new();
        while let Some(at) = self.waiting.iter().map(|(at, _)| *at).min() {
            notices.extend(self.settle(|due, _| due <= at));
            self.now = self.now.max(at);
            notices.extend(self.recover_waiting(at));
        }
        notices.extend(self.settle(|_, _| true));
        notices
    }

    /// Takes the digest of every group whose due time passes `take`, earliest due first (then by key,
    /// so the output does not depend on hashing), settling each at the later of now and its due time.
    fn settle(&mut self, take: impl Fn(OffsetDateTime, OffsetDateTime) -> bool) -> Vec<Notice> {
        let mut due: Vec<(OffsetDateTime, String)> = self
            .groups
            .iter()
            .filter_map(|(key, group)| group.due().map(|due| (due, key.clone())))
            .filter(|(due, _)| take(*due, self.now))
            .collect();
        due.sort();
        let mut digests = Vec::with_capacity(due.len());
        for (due, key) in due {
            let at = due.max(self.now);
            if let Some(group) = self.groups.get_mut(&key)
                && let Some(digest) = group.digest(at, &self.policy)
            {
                group.settle_digest(&digest, at);
                digests.push(Notice::Digest(digest));
            }
        }
        digests
    }
}
