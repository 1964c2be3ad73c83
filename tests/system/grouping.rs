//! Failure storms (issue 13): a burst of one service's failures is one alert and one digest, a crash
//! loop is named, a recovery is told and closes the group, a SIGKILL while messages are held for a
//! digest loses no failure, and with grouping off every alert is posted as before.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::events::{failed_task, service_steady_state, task_id};
use crate::support::worker::{Worker, WorkerConfig, signal};
use crate::support::{Scenario, metric};

const LIMIT: Duration = Duration::from_secs(60);

/// The webhook's documents of one schema, in the order they arrived.
fn documents(scenario: &Scenario, schema: &str) -> Vec<Value> {
    scenario
        .receiver
        .accepted("webhook")
        .into_iter()
        .map(|r| r.body)
        .filter(|body| body["schema"] == schema)
        .collect()
}

/// Every dedup key the webhook received, in alerts and digests.
fn delivered_keys(scenario: &Scenario) -> Vec<String> {
    let mut keys: Vec<String> = documents(scenario, "failwatch.alert.v1")
        .iter()
        .filter_map(|alert| alert["dedup_key"].as_str().map(str::to_owned))
        .collect();
    for digest in documents(scenario, "failwatch.digest.v1") {
        keys.extend(
            digest["dedup_keys"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|key| key.as_str().map(str::to_owned)),
        );
    }
    keys
}

/// Waits until the webhook holds `count` dedup keys (alerts and digests together).
async fn wait_keys(scenario: &Scenario, count: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while delivered_keys(scenario).len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} dedup keys delivered: {:?}",
            delivered_keys(scenario).len(),
            scenario.receiver.requests().len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `services` with grouping on: `interval`, and crash loops from `threshold` failures.
fn grouped(
    scenario: &mut Scenario,
    services: &[&str],
    interval: &str,
    threshold: u32,
) -> WorkerConfig {
    let mut config = scenario.config(services);
    config.grouping =
        format!("group_interval = {interval:?}\ncrash_loop_threshold = {threshold}\n");
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_one_service_is_one_alert_and_one_digest_in_its_thread() {
    let mut scenario = Scenario::new("burst", 3).await;
    let config = grouped(&mut scenario, &["webhook", "google-chat"], "5s", 0);
    scenario.start(&config).await;

    let events: Vec<_> = (0..12).map(|n| failed_task(&task_id(131, n))).collect();
    scenario.emulator.put_events(&events).await;
    wait_keys(&scenario, 12, LIMIT).await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    scenario.receiver.wait_requests(4, LIMIT).await;
    let finished = scenario.stop_worker().await;

    scenario.receiver.assert_payloads_valid();
    let alerts = documents(&scenario, "failwatch.alert.v1");
    let digests = documents(&scenario, "failwatch.digest.v1");
    assert_eq!(
        (alerts.len(), digests.len()),
        (1, 1),
        "{alerts:?} {digests:?}"
    );
    assert_eq!(digests[0]["count"], 11);
    assert_eq!(digests[0]["group_key"], alerts[0]["group_key"]);
    assert!(digests[0]["crash_loop"].is_null(), "crash loops are off");
    let keys: BTreeSet<String> = delivered_keys(&scenario).into_iter().collect();
    assert_eq!(keys.len(), 12, "every failure once");

    // Google Chat: the alert and its digest, the digest replying in the alert's thread.
    let chat = scenario.receiver.accepted("google-chat");
    assert_eq!(chat.len(), 2, "{chat:?}");
    let thread = |body: &Value| body["thread"]["threadKey"].as_str().map(str::to_owned);
    assert!(thread(&chat[0].body).is_some(), "{:?}", chat[0].body);
    assert_eq!(thread(&chat[0].body), thread(&chat[1].body));

    let metrics = &finished.metrics;
    assert_eq!(
        metric(
            metrics,
            "failwatch_alerts_folded_total",
            &[("destination", "webhook")]
        ),
        11.0
    );
    assert_eq!(
        metric(
            metrics,
            "failwatch_digests_posted_total",
            &[("destination", "google-chat")]
        ),
        1.0
    );
    assert!(
        finished
            .logs
            .iter()
            .any(|l| l.contains("digest delivered") && l.contains("\"count\":11")),
        "one info line per digest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loop_is_named_in_a_critical_digest() {
    let mut scenario = Scenario::new("crash-loop", 3).await;
    let config = grouped(&mut scenario, &["webhook"], "4s", 3);
    scenario.start(&config).await;

    let events: Vec<_> = (0..5).map(|n| failed_task(&task_id(132, n))).collect();
    scenario.emulator.put_events(&events).await;
    wait_keys(&scenario, 5, LIMIT).await;
    scenario.stop_worker().await;

    let digests = documents(&scenario, "failwatch.digest.v1");
    assert_eq!(digests.len(), 1, "{digests:?}");
    let digest = &digests[0];
    assert!(!digest["crash_loop"].is_null(), "{digest}");
    assert_eq!(digest["severity"], "critical");
    let title = digest["title"].as_str().unwrap_or_default();
    assert!(title.contains("crash-looping"), "{title}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_follows_the_digest_and_closes_the_group() {
    let mut scenario = Scenario::new("recovery", 3).await;
    let config = grouped(&mut scenario, &["webhook"], "4s", 0);
    scenario.start(&config).await;

    let events: Vec<_> = (0..3).map(|n| failed_task(&task_id(133, n))).collect();
    scenario.emulator.put_events(&events).await;
    let worker = scenario.worker.as_ref().expect("started");
    wait_metric(worker, "failwatch_alerts_folded_total", 2.0).await;
    // At once: the steady state is handed back until the group was quiet for its 4 s interval, then
    // the pending digest goes out first and the recovery after it.
    scenario
        .emulator
        .put_events(&[service_steady_state()])
        .await;
    wait_keys(&scenario, 3, LIMIT).await;
    scenario.receiver.wait_requests(3, LIMIT).await;
    let schemas: Vec<String> = scenario
        .receiver
        .accepted("webhook")
        .iter()
        .map(|r| r.body["schema"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        schemas,
        [
            "failwatch.alert.v1",
            "failwatch.digest.v1",
            "failwatch.recovery.v1"
        ]
    );
    let recovery = &documents(&scenario, "failwatch.recovery.v1")[0];
    assert_eq!(recovery["failures"], 3, "{recovery}");

    // The group is closed: the next failure is posted at once, not folded.
    scenario
        .emulator
        .put_events(&[failed_task(&task_id(133, 9))])
        .await;
    scenario
        .receiver
        .wait_requests(4, Duration::from_secs(20))
        .await;
    let last = scenario.receiver.accepted("webhook").pop().expect("posted");
    assert_eq!(last.body["schema"], "failwatch.alert.v1");
    let finished = scenario.stop_worker().await;
    assert_eq!(
        metric(
            &finished.metrics,
            "failwatch_recoveries_posted_total",
            &[("destination", "webhook")]
        ),
        1.0
    );
}

/// Polls the worker's metric `name` (summed over labels) until it reaches `want`.
async fn wait_metric(worker: &Worker, name: &str, want: f64) {
    let deadline = Instant::now() + LIMIT;
    while metric(&worker.metrics().await, name, &[]) < want {
        assert!(Instant::now() < deadline, "{name} never reached {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_while_messages_are_held_loses_no_failure() {
    let mut scenario = Scenario::new("held-kill", 5).await;
    let config = grouped(&mut scenario, &["webhook"], "10s", 0);
    scenario.start(&config).await;

    let tasks: Vec<String> = (0..6).map(|n| task_id(134, n)).collect();
    let events: Vec<_> = tasks.iter().map(|t| failed_task(t)).collect();
    scenario.emulator.put_events(&events).await;
    let worker = scenario.worker.take().expect("started");
    wait_metric(&worker, "failwatch_held_messages", 5.0).await;
    signal(worker.pid(), "KILL");
    let _ = worker.wait_exit(Duration::from_secs(10)).await;
    assert_eq!(documents(&scenario, "failwatch.digest.v1").len(), 0);

    // The held messages come back when the visibility they were given runs out; a new worker posts
    // them (a new first alert, then a digest).
    let mut config = config;
    config.grouping = "group_interval = \"2s\"\ncrash_loop_threshold = 0\n".to_owned();
    scenario.start(&config).await;
    wait_keys(&scenario, 6, Duration::from_secs(90)).await;
    scenario.stop_worker().await;
    let keys: BTreeSet<String> = delivered_keys(&scenario).into_iter().collect();
    for task in &tasks {
        assert!(
            keys.iter().any(|key| key.contains(task.as_str())),
            "{task} lost: {keys:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_grouping_off_every_alert_is_posted() {
    let mut scenario = Scenario::new("grouping-off", 3).await;
    let config = grouped(&mut scenario, &["webhook"], "0s", 3);
    scenario.start(&config).await;

    let events: Vec<_> = (0..4).map(|n| failed_task(&task_id(135, n))).collect();
    scenario.emulator.put_events(&events).await;
    scenario.receiver.wait_requests(4, LIMIT).await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    let finished = scenario.stop_worker().await;
    assert_eq!(documents(&scenario, "failwatch.alert.v1").len(), 4);
    assert!(documents(&scenario, "failwatch.digest.v1").is_empty());
    assert!(
        documents(&scenario, "failwatch.alert.v1")
            .iter()
            .all(|a| a["crash_loop"].is_null()),
        "no crash loop without grouping"
    );
    assert_eq!(
        metric(&finished.metrics, "failwatch_alerts_folded_total", &[]),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_dynamodb_a_folded_message_is_deleted_before_its_digest_is_due() {
    let mut scenario = Scenario::new("grouped-dynamodb", 3).await;
    crate::state_dynamodb::create_table(&scenario.emulator).await;
    let config = grouped(&mut scenario, &["webhook"], "10s", 0);
    let worker = crate::state_dynamodb::table_replica(&scenario, &config, "replica-a", &[]).await;

    let events: Vec<_> = (0..6).map(|n| failed_task(&task_id(136, n))).collect();
    scenario.emulator.put_events(&events).await;
    wait_metric(&worker, "failwatch_alerts_folded_total", 5.0).await;
    // The durable group holds the folds: their messages are deleted long before the digest is due.
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, Duration::from_secs(8))
        .await;
    assert!(documents(&scenario, "failwatch.digest.v1").is_empty());
    assert_eq!(
        metric(&worker.metrics().await, "failwatch_held_messages", &[]),
        0.0
    );
    wait_keys(&scenario, 6, LIMIT).await;
    let digests = documents(&scenario, "failwatch.digest.v1");
    assert_eq!(digests.len(), 1, "{digests:?}");
    assert_eq!(digests[0]["count"], 5);
    scenario.worker = Some(worker);
    scenario.stop_worker().await;
}
