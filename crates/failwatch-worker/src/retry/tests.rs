//! The retry policy on paused tokio time: the schedule, its cap, Retry-After, the budget and shutdown;
//! and the hand-back of a message from its deliveries.

use std::collections::VecDeque;

use super::*;

/// A policy with a short schedule (100 ms doubling to 2 s) and `budget_secs` of budget.
pub(crate) fn policy(budget_secs: u64) -> RetryPolicy {
    RetryPolicy {
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
        retry_after_max: Duration::from_secs(5),
        budget: Duration::from_secs(budget_secs),
    }
}

/// An attempt function answering from a script, then succeeding.
fn scripted(script: Vec<Failure>) -> impl FnMut(u32) -> std::future::Ready<Result<(), Failure>> {
    let mut script = VecDeque::from(script);
    move |_| std::future::ready(script.pop_front().map_or(Ok(()), Err))
}

fn server_error() -> Failure {
    Failure::ServerError {
        status: 503,
        retry_after: None,
    }
}

async fn run(
    policy: &RetryPolicy,
    script: Vec<Failure>,
) -> (Result<(), Failure>, u32, Option<Duration>, Duration) {
    let started = Instant::now();
    let stop = CancellationToken::new();
    let Retried {
        result,
        attempts,
        deferred_by: deferred,
    } = with_retries(
        policy,
        started + policy.budget,
        &stop,
        scripted(script),
        |_, _| {},
    )
    .await;
    (result, attempts, deferred, started.elapsed())
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_with_capped_jittered_waits() {
    let (result, attempts, deferred, elapsed) = run(
        &policy(30),
        vec![server_error(), server_error(), server_error()],
    )
    .await;
    assert_eq!(result, Ok(()));
    assert_eq!(attempts, 4);
    assert_eq!(deferred, None);
    // Full jitter: each wait is at most its ceiling (100 ms, 200 ms, 400 ms).
    assert!(elapsed <= Duration::from_millis(700), "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn the_schedule_is_capped() {
    // Ten failures with ceilings 0.1, 0.2, ..., then 2 s each: never more than the cap per wait.
    let (result, attempts, _, elapsed) = run(&policy(60), vec![server_error(); 10]).await;
    assert_eq!(result, Ok(()));
    assert_eq!(attempts, 11);
    let most = Duration::from_millis(100 + 200 + 400 + 800 + 1600) + Duration::from_secs(2 * 5);
    assert!(elapsed <= most, "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_and_clamped() {
    let (result, _, _, elapsed) = run(
        &policy(30),
        vec![Failure::RateLimited {
            retry_after: Some(Duration::from_secs(3)),
        }],
    )
    .await;
    assert_eq!(result, Ok(()));
    assert_eq!(elapsed, Duration::from_secs(3));

    let (result, _, _, elapsed) = run(
        &policy(30),
        vec![Failure::RateLimited {
            retry_after: Some(Duration::from_secs(3600)),
        }],
    )
    .await;
    assert_eq!(result, Ok(()));
    assert_eq!(
        elapsed,
        Duration::from_secs(5),
        "clamped to retry_after_max"
    );
}

#[tokio::test(start_paused = true)]
async fn a_spent_budget_defers_with_the_next_wait() {
    let (result, attempts, deferred, elapsed) = run(&policy(2), vec![server_error(); 1000]).await;
    assert_eq!(result, Err(server_error()));
    assert!(attempts >= 3, "{attempts}");
    assert!(elapsed <= Duration::from_secs(2), "{elapsed:?}");
    let deferred = deferred.expect("deferred");
    assert!(
        deferred >= MIN_HANDBACK && deferred <= Duration::from_secs(2),
        "{deferred:?}"
    );

    // A Retry-After longer than what is left of the budget is not slept in process: the message goes
    // back to SQS for that long.
    let (result, attempts, deferred, elapsed) = run(
        &policy(2),
        vec![Failure::RateLimited {
            retry_after: Some(Duration::from_secs(4)),
        }],
    )
    .await;
    assert!(result.is_err());
    assert_eq!(attempts, 1);
    assert_eq!(deferred, Some(Duration::from_secs(4)));
    assert_eq!(elapsed, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_zero_budget_means_one_attempt() {
    let (result, attempts, deferred, _) = run(&policy(0), vec![server_error()]).await;
    assert!(result.is_err());
    assert_eq!(attempts, 1);
    assert!(deferred.is_some());
}

#[tokio::test(start_paused = true)]
async fn permanent_failures_are_not_retried() {
    let rejected = Failure::Rejected {
        status: 404,
        detail: "gone".into(),
    };
    let (result, attempts, deferred, elapsed) = run(&policy(30), vec![rejected.clone()]).await;
    assert_eq!(result, Err(rejected));
    assert_eq!(attempts, 1);
    assert_eq!(deferred, None);
    assert_eq!(elapsed, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_retrying_at_once() {
    let stop = CancellationToken::new();
    stop.cancel();
    let Retried {
        result,
        attempts,
        deferred_by: deferred,
    } = with_retries(
        &policy(30),
        Instant::now() + Duration::from_secs(30),
        &stop,
        scripted(vec![server_error(); 5]),
        |_, _| {},
    )
    .await;
    assert!(result.is_err());
    assert_eq!(attempts, 1);
    assert_eq!(deferred, Some(Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn shutdown_cuts_a_backoff_wait_short() {
    let stop = CancellationToken::new();
    let started = Instant::now();
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            stop.cancel();
        })
    };
    let Retried {
        result,
        attempts,
        deferred_by: deferred,
    } = with_retries(
        &policy(30),
        started + Duration::from_secs(30),
        &stop,
        scripted(vec![
            Failure::RateLimited {
                retry_after: Some(Duration::from_secs(5)),
            };
            5
        ]),
        |_, _| {},
    )
    .await;
    stopper.await.unwrap();
    assert!(result.is_err());
    assert_eq!(
        attempts, 2,
        "the interrupted wait is followed by one last attempt"
    );
    assert_eq!(deferred, Some(Duration::ZERO));
    assert_eq!(started.elapsed(), Duration::from_secs(1));
}

#[test]
fn full_jitter_stays_within_the_ceiling() {
    let ceiling = Duration::from_millis(300);
    let draws: Vec<Duration> = (0..1000).map(|_| full_jitter(ceiling)).collect();
    assert!(draws.iter().all(|d| *d <= ceiling));
    // Spread over the whole range, not bunched at the top as "ceiling + jitter" would be.
    assert!(draws.iter().any(|d| *d < Duration::from_millis(100)));
    assert!(draws.iter().any(|d| *d > Duration::from_millis(200)));
    assert_eq!(full_jitter(Duration::ZERO), Duration::ZERO);
}

// ------------------------------------------------------------------------------------------------
// Hand-back.

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
        handback(&[delivered(), delivered()], false, QUICK),
        Outcome::Delete
    );
    // Nothing left to deliver (every destination accepted on an earlier receive).
    assert_eq!(handback(&[], false, QUICK), Outcome::Delete);
}

#[test]
fn still_failing_destinations_hand_back_after_the_longest_wait() {
    assert_eq!(
        handback(&[delivered(), deferred(3), deferred(7)], false, QUICK),
        Outcome::Release {
            reason: ReleaseReason::Retry,
            visibility: Duration::from_secs(7)
        }
    );
    assert_eq!(
        handback(&[deferred(0)], false, QUICK),
        Outcome::Release {
            reason: ReleaseReason::Retry,
            visibility: Duration::from_secs(1)
        }
    );
}

#[test]
fn rejections_go_quickly_towards_the_dlq() {
    assert_eq!(
        handback(&[delivered(), rejected()], false, QUICK),
        Outcome::Release {
            reason: ReleaseReason::Permanent,
            visibility: QUICK
        }
    );
    assert_eq!(
        handback(&[rejected(), deferred(9)], false, QUICK),
        Outcome::Release {
            reason: ReleaseReason::Permanent,
            visibility: Duration::from_secs(9)
        }
    );
}

#[test]
fn during_shutdown_unfinished_messages_are_visible_at_once() {
    assert_eq!(
        handback(&[deferred(0), delivered()], true, QUICK),
        Outcome::Release {
            reason: ReleaseReason::Shutdown,
            visibility: Duration::ZERO
        }
    );
}

#[test]
fn an_alert_busy_elsewhere_is_looked_at_again_after_the_claim_and_never_at_once() {
    assert_eq!(
        Outcome::busy(Duration::from_secs(40)),
        Outcome::Release {
            reason: ReleaseReason::Retry,
            visibility: Duration::from_secs(40)
        }
    );
    assert_eq!(
        Outcome::busy(Duration::ZERO),
        Outcome::Release {
            reason: ReleaseReason::Retry,
            visibility: MIN_HANDBACK
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_holds_the_destination_clamped_and_never_shortened() {
    let policy = policy(30);
    let hold = Hold::default();
    let started = Instant::now();
    policy.observe(&hold, &server_error());
    assert_eq!(hold.not_before(), None, "no Retry-After, no hold");
    policy.observe(
        &hold,
        &Failure::RateLimited {
            retry_after: Some(Duration::from_secs(3600)),
        },
    );
    assert_eq!(
        hold.not_before(),
        Some(started + Duration::from_secs(5)),
        "clamped to retry_after_max"
    );
    policy.observe(
        &hold,
        &Failure::ServerError {
            status: 503,
            retry_after: Some(Duration::from_secs(1)),
        },
    );
    assert_eq!(hold.not_before(), Some(started + Duration::from_secs(5)));
}
