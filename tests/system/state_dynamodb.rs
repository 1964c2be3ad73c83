//! The `dynamodb` state backend with real `failwatch run` processes on one queue and one table (moto's
//! DynamoDB, which evaluates condition expressions): several replicas alert once per failure, a replica
//! killed after a destination accepted does not make the next receive post there again, one killed
//! mid-post leaves the alert to another once its lease runs out, and a store that cannot be reached
//! costs possible duplicates, never an alert.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};

use crate::delivery::alert_subject;
use crate::support::emulator::{Emulator, REGION};
use crate::support::events::{failed_task, failed_task_deprovisioning, task_id};
use crate::support::receiver::Reply;
use crate::support::worker::{Worker, WorkerConfig, signal};
use crate::support::{Scenario, assert_no_secrets, assert_promtool_ok, free_port, metric};

const LIMIT: Duration = Duration::from_secs(40);
const TABLE: &str = "failwatch-state";

/// Creates the state table as the deploy artefacts do: partition key `pk`, on-demand, TTL on
/// `expires_at`.
pub(crate) async fn create_table(emulator: &Emulator) {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(emulator.endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "system-tests"))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    client
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .send()
        .await
        .expect("CreateTable");
    client
        .update_time_to_live()
        .table_name(TABLE)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .expect("TTL"),
        )
        .send()
        .await
        .expect("UpdateTimeToLive");
}

/// A replica named `host` on the `dynamodb` backend at `endpoint` (set through the override
/// variables), with claims of `lease`; `fault` adds fault-injection variables.
async fn replica(
    emulator: &Emulator,
    config: &WorkerConfig,
    host: &str,
    endpoint: &str,
    lease: &str,
    fault: &[(&str, Option<&str>)],
) -> Worker {
    let mut env = vec![
        ("FAILWATCH_STATE__BACKEND", Some("dynamodb")),
        ("FAILWATCH_STATE__TABLE", Some(TABLE)),
        ("FAILWATCH_STATE__LEASE", Some(lease)),
        ("AWS_ENDPOINT_URL_DYNAMODB", Some(endpoint)),
        ("HOSTNAME", Some(host)),
    ];
    env.extend_from_slice(fault);
    let mut worker = Worker::spawn_with_env(emulator, config, &env);
    worker.wait_ready(Duration::from_secs(20)).await;
    worker
}

/// A replica on the scenario's own table with short (3 s) claims.
pub(crate) async fn table_replica(
    scenario: &Scenario,
    config: &WorkerConfig,
    host: &str,
    fault: &[(&str, Option<&str>)],
) -> Worker {
    let endpoint = scenario.emulator.endpoint();
    replica(&scenario.emulator, config, host, endpoint, "3s", fault).await
}

/// Posts accepted by the webhook, by alert subject.
fn accepted(scenario: &Scenario) -> Vec<String> {
    scenario
        .receiver
        .accepted("webhook")
        .iter()
        .map(alert_subject)
        .collect()
}

/// Stops a replica with SIGTERM and returns its metrics, checked by promtool.
async fn stop(worker: Worker, scenario: &Scenario) -> String {
    let metrics = worker.metrics().await;
    assert_promtool_ok(&metrics);
    let (status, logs) = worker.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status}");
    assert_no_secrets(&logs, &scenario.secrets);
    metrics
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_table_post_each_failure_once() {
    let started = Instant::now();
    let mut scenario = Scenario::new("dynamo-replicas", 5).await;
    create_table(&scenario.emulator).await;
    let config = scenario.config(&["webhook"]);
    let a = table_replica(&scenario, &config, "replica-a", &[]).await;
    let b = table_replica(&scenario, &config, "replica-b", &[]).await;

    // One failure sent five times at once: five messages, which both replicas receive.
    let copied = task_id(60, 1);
    let copies: Vec<_> = (0..5).map(|_| failed_task(&copied)).collect();
    scenario.emulator.put_events(&copies).await;
    // Another task's DEPROVISIONING event, delivered while both run...
    let split = task_id(60, 2);
    scenario
        .emulator
        .put_events(&[failed_task_deprovisioning(&split)])
        .await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    // ...and its STOPPED event once replica a is gone, so replica b alone receives it.
    let ma = stop(a, &scenario).await;
    scenario.emulator.put_events(&[failed_task(&split)]).await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;

    let mut posted = accepted(&scenario);
    posted.sort();
    let mut expected = vec![copied, split];
    expected.sort();
    assert_eq!(posted, expected, "each failure posted exactly once");
    assert_eq!(scenario.receiver.requests().len(), 2);
    assert_eq!(scenario.emulator.depth(&scenario.pipeline.dlq_url).await, 0);

    let mb = stop(b, &scenario).await;
    let sum =
        |name: &str, labels: &[(&str, &str)]| metric(&ma, name, labels) + metric(&mb, name, labels);
    assert_eq!(
        sum("failwatch_state_claims_total", &[("outcome", "won")]),
        2.0
    );
    // Every other message ended as a duplicate the store recognised: four copies and STOPPED.
    assert_eq!(
        sum(
            "failwatch_state_duplicates_suppressed_total",
            &[("level", "alert")]
        ),
        5.0
    );
    assert!(
        metric(&mb, "failwatch_state_claims_total", &[("outcome", "done")]) >= 1.0,
        "replica b found the STOPPED event's alert done by the other replica"
    );
    assert_eq!(sum("failwatch_state_errors_total", &[]), 0.0);
    let calls = sum("failwatch_state_call_duration_seconds_count", &[]);
    eprintln!(
        "dynamo-replicas: {calls} store calls for 7 messages and 2 alerts; claims won by replica a \
         {}, b {}; {:?}",
        // `+ 0.0` turns the empty sum's -0 into 0.
        metric(&ma, "failwatch_state_claims_total", &[("outcome", "won")]) + 0.0,
        metric(&mb, "failwatch_state_claims_total", &[("outcome", "won")]) + 0.0,
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_after_the_post_was_accepted_is_not_reposted_by_the_next() {
    let started = Instant::now();
    let mut scenario = Scenario::new("dynamo-accepted", 5).await;
    create_table(&scenario.emulator).await;
    let config = scenario.config(&["webhook"]);
    let crashing = [("FAILWATCH_FAULT_CRASH_AFTER_RECORD", Some("1"))];
    let a = table_replica(&scenario, &config, "replica-a", &crashing).await;

    let task = task_id(61, 1);
    scenario.emulator.put_events(&[failed_task(&task)]).await;
    // The post is accepted and recorded, then the process aborts before the message is deleted.
    let (status, logs) = a.wait_exit(LIMIT).await;
    assert!(
        !status.success(),
        "the fault hook ends the process: {status}"
    );
    assert_no_secrets(&logs, &scenario.secrets);
    assert_eq!(accepted(&scenario), std::slice::from_ref(&task));
    assert_eq!(
        scenario.emulator.depth(&scenario.pipeline.queue_url).await,
        1
    );

    // The message comes back after its visibility timeout; the next replica finds the delivery
    // recorded, posts nothing and deletes it.
    let b = table_replica(&scenario, &config, "replica-b", &[]).await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    assert_eq!(accepted(&scenario), [task], "not posted again");
    assert_eq!(scenario.receiver.requests().len(), 1);
    let m = stop(b, &scenario).await;
    assert_eq!(
        metric(
            &m,
            "failwatch_state_duplicates_suppressed_total",
            &[("level", "destination")]
        ),
        1.0
    );
    assert_eq!(metric(&m, "failwatch_state_errors_total", &[]), 0.0);
    eprintln!("dynamo-accepted: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_post_leaves_the_alert_to_another_after_its_lease() {
    let started = Instant::now();
    let mut scenario = Scenario::new("dynamo-lease", 5).await;
    create_table(&scenario.emulator).await;
    scenario
        .receiver
        .script("webhook", [Reply::Slow(Duration::from_secs(30))]);
    let config = scenario.config(&["webhook"]);
    let endpoint = scenario.emulator.endpoint().to_owned();
    // A lease longer than the visibility timeout: the message comes back while the dead replica's claim
    // still holds the alert.
    let a = replica(
        &scenario.emulator,
        &config,
        "replica-a",
        &endpoint,
        "9s",
        &[],
    )
    .await;
    let task = task_id(62, 1);
    scenario.emulator.put_events(&[failed_task(&task)]).await;
    scenario.receiver.wait_requests(1, LIMIT).await;
    let killed = Instant::now();
    signal(a.pid(), "KILL");
    let (status, _) = a.wait_exit(Duration::from_secs(10)).await;
    assert!(!status.success());

    let b = replica(
        &scenario.emulator,
        &config,
        "replica-b",
        &endpoint,
        "9s",
        &[],
    )
    .await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    let waited = killed.elapsed();
    assert_eq!(accepted(&scenario), [task]);
    assert!(
        waited >= Duration::from_secs(7),
        "delivered {waited:?} after the kill, before the 9 s lease ran out"
    );
    let m = stop(b, &scenario).await;
    assert!(
        metric(&m, "failwatch_state_claims_total", &[("outcome", "held")]) >= 1.0,
        "the second replica found the claim held first"
    );
    assert_eq!(
        metric(&m, "failwatch_state_claims_total", &[("outcome", "won")]),
        1.0
    );
    eprintln!(
        "dynamo-lease: delivered {waited:?} after the kill; {:?} in all",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_still_delivers_and_counts_the_errors() {
    let started = Instant::now();
    let mut scenario = Scenario::new("dynamo-down", 5).await;
    let config = scenario.config(&["webhook"]);
    // Nobody listens there: every store call fails at once (connection refused).
    let closed = format!("http://127.0.0.1:{}", free_port());
    let worker = replica(&scenario.emulator, &config, "replica-a", &closed, "3s", &[]).await;
    let task = task_id(63, 1);
    scenario.emulator.put_events(&[failed_task(&task)]).await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    assert_eq!(accepted(&scenario), [task]);
    assert_eq!(worker.admin_get("/readyz").await.0, 200, "still ready");
    let m = stop(worker, &scenario).await;
    for op in ["claim", "delivered_to", "record_delivery", "complete"] {
        assert_eq!(
            metric(&m, "failwatch_state_errors_total", &[("op", op)]),
            1.0,
            "{op}"
        );
    }
    eprintln!("dynamo-down: {:?}", started.elapsed());
}

#[test]
fn a_dynamodb_backend_without_a_table_stops_start_up_naming_the_key() {
    let output = crate::support::failwatch(
        &["run"],
        "",
        &[
            (
                "FAILWATCH_SQS__QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/failwatch",
            ),
            (
                "FAILWATCH_WEBHOOK_URL",
                "https://hooks.slack.com/services/T0/B0/SeCrEtStAtE",
            ),
            ("FAILWATCH_STATE__BACKEND", "dynamodb"),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains("state.table: required when state.backend is \"dynamodb\""),
        "{stderr}"
    );
    assert!(!stderr.contains("SeCrEtStAtE"), "{stderr}");
}
