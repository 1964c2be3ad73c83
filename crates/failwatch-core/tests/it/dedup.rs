//! The deduper: bounded by count and by age, with time passed in.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use failwatch_core::{Decision, Deduper, classify, decode};

use crate::fixtures;

const TTL: Duration = Duration::from_secs(3600);

fn deduper(capacity: usize) -> Deduper {
    Deduper::new(NonZeroUsize::new(capacity).expect("non-zero"), TTL)
}

#[test]
fn first_sight_passes_and_repeats_within_the_ttl_are_duplicates() {
    let mut d = deduper(16);
    let t0 = Instant::now();
    assert!(d.is_empty());
    assert!(!d.check_and_record("ecs_task:a", t0));
    assert_eq!(d.len(), 1);
    assert!(d.check_and_record("ecs_task:a", t0 + Duration::from_secs(1)));
    assert!(d.check_and_record("ecs_task:a", t0 + TTL - Duration::from_millis(1)));
    assert!(
        !d.check_and_record("ecs_task:b", t0),
        "another key is not a duplicate"
    );
    assert_eq!(d.len(), 2);
}

#[test]
fn a_key_alerts_again_once_its_ttl_has_passed() {
    let mut d = deduper(16);
    let t0 = Instant::now();
    d.record("k", t0);
    assert!(!d.is_duplicate("k", t0 + TTL), "the TTL is exclusive");
    assert_eq!(d.len(), 0, "an expired key is forgotten when looked up");
    assert!(!d.check_and_record("k", t0 + TTL));
    assert!(d.is_duplicate("k", t0 + TTL + Duration::from_secs(1)));
}

#[test]
fn duplicates_do_not_extend_the_window() {
    let mut d = deduper(16);
    let t0 = Instant::now();
    assert!(!d.check_and_record("k", t0));
    assert!(d.check_and_record("k", t0 + TTL / 2));
    // Were the duplicate counted as a new sighting, this would still be inside the window.
    assert!(!d.check_and_record("k", t0 + TTL + Duration::from_secs(1)));
}

#[test]
fn is_duplicate_only_looks_and_record_is_what_remembers() {
    // The worker checks before delivery and records only after a successful one, so a failed delivery
    // is retried instead of being suppressed as a duplicate.
    let mut d = deduper(16);
    let t0 = Instant::now();
    assert!(!d.is_duplicate("k", t0));
    assert!(!d.is_duplicate("k", t0), "looking does not record");
    assert_eq!(d.len(), 0);
    d.record("k", t0);
    assert!(d.is_duplicate("k", t0 + Duration::from_secs(5)));
}

#[test]
fn capacity_evicts_the_least_recently_recorded_key() {
    let mut d = deduper(2);
    let t0 = Instant::now();
    d.record("a", t0);
    d.record("b", t0);
    d.record("c", t0);
    assert_eq!(d.len(), 2);
    assert_eq!(d.capacity().get(), 2);
    assert!(!d.is_duplicate("a", t0), "the oldest key was evicted");
    assert!(d.is_duplicate("b", t0));
    assert!(d.is_duplicate("c", t0));
}

#[test]
fn a_clock_that_goes_backwards_counts_as_no_time_passed() {
    let mut d = deduper(4);
    let t1 = Instant::now() + Duration::from_secs(10);
    d.record("k", t1);
    assert!(d.is_duplicate("k", t1 - Duration::from_secs(5)));
}

#[test]
fn deprovisioning_stopped_and_redelivered_events_of_one_task_give_one_alert() {
    let ctx = fixtures::ctx();
    let mut d = deduper(128);
    let t0 = Instant::now();
    let bodies = [
        fixtures::load("ecs_task-pair-1-deprovisioning"),
        fixtures::load("ecs_task-pair-2-stopped"),
        // SQS delivers at least once: the same STOPPED body again.
        fixtures::load("ecs_task-pair-2-stopped"),
        fixtures::load("ecs_task-pair-1-deprovisioning"),
    ];
    let mut alerts = 0;
    for (i, body) in bodies.iter().enumerate() {
        let Decision::Alert(alert) = classify(&decode(body, &ctx).expect("decodes")) else {
            panic!("body {i} should alert before de-duplication");
        };
        if !d.check_and_record(&alert.dedup_key, t0 + Duration::from_secs(i as u64 * 30)) {
            alerts += 1;
        }
    }
    assert_eq!(alerts, 1);
}

#[test]
fn replaying_every_fixture_twice_alerts_only_the_first_time() {
    let ctx = fixtures::ctx();
    let mut d = deduper(1024);
    let t0 = Instant::now();
    let mut first = Vec::new();
    for pass in 0..2 {
        let mut passed = Vec::new();
        for (name, body) in fixtures::events() {
            if let Decision::Alert(alert) = classify(&decode(&body, &ctx).expect("decodes"))
                && !d.check_and_record(&alert.dedup_key, t0)
            {
                passed.push(name);
            }
        }
        if pass == 0 {
            first = passed;
        } else {
            assert!(passed.is_empty(), "second pass alerted again: {passed:?}");
        }
    }
    // The pair, the same event direct/SNS/SQS-compact, and the two Spot notices of one task collapse.
    assert!(!first.iter().any(|n| n == "ecs_task-pair-2-stopped.json"));
    assert!(
        !first
            .iter()
            .any(|n| n == "ecs_task-sns-wrapped-eventbridge.json")
    );
    assert!(
        first
            .iter()
            .any(|n| n == "ecs_task-pair-1-deprovisioning.json")
    );
    assert!(
        first.len() > 20,
        "most fixtures are distinct failures: {first:?}"
    );
}
