//! What happens when delivery or decoding fails: transient failures are retried (in process, then by
//! SQS), permanent ones go to the DLQ without hammering the chat service, malformed bodies go to the DLQ
//! while good messages keep flowing, and no alerting message is ever lost.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::delivery::{alert_subject, delivered_once};
use crate::support::events::{
    failed_execution, failed_task, finished_task, malformed_bodies, task_id,
};
use crate::support::receiver::Reply;
use crate::support::{Scenario, assert_no_secrets, assert_promtool_ok, metric};

const LIMIT: Duration = Duration::from_secs(60);

/// The task id of every DLQ body that is a task event; malformed bodies come back as they were sent.
async fn dlq_contents(scenario: &Scenario) -> Vec<String> {
    let mut bodies = scenario
        .emulator
        .drain_bodies(&scenario.pipeline.dlq_url)
        .await;
    bodies.sort();
    bodies
}

fn task_of(body: &str) -> String {
    let event: serde_json::Value = serde_json::from_str(body).expect("DLQ body is the event");
    event["detail"]["taskArn"]
        .as_str()
        .and_then(|arn| arn.rsplit('/').next())
        .or_else(|| event["detail"]["name"].as_str())
        .expect("task or execution event")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_forever_sends_every_alerting_message_to_the_dlq() {
    let max_receive_count = 2;
    let mut scenario = Scenario::new("server-error", max_receive_count).await;
    scenario
        .receiver
        .default_reply("webhook", Reply::Status(500));
    let mut config = scenario.config(&["webhook"]);
    config.retry_budget_secs = 1;
    config.visibility_timeout_secs = 5;
    scenario.start(&config).await;

    let tasks: Vec<String> = (0..3).map(|n| task_id(20, n)).collect();
    let mut events: Vec<_> = tasks.iter().map(|id| failed_task(id)).collect();
    events.push(finished_task(&task_id(20, 99)));
    scenario.emulator.put_events(&events).await;

    scenario
        .emulator
        .wait_depth(&scenario.pipeline.dlq_url, 3, LIMIT)
        .await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    let finished = scenario.stop_worker().await;

    let dead: BTreeSet<String> = dlq_contents(&scenario)
        .await
        .iter()
        .map(|b| task_of(b))
        .collect();
    assert_eq!(
        dead,
        tasks.iter().cloned().collect(),
        "exactly the alerting messages, none lost"
    );
    assert!(scenario.receiver.accepted("webhook").is_empty());
    // Every receive of every alerting message tried to deliver it, and retried in process.
    let attempts = scenario.receiver.requests().len();
    assert!(
        attempts >= tasks.len() * max_receive_count as usize,
        "only {attempts} attempts"
    );

    let m = &finished.metrics;
    // Only the silent message (and any repeat SQS handed out) was deleted.
    assert!(metric(m, "failwatch_events_total", &[("outcome", "silent")]) >= 1.0);
    assert_eq!(
        metric(m, "failwatch_messages_deleted_total", &[]),
        metric(m, "failwatch_events_total", &[("outcome", "silent")])
            + metric(m, "failwatch_events_total", &[("outcome", "duplicate")])
    );
    assert_eq!(
        metric(m, "failwatch_deliveries_total", &[("result", "delivered")]),
        0.0
    );
    assert!(
        metric(
            m,
            "failwatch_deliveries_total",
            &[("destination", "webhook"), ("result", "deferred")]
        ) >= 3.0
    );
    assert!(
        metric(
            m,
            "failwatch_messages_released_total",
            &[("reason", "retry")]
        ) >= 3.0
    );
    assert_eq!(
        metric(
            m,
            "failwatch_delivery_attempts_total",
            &[("outcome", "server_error")]
        ),
        attempts as f64
    );
    assert!(metric(m, "failwatch_delivery_retries_total", &[]) >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_and_the_alert_is_delivered_not_dead_lettered() {
    let mut scenario = Scenario::new("retry-after", 2).await;
    scenario.receiver.script("webhook", [Reply::RetryAfter(2)]);
    let mut config = scenario.config(&["webhook"]);
    config.retry_budget_secs = 8;
    config.visibility_timeout_secs = 20;
    scenario.start(&config).await;

    let task = task_id(21, 1);
    scenario.emulator.put_events(&[failed_task(&task)]).await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    assert_eq!(scenario.emulator.depth(&scenario.pipeline.dlq_url).await, 0);

    let requests = scenario.receiver.requests();
    assert_eq!(requests.len(), 2, "one 429, then one success");
    let waited = requests[1].at - requests[0].at;
    assert!(
        waited >= Duration::from_millis(1900),
        "retried after {waited:?}, before Retry-After: 2"
    );
    assert_eq!(delivered_once(&scenario), BTreeSet::from([task]));

    let finished = scenario.stop_worker().await;
    let m = &finished.metrics;
    assert_eq!(
        metric(
            m,
            "failwatch_delivery_attempts_total",
            &[("destination", "webhook"), ("outcome", "rate_limited")]
        ),
        1.0
    );
    assert_eq!(metric(m, "failwatch_delivery_retries_total", &[]), 1.0);
    assert_eq!(
        metric(m, "failwatch_deliveries_total", &[("result", "delivered")]),
        1.0
    );
    assert_eq!(
        metric(m, "failwatch_messages_deleted_total", &[]),
        1.0 + metric(m, "failwatch_events_total", &[("outcome", "duplicate")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_client_error_goes_to_the_dlq_without_hammering() {
    let max_receive_count = 2;
    let mut scenario = Scenario::new("permanent", max_receive_count).await;
    scenario
        .receiver
        .default_reply("webhook", Reply::Status(404));
    let mut config = scenario.config(&["webhook"]);
    config.visibility_timeout_secs = 5;
    scenario.start(&config).await;

    let tasks: Vec<String> = (0..2).map(|n| task_id(22, n)).collect();
    let events: Vec<_> = tasks.iter().map(|id| failed_task(id)).collect();
    scenario.emulator.put_events(&events).await;

    scenario
        .emulator
        .wait_depth(&scenario.pipeline.dlq_url, 2, LIMIT)
        .await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    let finished = scenario.stop_worker().await;

    // No in-process retry: at most one attempt per receive of each message.
    let attempts = scenario.receiver.requests().len();
    assert!(
        (tasks.len()..=tasks.len() * max_receive_count as usize).contains(&attempts),
        "{attempts} attempts for {} messages received at most {max_receive_count} times",
        tasks.len()
    );
    let dead: BTreeSet<String> = dlq_contents(&scenario)
        .await
        .iter()
        .map(|b| task_of(b))
        .collect();
    assert_eq!(dead, tasks.iter().cloned().collect());

    let m = &finished.metrics;
    assert_eq!(metric(m, "failwatch_delivery_retries_total", &[]), 0.0);
    assert_eq!(
        metric(
            m,
            "failwatch_delivery_attempts_total",
            &[("outcome", "client_error")]
        ),
        attempts as f64
    );
    assert_eq!(
        metric(
            m,
            "failwatch_deliveries_total",
            &[("destination", "webhook"), ("result", "rejected")]
        ),
        attempts as f64
    );
    assert_eq!(metric(m, "failwatch_messages_deleted_total", &[]), 0.0);
    // The failure is logged (with the destination's name, never its URL — checked by stop_worker).
    assert!(
        finished.logs.iter().any(|line| line.contains("404")),
        "a permanent failure must be logged with its status"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_go_to_the_dlq_while_good_messages_flow() {
    let mut scenario = Scenario::new("malformed", 2).await;
    let mut config = scenario.config(&["webhook"]);
    config.visibility_timeout_secs = 5;
    scenario.start(&config).await;

    let malformed = malformed_bodies();
    scenario
        .emulator
        .send_bodies(&scenario.pipeline.queue_url, &malformed)
        .await;
    let tasks: Vec<String> = (0..3).map(|n| task_id(23, n)).collect();
    let mut events: Vec<_> = tasks.iter().map(|id| failed_task(id)).collect();
    events.push(failed_execution("nightly-23"));
    scenario.emulator.put_events(&events).await;

    scenario
        .emulator
        .wait_depth(&scenario.pipeline.dlq_url, malformed.len() as u64, LIMIT)
        .await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    let finished = scenario.stop_worker().await;

    let mut expected: BTreeSet<String> = tasks.into_iter().collect();
    expected.insert("nightly-23".to_owned());
    assert_eq!(delivered_once(&scenario), expected);
    let mut sent = malformed.clone();
    sent.sort();
    assert_eq!(
        dlq_contents(&scenario).await,
        sent,
        "the DLQ holds the bodies untouched"
    );

    let m = &finished.metrics;
    assert!(
        metric(m, "failwatch_events_total", &[("outcome", "malformed")]) >= malformed.len() as f64
    );
    assert!(
        metric(
            m,
            "failwatch_messages_released_total",
            &[("reason", "malformed")]
        ) >= malformed.len() as f64
    );
    assert_eq!(metric(m, "failwatch_messages_deleted_total", &[]), 4.0);
    assert_eq!(
        metric(m, "failwatch_events_total", &[("outcome", "alerted")]),
        4.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_server_errors_and_timeouts_are_retried_in_process() {
    let mut scenario = Scenario::new("transient", 2).await;
    scenario.receiver.script(
        "webhook",
        [
            Reply::Reset,
            Reply::Status(503),
            Reply::Slow(Duration::from_secs(5)),
        ],
    );
    let mut config = scenario.config(&["webhook"]);
    config.destinations[0].timeout_secs = 1;
    config.retry_budget_secs = 10;
    config.visibility_timeout_secs = 20;
    scenario.start(&config).await;

    let task = task_id(24, 1);
    scenario.emulator.put_events(&[failed_task(&task)]).await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    assert_eq!(scenario.emulator.depth(&scenario.pipeline.dlq_url).await, 0);
    let finished = scenario.stop_worker().await;

    let requests = scenario.receiver.requests();
    assert_eq!(requests.len(), 4, "reset, 503, timeout, then success");
    let ok: Vec<String> = requests
        .iter()
        .filter(|request| matches!(request.reply, Reply::Ok))
        .map(alert_subject)
        .collect();
    assert_eq!(ok, [task]);

    let m = &finished.metrics;
    for outcome in ["network", "server_error", "timeout", "success"] {
        assert_eq!(
            metric(
                m,
                "failwatch_delivery_attempts_total",
                &[("destination", "webhook"), ("outcome", outcome)]
            ),
            1.0,
            "{outcome}"
        );
    }
    assert_eq!(metric(m, "failwatch_delivery_retries_total", &[]), 3.0);
    assert_eq!(
        metric(m, "failwatch_messages_deleted_total", &[]),
        1.0 + metric(m, "failwatch_events_total", &[("outcome", "duplicate")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_queue_cannot_be_polled_and_health_stays_up() {
    let mut scenario = Scenario::new("unreachable", 2).await;
    let mut config = scenario.config(&["webhook"]);
    config.top = "readiness_max_poll_age_secs = 2\n".to_owned();
    scenario.start(&config).await;
    let worker = scenario.worker.take().expect("worker");
    assert_eq!(worker.admin_get("/healthz").await.0, 200);

    scenario.emulator.kill();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _) = worker.admin_get("/readyz").await;
        if status == 503 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/readyz still answers {status} 20 s after SQS went away"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        worker.admin_get("/healthz").await.0,
        200,
        "alive, just not ready"
    );
    // The SDK retries a failed call before the worker sees the error, so the count may lag readiness.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = worker.metrics().await;
        if metric(&metrics, "failwatch_poll_errors_total", &[]) >= 1.0 {
            assert_promtool_ok(&metrics);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no poll error counted 30 s after SQS went away"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let (status, logs) = worker.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status}");
    assert_no_secrets(&logs, &scenario.secrets);
}

/// An alert routed to two destinations, one of which rejects it for good with an answer that quotes its
/// secret URL: the healthy destination gets it exactly once, across every receive of every duplicate
/// message carrying it (each with its own message id), until they all reach the DLQ; the rejecting
/// service's echo of the secret never reaches the logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_that_accepted_an_alert_never_gets_it_again_from_a_retry_or_a_duplicate() {
    let max_receive_count = 2;
    let mut scenario = Scenario::new("partial", max_receive_count).await;
    scenario.receiver.default_reply("webhook", Reply::Echo(404));
    let config = scenario.config(&["slack", "webhook"]);
    scenario.start(&config).await;

    let task = task_id(23, 1);
    // EventBridge delivering one STOPPED event twice, and SQS delivering one body twice: four messages,
    // four message ids, one alert.
    scenario
        .emulator
        .put_events(&[failed_task(&task), failed_task(&task)])
        .await;
    let body = failed_task(&task).sqs_body("5b2e0d1c-partial-body");
    scenario
        .emulator
        .send_bodies(&scenario.pipeline.queue_url, &[body.clone(), body])
        .await;

    scenario
        .emulator
        .wait_depth(&scenario.pipeline.dlq_url, 4, LIMIT)
        .await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    let finished = scenario.stop_worker().await;

    let slack = scenario
        .receiver
        .requests()
        .iter()
        .filter(|request| request.service == "slack")
        .count();
    assert_eq!(
        slack, 1,
        "the healthy destination was posted to {slack} times"
    );
    // Every receive of every message tried the rejecting destination once (rejections are not retried
    // in process).
    let rejected = scenario
        .receiver
        .requests()
        .iter()
        .filter(|request| request.service == "webhook")
        .count();
    assert_eq!(rejected, 4 * max_receive_count as usize);
    assert!(
        finished
            .logs
            .iter()
            .any(|line| line.contains("no such webhook ****")),
        "the rejection's text is logged, scrubbed; logs:\n{}",
        finished.logs.join("\n")
    );
    assert_no_secrets(&finished.logs, &scenario.secrets);
    let m = &finished.metrics;
    assert_eq!(
        metric(
            m,
            "failwatch_deliveries_total",
            &[("destination", "slack"), ("result", "delivered")]
        ),
        1.0
    );
}
