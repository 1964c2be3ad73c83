//! The retry policy, in one place: whether a failure is worth another attempt, how long to wait before
//! it, how long one receive of a message may keep trying, how long a destination's `Retry-After` holds
//! every message to it, and when a message goes back to SQS and how soon it reappears.
//!
//! - **Retry or give up** is decided by [`Failure`] alone, by error type ([`failure`]).
//! - **Schedule**: capped exponential (`backon`'s [`ExponentialBuilder`]: `retry_initial_delay_ms`,
//!   doubling, at most `retry_max_delay_secs`) with full jitter applied by us (each wait uniform between
//!   zero and the schedule's value), so many workers retrying one outage do not stampede in lock-step.
//! - **Retry-After**: a wait the service asked for replaces the jittered wait, clamped to
//!   `retry_after_max_secs`, and holds every message to that destination ([`Hold`]), not only the one
//!   that was told.
//! - **Budget**: retries stop when the next wait would end after the message's deadline
//!   (`retry_budget_secs` after work started). The delivery is then *deferred* by that next wait.
//! - **Hand-back**: [`handback`] turns one receive's deliveries into the message's [`Outcome`]: delete it,
//!   or hand it back to SQS with a visibility timeout of the longest deferral, so SQS retries it later
//!   and, after `maxReceiveCount`, moves it to the DLQ.
//!
//! The delivery code runs attempts through [`with_retries`]; the consumer asks [`handback`] and the
//! [`Outcome`] constructors what to do with a message. Nothing else decides a wait or a visibility.

pub(crate) mod failure;

use std::sync::Mutex;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use rand::Rng;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::delivery::Delivery;
pub(crate) use failure::Failure;

/// The shortest visibility a deferred message is handed back with, so a zero jitter draw cannot make
/// SQS redeliver it in a hot loop.
pub(crate) const MIN_HANDBACK: Duration = Duration::from_secs(1);

/// The retry schedule and budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// The schedule's first ceiling (`retry_initial_delay_ms`).
    pub(crate) initial_delay: Duration,
    /// The schedule's cap (`retry_max_delay_secs`).
    pub(crate) max_delay: Duration,
    /// The longest `Retry-After` honoured (`retry_after_max_secs`); longer asks are clamped to it.
    pub(crate) retry_after_max: Duration,
    /// How long one receive of a message may keep retrying (`retry_budget_secs`).
    pub(crate) budget: Duration,
}

impl RetryPolicy {
    /// The policy the configuration asks for.
    pub(crate) fn from_config(config: &Config) -> Self {
        RetryPolicy {
            initial_delay: config.retry.initial_delay,
            max_delay: config.retry.max_delay,
            retry_after_max: config.retry.retry_after_max,
            budget: config.retry.budget,
        }
    }

    /// The capped exponential schedule: the ceiling of each successive wait, before jitter.
    pub(crate) fn schedule(&self) -> ExponentialBuilder {
        ExponentialBuilder::new()
            .with_min_delay(self.initial_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .without_max_times()
    }

    /// The instant after which a receive of a message that started work at `started` starts no retry.
    pub(crate) fn deadline(&self, started: Instant) -> Instant {
        started + self.budget
    }

    /// How long one receive may work on an alert: the budget plus one last attempt of
    /// `longest_attempt`. A claim on an alert (see `crate::state`) lasts this long.
    pub(crate) fn lease(&self, longest_attempt: Duration) -> Duration {
        self.budget + longest_attempt
    }

    /// The wait before the next attempt after `failure`, given the schedule's current `ceiling`.
    pub(crate) fn wait(&self, failure: &Failure, ceiling: Duration) -> Duration {
        match failure.retry_after() {
            Some(asked) => self.clamp_retry_after(asked),
            None => full_jitter(ceiling),
        }
    }

    /// A `Retry-After` as honoured: at most `retry_after_max`.
    pub(crate) fn clamp_retry_after(&self, asked: Duration) -> Duration {
        asked.min(self.retry_after_max)
    }

    /// Makes every later request to a destination wait out the `Retry-After` that `failure` carries,
    /// clamped: the service asked the sender, not the message, to slow down.
    pub(crate) fn observe(&self, hold: &Hold, failure: &Failure) {
        if let Some(asked) = failure.retry_after() {
            hold.extend_to(Instant::now() + self.clamp_retry_after(asked));
        }
    }
}

/// A wait drawn uniformly from `[0, ceiling]`.
pub(crate) fn full_jitter(ceiling: Duration) -> Duration {
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

/// One destination's `Retry-After` hold: no request to it, from any message, before this instant.
#[derive(Debug, Default)]
pub(crate) struct Hold {
    not_before: Mutex<Option<Instant>>,
}

impl Hold {
    /// When the hold ends, if one was ever set (it may already have ended).
    pub(crate) fn not_before(&self) -> Option<Instant> {
        *self.not_before.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds every request until `until`, never shortening an earlier hold.
    pub(crate) fn extend_to(&self, until: Instant) {
        let mut not_before = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        *not_before = Some(not_before.map_or(until, |held| held.max(until)));
    }
}

/// What [`with_retries`] ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Retried {
    /// The last attempt's result.
    pub(crate) result: Result<(), Failure>,
    /// How many attempts were made (at least one).
    pub(crate) attempts: u32,
    /// Set when retries stopped early, for the budget or shutdown: the wait that was not taken, which
    /// becomes the message's visibility timeout when it is handed back. Zero during shutdown.
    pub(crate) deferred_by: Option<Duration>,
}

/// Runs `attempt` (given the attempt's number, from 0) until it succeeds, fails permanently, or the next
/// wait would end after `deadline`.
///
/// Once `stop` is cancelled (shutdown), a backoff wait in progress ends early, one last attempt is made,
/// and no further retry is started: the result is deferred by zero, so the message can be handed back
/// for another worker at once. `on_retry` is told each failure that will be retried and its wait.
pub(crate) async fn with_retries<F, Fut>(
    policy: &RetryPolicy,
    deadline: Instant,
    stop: &CancellationToken,
    mut attempt: F,
    on_retry: impl FnMut(&Failure, Duration),
) -> Retried
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    let mut attempts = 0;
    let mut deferred_by = None;
    let sleep_stop = stop.clone();
    let result = (|| {
        let number = attempts;
        attempts += 1;
        attempt(number)
    })
    .retry(policy.schedule())
    // A shutdown cuts a backoff wait short; the attempt that follows is the last (see `adjust`).
    .sleep(move |wait| {
        let stop = sleep_stop.clone();
        async move {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stop.cancelled() => {}
            }
        }
    })
    .when(Failure::is_transient)
    .adjust(|failure, ceiling| {
        let wait = policy.wait(failure, ceiling.unwrap_or(policy.max_delay));
        if stop.is_cancelled() {
            deferred_by = Some(Duration::ZERO);
            None
        } else if Instant::now() + wait > deadline {
            deferred_by = Some(wait.max(MIN_HANDBACK));
            None
        } else {
            Some(wait)
        }
    })
    .notify(on_retry)
    .await;
    Retried {
        result,
        attempts,
        deferred_by,
    }
}

/// Why a message goes back to the queue instead of being deleted: the `reason` label of
/// `failwatch_messages_released_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReleaseReason {
    /// A destination still failed transiently, or the alert was busy elsewhere: try again later.
    Retry,
    /// The body could not be decoded: on its way to the DLQ.
    Malformed,
    /// A destination rejected the alert for good: on its way to the DLQ.
    Permanent,
    /// The worker is stopping: another worker should take it at once.
    Shutdown,
}

impl ReleaseReason {
    /// The metric label.
    pub(crate) fn as_str(self) -> &'static str {
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
pub(crate) enum Outcome {
    /// Done with: delete it.
    Delete,
    /// Hand it back to SQS, visible again after `visibility`.
    Release {
        /// Why (the metric label).
        reason: ReleaseReason,
        /// The visibility timeout it is handed back with.
        visibility: Duration,
    },
}

impl Outcome {
    /// A malformed body goes back after `quick` (`malformed_visibility_secs`), so SQS moves it to the
    /// DLQ after `maxReceiveCount` receives without keeping it hidden long.
    pub(crate) fn malformed(quick: Duration) -> Outcome {
        Outcome::Release {
            reason: ReleaseReason::Malformed,
            visibility: quick,
        }
    }

    /// Shutdown's grace period ended while the message was worked on: visible again at once.
    pub(crate) fn shutdown() -> Outcome {
        Outcome::Release {
            reason: ReleaseReason::Shutdown,
            visibility: Duration::ZERO,
        }
    }
    /// The alert is being delivered by another holder of its claim: look again after `retry_in` (at
    /// least [`MIN_HANDBACK`]), when that holder has finished or its lease has run out.
    pub(crate) fn busy(retry_in: Duration) -> Outcome {
        Outcome::Release {
            reason: ReleaseReason::Retry,
            visibility: retry_in.max(MIN_HANDBACK),
        }
    }
}

/// The message's outcome from its deliveries in this receive (destinations that accepted it on an
/// earlier receive are not among them).
///
/// All delivered: delete. Any still failing: hand back after the longest wait any of them asked for, so
/// a rejected destination rides along (at least [`MIN_HANDBACK`], none during shutdown). Only
/// rejections: hand back after `quick`, so SQS moves the message to the DLQ after `maxReceiveCount`
/// receives, each with a single attempt.
pub(crate) fn handback(deliveries: &[Delivery], stopping: bool, quick: Duration) -> Outcome {
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
                wait.max(MIN_HANDBACK)
            },
        },
        (None, true) => Outcome::Release {
            reason: ReleaseReason::Permanent,
            visibility: quick,
        },
    }
}

#[cfg(test)]
pub(crate) mod tests;
