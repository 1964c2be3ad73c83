//! The state seam: the per-key lock and lease wait on paused tokio time, and the "store fails →
//! deliver anyway" policy against backends that fail or hang.

use std::sync::atomic::{AtomicBool, Ordering};

use super::*;

const LEASE: Duration = Duration::from_secs(40);

fn memory() -> Arc<State> {
    Arc::new(State::memory(
        NonZeroUsize::new(10).unwrap(),
        Duration::from_secs(3600),
        LEASE,
    ))
}

/// A backend whose every call fails, or never answers — as a throttled, unreachable or denied store
/// would.
#[derive(Debug)]
pub(crate) struct FailingStore {
    /// Hang instead of failing at once.
    pub(crate) hang: bool,
    /// Set when `record_delivery` was called.
    pub(crate) recorded: AtomicBool,
}

impl FailingStore {
    pub(crate) fn new(hang: bool) -> Self {
        FailingStore {
            hang,
            recorded: AtomicBool::new(false),
        }
    }

    async fn fail<T>(&self) -> Result<T, StateError> {
        if self.hang {
            std::future::pending::<()>().await;
        }
        Err(StateError::new(std::io::Error::other(
            "ProvisionedThroughputExceededException",
        )))
    }
}

#[async_trait]
impl StateStore for FailingStore {
    async fn claim(&self, _key: &str, _lease: Duration) -> Result<Claim<()>, StateError> {
        self.fail().await
    }
    async fn delivered_to(&self, _key: &str, _dest: &[&str]) -> Result<Vec<bool>, StateError> {
        self.fail().await
    }
    async fn record_delivery(&self, _key: &str, _destination: &str) -> Result<(), StateError> {
        self.recorded.store(true, Ordering::Relaxed);
        self.fail().await
    }
    async fn complete(&self, _key: &str) -> Result<(), StateError> {
        self.fail().await
    }
    async fn release(&self, _key: &str) -> Result<(), StateError> {
        self.fail().await
    }
}

/// A backend that says another replica holds every claim.
#[derive(Debug)]
struct HeldElsewhere;

#[async_trait]
impl StateStore for HeldElsewhere {
    async fn claim(&self, _key: &str, _lease: Duration) -> Result<Claim<()>, StateError> {
        Ok(Claim::Held {
            retry_in: Duration::from_secs(7),
        })
    }
    async fn delivered_to(&self, _key: &str, dest: &[&str]) -> Result<Vec<bool>, StateError> {
        Ok(vec![false; dest.len()])
    }
    async fn record_delivery(&self, _key: &str, _destination: &str) -> Result<(), StateError> {
        Ok(())
    }
    async fn complete(&self, _key: &str) -> Result<(), StateError> {
        Ok(())
    }
    async fn release(&self, _key: &str) -> Result<(), StateError> {
        Ok(())
    }
}

fn won(claim: Claim<ClaimGuard>) -> ClaimGuard {
    match claim {
        Claim::Won(guard) => guard,
        other => panic!("expected a won claim, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_second_message_of_the_same_alert_waits_and_then_sees_the_first_ones_outcome() {
    let state = memory();
    let first = won(state.claim("k").await);
    let second = {
        let state = state.clone();
        tokio::spawn(async move { matches!(state.claim("k").await, Claim::Done) })
    };
    tokio::task::yield_now().await;
    assert!(!second.is_finished());
    // Another key is not blocked.
    drop(won(state.claim("other").await));
    state.record_delivery(&first, "slack").await;
    state.complete(first).await;
    assert!(second.await.unwrap(), "the second message is a duplicate");
    assert_eq!(
        state.locks.busy(),
        0,
        "entries are removed when nobody holds them"
    );
}

#[tokio::test(start_paused = true)]
async fn a_released_claim_lets_the_next_message_deliver_what_is_left() {
    let state = memory();
    let first = won(state.claim("k").await);
    state.record_delivery(&first, "slack").await;
    state.release(first).await;
    let second = won(state.claim("k").await);
    assert_eq!(
        state.delivered_to(&second, &["slack", "chat"]).await,
        [true, false]
    );
}

#[tokio::test(start_paused = true)]
async fn a_claim_held_past_its_lease_hands_the_waiting_message_back() {
    let state = memory();
    let _first = won(state.claim("k").await);
    let started = Instant::now();
    let second = state.claim("k").await;
    assert!(
        matches!(second, Claim::Held { retry_in } if retry_in == LEASE),
        "{second:?}"
    );
    assert_eq!(started.elapsed(), LEASE);
}

#[tokio::test(start_paused = true)]
async fn a_claim_held_by_another_replica_is_reported_with_its_wait() {
    let state = State::new(Arc::new(HeldElsewhere), LEASE);
    assert!(matches!(
        state.claim("k").await,
        Claim::Held { retry_in } if retry_in == Duration::from_secs(7)
    ));
}

/// Every call of a failing store: the alert is claimed, no destination counts as delivered, every
/// failure is counted by operation and only the first is logged.
async fn store_failures_deliver_anyway(hang: bool) -> String {
    let recorder = crate::metrics::recorder().unwrap();
    let handle = recorder.handle();
    let _guard = ::metrics::set_default_local_recorder(&recorder);
    let store = Arc::new(FailingStore::new(hang));
    let state = State::new(store.clone(), LEASE);
    let started = Instant::now();

    let claim = won(state.claim("k").await);
    assert_eq!(
        state.delivered_to(&claim, &["slack", "chat"]).await,
        [false, false]
    );
    state.record_delivery(&claim, "slack").await;
    assert!(store.recorded.load(Ordering::Relaxed));
    state.complete(claim).await;
    // The failed claim still held the key in this process, and gave it up.
    state.release(won(state.claim("k").await)).await;
    assert_eq!(state.locks.busy(), 0);

    let calls = 6;
    let expected = if hang {
        CALL_TIMEOUT * calls
    } else {
        Duration::ZERO
    };
    assert_eq!(started.elapsed(), expected, "each call waits at most");
    handle.render()
}

#[tokio::test(start_paused = true)]
async fn a_failing_store_is_counted_and_the_alert_delivered_anyway() {
    let text = store_failures_deliver_anyway(false).await;
    for (op, count) in [
        ("claim", 2),
        ("delivered_to", 1),
        ("record_delivery", 1),
        ("complete", 1),
        ("release", 1),
    ] {
        let line = format!("failwatch_state_errors_total{{op=\"{op}\"}} {count}");
        assert!(text.contains(&line), "{line} not in {text}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_store_that_never_answers_times_out_and_the_alert_is_delivered_anyway() {
    let text = store_failures_deliver_anyway(true).await;
    assert!(
        text.contains("failwatch_state_errors_total{op=\"claim\"} 2"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn store_failures_are_logged_once_per_interval() {
    let log = ErrorLog::default();
    let error = || StateError::new(std::io::Error::other("throttled"));
    log.report("claim", &error());
    log.report("claim", &error());
    log.report("complete", &error());
    assert_eq!(*log.last.lock().unwrap(), (Some(Instant::now()), 2));
    tokio::time::advance(ERROR_LOG_INTERVAL).await;
    log.report("claim", &error());
    assert_eq!(
        *log.last.lock().unwrap(),
        (Some(Instant::now()), 0),
        "logged again, with the count of the two not logged"
    );
}

#[tokio::test(start_paused = true)]
async fn claims_suppressed_posts_and_call_latency_are_counted() {
    let recorder = crate::metrics::recorder().unwrap();
    let handle = recorder.handle();
    let _guard = ::metrics::set_default_local_recorder(&recorder);
    let state = memory();
    let claim = won(state.claim("k").await);
    state.record_delivery(&claim, "slack").await;
    let delivered = state.delivered_to(&claim, &["chat", "slack"]).await;
    assert_eq!(delivered, [false, true]);
    state.complete(claim).await;
    assert!(matches!(state.claim("k").await, Claim::Done));
    let _held = won(state.claim("other").await);
    assert!(matches!(state.claim("other").await, Claim::Held { .. }));

    let text = handle.render();
    for line in [
        "failwatch_state_claims_total{outcome=\"won\"} 2",
        "failwatch_state_claims_total{outcome=\"done\"} 1",
        "failwatch_state_claims_total{outcome=\"held\"} 1",
        "failwatch_state_duplicates_suppressed_total{level=\"alert\"} 1",
        "failwatch_state_duplicates_suppressed_total{level=\"destination\"} 1",
        "failwatch_state_call_duration_seconds_count{op=\"claim\"} 3",
        "failwatch_state_call_duration_seconds_bucket{op=\"delivered_to\",le=\"0.0005\"} 1",
    ] {
        assert!(text.contains(line), "{line} not in {text}");
    }
}
