//! The happy path end to end: EventBridge PutEvents → rule → SQS → `failwatch run` → every chat service,
//! each alert exactly once, silent events and duplicates deleted without a post, the queue drained, and
//! metrics that add up.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::events::{
    EventEntry, failed_execution, failed_task, failed_task_deprovisioning, finished_task,
    running_task, succeeded_execution, task_id,
};
use crate::support::receiver::{Request, SERVICES};
use crate::support::worker::Worker;
use crate::support::{Scenario, assert_no_secrets, assert_promtool_ok, metric};

const LIMIT: Duration = Duration::from_secs(45);

/// The task id or execution name a webhook alert is about.
pub(crate) fn alert_subject(request: &Request) -> String {
    let body = &request.body;
    body["task"]["id"]
        .as_str()
        .or_else(|| body["execution"]["name"].as_str())
        .unwrap_or_else(|| panic!("webhook alert without task or execution: {body}"))
        .to_owned()
}

/// Subjects of the accepted webhook alerts, asserting each arrived exactly once.
pub(crate) fn delivered_once(scenario: &Scenario) -> BTreeSet<String> {
    let subjects: Vec<String> = scenario
        .receiver
        .accepted("webhook")
        .iter()
        .map(alert_subject)
        .collect();
    let unique: BTreeSet<String> = subjects.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        subjects.len(),
        "an alert was delivered twice: {subjects:?}"
    );
    unique
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_alert_reaches_every_chat_exactly_once_and_the_queue_drains() {
    let mut scenario = Scenario::new("delivery", 3).await;
    let config = scenario.config(&SERVICES);
    scenario.start(&config).await;

    let tasks: Vec<String> = (0..6).map(|n| task_id(10, n)).collect();
    let mut alerting: Vec<EventEntry> = tasks.iter().map(|id| failed_task(id)).collect();
    alerting.push(failed_execution("nightly-10-a"));
    alerting.push(failed_execution("nightly-10-b"));
    let silent = vec![
        finished_task(&task_id(10, 100)),
        running_task(&task_id(10, 101)),
        succeeded_execution("nightly-10-ok"),
    ];
    let published = alerting.len() + silent.len();
    scenario
        .emulator
        .put_events(&[alerting.clone(), silent].concat())
        .await;

    scenario
        .receiver
        .wait_requests(alerting.len() * SERVICES.len(), LIMIT)
        .await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    assert_eq!(
        scenario.emulator.depth(&scenario.pipeline.dlq_url).await,
        0,
        "nothing may reach the DLQ"
    );

    scenario.receiver.assert_payloads_valid();
    for service in SERVICES {
        assert_eq!(
            scenario.receiver.accepted(service).len(),
            alerting.len(),
            "{service} must receive every alert exactly once"
        );
    }
    let mut expected: BTreeSet<String> = tasks.into_iter().collect();
    expected.extend(["nightly-10-a".to_owned(), "nightly-10-b".to_owned()]);
    assert_eq!(delivered_once(&scenario), expected);
    for request in scenario.receiver.requests() {
        assert!(
            scenario
                .secrets
                .iter()
                .any(|s| request.secret_path.contains(s)),
            "each destination posts to its own URL"
        );
    }

    let finished = scenario.stop_worker().await;
    let m = &finished.metrics;
    let alerts = alerting.len() as f64;
    // SQS (and moto) may hand a message out twice: every receive must end deleted, and a repeat counts
    // as a duplicate or a silent event, never as a second alert.
    let received = metric(m, "failwatch_messages_received_total", &[]);
    assert!(received >= published as f64, "received {received}");
    assert_eq!(metric(m, "failwatch_messages_deleted_total", &[]), received);
    assert_eq!(
        metric(m, "failwatch_events_total", &[("outcome", "silent")])
            + metric(m, "failwatch_events_total", &[("outcome", "duplicate")]),
        received - alerts
    );
    assert_eq!(
        metric(m, "failwatch_events_total", &[("outcome", "alerted")]),
        alerts
    );
    assert_eq!(
        metric(
            m,
            "failwatch_events_total",
            &[("kind", "sfn_execution"), ("outcome", "alerted")]
        ),
        2.0
    );
    assert!(metric(m, "failwatch_events_total", &[("outcome", "silent")]) >= 3.0);
    for service in SERVICES {
        assert_eq!(
            metric(
                m,
                "failwatch_deliveries_total",
                &[("destination", service), ("result", "delivered")]
            ),
            alerts,
            "{service}"
        );
        assert_eq!(
            metric(
                m,
                "failwatch_delivery_attempts_total",
                &[("destination", service), ("outcome", "success")]
            ),
            alerts,
            "{service}"
        );
        assert_eq!(
            metric(
                m,
                "failwatch_delivery_duration_seconds_count",
                &[("destination", service)]
            ),
            alerts,
            "{service}"
        );
        assert_eq!(
            metric(
                m,
                "failwatch_end_to_end_lag_seconds_count",
                &[("destination", service)]
            ),
            alerts,
            "{service}"
        );
    }
    assert_eq!(metric(m, "failwatch_delivery_retries_total", &[]), 0.0);
    assert_eq!(metric(m, "failwatch_in_flight_messages", &[]), 0.0);
    assert!(metric(m, "failwatch_last_successful_poll_timestamp_seconds", &[]) > 1.7e9);
    assert_eq!(metric(m, "failwatch_build_info", &[]), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_deliveries_of_one_stopped_task_give_one_alert() {
    let mut scenario = Scenario::new("duplicates", 3).await;
    let config = scenario.config(&["webhook"]);
    scenario.start(&config).await;

    let task = task_id(11, 1);
    // ECS's DEPROVISIONING and STOPPED events, EventBridge delivering STOPPED twice, and SQS delivering
    // one body twice.
    scenario
        .emulator
        .put_events(&[
            failed_task_deprovisioning(&task),
            failed_task(&task),
            failed_task(&task),
        ])
        .await;
    let body = failed_task(&task).sqs_body("0f5c3c0e-duplicate-body");
    scenario
        .emulator
        .send_bodies(&scenario.pipeline.queue_url, &[body.clone(), body])
        .await;

    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    assert_eq!(scenario.emulator.depth(&scenario.pipeline.dlq_url).await, 0);
    assert_eq!(delivered_once(&scenario), BTreeSet::from([task]));
    assert_eq!(scenario.receiver.requests().len(), 1);

    let finished = scenario.stop_worker().await;
    let m = &finished.metrics;
    let received = metric(m, "failwatch_messages_received_total", &[]);
    assert!(received >= 5.0, "received {received}");
    assert_eq!(metric(m, "failwatch_messages_deleted_total", &[]), received);
    assert_eq!(
        metric(m, "failwatch_events_total", &[("outcome", "alerted")]),
        1.0
    );
    assert_eq!(
        metric(m, "failwatch_events_total", &[("outcome", "duplicate")]),
        received - 1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_send_each_alert_where_its_rule_says_with_its_mention() {
    let mut scenario = Scenario::new("routes", 3).await;
    let mut config = scenario.config(&["slack", "webhook"]);
    config.extra = "[[routes]]\nname = \"pipelines\"\ndestinations = [\"slack\"]\n\
                    mention = \"<!subteam^S0PIPELINES>\"\n[routes.match]\nkind = \"sfn_execution\"\n\
                    \n[default_route]\ndestinations = [\"webhook\"]\n"
        .to_owned();
    scenario.start(&config).await;

    let task = task_id(12, 1);
    scenario
        .emulator
        .put_events(&[failed_task(&task), failed_execution("nightly-12")])
        .await;
    scenario.receiver.wait_requests(2, LIMIT).await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    scenario.receiver.assert_payloads_valid();

    let slack = scenario.receiver.accepted("slack");
    assert_eq!(slack.len(), 1, "only the execution goes to Slack");
    let text = slack[0].body.to_string();
    assert!(text.contains("nightly-12"), "{text}");
    assert!(
        text.contains("<!subteam^S0PIPELINES>"),
        "the route's mention is in the message: {text}"
    );
    assert_eq!(delivered_once(&scenario), BTreeSet::from([task]));

    let finished = scenario.stop_worker().await;
    for destination in ["slack", "webhook"] {
        assert_eq!(
            metric(
                &finished.metrics,
                "failwatch_deliveries_total",
                &[("destination", destination), ("result", "delivered")]
            ),
            1.0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_file_shortcut_delivers_to_the_one_webhook() {
    let mut scenario = Scenario::new("zero-file", 3).await;
    let destination = scenario.destination("webhook");
    let worker = Worker::start_zero_file(
        &scenario.emulator,
        &scenario.pipeline.queue_url,
        &destination.url,
        &[("FAILWATCH_WAIT_TIME_SECS", "1")],
    )
    .await;

    let task = task_id(13, 1);
    scenario.emulator.put_events(&[failed_task(&task)]).await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    scenario.receiver.assert_payloads_valid();
    assert_eq!(delivered_once(&scenario), BTreeSet::from([task]));

    let metrics = worker.metrics().await;
    assert_promtool_ok(&metrics);
    assert_eq!(
        metric(
            &metrics,
            "failwatch_deliveries_total",
            &[("destination", "default"), ("result", "delivered")]
        ),
        1.0,
        "the shortcut's destination is named `default`"
    );
    let (status, logs) = worker.terminate(Duration::from_secs(30)).await;
    assert!(status.success());
    assert_no_secrets(&logs, &scenario.secrets);
}
