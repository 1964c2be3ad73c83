//! One message, from receipt to its final outcome: delete it, or hand it back to SQS.
//!
//! | what happened                                   | outcome                                        |
//! |-------------------------------------------------|------------------------------------------------|
//! | silent event                                    | delete                                         |
//! | recovery event (`grouping::recovery`)           | delete once its notices are final              |
//! | duplicate of an alert already delivered         | delete                                         |
//! | another worker is delivering the same alert     | hand back, visible when its claim runs out     |
//! | every routed destination accepted the alert     | delete                                         |
//! | a destination still failing when budget ran out | hand back, visible after the next backoff      |
//! | a destination rejected it for good (4xx)        | hand back quickly; SQS moves it to the DLQ     |
//! | malformed body                                  | hand back quickly; never deleted; → DLQ        |
//! | folded into a digest, durable store             | delete (the fold counts as that delivery)      |
//! | folded into a digest, memory store              | held until the digest is delivered, then delete |
//! | shutdown grace expired while working or held    | hand back at once (visibility 0)               |
//!
//! While a message is worked on, a heartbeat keeps it invisible (ChangeMessageVisibility every third of
//! the visibility timeout); it stops the moment the outcome is known. A held message
//! (`grouping::held`) gives back its concurrency permit and gets one longer visibility instead.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use failwatch_core::{Alert, Decision, DecodeContext, RenderOptions};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use super::Shared;
use crate::delivery::{Delivery, Ticket};
use crate::grouping::fold::{self, Step};
use crate::grouping::held::{self, Held};
use crate::grouping::recovery;
use crate::metrics;
use crate::retry::{self, Failure, Outcome};
use crate::routing::Routed;
use crate::sqs::Received;
use crate::state::{Claim, ClaimGuard};

/// What working on a message decided.
#[derive(Debug)]
enum Decided {
    /// Its outcome is final.
    Final(Outcome),
    /// Its alert was folded into groups of this process: hold it until their digests are delivered.
    Hold(Held),
}

#[cfg(test)]
impl PartialEq<Outcome> for Decided {
    fn eq(&self, other: &Outcome) -> bool {
        matches!(self, Decided::Final(outcome) if outcome == other)
    }
}

/// Works on one message until its outcome is final, then deletes it or hands it back. `arrival` counts
/// it as not yet routed (for admission) until its deliveries are queued or it needs none; `permit`
/// is its place among the messages worked on, given back when it is held.
pub(super) async fn handle(
    shared: Arc<Shared>,
    message: Received,
    arrival: Ticket,
    permit: OwnedSemaphorePermit,
) {
    let span = tracing::info_span!(
        "message",
        message_id = %message.message_id,
        receive_count = message.receive_count
    );
    async {
        let gauge = ::metrics::gauge!(metrics::IN_FLIGHT_MESSAGES);
        gauge.increment(1.0);
        let decided = tokio::select! {
            // Biased, in this order: an outcome that is ready wins over a hard stop that arrived at the
            // same moment, so a message that was just delivered is deleted, not handed back to alert
            // again.
            biased;
            decided = decide(&shared, &message, arrival) => decided,
            never = heartbeat(&shared, &message) => match never {},
            () = shared.hard_stop.cancelled() => Decided::Final(Outcome::shutdown()),
        };
        let outcome = match decided {
            Decided::Final(outcome) => {
                drop(permit);
                outcome
            }
            // Waiting for a held place can last as long as digests take to go out (a chat outage):
            // the heartbeat keeps the message invisible meanwhile, as while it was decided.
            Decided::Hold(hold) => match tokio::select! {
                place = held::place(&shared) => place,
                never = heartbeat(&shared, &message) => match never {},
            } {
                Some(place) => {
                    drop(permit);
                    held::wait(&shared, &message, hold, place).await
                }
                None => Outcome::shutdown(),
            },
        };
        finish(&shared, &message, outcome).await;
        gauge.decrement(1.0);
    }
    .instrument(span)
    .await;
}

/// Extends the message's visibility every third of the visibility timeout, for as long as it is polled;
/// it never ends on its own.
async fn heartbeat(shared: &Shared, message: &Received) -> Infallible {
    let timeout = shared.config.sqs.visibility_timeout;
    let every = (timeout / 3).max(Duration::from_secs(1));
    loop {
        tokio::time::sleep(every).await;
        if let Err(err) = shared
            .queue
            .change_visibility(&message.receipt_handle, timeout)
            .await
        {
            tracing::warn!(error = %err, "could not extend the message's visibility");
        }
    }
}

async fn decide(shared: &Arc<Shared>, message: &Received, arrival: Ticket) -> Decided {
    let ctx = DecodeContext {
        message_id: Some(message.message_id.clone()),
        received_at: message.sent_at.unwrap_or_else(OffsetDateTime::now_utc),
    };
    let event = match failwatch_core::decode(&message.body, &ctx) {
        Ok(event) => event,
        Err(err) => {
            count_event("unknown", "malformed");
            // The error names what was wrong; the body itself is never logged.
            tracing::warn!(
                error = %err,
                body_bytes = message.body.len(),
                "malformed message body; leaving it for the dead-letter queue"
            );
            return Decided::Final(Outcome::malformed(shared.malformed_visibility));
        }
    };
    let kind = event.kind().map_or("unknown", |k| k.as_str());
    match failwatch_core::classify(&event) {
        Decision::Silent(reason) => {
            count_event(kind, "silent");
            tracing::info!(kind, reason = %reason, code = reason.code(), "event is silent");
            drop(arrival);
            Decided::Final(match failwatch_core::recovery_signal(&event) {
                Some(signal) => recovery::recover(shared, &signal).await,
                None => Outcome::Delete,
            })
        }
        Decision::Alert(alert) => deliver(shared, kind, Arc::from(alert), arrival).await,
    }
}

/// Delivers an alert to every routed destination that has not accepted it yet, under this worker's
/// claim on it, and decides the message's outcome. `arrival` is dropped once every delivery is queued.
/// Grouping decides per destination (`grouping::fold`) whether the alert is posted, folded, or a
/// repeat; a message folded into a group of this process only is held.
async fn deliver(shared: &Arc<Shared>, kind: &str, alert: Arc<Alert>, arrival: Ticket) -> Decided {
    let claim = match shared.state.claim(&alert.dedup_key).await {
        Claim::Won(claim) => claim,
        Claim::Done => {
            count_event(kind, "duplicate");
            tracing::info!(kind, dedup_key = %alert.dedup_key, "duplicate of an alert already delivered");
            return Decided::Final(Outcome::Delete);
        }
        Claim::Held { retry_in } => {
            tracing::info!(kind, dedup_key = %alert.dedup_key, "another message or replica is delivering this alert; looking again later");
            return Decided::Final(Outcome::busy(retry_in));
        }
    };
    let deadline = shared.deliverer.deadline(Instant::now());
    // Enriched once claimed (a duplicate costs no lookup) and before routing (routes match tags); its
    // budget ends before `deadline`, so the lookups count against the delivery time, never beyond it.
    let mut alert = Arc::unwrap_or_clone(alert);
    shared.enricher.enrich(&mut alert, deadline).await;
    let alert = Arc::new(alert);
    let routes = shared.config.router.route(&alert);
    let names: Vec<&str> = routes
        .iter()
        .map(|r| shared.config.destinations[r.destination].name.as_str())
        .collect();
    let delivered = shared.state.delivered_to(&claim, &names).await;
    let mut tasks = JoinSet::new();
    let mut folds = Vec::new();
    let mut deliveries = Vec::new();
    for (routed, already) in routes.into_iter().zip(delivered) {
        if already {
            let name = &shared.config.destinations[routed.destination].name;
            tracing::info!(destination = %name, "already delivered by an earlier receive of this alert; not posting again");
            continue;
        }
        let alert = match fold::step(shared, &routed, &alert, &claim).await {
            Step::Post(alert) => alert,
            Step::Done => continue,
            Step::Hold(fold) => {
                folds.push(fold);
                continue;
            }
            Step::Defer => {
                deliveries.push(Delivery::Deferred {
                    retry_in: fold::defer_for(shared),
                    failure: Failure::RateLimited { retry_after: None },
                });
                continue;
            }
        };
        let queued = shared.deliverer.enqueue(routed.destination);
        let post = post(
            shared.clone(),
            alert,
            (routed, queued),
            claim.clone(),
            deadline,
        );
        tasks.spawn(post.in_current_span());
    }
    drop(arrival);
    join(tasks, &mut deliveries).await;
    let outcome = retry::handback(
        &deliveries,
        shared.soft_stop.is_cancelled(),
        shared.malformed_visibility,
    );
    if outcome != Outcome::Delete {
        shared.state.release(claim).await;
        return Decided::Final(outcome);
    }
    count_event(kind, "alerted");
    if folds.is_empty() {
        shared.state.complete(claim).await;
        Decided::Final(outcome)
    } else {
        Decided::Hold(Held::new(shared, folds, claim).await)
    }
}

/// Waits for every delivery task, adding its outcome to `deliveries` (a task that failed counts as
/// deferred, so the message is tried again).
async fn join(mut tasks: JoinSet<Delivery>, deliveries: &mut Vec<Delivery>) {
    while let Some(joined) = tasks.join_next().await {
        deliveries.push(joined.unwrap_or_else(|err| {
            tracing::error!(error = %err, "a delivery task failed");
            Delivery::Deferred {
                retry_in: Duration::ZERO,
                failure: Failure::Invalid {
                    error: err.to_string(),
                },
            }
        }));
    }
}

/// Renders the alert for one routed destination and delivers it within `deadline`; `queued` counts the
/// delivery as waiting for its turn there.
async fn post(
    shared: Arc<Shared>,
    alert: Arc<Alert>,
    (routed, queued): (Routed, Ticket),
    claim: ClaimGuard,
    deadline: Instant,
) -> Delivery {
    let destination = &shared.config.destinations[routed.destination];
    let payload = failwatch_core::render(
        &alert,
        destination.kind,
        &RenderOptions {
            mention: routed.mention,
        },
    );
    let delivery = shared
        .deliverer
        .deliver_queued(
            routed.destination,
            queued,
            &payload,
            deadline,
            &shared.soft_stop,
        )
        .await;
    if matches!(delivery, Delivery::Delivered { .. }) {
        // Remembered at once (the claim still holds the key), so that a shutdown, a failure elsewhere,
        // or a duplicate message of the same alert cannot make a retry post here again.
        shared
            .state
            .record_delivery(&claim, &destination.name)
            .await;
        record_lag(&alert, &destination.name);
    }
    log_delivery(&destination.name, &delivery);
    delivery
}

fn log_delivery(destination: &str, delivery: &Delivery) {
    match delivery {
        Delivery::Delivered { attempts, duration } => tracing::info!(
            destination,
            attempts,
            duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            "alert delivered"
        ),
        Delivery::Rejected { failure } => tracing::error!(
            destination,
            error = %failure,
            "destination rejected the alert; not retrying, the message will reach the dead-letter queue"
        ),
        Delivery::Deferred { retry_in, failure } => tracing::warn!(
            destination,
            error = %failure,
            retry_in_secs = retry_in.as_secs(),
            "delivery still failing; handing the message back to SQS"
        ),
    }
}

fn record_lag(alert: &Alert, destination: &str) {
    if let Ok(time) = OffsetDateTime::parse(&alert.time, &Rfc3339) {
        let lag = (OffsetDateTime::now_utc() - time).as_seconds_f64().max(0.0);
        ::metrics::histogram!(metrics::END_TO_END_LAG, "destination" => destination.to_owned())
            .record(lag);
    }
}

fn count_event(kind: &str, outcome: &'static str) {
    ::metrics::counter!(metrics::EVENTS, "kind" => kind.to_owned(), "outcome" => outcome)
        .increment(1);
}

async fn finish(shared: &Shared, message: &Received, outcome: Outcome) {
    match outcome {
        Outcome::Delete => {
            shared
                .deleter
                .delete(&message.message_id, &message.receipt_handle)
                .await;
        }
        Outcome::Release { reason, visibility } => {
            ::metrics::counter!(metrics::MESSAGES_RELEASED, "reason" => reason.as_str())
                .increment(1);
            match shared
                .queue
                .change_visibility(&message.receipt_handle, visibility)
                .await
            {
                Ok(()) => tracing::info!(
                    reason = reason.as_str(),
                    visible_in_secs = visibility.as_secs(),
                    "message handed back to the queue"
                ),
                // It becomes visible anyway when its current visibility timeout ends.
                Err(err) => tracing::warn!(
                    reason = reason.as_str(),
                    error = %err,
                    "could not hand the message back; it returns when its visibility timeout ends"
                ),
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::admin::Health;
    use crate::consumer::Deleter;
    use crate::delivery::Deliverer;
    use crate::retry::RetryPolicy;
    use crate::sqs::Queue;
    use crate::state::State;
    use crate::state::tests::FailingStore;

    const EVENT: &str = include_str!(
        "../../../../tests/fixtures/events/ecs_service-placement-failure-resource-cpu.json"
    );

    /// A receiver answering 200 to every post, counting them; returns the count and its URL.
    pub(crate) async fn receiver() -> (Arc<AtomicUsize>, String) {
        let posts = Arc::new(AtomicUsize::new(0));
        let seen = posts.clone();
        let app = axum::Router::new().fallback(move || {
            seen.fetch_add(1, Ordering::Relaxed);
            std::future::ready("ok")
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (posts, format!("http://{addr}/hook"))
    }

    /// The worker's shared state for one webhook at `url`, over a queue that is never called.
    pub(crate) fn shared(url: &str) -> Shared {
        let env: BTreeMap<String, String> = [
            (
                "FAILWATCH_QUEUE_URL",
                "https://sqs.eu-west-1.amazonaws.com/123456789012/failwatch",
            ),
            ("FAILWATCH_WEBHOOK_URL", url),
            ("FAILWATCH_WEBHOOK_TYPE", "webhook"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config = Arc::new(crate::config::load(None, &env).unwrap());
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::Config::builder()
                .behavior_version_latest()
                .region(aws_sdk_sqs::config::Region::new("eu-west-1"))
                .build(),
        );
        let queue = Queue::new(sqs, config.sqs.queue_url.clone());
        let deliverer =
            Deliverer::new(&config.destinations, RetryPolicy::from_config(&config)).unwrap();
        let (deleter, _task) = Deleter::start(queue.clone());
        Shared::new(
            config,
            queue,
            deliverer,
            deleter,
            Arc::new(Health::new(Duration::from_secs(60))),
            tokio_util::sync::CancellationToken::new(),
        )
    }

    pub(crate) fn alert() -> Arc<Alert> {
        let ctx = DecodeContext {
            message_id: Some("m-1".into()),
            received_at: OffsetDateTime::now_utc(),
        };
        let event = failwatch_core::decode(EVENT, &ctx).unwrap();
        match failwatch_core::classify(&event) {
            Decision::Alert(alert) => Arc::from(alert),
            Decision::Silent(reason) => panic!("the fixture is silent: {reason}"),
        }
    }

    #[tokio::test]
    async fn an_alert_of_a_full_group_is_handed_back_for_a_delivery_lease() {
        let (posts, url) = receiver().await;
        let shared = Arc::new(shared(&url));
        let policy = shared.config.grouping.clone();
        // The group's first alert was posted and MAX_PENDING more folded: its digest is full.
        for n in 0..=failwatch_core::Group::MAX_PENDING {
            let mut folded = Alert::clone(&alert());
            folded.dedup_key = format!("{}-{n}", folded.dedup_key);
            let observed = shared
                .grouping
                .observe(
                    &shared.state,
                    "default",
                    &Arc::new(folded),
                    (&policy, None),
                    OffsetDateTime::now_utc(),
                )
                .await;
            assert!(observed.is_some(), "the memory store answers");
        }
        let mut next = Alert::clone(&alert());
        next.dedup_key = format!("{}-next", next.dedup_key);
        let decided = deliver(
            &shared,
            "ecs_task",
            Arc::new(next),
            shared.deliverer.arrival(),
        )
        .await;
        // One receive per lease rides a chat outage out, as an alert's own retries do.
        let lease = shared.deliverer.lease();
        assert!(lease > Duration::from_secs(10), "{lease:?}");
        assert_eq!(
            decided,
            Outcome::Release {
                reason: crate::retry::ReleaseReason::Retry,
                visibility: lease,
            }
        );
        assert_eq!(posts.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_duplicate_is_deleted_without_a_post() {
        let (posts, url) = receiver().await;
        let shared = Arc::new(shared(&url));
        assert_eq!(
            deliver(&shared, "ecs_service", alert(), shared.deliverer.arrival()).await,
            Outcome::Delete
        );
        assert_eq!(
            deliver(&shared, "ecs_service", alert(), shared.deliverer.arrival()).await,
            Outcome::Delete
        );
        assert_eq!(posts.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn when_the_state_store_fails_the_alert_is_delivered_anyway() {
        let (posts, url) = receiver().await;
        let mut shared = shared(&url);
        let store = Arc::new(FailingStore::new(false));
        shared.state = State::new(store.clone(), shared.deliverer.lease());
        let shared = Arc::new(shared);
        assert_eq!(
            deliver(&shared, "ecs_service", alert(), shared.deliverer.arrival()).await,
            Outcome::Delete
        );
        assert_eq!(posts.load(Ordering::Relaxed), 1, "delivered anyway");
        assert!(
            store.recorded.load(Ordering::Relaxed),
            "and its record tried"
        );
        // Nothing could be remembered: a copy of the alert is posted again, a duplicate rather than a
        // lost alert.
        assert_eq!(
            deliver(&shared, "ecs_service", alert(), shared.deliverer.arrival()).await,
            Outcome::Delete
        );
        assert_eq!(posts.load(Ordering::Relaxed), 2);
    }
}
