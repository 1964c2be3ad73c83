//! The grouping state machine with time passed explicitly: bursts, quiet intervals, crash loops,
//! repeats, the pending bound, claims and settling, recoveries, expiry and the stored form; and a
//! property test that no folded alert is ever lost or counted twice.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;
use std::time::Duration;

use failwatch_core::{
    Alert, AlertKind, CrashLoop, Decision, Digest, Group, GroupPolicy, Observed, RecoverySignal,
    Severity, Tally, classify, decode, mark_crash_loop, recovery_scope, recovery_signal,
};
use proptest::prelude::*;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;

use crate::fixtures::{ctx, load};

/// The worker's clock at the start of every scenario.
const T0: OffsetDateTime = datetime!(2026-11-20 08:16:00 UTC);
/// The task id in `ecs_task-oom.json`, replaced to make distinct tasks.
const OOM_TASK: &str = "0b9e6a7c1d2e4f308a5b6c7d8e9f0a11";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn at(offset_secs: i64) -> OffsetDateTime {
    T0 + time::Duration::seconds(offset_secs)
}

/// Decodes and classifies `body`, which must alert.
fn alert_of(body: &str) -> Alert {
    let event = decode(body, &ctx()).expect("decodes");
    match classify(&event) {
        Decision::Alert(alert) => *alert,
        Decision::Silent(reason) => panic!("silent: {reason:?}"),
    }
}

/// Task `n` of payments-api, killed for memory (exit 137), failing at `failed_at` (its own time).
fn oom(n: u32, failed_at: OffsetDateTime) -> Alert {
    let body = load("ecs_task-oom").replace(OOM_TASK, &format!("{n:032x}"));
    let mut alert = alert_of(&body);
    alert.time = failed_at.format(&Rfc3339).expect("formats");
    alert
}

/// Execution `n` of the state machine `state-machine` (us-east-2), failed at `failed_at`.
fn sfn_failure(n: u32, failed_at: OffsetDateTime) -> Alert {
    let body = load("sfn_execution-failed-error-cause")
        .replace(":execution-name", &format!(":run-{n}"))
        .replace("\"execution-name\"", &format!("\"run-{n}\""));
    let mut alert = alert_of(&body);
    alert.time = failed_at.format(&Rfc3339).expect("formats");
    alert
}

/// The default policy: 5 min interval, 5 failures in 10 min.
fn policy() -> GroupPolicy {
    GroupPolicy::default()
}

fn no_crash_loops() -> GroupPolicy {
    GroupPolicy {
        crash_loop_threshold: 0,
        ..GroupPolicy::default()
    }
}

/// Observes `alerts[i]` at `T0 + i` seconds, returning every outcome.
fn burst(group: &mut Group, alerts: &[Alert], policy: &GroupPolicy) -> Vec<Observed> {
    alerts
        .iter()
        .enumerate()
        .map(|(i, a)| group.observe(a, at(i as i64), policy))
        .collect()
}

/// Claims, builds and settles the pending digest at `now`.
fn deliver(group: &mut Group, now: OffsetDateTime, policy: &GroupPolicy) -> Digest {
    assert!(group.claim_digest("replica-a", now, secs(30)));
    let digest = group.digest(now, policy).expect("a digest is pending");
    group.settle_digest(&digest, now);
    digest
}

#[test]
fn a_burst_of_200_is_one_post_and_one_digest_of_199() {
    let policy = policy();
    let alerts: Vec<Alert> = (0..200).map(|n| oom(n, at(i64::from(n)))).collect();
    let mut group = Group::default();
    let outcomes = burst(&mut group, &alerts, &policy);
    assert_eq!(outcomes[0], Observed::Post { crash_loop: None });
    let due = at(300);
    assert!(
        outcomes[1..].iter().all(|o| *o == Observed::Folded { due }),
        "{:?}",
        &outcomes[1..4]
    );
    assert_eq!(group.due(), Some(due));

    let digest = group.digest(due, &policy).expect("pending");
    assert_eq!(digest.schema, "failwatch.digest.v1");
    assert_eq!(digest.kind, AlertKind::EcsTask);
    assert_eq!(digest.count, 199);
    assert_eq!(digest.group_key, alerts[0].group_key);
    assert_eq!(digest.subject, "payments-api");
    assert_eq!(digest.first_time, "2026-11-20T08:16:01Z");
    assert_eq!(digest.last_time, "2026-11-20T08:19:19Z");
    assert_eq!(digest.alerts.len(), Digest::MAX_LISTED);
    assert_eq!(digest.unlisted, 199 - Digest::MAX_LISTED as u64);
    let keys: Vec<&str> = alerts[1..].iter().map(|a| a.dedup_key.as_str()).collect();
    assert_eq!(digest.dedup_keys, keys);
    assert_eq!(
        digest.exit_codes,
        [Tally {
            value: "137".into(),
            count: 199
        }]
    );
    // ECS's generic "Essential container in task exited" gives way to the container's own reason.
    assert_eq!(
        digest.reasons,
        [Tally {
            value: "OutOfMemoryError: Container killed due to memory usage".into(),
            count: 199
        }]
    );
    let listed = &digest.alerts[0];
    assert_eq!(listed.dedup_key, alerts[1].dedup_key);
    assert_eq!(listed.event_id, alerts[1].event_id);
    assert_eq!(listed.time, alerts[1].time);
    assert_eq!(listed.id, format!("{:032x}", 1));
    assert_eq!(listed.link, alerts[1].links.task);
    assert_eq!(listed.exit_codes, [137]);
    assert_eq!(
        listed.reason.as_deref(),
        Some("OutOfMemoryError: Container killed due to memory usage")
    );
    // 200 failures within 10 minutes: the digest says the group is crash-looping.
    assert_eq!(
        digest.crash_loop,
        Some(CrashLoop {
            failures: 200,
            window_secs: 600
        })
    );
    assert_eq!(digest.severity, Severity::Critical);
    assert_eq!(
        digest.title,
        "payments-api is crash-looping: 200 tasks failed in 10 min"
    );
    assert_eq!(digest.account.as_deref(), Some("012345678900"));
    assert_eq!(digest.region.as_deref(), Some("eu-central-1"));
    assert_eq!(digest.partition, "aws");
    assert_eq!(digest.links.service, alerts[0].links.service);
    assert!(digest.links.service.is_some());
    assert!(digest.links.task.is_none(), "per-task links are per alert");

    assert!(group.claim_digest("replica-a", due, secs(30)));
    group.settle_digest(&digest, due);
    assert_eq!(group.due(), None);
    assert!(group.digest(due, &policy).is_none());
    assert!(alerts[1..].iter().all(|a| group.is_settled(&a.dedup_key)));
    assert!(!group.is_settled(&alerts[0].dedup_key));
}

#[test]
fn a_digest_without_crash_loop_names_the_most_common_exit_code_and_tallies_ties_by_first_seen() {
    let policy = no_crash_loops();
    let mut alerts: Vec<Alert> = (0..7).map(|n| oom(n, at(i64::from(n)))).collect();
    // Alerts 1 and 2 exited 1, alerts 3 and 4 exited 137 twice over (two failed containers), 5 and 6
    // 137 once; reasons: 1, 3 and 5 say "B", the others "A" (a specific stopped reason is kept over
    // the container's).
    for (i, alert) in alerts.iter_mut().enumerate() {
        let task = alert.task.as_mut().expect("task");
        task.stopped_reason = Some(if i % 2 == 1 { "B" } else { "A" }.to_owned());
        match i {
            1 | 2 => task.containers[0].exit_code = Some(1),
            3 | 4 => task.containers[1].exit_code = Some(137),
            _ => {}
        }
    }
    let mut group = Group::default();
    burst(&mut group, &alerts, &policy);
    let digest = group.digest(at(300), &policy).expect("pending");
    assert_eq!(digest.count, 6);
    assert_eq!(digest.crash_loop, None);
    assert_eq!(digest.severity, Severity::Critical);
    assert_eq!(
        digest.exit_codes,
        [
            Tally {
                value: "137".into(),
                count: 4
            },
            Tally {
                value: "1".into(),
                count: 2
            }
        ]
    );
    // Three each: "B" was seen first (alert 1).
    assert_eq!(
        digest.reasons,
        [
            Tally {
                value: "B".into(),
                count: 3
            },
            Tally {
                value: "A".into(),
                count: 3
            }
        ]
    );
    assert_eq!(digest.title, "payments-api: 6 more tasks failed (exit 137)");
    assert_eq!(digest.alerts[2].exit_codes, [137, 137]);
    assert_eq!(digest.unlisted, 0);
}

#[test]
fn a_quiet_interval_posts_nothing() {
    let policy = policy();
    let mut group = Group::default();
    assert_eq!(
        group.observe(&oom(0, T0), T0, &policy),
        Observed::Post { crash_loop: None }
    );
    for later in [at(1), at(299), at(300), at(3600)] {
        assert_eq!(group.due(), None);
        assert!(group.digest(later, &policy).is_none());
        assert!(!group.claim_digest("replica-a", later, secs(30)));
    }
}

#[test]
fn a_group_quiet_for_a_whole_interval_posts_its_next_alert_at_once() {
    let policy = no_crash_loops();
    let mut group = Group::default();
    assert!(matches!(
        group.observe(&oom(0, T0), T0, &policy),
        Observed::Post { .. }
    ));
    assert_eq!(
        group.observe(&oom(1, at(299)), at(299), &policy),
        Observed::Folded { due: at(300) }
    );
    // The digest goes out at the end of the interval; the next interval starts then.
    let digest = deliver(&mut group, at(301), &policy);
    assert_eq!(digest.count, 1);
    assert_eq!(
        group.observe(&oom(2, at(600)), at(600), &policy),
        Observed::Folded { due: at(601) }
    );
    deliver(&mut group, at(601), &policy);
    // Quiet from 601 to 901: the interval [601, 901) passed without an alert.
    assert!(matches!(
        group.observe(&oom(3, at(901)), at(901), &policy),
        Observed::Post { .. }
    ));
    // A first alert with nothing following: the interval [T0, T0 + 300) is half-open.
    let mut other = Group::default();
    other.observe(&oom(10, T0), T0, &policy);
    assert!(matches!(
        other.observe(&oom(11, at(300)), at(300), &policy),
        Observed::Post { .. }
    ));
}

#[test]
fn grouping_off_posts_every_alert() {
    let policy = GroupPolicy {
        group_interval: Duration::ZERO,
        ..no_crash_loops()
    };
    let mut group = Group::default();
    let alerts: Vec<Alert> = (0..5).map(|n| oom(n, T0)).collect();
    for alert in &alerts {
        assert_eq!(
            group.observe(alert, T0, &policy),
            Observed::Post { crash_loop: None }
        );
    }
    assert_eq!(group.due(), None);
}

#[test]
fn an_alert_with_a_huge_dedup_key_is_posted_alone() {
    let policy = no_crash_loops();
    let mut group = Group::default();
    group.observe(&oom(0, T0), T0, &policy);
    let mut huge = oom(1, at(1));
    huge.dedup_key = format!("ecs_service:{}", "x".repeat(2000));
    assert_eq!(
        group.observe(&huge, at(1), &policy),
        Observed::Post { crash_loop: None }
    );
    assert_eq!(group.due(), None);
    // The interval it arrived in is still the first alert's.
    assert!(matches!(
        group.observe(&oom(2, at(2)), at(2), &policy),
        Observed::Folded { .. }
    ));
}

#[test]
fn a_crash_loop_reached_by_a_first_alert_is_posted_with_it() {
    // One-minute intervals, so each failure two minutes apart opens a new burst.
    let policy = GroupPolicy {
        group_interval: secs(60),
        crash_loop_threshold: 3,
        crash_loop_window: secs(600),
    };
    let mut group = Group::default();
    let outcomes: Vec<Observed> = (0..3)
        .map(|n| {
            let t = at(120 * i64::from(n));
            group.observe(&oom(n, t), t, &policy)
        })
        .collect();
    let crash_loop = CrashLoop {
        failures: 3,
        window_secs: 600,
    };
    assert_eq!(
        outcomes,
        [
            Observed::Post { crash_loop: None },
            Observed::Post { crash_loop: None },
            Observed::Post {
                crash_loop: Some(crash_loop)
            },
        ]
    );
    let mut alert = oom(2, at(240));
    assert_eq!(alert.severity, Severity::Critical);
    mark_crash_loop(&mut alert, crash_loop);
    assert_eq!(
        alert.title,
        "payments-api is crash-looping: 3 tasks failed in 10 min"
    );
    assert_eq!(alert.severity, Severity::Critical);
    assert_eq!(alert.crash_loop, Some(crash_loop));
    assert!(
        alert
            .to_json()
            .contains("\"crash_loop\":{\"failures\":3,\"window_secs\":600}")
    );
}

#[test]
fn failures_further_apart_than_the_window_are_no_crash_loop() {
    let policy = GroupPolicy {
        group_interval: secs(60),
        crash_loop_threshold: 3,
        crash_loop_window: secs(600),
    };
    let mut group = Group::default();
    for n in 0..6 {
        // Six minutes apart: never three within ten minutes.
        let t = at(360 * i64::from(n));
        assert_eq!(
            group.observe(&oom(n, t), t, &policy),
            Observed::Post { crash_loop: None }
        );
    }
}

#[test]
fn the_crash_loop_window_counts_failure_times_not_arrival_times() {
    // A backlog: failures an hour apart, all arriving within seconds.
    let policy = GroupPolicy {
        crash_loop_threshold: 3,
        ..GroupPolicy::default()
    };
    let mut group = Group::default();
    for n in 0..4 {
        group.observe(&oom(n, at(3600 * i64::from(n))), at(i64::from(n)), &policy);
    }
    let digest = group.digest(at(300), &policy).expect("pending");
    assert_eq!(digest.count, 3);
    assert_eq!(digest.crash_loop, None);
    assert_eq!(digest.title, "payments-api: 3 more tasks failed (exit 137)");
}

#[test]
fn a_crash_loop_below_the_threshold_in_a_digest_is_not_named() {
    let policy = GroupPolicy {
        crash_loop_threshold: 5,
        ..GroupPolicy::default()
    };
    let alerts: Vec<Alert> = (0..4).map(|n| oom(n, at(i64::from(n)))).collect();
    let mut group = Group::default();
    burst(&mut group, &alerts, &policy);
    assert_eq!(
        group.digest(at(300), &policy).expect("pending").crash_loop,
        None
    );
    group.observe(&oom(4, at(4)), at(4), &policy);
    let digest = group.digest(at(300), &policy).expect("pending");
    assert_eq!(
        digest.crash_loop,
        Some(CrashLoop {
            failures: 5,
            window_secs: 600
        })
    );
    assert_eq!(
        digest.title,
        "payments-api is crash-looping: 5 tasks failed in 10 min"
    );
}

#[test]
fn threshold_zero_never_names_a_crash_loop() {
    let policy = no_crash_loops();
    let alerts: Vec<Alert> = (0..200).map(|n| oom(n, at(i64::from(n)))).collect();
    let mut group = Group::default();
    let outcomes = burst(&mut group, &alerts, &policy);
    assert_eq!(outcomes[0], Observed::Post { crash_loop: None });
    let digest = group.digest(at(300), &policy).expect("pending");
    assert_eq!(digest.crash_loop, None);
    assert_eq!(digest.severity, Severity::Critical);
    assert_eq!(
        digest.title,
        "payments-api: 199 more tasks failed (exit 137)"
    );
}

#[test]
fn a_redelivered_copy_is_never_counted_twice() {
    let policy = policy();
    let mut group = Group::default();
    let first = oom(0, T0);
    let second = oom(1, at(1));
    assert!(matches!(
        group.observe(&first, T0, &policy),
        Observed::Post { .. }
    ));
    assert!(matches!(
        group.observe(&second, at(1), &policy),
        Observed::Folded { .. }
    ));
    // A copy of a pending alert.
    assert_eq!(group.observe(&second, at(2), &policy), Observed::Repeat);
    // A copy of the posted first alert is posted again (the post may have failed); the worker's own
    // deduplication drops it when it was delivered.
    assert_eq!(
        group.observe(&first, at(3), &policy),
        Observed::Post { crash_loop: None }
    );
    let digest = deliver(&mut group, at(300), &policy);
    assert_eq!(digest.dedup_keys, [second.dedup_key.as_str()]);
    // A copy of a settled alert, after a crash between posting the digest and deleting the message.
    assert!(group.is_settled(&second.dedup_key));
    assert_eq!(group.observe(&second, at(301), &policy), Observed::Repeat);
    assert_eq!(group.due(), None);
    // Neither copy counted as a failure.
    let signal = signal_for(&group, at(400));
    let recovery = group.recovery(&signal).expect("recovers");
    assert_eq!(recovery.failures, 2);
}

#[test]
fn a_full_group_is_due_at_once_and_defers_further_alerts() {
    let policy = no_crash_loops();
    let mut group = Group::default();
    group.observe(&oom(0, T0), T0, &policy);
    for n in 1..Group::MAX_PENDING as u32 {
        let outcome = group.observe(&oom(n, at(1)), at(1), &policy);
        assert_eq!(outcome, Observed::Folded { due: at(300) });
    }
    // The 500th pending alert fills the group: the digest is due now.
    let filled = at(2);
    assert_eq!(
        group.observe(&oom(500, filled), filled, &policy),
        Observed::Folded { due: filled }
    );
    assert_eq!(group.due(), Some(filled));
    assert_eq!(group.pending(), Group::MAX_PENDING);
    let extra = oom(501, at(3));
    assert_eq!(group.observe(&extra, at(3), &policy), Observed::Deferred);
    assert_eq!(group.observe(&extra, at(4), &policy), Observed::Deferred);
    let digest = deliver(&mut group, at(5), &policy);
    assert_eq!(digest.count, Group::MAX_PENDING as u64);
    // Offered again once the digest is settled, it folds into the next interval.
    assert_eq!(
        group.observe(&extra, at(6), &policy),
        Observed::Folded { due: at(305) }
    );
    assert_eq!(deliver(&mut group, at(305), &policy).count, 1);
}

#[test]
fn settling_clears_what_the_digest_carried_and_keeps_later_arrivals_pending() {
    let policy = no_crash_loops();
    let alerts: Vec<Alert> = (0..30).map(|n| oom(n, at(i64::from(n)))).collect();
    let mut group = Group::default();
    burst(&mut group, &alerts[..16], &policy);
    assert!(group.claim_digest("replica-a", at(300), secs(30)));
    let first = group.digest(at(300), &policy).expect("pending");
    assert_eq!(first.count, 15);
    // While the digest is being posted, 14 more arrive.
    for (i, alert) in alerts[16..].iter().enumerate() {
        group.observe(alert, at(301 + i as i64), &policy);
    }
    group.settle_digest(&first, at(320));
    assert_eq!(
        group.due(),
        Some(at(620)),
        "the next interval starts at settling"
    );
    assert!(alerts[1..16].iter().all(|a| group.is_settled(&a.dedup_key)));
    assert!(alerts[16..].iter().all(|a| !group.is_settled(&a.dedup_key)));
    let second = deliver(&mut group, at(620), &policy);
    let keys: Vec<&str> = alerts[16..].iter().map(|a| a.dedup_key.as_str()).collect();
    assert_eq!(second.dedup_keys, keys);
    // The later arrivals are listed in full too.
    assert_eq!(second.alerts.len(), Digest::MAX_LISTED);
    assert_eq!(second.alerts[0].dedup_key, alerts[16].dedup_key);
    assert_eq!(second.unlisted, 4);
    assert_eq!(second.first_time, "2026-11-20T08:16:16Z");
}

#[test]
fn a_claimed_digest_is_refused_to_another_owner_until_the_lease_ends() {
    let policy = policy();
    let mut group = Group::default();
    group.observe(&oom(0, T0), T0, &policy);
    group.observe(&oom(1, at(1)), at(1), &policy);
    assert!(group.claim_digest("replica-a", at(300), secs(30)));
    assert!(!group.claim_digest("replica-b", at(300), secs(30)));
    assert!(!group.claim_digest("replica-b", at(329), secs(30)));
    // The owner renews its lease.
    assert!(group.claim_digest("replica-a", at(320), secs(30)));
    assert!(!group.claim_digest("replica-b", at(349), secs(30)));
    // Once the lease ran out (replica-a died), another replica takes over.
    assert!(group.claim_digest("replica-b", at(350), secs(30)));
    assert!(!group.claim_digest("replica-a", at(351), secs(30)));
    // Settling ends the claim; with nothing pending there is nothing to claim.
    let digest = group.digest(at(351), &policy).expect("pending");
    group.settle_digest(&digest, at(352));
    assert!(!group.claim_digest("replica-a", at(353), secs(30)));
    group.observe(&oom(2, at(354)), at(354), &policy);
    assert!(group.claim_digest("replica-a", at(355), secs(30)));
}

#[test]
fn a_claim_held_by_another_owner_says_until_when() {
    let policy = policy();
    let mut group = Group::default();
    group.observe(&oom(0, T0), T0, &policy);
    assert_eq!(
        group.claimed_until("replica-b", at(1)),
        None,
        "nothing pending"
    );
    group.observe(&oom(1, at(1)), at(1), &policy);
    assert!(group.claim_digest("replica-a", at(300), secs(30)));
    assert_eq!(group.claimed_until("replica-b", at(310)), Some(at(330)));
    assert_eq!(
        group.claimed_until("replica-a", at(310)),
        None,
        "its own claim"
    );
    assert_eq!(
        group.claimed_until("replica-b", at(330)),
        None,
        "the lease ran out"
    );
}

#[test]
fn a_folded_key_stays_not_pending_once_settled_however_much_is_settled_after_it() {
    let policy = no_crash_loops();
    let mut group = Group::default();
    let first: Vec<Alert> = (0..3).map(|n| oom(n, at(i64::from(n)))).collect();
    burst(&mut group, &first, &policy);
    assert!(group.is_pending(&first[1].dedup_key));
    assert!(!group.is_pending(&first[0].dedup_key), "posted, not folded");
    deliver(&mut group, at(300), &policy);
    assert!(!group.is_pending(&first[1].dedup_key));
    // Over a thousand keys settled since: the settled memory forgets it, pending never had it.
    for round in 0..3 {
        let base = 1000 + 600 * round;
        let start = 301 + 400 * i64::from(round);
        for n in 0..500 {
            let t = at(start + i64::from(n) / 10);
            group.observe(&oom(base + n, t), t, &policy);
        }
        deliver(&mut group, at(start + 60), &policy);
    }
    assert!(
        !group.is_settled(&first[1].dedup_key),
        "forgotten by the bounded memory"
    );
    assert!(!group.is_pending(&first[1].dedup_key));
}

#[test]
fn a_recovery_waits_until_the_group_was_quiet_for_its_interval() {
    let policy = policy();
    let mut group = Group::default();
    group.observe(&oom(0, T0), T0, &policy);
    group.observe(&oom(1, at(40)), at(40), &policy);
    // The latest failure arrived at 40 s: quiet from 340 s on (5 min interval).
    assert_eq!(group.recovery_wait(at(100), &policy), secs(240));
    assert_eq!(group.recovery_wait(at(340), &policy), Duration::ZERO);
    assert_eq!(group.recovery_wait(at(4000), &policy), Duration::ZERO);
    // A success between failures: by the time the wait is over a later failure refuses it.
    let success = signal_for(&group, at(60));
    assert!(group.recovery(&success).is_some());
    group.observe(&oom(2, at(90)), at(90), &policy);
    assert_eq!(group.recovery(&success), None);
    assert_eq!(group.recovery_wait(at(100), &policy), secs(290));
}

/// A steady state of payments-api (the fixture's service moved to the `oom` alerts' cluster,
/// account and region), at `time`.
fn steady_state(time: OffsetDateTime) -> RecoverySignal {
    let body = load("ecs_service-steady-state")
        .replace("111122223333", "012345678900")
        .replace("us-west-2", "eu-central-1")
        .replace(
            "service/default/servicetest",
            "service/payments/payments-api",
        )
        .replace("cluster/default", "cluster/payments");
    let event = decode(&body, &ctx()).expect("decodes");
    assert!(matches!(classify(&event), Decision::Silent(_)));
    let mut signal = recovery_signal(&event).expect("a recovery signal");
    signal.time = time;
    signal
}

/// A recovery signal for the group's own scope at `time`.
fn signal_for(group: &Group, time: OffsetDateTime) -> RecoverySignal {
    let mut signal = steady_state(time);
    signal.scope = group.scope().expect("a scope").to_owned();
    signal
}

#[test]
fn recovery_signals_come_from_steady_states_completed_deployments_and_succeeded_executions() {
    let signal = |name: &str| recovery_signal(&crate::fixtures::event(name));
    let steady = signal("ecs_service-steady-state").expect("steady state");
    assert_eq!(
        steady.scope,
        "ecs-service:111122223333:us-west-2:default:servicetest"
    );
    assert_eq!(steady.event_id, "af3c496d-f4a8-65d1-70f4-a69d52e9b584");
    assert_eq!(steady.time, datetime!(2019-11-19 19:27:22 UTC));
    assert_eq!(steady.account.as_deref(), Some("111122223333"));
    assert_eq!(steady.region.as_deref(), Some("us-west-2"));
    assert_eq!(steady.partition, "aws");
    assert_eq!(
        steady.links.service.as_deref(),
        Some(
            "https://us-west-2.console.aws.amazon.com/ecs/v2/clusters/default/services/servicetest/health?region=us-west-2"
        )
    );
    let deployed = signal("ecs_deployment-completed").expect("deployment completed");
    assert_eq!(deployed.scope, steady.scope);
    assert!(
        deployed
            .links
            .service
            .as_deref()
            .is_some_and(|l| l.contains("/deployments"))
    );
    let succeeded = signal("sfn_execution-succeeded").expect("succeeded");
    assert_eq!(
        succeeded.scope,
        "arn:aws:states:us-east-1:012345678912:stateMachine:state-machine"
    );
    assert!(
        succeeded
            .links
            .execution
            .as_deref()
            .is_some_and(|l| l.contains("execution:state-machine-name:execution-name"))
    );
    for silent_or_failure in [
        "ecs_service-capacity-provider-steady-state",
        "ecs_deployment-in-progress",
        "ecs_deployment-failed-circuit-breaker",
        "sfn_execution-running",
        "sfn_execution-failed-error-cause",
        "ecs_task-oom",
        "custom_notification-recovered",
    ] {
        assert_eq!(signal(silent_or_failure), None, "{silent_or_failure}");
    }
}

#[test]
fn recovery_scopes_name_the_service_or_state_machine() {
    assert_eq!(
        recovery_scope(&oom(0, T0)).as_deref(),
        Some("ecs-service:012345678900:eu-central-1:payments:payments-api")
    );
    assert_eq!(
        recovery_scope(&sfn_failure(0, T0)).as_deref(),
        Some("arn:aws:states:us-east-2:123456789012:stateMachine:state-machine")
    );
    // A version's ARN, or only an execution ARN, names the same state machine.
    let mut versioned = sfn_failure(1, T0);
    let execution = versioned.execution.as_mut().expect("execution");
    execution.state_machine =
        Some("arn:aws:states:us-east-2:123456789012:stateMachine:state-machine:7".to_owned());
    assert_eq!(
        recovery_scope(&versioned),
        recovery_scope(&sfn_failure(0, T0))
    );
    let execution = versioned.execution.as_mut().expect("execution");
    execution.state_machine = None;
    execution.arn =
        Some("arn:aws:states:us-east-2:123456789012:express:state-machine:run-1:abc".to_owned());
    assert_eq!(
        recovery_scope(&versioned),
        recovery_scope(&sfn_failure(0, T0))
    );
    // A standalone task (an events-rule job) has no service to recover.
    assert_eq!(
        recovery_scope(&alert_of(&load("ecs_task-exit137-killed"))),
        None
    );
    let service_alert = alert_of(&load("ecs_service-task-start-impaired"));
    assert!(
        recovery_scope(&service_alert).is_some_and(|s| s.starts_with("ecs-service:")),
        "{:?}",
        recovery_scope(&service_alert)
    );
}

#[test]
fn an_ecs_service_recovers_once_its_group_alerted() {
    let policy = policy();
    let mut group = Group::default();
    // A group that never alerted has nothing to recover from.
    assert_eq!(group.recovery(&steady_state(at(700))), None);
    for n in 0..8 {
        let t = at(60 * i64::from(n));
        group.observe(&oom(n, t), t, &policy);
    }
    let recovery = group.recovery(&steady_state(at(720))).expect("recovers");
    assert_eq!(recovery.schema, "failwatch.recovery.v1");
    assert_eq!(
        recovery.title,
        "payments-api recovered after 8 failures over 12 min"
    );
    assert_eq!(recovery.failures, 8);
    assert_eq!(recovery.duration_secs, 720);
    assert_eq!(recovery.first_failure_time, "2026-11-20T08:16:00Z");
    assert_eq!(recovery.recovered_time, "2026-11-20T08:28:00Z");
    assert_eq!(recovery.kind, AlertKind::EcsTask);
    assert_eq!(recovery.subject, "payments-api");
    assert_eq!(recovery.group_key, oom(0, T0).group_key);
    assert_eq!(recovery.event_id, "af3c496d-f4a8-65d1-70f4-a69d52e9b584");
    assert!(recovery.links.service.is_some());
    // A steady state from before the latest failure says nothing about it.
    assert_eq!(group.recovery(&steady_state(at(419))), None);
    // Another service's steady state does not close this group.
    let other =
        recovery_signal(&crate::fixtures::event("ecs_service-steady-state")).expect("a signal");
    let other = RecoverySignal {
        time: at(720),
        ..other
    };
    assert_eq!(group.recovery(&other), None);
}

#[test]
fn a_state_machine_recovers_when_an_execution_succeeds() {
    let policy = policy();
    let mut group = Group::default();
    for n in 0..3 {
        let t = at(30 * i64::from(n));
        group.observe(&sfn_failure(n, t), t, &policy);
    }
    let body = load("sfn_execution-succeeded")
        .replace("012345678912", "123456789012")
        .replace("us-east-1", "us-east-2");
    let mut signal = recovery_signal(&decode(&body, &ctx()).expect("decodes")).expect("signal");
    assert_eq!(group.scope(), Some(signal.scope.as_str()));
    signal.time = at(90);
    let recovery = group.recovery(&signal).expect("recovers");
    assert_eq!(
        recovery.title,
        "state-machine recovered after 3 failures over 2 min"
    );
    assert_eq!(recovery.kind, AlertKind::SfnExecution);
    assert!(recovery.links.execution.is_some());
    // An ECS steady state never closes a state machine's group.
    assert_eq!(group.recovery(&steady_state(at(90))), None);
    let digest = group.digest(at(300), &policy).expect("pending");
    assert_eq!(
        digest.title,
        "state-machine: 2 more executions failed (ErrorCode)"
    );
    assert_eq!(digest.alerts[0].id, "run-1");
    assert_eq!(digest.alerts[0].reason.as_deref(), Some("ErrorCode"));
    assert_eq!(digest.subject, "state-machine");
    assert_eq!(
        digest.links.related,
        [
            "https://us-east-2.console.aws.amazon.com/states/home?region=us-east-2#/statemachines/view/arn:aws:states:us-east-2:123456789012:stateMachine:state-machine"
        ]
    );
    assert_eq!(digest.links.service, None);
}

#[test]
fn a_quiet_group_expires_after_an_hour_and_never_while_something_is_pending() {
    let policy = policy();
    let mut group = Group::default();
    assert!(group.expired(T0, &policy), "an empty group may go");
    group.observe(&oom(0, T0), T0, &policy);
    assert!(!group.expired(at(3599), &policy));
    assert!(group.expired(at(3600), &policy));
    group.observe(&oom(1, at(3601)), at(3601), &policy);
    group.observe(&oom(2, at(3602)), at(3602), &policy);
    assert!(
        !group.expired(at(3602 + 86_400), &policy),
        "a digest is pending"
    );
    deliver(&mut group, at(3901), &policy);
    assert!(!group.expired(at(3602 + 3599), &policy));
    assert!(group.expired(at(3602 + 3600), &policy));
    // A crash-loop window longer than an hour keeps the group as long.
    let long = GroupPolicy {
        crash_loop_window: secs(7200),
        ..policy
    };
    assert!(!group.expired(at(3602 + 3600), &long));
    assert!(group.expired(at(3602 + 7200), &long));
}

#[test]
fn a_group_round_trips_through_json() {
    let policy = policy();
    let mut group = Group::default();
    let alerts: Vec<Alert> = (0..40).map(|n| oom(n, at(i64::from(n)))).collect();
    burst(&mut group, &alerts[..20], &policy);
    deliver(&mut group, at(300), &policy);
    for (i, alert) in alerts[20..].iter().enumerate() {
        group.observe(alert, at(301 + i as i64), &policy);
    }
    assert!(group.claim_digest("replica-a", at(330), secs(30)));
    let json = serde_json::to_string(&group).expect("serialises");
    let back: Group = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(back, group);
    assert_eq!(
        back.digest(at(600), &policy),
        group.digest(at(600), &policy)
    );
    assert_eq!(back.due(), group.due());
    // An empty body (a group stored by an older version with fewer fields) reads as a new group.
    assert_eq!(
        serde_json::from_str::<Group>("{}").expect("deserialises"),
        Group::default()
    );
}

#[test]
fn a_full_group_serialises_far_below_the_dynamodb_item_limit() {
    let policy = policy();
    let mut group = Group::default();
    let huge = "x".repeat(20_000);
    let mut n = 0;
    let mut next = |group: &mut Group, t: OffsetDateTime| {
        let mut alert = oom(n, t);
        // Every alert with its own 20 KB reason: the worst case for the reason table.
        alert.task.as_mut().expect("task").stopped_reason = Some(format!("{n} {huge}"));
        n += 1;
        group.observe(&alert, t, &policy)
    };
    next(&mut group, T0);
    // Two full digests settled (their keys remembered), then a full pending one.
    for round in 0..3 {
        let t = at(round);
        while group.due().is_none_or(|due| due > t) {
            assert!(matches!(next(&mut group, t), Observed::Folded { .. }));
        }
        if round < 2 {
            deliver(&mut group, t, &policy);
        }
    }
    let json = serde_json::to_string(&group).expect("serialises");
    assert!(json.len() < 200_000, "a full group is {} bytes", json.len());
    let digest = group.digest(at(3000), &policy).expect("pending");
    assert_eq!(digest.count, Group::MAX_PENDING as u64);
    assert!(digest.reasons[0].value.len() < 300);
}

/// One step of an arrival sequence.
#[derive(Debug, Clone)]
enum Step {
    /// Alert `key` arrives (a first delivery or a copy) after `wait` seconds.
    Arrive { key: u8, wait: u16 },
    /// `wait` seconds pass, then the worker delivers a due digest, if any.
    Tick { wait: u16 },
    /// The worker claims and builds the digest, then `key` arrives, then the digest is settled.
    RaceSettle { key: u8 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..40, 0u16..400).prop_map(|(key, wait)| Step::Arrive { key, wait }),
        1 => (0u16..900).prop_map(|wait| Step::Tick { wait }),
        1 => (0u8..40).prop_map(|key| Step::RaceSettle { key }),
    ]
}

/// Where each key ended up.
#[derive(Default)]
struct Ledger {
    posted: BTreeSet<String>,
    digested: HashMap<String, usize>,
    observed: BTreeSet<String>,
}

impl Ledger {
    fn observe(&mut self, group: &mut Group, alert: &Alert, now: OffsetDateTime, p: &GroupPolicy) {
        self.observed.insert(alert.dedup_key.clone());
        match group.observe(alert, now, p) {
            Observed::Post { .. } => {
                self.posted.insert(alert.dedup_key.clone());
            }
            Observed::Folded { .. } | Observed::Repeat => {}
            Observed::Deferred => panic!("40 keys never fill a group"),
        }
    }

    fn settled(&mut self, digest: &Digest) {
        for key in &digest.dedup_keys {
            *self.digested.entry(key.clone()).or_default() += 1;
        }
    }
}

/// The 40 alerts the property test draws from (decoded once).
static PROP_ALERTS: LazyLock<Vec<Alert>> = LazyLock::new(|| (0..40).map(|n| oom(n, T0)).collect());

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the arrival sequence (copies, quiet gaps, arrivals while a digest is posted), every
    /// alert ends up in exactly one place: posted as a first alert, or in exactly one settled digest.
    #[test]
    fn every_alert_is_posted_or_in_exactly_one_digest(steps in prop::collection::vec(step(), 1..80)) {
        let policy = GroupPolicy {
            crash_loop_threshold: 3,
            ..GroupPolicy::default()
        };
        let alerts = &*PROP_ALERTS;
        let mut group = Group::default();
        let mut ledger = Ledger::default();
        let mut now = T0;
        let deliver_due = |group: &mut Group, ledger: &mut Ledger, now: OffsetDateTime| {
            if group.due().is_some_and(|due| due <= now) {
                ledger.settled(&deliver(group, now, &policy));
            }
        };
        for step in steps {
            match step {
                Step::Arrive { key, wait } => {
                    now += Duration::from_secs(u64::from(wait));
                    deliver_due(&mut group, &mut ledger, now);
                    ledger.observe(&mut group, &alerts[usize::from(key)], now, &policy);
                }
                Step::Tick { wait } => {
                    now += Duration::from_secs(u64::from(wait));
                    deliver_due(&mut group, &mut ledger, now);
                }
                Step::RaceSettle { key } => {
                    if group.claim_digest("replica-a", now, secs(30)) {
                        let digest = group.digest(now, &policy).expect("claimed, so pending");
                        ledger.observe(&mut group, &alerts[usize::from(key)], now, &policy);
                        group.settle_digest(&digest, now);
                        ledger.settled(&digest);
                    }
                }
            }
        }
        if let Some(due) = group.due() {
            ledger.settled(&deliver(&mut group, due.max(now), &policy));
        }
        prop_assert_eq!(group.due(), None);
        for key in &ledger.observed {
            let digests = ledger.digested.get(key).copied().unwrap_or(0);
            let posted = ledger.posted.contains(key);
            prop_assert!(
                (posted && digests == 0) || (!posted && digests == 1),
                "{key}: posted {posted}, in {digests} digests"
            );
        }
        prop_assert!(ledger.digested.keys().all(|k| ledger.observed.contains(k)));
    }
}
