//! The worker's half of grouping against the memory store and a local receiver: read-modify-write of
//! groups, the "post when the store fails" rule, digests posted, settled and woken, recoveries.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use failwatch_core::{Alert, Observed};
use time::OffsetDateTime;

use super::digest::{self, Posted};
use super::*;
use crate::consumer::message::tests::{alert, receiver, shared};
use crate::state::StateError;
use crate::state::groups::StoredGroup;

/// `[grouping]` with a one-minute interval and crash loops from 3 failures.
fn policy() -> GroupingConfig {
    GroupingConfig {
        group_interval: Duration::from_secs(60),
        crash_loop_threshold: 3,
        ..GroupingConfig::default()
    }
}

/// The fixture's alert with its own `dedup_key` (one failed task of the same group).
fn failure(n: usize) -> Alert {
    let mut alert = Alert::clone(&alert());
    alert.dedup_key = format!("{}-{n}", alert.dedup_key);
    alert
}

async fn observe(shared: &crate::consumer::Shared, alert: &Alert) -> Option<Observation> {
    shared
        .grouping
        .observe(
            &shared.state,
            "default",
            &Arc::new(alert.clone()),
            (&policy(), Some("@oncall")),
            OffsetDateTime::now_utc(),
        )
        .await
}

#[test]
fn a_store_key_splits_back_into_destination_and_group_key() {
    let alert = failure(0);
    let key = store_key("ops-chat", &alert);
    assert_eq!(
        split_key(&key),
        Some(("ops-chat", alert.group_key.as_str()))
    );
}

#[test]
fn one_group_key_in_two_accounts_or_regions_is_two_groups() {
    let alert = failure(0);
    let mut elsewhere = alert.clone();
    elsewhere.region = Some("ap-south-1".to_owned());
    let mut other_account = alert.clone();
    other_account.account = Some("210987654321".to_owned());
    let keys = [&alert, &elsewhere, &other_account].map(|a| store_key("chat", a));
    assert_ne!(keys[0], keys[1]);
    assert_ne!(keys[0], keys[2]);
    assert_eq!(
        split_key(&keys[1]),
        Some(("chat", alert.group_key.as_str()))
    );
}

#[tokio::test]
async fn the_first_alert_is_posted_the_next_folded_and_a_copy_is_a_repeat() {
    let (_, url) = receiver().await;
    let shared = shared(&url);
    let first = observe(&shared, &failure(0)).await.unwrap();
    assert!(matches!(first.observed, Observed::Post { .. }), "{first:?}");
    let second = observe(&shared, &failure(1)).await.unwrap();
    assert!(
        matches!(second.observed, Observed::Folded { .. }),
        "{second:?}"
    );
    assert!(!second.settled);
    let copy = observe(&shared, &failure(1)).await.unwrap();
    assert_eq!(copy.observed, Observed::Repeat);
    assert!(!copy.settled, "still pending in the digest");

    let entries = shared.grouping.open_groups(&shared.state).await.unwrap();
    assert_eq!(entries.len(), 1);
    let key = store_key("default", &failure(0));
    assert_eq!(entries[0].key, key);
    assert!(entries[0].due.is_some(), "a digest is pending");
    let read = shared
        .grouping
        .read(&shared.state, &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.version, 2, "the repeat wrote nothing");
    assert_eq!(read.body.mention.as_deref(), Some("@oncall"));
}

#[tokio::test]
async fn a_due_digest_is_delivered_settled_and_wakes_its_held_messages() {
    let (posts, url) = receiver().await;
    let shared = shared(&url);
    for n in 0..4 {
        observe(&shared, &failure(n)).await.unwrap();
    }
    let key = store_key("default", &failure(0));
    let mut changes = shared.grouping.watch(&key);
    assert_eq!(
        shared
            .grouping
            .is_settled(&shared.state, &key, &failure(2).dedup_key)
            .await,
        Some(false)
    );
    // Posted early, as at shutdown: the claim and the digest do not wait for the due time.
    assert_eq!(digest::post(&shared, &key).await, Posted::Done);
    assert_eq!(posts.load(Ordering::Relaxed), 1, "one digest");
    assert!(changes.has_changed().unwrap(), "held messages woken");
    changes.mark_unchanged();
    for n in 1..4 {
        assert_eq!(
            shared
                .grouping
                .is_settled(&shared.state, &key, &failure(n).dedup_key)
                .await,
            Some(true),
            "{n}"
        );
    }
    assert_eq!(
        digest::post(&shared, &key).await,
        Posted::Done,
        "nothing pending"
    );
    assert_eq!(posts.load(Ordering::Relaxed), 1, "no second digest");
}

#[tokio::test]
async fn a_group_that_is_gone_has_nothing_pending() {
    let (_, url) = receiver().await;
    let shared = shared(&url);
    assert_eq!(
        shared
            .grouping
            .is_settled(&shared.state, "default\u{1f}nothing", "k")
            .await,
        Some(true)
    );
}

/// A group store that fails every call, or answers every write with a conflict.
#[derive(Debug)]
struct BadStore {
    conflict: bool,
    calls: AtomicUsize,
}

#[async_trait]
impl GroupStore for BadStore {
    fn durable(&self) -> bool {
        false
    }
    async fn get(&self, _key: &str) -> Result<Option<StoredGroup>, StateError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.conflict {
            Ok(None)
        } else {
            Err(StateError::new(std::io::Error::other("down")))
        }
    }
    async fn put(
        &self,
        _key: &str,
        _body: &str,
        _expected: Option<u64>,
        _entry: Option<&GroupEntry>,
    ) -> Result<bool, StateError> {
        Ok(false)
    }
    async fn remove(&self, _key: &str, _expected: u64) -> Result<bool, StateError> {
        Ok(false)
    }
    async fn open_groups(&self) -> Result<Vec<GroupEntry>, StateError> {
        Err(StateError::new(std::io::Error::other("down")))
    }
}

// Paused: the waits between attempts pass at once.
#[tokio::test(start_paused = true)]
async fn a_store_that_keeps_failing_or_conflicting_means_post_the_alert() {
    let (_, url) = receiver().await;
    for conflict in [false, true] {
        let mut shared = shared(&url);
        let store = Arc::new(BadStore {
            conflict,
            calls: AtomicUsize::new(0),
        });
        shared.grouping = Grouping::new(store.clone(), "test".into(), 100);
        assert_eq!(observe(&shared, &failure(0)).await, None, "{conflict}");
        // A failed read is redone too (a storm's store is slow, not gone), a few times.
        let expected = if conflict {
            CAS_ATTEMPTS
        } else {
            STORE_FAILURES
        };
        assert_eq!(store.calls.load(Ordering::Relaxed), expected, "{conflict}");
    }
}

#[tokio::test]
async fn held_messages_run_short_of_room_at_three_quarters() {
    let grouping = Grouping::new(Arc::new(MemoryGroupStore::default()), "t".into(), 8);
    let mut places = Vec::new();
    // Short once fewer than a quarter (2 of 8) are left.
    for _ in 0..7 {
        assert!(!grouping.short_of_room());
        places.push(grouping.held.clone().try_acquire_owned().unwrap());
    }
    assert!(grouping.short_of_room());
    places.pop();
    assert!(!grouping.short_of_room());
}

/// The memory store, recording for each write whether it named an index entry, and answering the
/// next `conflicts` writes with a conflict.
#[derive(Debug, Default)]
struct CountingStore {
    inner: MemoryGroupStore,
    entries: Mutex<Vec<bool>>,
    conflicts: AtomicUsize,
}

#[async_trait]
impl GroupStore for CountingStore {
    fn durable(&self) -> bool {
        false
    }
    async fn get(&self, key: &str) -> Result<Option<StoredGroup>, StateError> {
        self.inner.get(key).await
    }
    async fn put(
        &self,
        key: &str,
        body: &str,
        expected: Option<u64>,
        entry: Option<&GroupEntry>,
    ) -> Result<bool, StateError> {
        self.entries.lock().unwrap().push(entry.is_some());
        let conflict = self
            .conflicts
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        if conflict {
            return Ok(false);
        }
        self.inner.put(key, body, expected, entry).await
    }
    async fn remove(&self, key: &str, expected: u64) -> Result<bool, StateError> {
        self.inner.remove(key, expected).await
    }
    async fn open_groups(&self) -> Result<Vec<GroupEntry>, StateError> {
        self.inner.open_groups().await
    }
}

fn counted(shared: &mut crate::consumer::Shared) -> Arc<CountingStore> {
    let store = Arc::new(CountingStore::default());
    shared.grouping = Grouping::new(store.clone(), "test".into(), 100);
    store
}

#[tokio::test]
async fn alerts_of_one_group_waiting_together_are_observed_in_one_write() {
    let (_, url) = receiver().await;
    let mut shared = shared(&url);
    let store = counted(&mut shared);
    let shared = Arc::new(shared);
    let key = store_key("default", &failure(0));
    // Another observation of the group is under way: twenty more queue behind it.
    let busy = shared.grouping.lock(&key).await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..20 {
        let shared = shared.clone();
        tasks.spawn(async move { observe(&shared, &failure(n)).await });
    }
    while shared
        .grouping
        .waiting
        .lock()
        .unwrap()
        .get(&key)
        .map(Vec::len)
        != Some(20)
    {
        tokio::task::yield_now().await;
    }
    drop(busy);
    let mut seen = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        seen.push(joined.unwrap().expect("observed").observed);
    }
    let posted = seen
        .iter()
        .filter(|o| matches!(o, Observed::Post { .. }))
        .count();
    let folded = seen
        .iter()
        .filter(|o| matches!(o, Observed::Folded { .. }))
        .count();
    assert_eq!((posted, folded), (1, 19), "{seen:?}");
    assert_eq!(store.entries.lock().unwrap().len(), 1, "one write for all");
    let read = shared
        .grouping
        .read(&shared.state, &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.version, 1);
    assert!(
        shared.grouping.waiting.lock().unwrap().is_empty(),
        "nothing left waiting"
    );
}

#[tokio::test]
async fn the_index_entry_is_written_only_when_it_changes_or_a_write_conflicted() {
    let (_, url) = receiver().await;
    let mut shared = shared(&url);
    let store = counted(&mut shared);
    observe(&shared, &failure(0)).await.unwrap(); // opens the group: nothing due
    observe(&shared, &failure(1)).await.unwrap(); // folded: a digest is due
    observe(&shared, &failure(2)).await.unwrap(); // folded into the same digest
    assert_eq!(*store.entries.lock().unwrap(), [true, true, false]);

    // A write that named an entry and lost: its entry may have landed over the winner's.
    let key = store_key("default", &failure(0));
    let grouping = &shared.grouping;
    let Read { mut body, version } = grouping.read(&shared.state, &key).await.unwrap().unwrap();
    body.indexed = None;
    store.conflicts.store(1, Ordering::Relaxed);
    assert_eq!(
        grouping
            .write(&shared.state, &key, &mut body, Some(version))
            .await,
        Some(false)
    );
    for _ in 0..2 {
        let Read { mut body, version } = grouping.read(&shared.state, &key).await.unwrap().unwrap();
        assert_eq!(
            grouping
                .write(&shared.state, &key, &mut body, Some(version))
                .await,
            Some(true)
        );
    }
    assert_eq!(
        store.entries.lock().unwrap()[3..],
        [true, true, false],
        "the next write after it rewrites the entry, once"
    );

    let key = store_key("default", &failure(0));
    assert_eq!(digest::post(&shared, &key).await, Posted::Done);
    let entries = grouping.open_groups(&shared.state).await.unwrap();
    assert_eq!(
        entries[0].due, None,
        "the settled digest's entry says nothing is due"
    );
}

#[tokio::test]
async fn an_index_entry_that_disagrees_with_its_group_is_rewritten_before_anything_is_posted() {
    let (posts, url) = receiver().await;
    let mut shared = shared(&url);
    let store = counted(&mut shared);
    for n in 0..3 {
        observe(&shared, &failure(n)).await.unwrap();
    }
    let key = store_key("default", &failure(0));
    let grouping = &shared.grouping;
    let read = grouping.read(&shared.state, &key).await.unwrap().unwrap();
    let due = read.body.group.due().unwrap().unix_timestamp();
    // Another replica's losing write left the entry saying nothing is due: the digest would be
    // stranded. The index is overwritten under the group's own body, as that write would have.
    let wrong = GroupEntry {
        key: key.clone(),
        due: None,
        scope: None,
    };
    let text = serde_json::to_string(&read.body).unwrap();
    assert!(
        store
            .inner
            .put(&key, &text, Some(read.version), Some(&wrong))
            .await
            .unwrap()
    );
    let read = grouping.read(&shared.state, &key).await.unwrap().unwrap();
    let (_, version) = grouping
        .repair(&shared.state, &key, read.clone(), None)
        .await
        .expect("rewritten");
    assert_eq!(version, read.version + 1);
    let entries = grouping.open_groups(&shared.state).await.unwrap();
    assert_eq!(
        entries[0].due,
        Some(due),
        "the entry lists the pending digest again"
    );

    // Listed as due long before the group says: the entry is put right and nothing is posted yet.
    let listed = digest::Listed {
        due: due - 600,
        early: false,
    };
    let mut early = entries[0].clone();
    early.due = Some(due - 600);
    let read = grouping.read(&shared.state, &key).await.unwrap().unwrap();
    let text = serde_json::to_string(&read.body).unwrap();
    assert!(
        store
            .inner
            .put(&key, &text, Some(read.version), Some(&early))
            .await
            .unwrap()
    );
    assert_eq!(
        digest::post_listed(&shared, &key, Some(listed)).await,
        Posted::Done
    );
    assert_eq!(posts.load(Ordering::Relaxed), 0, "not due yet");
    let entries = grouping.open_groups(&shared.state).await.unwrap();
    assert_eq!(entries[0].due, Some(due));
    // Early (shutdown), it is posted.
    let listed = digest::Listed { due, early: true };
    assert_eq!(
        digest::post_listed(&shared, &key, Some(listed)).await,
        Posted::Done
    );
    assert_eq!(posts.load(Ordering::Relaxed), 1);
}

/// A receiver that answers 200 after `delay` and records the `schema` of every document it accepted.
async fn schema_receiver(delay: Duration) -> (Arc<Mutex<Vec<String>>>, String) {
    let schemas = Arc::new(Mutex::new(Vec::new()));
    let seen = schemas.clone();
    let app = axum::Router::new().fallback(move |body: String| {
        let seen = seen.clone();
        async move {
            tokio::time::sleep(delay).await;
            let document: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let schema = document["schema"].as_str().unwrap_or("?").to_owned();
            seen.lock().unwrap().push(schema);
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (schemas, format!("http://{addr}/hook"))
}

/// Failure `n` (its own time `offset` seconds after the fixture's), observed `ago` before now on
/// the worker's clock.
async fn fail_at(
    shared: &crate::consumer::Shared,
    n: usize,
    offset: i64,
    ago: Duration,
) -> Observation {
    let mut alert = failure(n);
    alert.time = at_offset(offset);
    shared
        .grouping
        .observe(
            &shared.state,
            "default",
            &Arc::new(alert),
            (&policy(), None),
            OffsetDateTime::now_utc() - ago,
        )
        .await
        .expect("the memory store answers")
}

/// The fixture alert's own time moved by `offset` seconds, as RFC 3339.
fn at_offset(offset: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    let base = OffsetDateTime::parse(&alert().time, &Rfc3339).expect("the fixture has a time");
    (base + time::Duration::seconds(offset))
        .format(&Rfc3339)
        .expect("formats")
}

/// A steady state of the fixture's service, at its own time `offset` seconds after the fixture's.
fn steady_state(offset: i64) -> failwatch_core::RecoverySignal {
    use time::format_description::well_known::Rfc3339;
    failwatch_core::RecoverySignal {
        scope: failwatch_core::recovery_scope(&alert()).expect("the fixture's service has a scope"),
        event_id: format!("steady-{offset}"),
        time: OffsetDateTime::parse(&at_offset(offset), &Rfc3339).expect("parses"),
        account: alert().account.clone(),
        region: alert().region.clone(),
        partition: "aws".to_owned(),
        links: failwatch_core::Links::default(),
    }
}

/// The recovery event's outcome when it is handed back: how long it stays invisible.
fn handed_back_for(outcome: crate::retry::Outcome) -> Duration {
    match outcome {
        crate::retry::Outcome::Release { visibility, .. } => visibility,
        crate::retry::Outcome::Delete => panic!("deleted, not handed back"),
    }
}

#[tokio::test]
async fn a_quiet_group_recovers_after_its_pending_digest_and_closes() {
    let (schemas, url) = schema_receiver(Duration::ZERO).await;
    let shared = shared(&url);
    let two_minutes = Duration::from_secs(120);
    assert!(matches!(
        fail_at(&shared, 0, 0, two_minutes).await.observed,
        Observed::Post { .. }
    ));
    assert!(matches!(
        fail_at(&shared, 1, 5, two_minutes).await.observed,
        Observed::Folded { .. }
    ));
    let outcome = recovery::recover(&shared, &steady_state(60)).await;
    assert_eq!(outcome, crate::retry::Outcome::Delete);
    assert_eq!(
        *schemas.lock().unwrap(),
        ["failwatch.digest.v1", "failwatch.recovery.v1"]
    );
    let key = store_key("default", &failure(0));
    assert!(is_gone(&shared, &key).await, "closed");
}

#[tokio::test]
async fn a_success_between_failures_waits_for_quiet_and_a_later_failure_silences_it() {
    let (schemas, url) = schema_receiver(Duration::ZERO).await;
    let shared = shared(&url);
    assert!(matches!(
        fail_at(&shared, 0, 0, Duration::ZERO).await.observed,
        Observed::Post { .. }
    ));
    // A concurrent execution succeeds right after: not quiet for the 60 s interval yet.
    let success = steady_state(10);
    let wait = handed_back_for(recovery::recover(&shared, &success).await);
    assert!(
        wait > Duration::from_secs(55) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    // Another failure comes before the event is received again: it stays silent.
    assert!(matches!(
        fail_at(&shared, 1, 20, Duration::ZERO).await.observed,
        Observed::Folded { .. }
    ));
    assert_eq!(
        recovery::recover(&shared, &success).await,
        crate::retry::Outcome::Delete
    );
    assert!(
        schemas.lock().unwrap().is_empty(),
        "{:?}",
        schemas.lock().unwrap()
    );
    let key = store_key("default", &failure(0));
    let read = shared.grouping.read(&shared.state, &key).await.unwrap();
    assert_eq!(read.expect("still open").body.group.pending(), 1);
}

#[tokio::test]
async fn a_recovery_waits_for_a_digest_the_scheduler_is_posting_instead_of_posting_it_again() {
    let (schemas, url) = schema_receiver(Duration::from_millis(1500)).await;
    let shared = Arc::new(shared(&url));
    let two_minutes = Duration::from_secs(120);
    fail_at(&shared, 0, 0, two_minutes).await;
    fail_at(&shared, 1, 5, two_minutes).await;
    let key = store_key("default", &failure(0));
    let scheduler = {
        let (shared, key) = (shared.clone(), key.clone());
        tokio::spawn(async move { digest::post(&shared, &key).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let wait = handed_back_for(recovery::recover(&shared, &steady_state(60)).await);
    assert!(wait >= crate::retry::MIN_HANDBACK, "{wait:?}");
    assert_eq!(scheduler.await.unwrap(), Posted::Done);
    // Received again: the digest went out once, now the recovery.
    assert_eq!(
        recovery::recover(&shared, &steady_state(60)).await,
        crate::retry::Outcome::Delete
    );
    assert_eq!(
        *schemas.lock().unwrap(),
        ["failwatch.digest.v1", "failwatch.recovery.v1"]
    );
}

#[tokio::test]
async fn a_recovery_meeting_another_replicas_claim_is_handed_back_until_the_lease_ends() {
    let (schemas, url) = schema_receiver(Duration::ZERO).await;
    let shared = shared(&url);
    let two_minutes = Duration::from_secs(120);
    fail_at(&shared, 0, 0, two_minutes).await;
    fail_at(&shared, 1, 5, two_minutes).await;
    let key = store_key("default", &failure(0));
    let grouping = &shared.grouping;
    let Read { mut body, version } = grouping.read(&shared.state, &key).await.unwrap().unwrap();
    let lease = Duration::from_secs(40);
    assert!(
        body.group
            .claim_digest("other-replica/1", OffsetDateTime::now_utc(), lease)
    );
    assert_eq!(
        grouping
            .write(&shared.state, &key, &mut body, Some(version))
            .await,
        Some(true)
    );
    let wait = handed_back_for(recovery::recover(&shared, &steady_state(60)).await);
    assert!(wait > Duration::from_secs(35) && wait <= lease, "{wait:?}");
    assert!(schemas.lock().unwrap().is_empty());
    assert!(
        grouping.read(&shared.state, &key).await.unwrap().is_some(),
        "still open"
    );
}

#[tokio::test]
async fn a_held_key_stays_settled_after_its_group_closed_and_opened_again() {
    let (_, url) = receiver().await;
    let shared = shared(&url);
    let key = store_key("default", &failure(0));
    observe(&shared, &failure(0)).await.unwrap();
    observe(&shared, &failure(1)).await.unwrap();
    assert_eq!(digest::post(&shared, &key).await, Posted::Done);
    let held = failure(1).dedup_key;
    assert_eq!(
        shared.grouping.is_settled(&shared.state, &key, &held).await,
        Some(true)
    );
    let read = shared
        .grouping
        .read(&shared.state, &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        shared
            .grouping
            .remove(&shared.state, &key, read.version)
            .await,
        Some(true)
    );
    observe(&shared, &failure(100)).await.unwrap();
    observe(&shared, &failure(101)).await.unwrap();
    assert_eq!(
        shared.grouping.is_settled(&shared.state, &key, &held).await,
        Some(true),
        "a new burst does not hold it again"
    );
    assert_eq!(
        shared
            .grouping
            .is_settled(&shared.state, &key, &failure(101).dedup_key)
            .await,
        Some(false),
        "the new burst's fold is pending"
    );
}

#[tokio::test]
async fn a_group_of_a_destination_this_replica_lacks_is_kept_while_failures_are_pending() {
    let (posts, url) = receiver().await;
    let shared = shared(&url);
    // Opened by a replica whose configuration still has the destination `renamed`.
    for n in 0..2 {
        let observed = shared
            .grouping
            .observe(
                &shared.state,
                "renamed",
                &Arc::new(failure(n)),
                (&policy(), None),
                OffsetDateTime::now_utc(),
            )
            .await;
        assert!(observed.is_some());
    }
    let key = store_key("renamed", &failure(0));
    assert!(
        matches!(digest::post(&shared, &key).await, Posted::Later(wait) if wait >= Duration::from_secs(60))
    );
    let read = shared.grouping.read(&shared.state, &key).await.unwrap();
    assert_eq!(read.expect("kept").body.group.pending(), 1);
    assert_eq!(posts.load(Ordering::Relaxed), 0);
    // Nothing pending: forgotten.
    let Read { mut body, version } = shared
        .grouping
        .read(&shared.state, &key)
        .await
        .unwrap()
        .unwrap();
    let now = OffsetDateTime::now_utc();
    assert!(
        body.group
            .claim_digest("other-replica/1", now, Duration::from_secs(30))
    );
    let digest = body
        .group
        .digest(now, &core_policy(&policy()))
        .expect("pending");
    body.group.settle_digest(&digest, now);
    assert_eq!(
        shared
            .grouping
            .write(&shared.state, &key, &mut body, Some(version))
            .await,
        Some(true)
    );
    assert_eq!(digest::post(&shared, &key).await, Posted::Done);
    assert!(is_gone(&shared, &key).await, "forgotten");
}

/// Whether group `key` is no longer stored.
async fn is_gone(shared: &crate::consumer::Shared, key: &str) -> bool {
    shared
        .grouping
        .read(&shared.state, key)
        .await
        .expect("the memory store answers")
        .is_none()
}
