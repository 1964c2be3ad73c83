//! The state of one group for one destination ([`Group`]): its identity (taken from its first
//! alert), the current interval, the pending folded alerts, the failure times the crash-loop check
//! counts, the claim on the pending digest, and the keys it already told the worker about.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{CrashLoop, GroupPolicy, Observed, folded, recovery_scope, words};
use crate::decode::fnv1a64;
use crate::text::{TRUNCATION_MARKER, Unit, cut_plain};
use crate::{Alert, AlertKind, Digest, Links, Severity};

/// The state of one group (one `group_key`) for one destination, as the worker stores it between
/// calls (JSON; times are Unix milliseconds).
///
/// Bounded by construction so that its JSON stays far below DynamoDB's 400 KB item limit (a full
/// group of ECS task alerts, each with its own 20 KB reason, serialises to about 115 KB): at most
/// [`Group::MAX_PENDING`] pending alerts, of which only the few a digest lists are kept in full,
/// `dedup_key`s of at most 1 KB, reasons interned and cut to 200 bytes (64 distinct at most), and
/// the keys of settled and posted alerts remembered as 64-bit hashes in bounded lists.
///
/// Bounds in time: a group quiet for a whole `group_interval` folds no more (its next alert is
/// posted at once); a group with nothing pending is kept for [`Group::RETAIN`] after its last alert
/// (at least `crash_loop_window`), for crash-loop counting and its recovery notice, then
/// [`Group::expired`] lets the worker remove it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Group {
    /// The `group_key` of the group's alerts.
    pub(super) key: String,
    /// The kind of the group's alerts; `None` until the first alert.
    pub(super) kind: Option<AlertKind>,
    /// The service, task family or state machine the group is about ([`words::subject`]).
    pub(super) subject: String,
    /// The recovery scope of the first alert ([`recovery_scope`]).
    pub(super) scope: Option<String>,
    /// The AWS account of the first alert.
    pub(super) account: Option<String>,
    /// The AWS region of the first alert.
    pub(super) region: Option<String>,
    /// The partition of the first alert.
    pub(super) partition: String,
    /// The links the whole group shares (the service page).
    pub(super) links: Links,
    /// When the current interval ends (worker clock); in the past or `None` when none is open.
    pub(super) interval_end: Option<i64>,
    /// `group_interval` as of the last alert, in milliseconds: settling starts the next interval
    /// with it.
    pub(super) interval: i64,
    /// When the last alert arrived (worker clock).
    pub(super) last_seen: i64,
    /// Every failure the group counted (posted or folded), for the recovery notice.
    pub(super) failures: u64,
    /// The earliest failure's own time.
    pub(super) first_failure: Option<i64>,
    /// The latest failure's own time.
    pub(super) last_failure: Option<i64>,
    /// Failures by their own time in Unix seconds, `[second, count]`, sorted, only those within
    /// `crash_loop_window` of the latest: what the crash-loop check counts.
    pub(super) recent: Vec<(i64, u32)>,
    /// The folded alerts not yet settled, in the order they arrived.
    pub(super) pending: Vec<Pending>,
    /// The distinct reasons of the pending alerts, which [`Pending::reason`] indexes.
    pub(super) reasons: Vec<String>,
    /// The index in `pending` from which alerts are kept in full again for listing: the length of
    /// `pending` when the digest was last claimed (a digest built from that snapshot lists the
    /// alerts before it; the next digest lists those after it).
    pub(super) listed_from: usize,
    /// When `pending` reached [`Group::MAX_PENDING`] (worker clock): the digest is due from then.
    pub(super) full_since: Option<i64>,
    /// Who may post the pending digest, until when.
    pub(super) claim: Option<Claim>,
    /// Hashes of the `dedup_key`s the group told the worker to post, most recent last.
    pub(super) posted: VecDeque<u64>,
    /// Hashes of the `dedup_key`s of recently settled digests, most recent last.
    pub(super) settled: VecDeque<u64>,
}

/// One folded alert, as much of it as a digest needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Pending {
    /// The alert's `dedup_key`.
    pub(super) key: String,
    /// The alert's own time, Unix milliseconds.
    pub(super) at: i64,
    /// Its reason, as an index into [`Group::reasons`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) reason: Option<u32>,
    /// The exit codes of its failed containers, in container order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) exit: Vec<i64>,
    /// Whether the alert was critical (else a warning).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) critical: bool,
    /// The rest of a [`crate::FoldedAlert`], for the few alerts a digest lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) listed: Option<Listed>,
}

/// The fields of a listed [`crate::FoldedAlert`] that [`Pending`] does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Listed {
    /// The alert's `event_id`.
    pub(super) event_id: String,
    /// The alert's `time`, as it stated it.
    pub(super) time: String,
    /// The task id, execution name or title.
    pub(super) id: String,
    /// The most specific console link.
    pub(super) link: Option<String>,
}

/// The right to post the pending digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Claim {
    /// Who holds it (a replica's id).
    pub(super) owner: String,
    /// Until when (worker clock, Unix milliseconds).
    pub(super) until: i64,
}

/// The longest `dedup_key` a group folds; an alert with a longer one is posted alone (an ECS service
/// action's key holds its reason, which a crafted event can make huge).
const MAX_KEY_BYTES: usize = 1024;
/// The longest reason kept for a digest's tallies, in bytes (longer ones are cut and marked).
const MAX_REASON_BYTES: usize = 200;
/// The most distinct reasons kept among the pending alerts; alerts with further reasons are tallied
/// without one.
const MAX_REASONS: usize = 64;
/// How many keys of settled digests are remembered to recognise a redelivered copy: enough for the
/// messages of a few digests still in flight when a replica crashed.
const MAX_SETTLED: usize = 1000;
/// How many keys of posted first alerts are remembered (one per burst).
const MAX_POSTED: usize = 64;
/// The most distinct seconds of failures the crash-loop check keeps.
const MAX_RECENT: usize = 1024;

impl Group {
    /// The most alerts a group keeps pending. The digest falls due as soon as the group reaches it,
    /// and further alerts are [`Observed::Deferred`] until the digest is settled.
    pub const MAX_PENDING: usize = 500;

    /// How long a quiet group with nothing pending is kept after its last alert (at least; see
    /// [`Group::expired`]): an ECS service often reaches its steady state many minutes after the fix,
    /// and its recovery notice needs the group.
    pub const RETAIN: Duration = Duration::from_secs(3600);

    /// An alert of this group arrived at `now` (the worker's clock). Posts the group's first alert
    /// of a burst, folds the rest of the burst into the pending digest, and recognises copies of
    /// alerts it already saw (see [`Observed`]).
    pub fn observe(
        &mut self,
        alert: &Alert,
        now: OffsetDateTime,
        policy: &GroupPolicy,
    ) -> Observed {
        let now_ms = unix_ms(now);
        if self.kind.is_none() {
            self.adopt(alert);
        }
        let hash = key_hash(&alert.dedup_key);
        if self.settled.contains(&hash) || self.pending.iter().any(|p| p.key == alert.dedup_key) {
            return Observed::Repeat;
        }
        if self.posted.contains(&hash) {
            return Observed::Post {
                crash_loop: self.crash_loop(policy),
            };
        }
        self.interval = duration_ms(policy.group_interval);
        let open = !self.pending.is_empty() || self.interval_end.is_some_and(|end| now_ms < end);
        let fold = open && self.interval > 0 && alert.dedup_key.len() <= MAX_KEY_BYTES;
        if fold && self.pending.len() >= Self::MAX_PENDING {
            return Observed::Deferred;
        }
        let at = OffsetDateTime::parse(&alert.time, &Rfc3339).map_or(now_ms, unix_ms);
        self.last_seen = self.last_seen.max(now_ms);
        self.count_failure(at, policy);
        if fold {
            self.fold(alert, at, now_ms);
            return Observed::Folded {
                due: self.due().unwrap_or(now),
            };
        }
        remember(&mut self.posted, hash, MAX_POSTED);
        if !open {
            self.interval_end = Some(now_ms.saturating_add(self.interval));
        }
        Observed::Post {
            crash_loop: self.crash_loop(policy),
        }
    }

    /// When the pending digest falls due (the worker's clock; `None`: nothing pending): at the end of
    /// the current interval, or as soon as the group holds [`Group::MAX_PENDING`] alerts.
    pub fn due(&self) -> Option<OffsetDateTime> {
        if self.pending.is_empty() {
            return None;
        }
        let end = self.interval_end.unwrap_or(self.last_seen);
        let due = self.full_since.map_or(end, |full| end.min(full));
        Some(from_unix_ms(due))
    }

    /// Takes the right to post the pending digest until `now + lease`, so two replicas never post
    /// one digest; true when `owner` holds it now (also when it already did: the lease is renewed).
    /// False when nothing is pending, or while another owner's lease lasts. Build the digest from
    /// the group as claimed: alerts arriving after the claim are kept for the next digest's list.
    pub fn claim_digest(&mut self, owner: &str, now: OffsetDateTime, lease: Duration) -> bool {
        if self.pending.is_empty() {
            return false;
        }
        let now_ms = unix_ms(now);
        if let Some(claim) = &self.claim
            && claim.owner != owner
            && now_ms < claim.until
        {
            return false;
        }
        self.claim = Some(Claim {
            owner: owner.to_owned(),
            until: now_ms.saturating_add(duration_ms(lease)),
        });
        self.listed_from = self.pending.len();
        true
    }

    /// The digest was delivered at `now`: its alerts leave the pending list (their keys are
    /// remembered as settled), the claim ends, and, when it settled anything, the next interval starts
    /// now. Alerts that arrived after the digest was built stay pending.
    pub fn settle_digest(&mut self, digest: &Digest, now: OffsetDateTime) {
        let now_ms = unix_ms(now);
        let keys: HashSet<&str> = digest.dedup_keys.iter().map(String::as_str).collect();
        let mut settled = Vec::new();
        self.pending.retain(|p| {
            let delivered = keys.contains(p.key.as_str());
            if delivered {
                settled.push(key_hash(&p.key));
            }
            !delivered
        });
        for hash in &settled {
            remember(&mut self.settled, *hash, MAX_SETTLED);
        }
        self.claim = None;
        self.listed_from = 0;
        if !settled.is_empty() {
            self.interval_end = Some(now_ms.saturating_add(self.interval));
            self.compact_reasons();
        }
        self.full_since = (self.pending.len() >= Self::MAX_PENDING).then_some(now_ms);
    }

    /// Whether `dedup_key`, folded into this group, was settled: the digest carrying it was delivered
    /// (remembered for the last 1,000 settled alerts). False for pending and unknown keys, and for
    /// the alerts the group told the worker to post.
    pub fn is_settled(&self, dedup_key: &str) -> bool {
        self.settled.contains(&key_hash(dedup_key))
    }

    /// Whether `dedup_key` is folded into this group and waits for a digest. A held message waits for
    /// this to end: a key leaves the pending list only when a digest carrying it is settled, so "not
    /// pending" stays true however many keys were settled since, or after the group closed and opened
    /// again (which [`Group::is_settled`]'s bounded memory would forget).
    pub fn is_pending(&self, dedup_key: &str) -> bool {
        self.pending.iter().any(|p| p.key == dedup_key)
    }

    /// Until when another owner than `owner` holds the right to post the pending digest (see
    /// [`Group::claim_digest`]); `None` when nothing is pending, no claim lasts at `now`, or `owner`
    /// holds it.
    pub fn claimed_until(&self, owner: &str, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let claim = self.claim.as_ref()?;
        let live = !self.pending.is_empty() && claim.owner != owner && unix_ms(now) < claim.until;
        live.then(|| from_unix_ms(claim.until))
    }

    /// True once nothing is pending and no alert arrived for [`Group::RETAIN`] (or for
    /// `crash_loop_window` or `group_interval`, when longer): the group may be removed. A later alert
    /// starts a new group, posted at once.
    pub fn expired(&self, now: OffsetDateTime, policy: &GroupPolicy) -> bool {
        let keep = Self::RETAIN
            .max(policy.crash_loop_window)
            .max(policy.group_interval);
        self.pending.is_empty() && unix_ms(now) >= self.last_seen.saturating_add(duration_ms(keep))
    }

    /// How many folded alerts are pending (at most [`Group::MAX_PENDING`]).
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The recovery scope of the group (from its first alert, see [`recovery_scope`]); `None` when
    /// nothing can recover it (a standalone task, a custom notification) or before its first alert.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The crash loop the group is in, counting failures within `crash_loop_window` of its latest
    /// failure; `None` below the threshold or when the threshold is 0.
    pub(super) fn crash_loop(&self, policy: &GroupPolicy) -> Option<CrashLoop> {
        if policy.crash_loop_threshold == 0 {
            return None;
        }
        let window = policy.crash_loop_window.as_secs();
        let newest = self.recent.last()?.0;
        let from = newest.saturating_sub(i64::try_from(window).unwrap_or(i64::MAX));
        let failures: u64 = self
            .recent
            .iter()
            .filter(|(second, _)| *second >= from)
            .map(|(_, n)| u64::from(*n))
            .sum();
        (failures >= u64::from(policy.crash_loop_threshold)).then_some(CrashLoop {
            failures,
            window_secs: window,
        })
    }

    /// Takes the group's identity from its first alert.
    fn adopt(&mut self, alert: &Alert) {
        self.key = alert.group_key.clone();
        self.kind = Some(alert.kind);
        self.subject = words::subject(alert);
        self.scope = recovery_scope(alert);
        self.account = alert.account.clone();
        self.region = alert.region.clone();
        self.partition = alert.partition.clone();
        self.links = folded::group_links(alert, self.scope.as_deref());
    }

    /// Counts one failure that happened at `at` (its own time, Unix milliseconds).
    fn count_failure(&mut self, at: i64, policy: &GroupPolicy) {
        self.failures += 1;
        self.first_failure = Some(self.first_failure.map_or(at, |t| t.min(at)));
        self.last_failure = Some(self.last_failure.map_or(at, |t| t.max(at)));
        if policy.crash_loop_threshold == 0 {
            return;
        }
        let second = at.div_euclid(1000);
        match self.recent.binary_search_by_key(&second, |(s, _)| *s) {
            Ok(i) => self.recent[i].1 = self.recent[i].1.saturating_add(1),
            Err(i) => self.recent.insert(i, (second, 1)),
        }
        let window = i64::try_from(policy.crash_loop_window.as_secs()).unwrap_or(i64::MAX);
        let newest = self.recent.last().map_or(second, |(s, _)| *s);
        self.recent
            .retain(|(s, _)| *s >= newest.saturating_sub(window));
        let excess = self.recent.len().saturating_sub(MAX_RECENT);
        self.recent.drain(..excess);
    }

    /// Adds `alert` (which happened at `at`) to the pending digest.
    fn fold(&mut self, alert: &Alert, at: i64, now_ms: i64) {
        let from = self.listed_from.min(self.pending.len());
        let listed = self.pending[from..]
            .iter()
            .filter(|p| p.listed.is_some())
            .count();
        let reason = folded::reason(alert).and_then(|r| self.intern(r));
        self.pending.push(Pending {
            key: alert.dedup_key.clone(),
            at,
            reason,
            exit: folded::exit_codes(alert),
            critical: alert.severity == Severity::Critical,
            listed: (listed < Digest::MAX_LISTED).then(|| Listed {
                event_id: alert.event_id.clone(),
                time: alert.time.clone(),
                id: folded::id(alert),
                link: folded::link(alert),
            }),
        });
        if self.pending.len() >= Self::MAX_PENDING && self.full_since.is_none() {
            self.full_since = Some(now_ms);
        }
    }

    /// The index of `reason` (cut to [`MAX_REASON_BYTES`]) in the reason table, added when new and
    /// the table has room.
    fn intern(&mut self, reason: &str) -> Option<u32> {
        let cut = cut_plain(reason, MAX_REASON_BYTES, Unit::Bytes);
        let text = if cut.len() < reason.len() {
            format!("{cut}{TRUNCATION_MARKER}")
        } else {
            reason.to_owned()
        };
        let index = match self.reasons.iter().position(|r| *r == text) {
            Some(i) => i,
            None if self.reasons.len() < MAX_REASONS => {
                self.reasons.push(text);
                self.reasons.len() - 1
            }
            None => return None,
        };
        u32::try_from(index).ok()
    }

    /// Drops the reasons no pending alert refers to any more, keeping their order.
    fn compact_reasons(&mut self) {
        let mut table: Vec<String> = Vec::new();
        let mut map: Vec<Option<u32>> = vec![None; self.reasons.len()];
        for p in &mut self.pending {
            let Some(old) = p.reason.and_then(|r| usize::try_from(r).ok()) else {
                continue;
            };
            let Some(slot) = map.get_mut(old) else {
                p.reason = None;
                continue;
            };
            if slot.is_none() {
                table.push(self.reasons[old].clone());
                *slot = u32::try_from(table.len() - 1).ok();
            }
            p.reason = *slot;
        }
        self.reasons = table;
    }
}

/// The 64-bit hash under which a key is remembered once it left the pending list.
fn key_hash(dedup_key: &str) -> u64 {
    fnv1a64(dedup_key.as_bytes())
}

/// Appends `hash` to a bounded list of remembered keys, forgetting the oldest beyond `cap`.
fn remember(list: &mut VecDeque<u64>, hash: u64, cap: usize) {
    list.push_back(hash);
    while list.len() > cap {
        list.pop_front();
    }
}

/// `t` as Unix milliseconds.
pub(super) fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Unix milliseconds as a time (the epoch for values outside the representable years).
pub(super) fn from_unix_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Unix milliseconds as RFC 3339 in UTC, as alerts state their times.
pub(super) fn rfc3339_ms(ms: i64) -> String {
    from_unix_ms(ms)
        .format(&Rfc3339)
        .unwrap_or_else(|_| ms.to_string())
}

/// A duration in whole milliseconds, saturating.
pub(super) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
