//! The consumer: pollers that long-poll the queue, and one task per received message, bounded by a
//! semaphore of `max_in_flight` permits.
//!
//! A poller first takes a permit (waiting if `max_in_flight` messages are being worked on), then as many
//! more as are free up to ten, and asks SQS for that many messages, so the worker never receives more
//! than it can work on while their visibility timeout runs. The first receive of each poller does not
//! wait (`WaitTimeSeconds` 0), so readiness is reached within one round trip; later ones long-poll.
//!
//! **Backpressure.** Before each receive a poller asks the deliverer for admission
//! (`delivery::admission`): it receives only as many messages as the least busy destination can start
//! attempting within the admission horizon — a third of the visibility timeout (the heartbeat period: a
//! message gets its turn before it needs its visibility extended), at most [`MAX_ADMISSION_HORIZON`] —
//! and while no destination can (every one is held by a `Retry-After`, or has more deliveries in
//! progress than its pacing serves within the horizon), it waits instead of receiving. Messages left in the queue cost nothing; messages
//! received and held would each lose a receive to every crash, and could reach the DLQ untried. The
//! time pollers wait is recorded in `failwatch_receive_paused_seconds`.
//!
//! Shutdown has two stages and one deadline. `soft_stop` (SIGTERM): pollers stop, running deliveries
//! finish but start no new retry and no new paced attempt. `hard_stop`, `shutdown_grace_secs` after
//! SIGTERM: every message still being worked on, and every long poll still open, is given up, and
//! messages are handed back with visibility 0 at once. The grace period is counted from the signal, not
//! from the end of the last long poll, so the whole worker stops within it (plus the hand-back calls)
//! whatever it was doing — the orchestrator's SIGKILL comes on its own clock.

mod deleter;
pub(crate) mod message;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin::Health;
use crate::config::Config;
use crate::delivery::{Admission, Deliverer, Ticket};
use crate::enrich::Enricher;
use crate::grouping::Grouping;
use crate::metrics;
use crate::sqs::{MAX_BATCH, Queue, Received, SqsError};
use crate::state::State;
pub(crate) use deleter::Deleter;

/// The pause after the first failed receive call; it doubles with each failure in a row.
const POLL_ERROR_FIRST_WAIT: Duration = Duration::from_millis(500);
/// The ceiling of that doubling; with jitter a pause is up to twice the ceiling, so a long outage
/// (or missing credentials) costs a call and a log line every 20 to 40 s.
const POLL_ERROR_MAX_WAIT: Duration = Duration::from_secs(20);
/// The longest a received message should wait for its first attempt. Long enough for many receive
/// round trips (a long poll answers at once when messages are waiting), so a destination that has room
/// never runs dry; short enough that few messages are held when a crash comes.
const MAX_ADMISSION_HORIZON: Duration = Duration::from_secs(2);

/// What every message task shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Arc<Config>,
    pub(crate) queue: Queue,
    pub(crate) deliverer: Deliverer,
    pub(crate) state: State,
    /// Groups of alerts: digests, held messages, recoveries.
    pub(crate) grouping: Grouping,
    /// Looks up log tails, failed states and tags; off until `run` sets it.
    pub(crate) enricher: Enricher,
    pub(crate) deleter: Deleter,
    pub(crate) health: Arc<Health>,
    pub(crate) malformed_visibility: Duration,
    /// Cancelled on SIGTERM: stop polling, start no new retries.
    pub(crate) soft_stop: CancellationToken,
    /// Cancelled when the grace period is over: hand everything back now.
    pub(crate) hard_stop: CancellationToken,
}

impl Shared {
    pub(crate) fn new(
        config: Arc<Config>,
        queue: Queue,
        deliverer: Deliverer,
        deleter: Deleter,
        health: Arc<Health>,
        soft_stop: CancellationToken,
    ) -> Self {
        Shared {
            state: State::from_config(&config, deliverer.lease()),
            grouping: Grouping::from_config(&config, crate::grouping::process_owner()),
            enricher: Enricher::default(),
            malformed_visibility: config.sqs.malformed_visibility,
            config,
            queue,
            deliverer,
            deleter,
            health,
            // Not a child of `soft_stop`: a child would be cancelled with it, skipping the grace period.
            hard_stop: CancellationToken::new(),
            soft_stop,
        }
    }
}

/// Runs the pollers until `soft_stop`, then drains: waits up to the grace period for messages being
/// worked on, hands back the rest, and returns once every message task has ended.
pub(crate) async fn consume(shared: Arc<Shared>) {
    let semaphore = Arc::new(Semaphore::new(
        usize::try_from(shared.config.sqs.max_in_flight).unwrap_or(1),
    ));
    let tracker = TaskTracker::new();
    let deadline = tokio::spawn(hard_stop_after_grace(shared.clone()));
    let failures = Arc::new(PollFailures::default());
    let mut pollers = tokio::task::JoinSet::new();
    for index in 0..shared.config.sqs.pollers {
        pollers.spawn(poll(
            Poller {
                shared: shared.clone(),
                semaphore: semaphore.clone(),
                tracker: tracker.clone(),
                failures: failures.clone(),
            },
            index,
        ));
    }
    while let Some(result) = pollers.join_next().await {
        if let Err(err) = result {
            tracing::error!(error = %err, "a poller failed");
        }
    }
    tracker.close();
    let in_flight = tracker.len();
    if in_flight > 0 {
        tracing::info!(
            in_flight,
            grace_secs = shared.config.sqs.shutdown_grace.as_secs(),
            "stopped polling; finishing messages in flight"
        );
    }
    let finished = tokio::select! {
        () = tracker.wait() => true,
        () = shared.hard_stop.cancelled() => false,
    };
    deadline.abort();
    // Awaited so that its reference to `Shared` is gone when this returns: the caller relies on dropping
    // the last one to stop the deleter.
    let _ = deadline.await;
    if !finished {
        tracing::warn!(
            remaining = tracker.len(),
            "shutdown grace period over; handing unfinished messages back to the queue"
        );
        tracker.wait().await;
    }
}

/// Cancels `hard_stop` once `shutdown_grace_secs` have passed since SIGTERM (`soft_stop`).
async fn hard_stop_after_grace(shared: Arc<Shared>) {
    shared.soft_stop.cancelled().await;
    tokio::time::sleep(shared.config.sqs.shutdown_grace).await;
    shared.hard_stop.cancel();
}

/// What one poller works with.
#[derive(Debug)]
struct Poller {
    shared: Arc<Shared>,
    semaphore: Arc<Semaphore>,
    tracker: TaskTracker,
    failures: Arc<PollFailures>,
}

/// The pauses after failed receives: `backon`'s exponential schedule (the crate delivery retries use)
/// with its jitter, which adds up to the same again so that pollers failing together drift apart.
fn poll_backoff() -> ExponentialBackoff {
    ExponentialBuilder::new()
        .with_min_delay(POLL_ERROR_FIRST_WAIT)
        .with_max_delay(POLL_ERROR_MAX_WAIT)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
}

async fn poll(poller: Poller, index: u32) {
    let shared = &poller.shared;
    let stop = shared.soft_stop.clone();
    let wait = shared.config.sqs.wait_time;
    let visibility = shared.config.sqs.visibility_timeout;
    let horizon = admission_horizon(visibility);
    let mut first = true;
    let mut backoff = poll_backoff();
    loop {
        let Some(mut permits) = take_permits(&poller.semaphore, &stop).await else {
            break;
        };
        let Some(room) = admitted(&shared.deliverer, horizon, &stop).await else {
            break;
        };
        permits.truncate(room);
        // Counted as not yet routed from before the receive, so that the other pollers' admission sees
        // these messages at once.
        let mut arrivals: Vec<Ticket> =
            permits.iter().map(|_| shared.deliverer.arrival()).collect();
        let this_wait = if first { Duration::ZERO } else { wait };
        let receive = shared.queue.receive(permits.len(), this_wait, visibility);
        tokio::pin!(receive);
        let received = tokio::select! {
            received = &mut receive => received,
            () = stop.cancelled() => {
                finish_poll_on_shutdown(shared, receive, index).await;
                break;
            }
        };
        match received {
            Ok(messages) => {
                first = false;
                backoff = poll_backoff();
                shared.health.polled();
                ::metrics::counter!(metrics::MESSAGES_RECEIVED).increment(messages.len() as u64);
                for message in messages {
                    let (Some(permit), Some(arrival)) = (permits.pop(), arrivals.pop()) else {
                        break;
                    };
                    let shared = shared.clone();
                    poller
                        .tracker
                        .spawn(message::handle(shared, message, arrival, permit));
                }
            }
            Err(err) => {
                drop(permits);
                let pause = backoff.next().unwrap_or(POLL_ERROR_MAX_WAIT);
                poller.failures.record(index, &err, pause);
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}

/// How soon a received message should get its first attempt: the heartbeat period (a third of the
/// visibility timeout), at most [`MAX_ADMISSION_HORIZON`].
fn admission_horizon(visibility: Duration) -> Duration {
    (visibility / 3).min(MAX_ADMISSION_HORIZON)
}

/// Waits until the deliverer admits a receive for attempts to start within `horizon`; returns how many
/// messages it admits, or `None` on stop. Each wait is recorded in [`metrics::RECEIVE_PAUSED`] as it
/// ends.
async fn admitted(
    deliverer: &Deliverer,
    horizon: Duration,
    stop: &CancellationToken,
) -> Option<usize> {
    let paused = ::metrics::histogram!(metrics::RECEIVE_PAUSED);
    loop {
        let until = match deliverer.admission(horizon) {
            Admission::Receive(room) => return Some(room),
            Admission::WaitUntil(until) => until,
        };
        let since = Instant::now();
        let stopped = tokio::select! {
            () = stop.cancelled() => true,
            () = tokio::time::sleep_until(until) => false,
        };
        paused.record(since.elapsed().as_secs_f64());
        if stopped {
            return None;
        }
    }
}

/// One permit (waiting for it unless `stop`), then as many more as are free, up to a receive's ten;
/// `None` on stop.
async fn take_permits(
    semaphore: &Arc<Semaphore>,
    stop: &CancellationToken,
) -> Option<Vec<OwnedSemaphorePermit>> {
    let first = tokio::select! {
        () = stop.cancelled() => return None,
        permit = semaphore.clone().acquire_owned() => permit.ok()?,
    };
    let mut permits = vec![first];
    while permits.len() < MAX_BATCH {
        match semaphore.clone().try_acquire_owned() {
            Ok(permit) => permits.push(permit),
            Err(_) => break,
        }
    }
    Some(permits)
}

/// Failed receives, counted each and logged so that pollers failing the same way do not repeat each
/// other: a failure is logged at WARN unless the same error was already logged and the poller that
/// logged it has not retried yet; those repeats go to DEBUG. Every line carries the pause before the
/// next attempt, so the WARN lines themselves follow the backoff.
#[derive(Debug, Default)]
struct PollFailures {
    /// The text last logged at WARN and when its poller retries.
    last: Mutex<Option<(String, Instant)>>,
}

impl PollFailures {
    fn record(&self, poller: u32, err: &SqsError, pause: Duration) {
        ::metrics::counter!(metrics::POLL_ERRORS).increment(1);
        let retry_in_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX);
        if self.should_warn(&err.to_string(), pause) {
            tracing::warn!(poller, error = %err, retry_in_ms, "receiving messages failed");
        } else {
            tracing::debug!(poller, error = %err, retry_in_ms, "receiving messages failed again");
        }
    }

    fn should_warn(&self, text: &str, pause: Duration) -> bool {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((logged, until)) = &*last
            && logged == text
            && now < *until
        {
            return false;
        }
        *last = Some((text.to_owned(), now + pause));
        true
    }
}

/// Completes a long poll that was in progress when shutdown began, and hands every message it returns
/// back at once.
///
/// Abandoning the poll instead would be quicker but not harmless: SQS may already be returning messages
/// in its answer, and a dropped answer leaves them invisible for the whole visibility timeout — a
/// minute of silence for alerts nobody is working on. The poll ends by itself within `wait_time_secs`
/// (at most 20 s), and here also by what is left of the grace period that started at SIGTERM.
async fn finish_poll_on_shutdown(
    shared: &Shared,
    receive: impl std::future::Future<Output = Result<Vec<Received>, SqsError>>,
    index: u32,
) {
    let received = tokio::select! {
        received = receive => Some(received),
        () = shared.hard_stop.cancelled() => None,
    };
    let messages = match received {
        Some(Ok(messages)) => messages,
        Some(Err(err)) => {
            tracing::debug!(poller = index, error = %err, "the last poll before shutdown failed");
            return;
        }
        None => {
            tracing::warn!(
                poller = index,
                "the last poll did not end within the grace period; any message it was returning \
                 becomes visible again when its visibility timeout ends"
            );
            return;
        }
    };
    if messages.is_empty() {
        return;
    }
    ::metrics::counter!(metrics::MESSAGES_RECEIVED).increment(messages.len() as u64);
    let entries: Vec<(&str, Duration)> = messages
        .iter()
        .map(|m| (m.receipt_handle.as_str(), Duration::ZERO))
        .collect();
    // One call suffices: a receive returns at most ten messages, the batch limit.
    let refused = match shared.queue.change_visibility_batch(&entries).await {
        Ok(outcome) => outcome.failed.len(),
        Err(err) => {
            tracing::warn!(poller = index, error = %err, "handing back the last poll's messages failed");
            entries.len()
        }
    };
    let handed_back = entries.len() - refused;
    ::metrics::counter!(metrics::MESSAGES_RELEASED, "reason" => "shutdown")
        .increment(handed_back as u64);
    tracing::info!(
        poller = index,
        handed_back,
        refused,
        "handed the last poll's messages back to the queue at shutdown"
    );
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::retry::RetryPolicy;

    /// A deliverer with one webhook destination at the type's default pacing, five a second, whose
    /// slow-start window answers have already widened (see `delivery::admission`).
    fn deliverer() -> Deliverer {
        let env: BTreeMap<String, String> = [
            (
                "FAILWATCH_QUEUE_URL",
                "https://sqs.eu-west-1.amazonaws.com/123456789012/failwatch",
            ),
            ("FAILWATCH_WEBHOOK_URL", "http://127.0.0.1:9/hook"),
            ("FAILWATCH_WEBHOOK_TYPE", "webhook"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config = crate::config::load(None, &env).unwrap();
        let deliverer =
            Deliverer::new(&config.destinations, RetryPolicy::from_config(&config)).unwrap();
        widen(&deliverer);
        deliverer
    }

    /// Accepted answers enough to widen a slow-start window past what pacing serves in a horizon.
    fn widen(deliverer: &Deliverer) {
        for _ in 0..20 {
            deliverer.accepted(0);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn pollers_stop_receiving_while_every_destination_is_held_and_resume_after() {
        let deliverer = deliverer();
        let stop = CancellationToken::new();
        let horizon = admission_horizon(Duration::from_secs(60));
        assert_eq!(horizon, MAX_ADMISSION_HORIZON);
        let started = Instant::now();
        // Free: a receive at once, of what five a second serve within two seconds.
        assert_eq!(admitted(&deliverer, horizon, &stop).await, Some(10));
        assert_eq!(started.elapsed(), Duration::ZERO);
        // A 429 asked for ten seconds: no receive until one turn fits in the horizon again, a little
        // after 2 s before the hold ends (a turn is longer after a hold).
        deliverer.hold_until(0, started + Duration::from_secs(10));
        assert_eq!(admitted(&deliverer, horizon, &stop).await, Some(1));
        let paused = started.elapsed();
        assert!(
            paused > Duration::from_secs(8) && paused < Duration::from_millis(8500),
            "{paused:?}"
        );
        // Once the hold is over, receives resume, smaller while the hold is remembered ...
        tokio::time::advance(Duration::from_secs(2)).await;
        let room = admitted(&deliverer, horizon, &stop).await.unwrap();
        assert!((2..10).contains(&room), "{room}");
        // ... and at full size once it is forgotten (and answers have widened the window the
        // `Retry-After` restarted).
        tokio::time::advance(Duration::from_secs(180)).await;
        widen(&deliverer);
        assert_eq!(admitted(&deliverer, horizon, &stop).await, Some(10));
    }

    #[tokio::test(start_paused = true)]
    async fn messages_not_yet_routed_hold_back_the_next_receive_until_they_are_queued() {
        let deliverer = Arc::new(deliverer());
        let stop = CancellationToken::new();
        // Six received, not yet routed; four deliveries in progress: the horizon is full.
        let arrivals: Vec<Ticket> = (0..6).map(|_| deliverer.arrival()).collect();
        let queued: Vec<Ticket> = (0..4).map(|_| deliverer.enqueue(0)).collect();
        let waiting = tokio::spawn({
            let (deliverer, stop) = (deliverer.clone(), stop.clone());
            async move { admitted(&deliverer, MAX_ADMISSION_HORIZON, &stop).await }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            !waiting.is_finished(),
            "received while the horizon was full"
        );
        // Routed: only the four deliveries in progress are ahead of the next receive.
        drop(arrivals);
        assert_eq!(waiting.await.unwrap(), Some(6));
        drop(queued);
        // A stop ends a wait without a receive.
        let _held = (0..10).map(|_| deliverer.enqueue(0)).collect::<Vec<_>>();
        stop.cancel();
        assert_eq!(
            admitted(&deliverer, MAX_ADMISSION_HORIZON, &stop).await,
            None
        );
    }

    #[tokio::test(start_paused = true)]
    async fn pollers_failing_the_same_way_log_once_per_pause() {
        let failures = PollFailures::default();
        let pause = Duration::from_secs(2);
        assert!(failures.should_warn("no credentials", pause));
        // Another poller, same error, before the first one retried.
        assert!(!failures.should_warn("no credentials", pause));
        // A different error is news.
        assert!(failures.should_warn("timed out", pause));
        assert!(failures.should_warn("no credentials", pause));
        tokio::time::advance(pause).await;
        // The first poller's retry failed the same way: logged again, at the backoff's pace.
        assert!(failures.should_warn("no credentials", pause * 2));
        tokio::time::advance(pause).await;
        assert!(!failures.should_warn("no credentials", pause));
    }

    #[test]
    fn the_poll_backoff_grows_to_its_ceiling_and_keeps_going() {
        let pauses: Vec<Duration> = poll_backoff().take(12).collect();
        assert_eq!(pauses.len(), 12, "never gives up");
        assert!(pauses[0] >= POLL_ERROR_FIRST_WAIT && pauses[0] < POLL_ERROR_FIRST_WAIT * 2);
        for pause in &pauses[8..] {
            assert!(
                *pause >= POLL_ERROR_MAX_WAIT && *pause < POLL_ERROR_MAX_WAIT * 2,
                "{pauses:?}"
            );
        }
    }
}
