//! One message, from receipt to its final outcome: delete it, or hand it back to SQS.
//!
//! | what happened                                   | outcome                                        |
//! |-------------------------------------------------|------------------------------------------------|
//! | silent event                                    | delete                                         |
//! | duplicate of an alert already delivered         | delete                                         |
//! | every routed destination accepted the alert     | delete                                         |
//! | a destination still failing when budget ran out | hand back, visible after the next backoff      |
//! | a destination rejected it for good (4xx)        | hand back quickly; SQS moves it to the DLQ     |
//! | malformed body                                  | hand back quickly; never deleted; → DLQ        |
//! | shutdown grace expired while working            | hand back at once (visibility 0)               |
//!
//! While a message is worked on, a heartbeat keeps it invisible (ChangeMessageVisibility every third of
//! the visibility timeout); it stops the moment the outcome is known.

use std::sync::Arc;
use std::time::Duration;

use failwatch_core::{Alert, Decision, DecodeContext, RenderOptions};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use super::Shared;
use crate::delivery::Delivery;
use crate::metrics;
use crate::sqs::Received;

/// Why a message goes back to the queue instead of being deleted: the `reason` label of
/// `failwatch_messages_released_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseReason {
    Retry,
    Malformed,
    Permanent,
    Shutdown,
}

impl ReleaseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseReason::Retry => "retry",
            ReleaseReason::Malformed => "malformed",
            ReleaseReason::Permanent => "permanent",
            ReleaseReason::Shutdown => "shutdown",
        }
    }
}

/// The final outcome of one receive of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delete,
    Release {
        reason: ReleaseReason,
        visibility: Duration,
    },
}

/// Works on one message until its outcome is final, then deletes it or hands it back.
pub(super) async fn handle(shared: Arc<Shared>, message: Received) {
    let span = tracing::info_span!(
        "message",
        message_id = %message.message_id,
        receive_count = message.receive_count
    );
    async {
        let gauge = ::metrics::gauge!(metrics::IN_FLIGHT_MESSAGES);
        gauge.increment(1.0);
        let outcome = tokio::select! {
            // Biased, in this order: an outcome that is ready wins over a hard stop that arrived at the
            // same moment, so a message that was just delivered is deleted, not handed back to alert
            // again.
            biased;
            outcome = decide(&shared, &message) => outcome,
            () = heartbeat(&shared, &message) => unreachable_heartbeat(),
            () = shared.hard_stop.cancelled() => Outcome::Release {
                reason: ReleaseReason::Shutdown,
                visibility: Duration::ZERO,
            },
        };
        finish(&shared, &message, outcome).await;
        gauge.decrement(1.0);
    }
    .instrument(span)
    .await;
}

/// The heartbeat never ends on its own; `select!` needs a value for its branch.
fn unreachable_heartbeat() -> Outcome {
    Outcome::Release {
        reason: ReleaseReason::Retry,
        visibility: Duration::ZERO,
    }
}

/// Extends the message's visibility every third of the visibility timeout, for as long as it is polled.
async fn heartbeat(shared: &Shared, message: &Received) {
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

async fn decide(shared: &Arc<Shared>, message: &Received) -> Outcome {
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
            return Outcome::Release {
                reason: ReleaseReason::Malformed,
                visibility: shared.malformed_visibility,
            };
        }
    };
    let kind = event.kind().map_or("unknown", |k| k.as_str());
    match failwatch_core::classify(&event) {
        Decision::Silent(reason) => {
            count_event(kind, "silent");
            tracing::info!(kind, reason = %reason, code = reason.code(), "event is silent");
            Outcome::Delete
        }
        Decision::Alert(alert) => deliver(shared, kind, Arc::from(alert)).await,
    }
}

async fn deliver(shared: &Arc<Shared>, kind: &str, alert: Arc<Alert>) -> Outcome {
    let _key = shared.dedup.lock_key(&alert.dedup_key).await;
    if shared.dedup.is_duplicate(&alert.dedup_key) {
        count_event(kind, "duplicate");
        tracing::info!(kind, dedup_key = %alert.dedup_key, "duplicate of an alert already delivered");
        return Outcome::Delete;
    }
    let deadline = Instant::now() + shared.config.retry.budget;
    let mut tasks = JoinSet::new();
    for routed in shared.config.router.route(&alert) {
        let name = &shared.config.destinations[routed.destination].name;
        if shared.dedup.already_delivered(&alert.dedup_key, name) {
            tracing::info!(destination = %name, "already delivered by an earlier receive of this alert; not posting again");
            continue;
        }
        let shared = shared.clone();
        let alert = alert.clone();
        tasks.spawn(
            async move {
                let destination = &shared.config.destinations[routed.destination];
                let payload = failwatch_core::render(
                    &alert,
                    destination.kind,
                    &RenderOptions {
                        mention: routed.mention.clone(),
                    },
                );
                let delivery = shared
                    .deliverer
                    .deliver(routed.destination, &payload, deadline, &shared.soft_stop)
                    .await;
                if matches!(delivery, Delivery::Delivered { .. }) {
                    // Remembered at once (the key is still locked by this message), so that a shutdown,
                    // a failure elsewhere, or a duplicate message of the same alert cannot make a retry
                    // post here again.
                    shared
                        .dedup
                        .record_delivery(&alert.dedup_key, &destination.name);
                    record_lag(&alert, &destination.name);
                }
                log_delivery(&destination.name, &delivery);
                delivery
            }
            .in_current_span(),
        );
    }
    let mut deliveries = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        deliveries.push(joined.unwrap_or_else(|err| {
            tracing::error!(error = %err, "a delivery task failed");
            Delivery::Deferred {
                retry_in: Duration::ZERO,
                failure: crate::delivery::Failure::Invalid {
                    error: err.to_string(),
                },
            }
        }));
    }
    let outcome = aggregate(
        &deliveries,
        shared.soft_stop.is_cancelled(),
        shared.malformed_visibility,
    );
    if outcome == Outcome::Delete {
        shared.dedup.record(&alert.dedup_key);
        count_event(kind, "alerted");
    }
    outcome
}

/// The message's outcome from its deliveries in this receive (destinations that accepted it on an
/// earlier receive are not among them).
///
/// All delivered: delete. Any still failing: hand back after the longest wait any of them asked for, so
/// a rejected destination rides along (at least a second, none during shutdown). Only rejections: hand
/// back after `quick`, so SQS moves the message to the DLQ after `maxReceiveCount` receives, each with a
/// single attempt.
pub fn aggregate(deliveries: &[Delivery], stopping: bool, quick: Duration) -> Outcome {
    let rejected = deliveries
        .iter()
        .any(|d| matches!(d, Delivery::Rejected { .. }));
    let retry_in = deliveries
        .iter()
        .filter_map(|d| match d {
            Delivery::Deferred { retry_in, .. } => Some(*retry_in),
            _ => None,
        })
        .max();
    match (retry_in, rejected) {
        (None, false) => Outcome::Delete,
        (Some(wait), _) => Outcome::Release {
            reason: if rejected {
                ReleaseReason::Permanent
            } else if stopping {
                ReleaseReason::Shutdown
            } else {
                ReleaseReason::Retry
            },
            visibility: if stopping {
                Duration::ZERO
            } else {
                wait.max(Duration::from_secs(1))
            },
        },
        (None, true) => Outcome::Release {
            reason: ReleaseReason::Permanent,
            visibility: quick,
        },
    }
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
mod tests {
    use super::*;
    use crate::delivery::Failure;

    fn delivered() -> Delivery {
        Delivery::Delivered {
            attempts: 1,
            duration: Duration::from_millis(20),
        }
    }
    fn rejected() -> Delivery {
        Delivery::Rejected {
            failure: Failure::Rejected {
                status: 404,
                detail: String::new(),
            },
        }
    }
    fn deferred(secs: u64) -> Delivery {
        Delivery::Deferred {
            retry_in: Duration::from_secs(secs),
            failure: Failure::Timeout { status: None },
        }
    }
    const QUICK: Duration = Duration::from_secs(1);

    #[test]
    fn delete_only_when_every_destination_accepted() {
        assert_eq!(
            aggregate(&[delivered(), delivered()], false, QUICK),
            Outcome::Delete
        );
        // Nothing left to deliver (every destination accepted on an earlier receive).
        assert_eq!(aggregate(&[], false, QUICK), Outcome::Delete);
    }

    #[test]
    fn still_failing_destinations_hand_back_after_the_longest_wait() {
        assert_eq!(
            aggregate(&[delivered(), deferred(3), deferred(7)], false, QUICK),
            Outcome::Release {
                reason: ReleaseReason::Retry,
                visibility: Duration::from_secs(7)
            }
        );
        assert_eq!(
            aggregate(&[deferred(0)], false, QUICK),
            Outcome::Release {
                reason: ReleaseReason::Retry,
                visibility: Duration::from_secs(1)
            }
        );
    }

    #[test]
    fn rejections_go_quickly_towards_the_dlq() {
        assert_eq!(
            aggregate(&[delivered(), rejected()], false, QUICK),
            Outcome::Release {
                reason: ReleaseReason::Permanent,
                visibility: QUICK
            }
        );
        assert_eq!(
            aggregate(&[rejected(), deferred(9)], false, QUICK),
            Outcome::Release {
                reason: ReleaseReason::Permanent,
                visibility: Duration::from_secs(9)
            }
        );
    }

    #[test]
    fn during_shutdown_unfinished_messages_are_visible_at_once() {
        assert_eq!(
            aggregate(&[deferred(0), delivered()], true, QUICK),
            Outcome::Release {
                reason: ReleaseReason::Shutdown,
                visibility: Duration::ZERO
            }
        );
    }
}
