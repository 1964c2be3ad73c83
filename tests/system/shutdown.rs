//! SIGTERM in the middle of work: deliveries that finish within the grace period complete and their
//! messages are deleted; the rest are handed back at once, so a second worker delivers them. Nothing is
//! lost either way. SIGKILL, which no handler sees, loses nothing either: what the dead worker held
//! comes back after its visibility timeout.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::delivery::alert_subject;
use crate::support::events::{failed_task, task_id};
use crate::support::receiver::Reply;
use crate::support::worker::{Worker, signal};
use crate::support::{Scenario, assert_no_secrets, metric};

const LIMIT: Duration = Duration::from_secs(45);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_batch_hands_unfinished_messages_back_and_loses_nothing() {
    let mut scenario = Scenario::new("sigterm", 5).await;
    // Deliveries hang far longer than the grace period, so they cannot finish before the worker exits.
    scenario
        .receiver
        .default_reply("webhook", Reply::Slow(Duration::from_secs(60)));
    let mut config = scenario.config(&["webhook"]);
    config.destinations[0].timeout_secs = 30;
    config.retry_budget_secs = 20;
    // Long enough that only an explicit hand-back lets the second worker see the messages in time.
    config.visibility_timeout_secs = 40;
    config.shutdown_grace_secs = 1;
    scenario.start(&config).await;

    let tasks: Vec<String> = (0..5).map(|n| task_id(30, n)).collect();
    let events: Vec<_> = tasks.iter().map(|id| failed_task(id)).collect();
    scenario.emulator.put_events(&events).await;
    // Every message is being delivered before the signal. (A ReceiveMessage cut short by the shutdown
    // would leave its messages invisible until their visibility timeout: not lost, but not handed back at
    // once either, and not what this test is about.)
    scenario.receiver.wait_requests(tasks.len(), LIMIT).await;

    let worker = scenario.worker.take().expect("worker");
    let metrics = worker.metrics().await;
    assert_eq!(
        metric(&metrics, "failwatch_in_flight_messages", &[]),
        tasks.len() as f64
    );
    let signalled = Instant::now();
    let (status, logs) = worker.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status {status} after SIGTERM");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "took {:?} to stop with a 1 s grace period",
        signalled.elapsed()
    );
    assert_no_secrets(&logs, &scenario.secrets);
    assert!(
        scenario.receiver.accepted("webhook").is_empty(),
        "no slow delivery can have completed"
    );
    assert_eq!(
        scenario.emulator.depth(&scenario.pipeline.queue_url).await,
        tasks.len() as u64,
        "every message is still on the queue"
    );

    // A second worker against a healthy receiver gets every message well within the first worker's
    // visibility timeout, which proves they were handed back rather than left to time out.
    scenario.receiver.default_reply("webhook", Reply::Ok);
    config.visibility_timeout_secs = 5;
    config.retry_budget_secs = 2;
    config.shutdown_grace_secs = 5;
    let restarted = Instant::now();
    scenario.start(&config).await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, Duration::from_secs(25))
        .await;
    assert!(restarted.elapsed() < Duration::from_secs(30));
    assert_eq!(scenario.emulator.depth(&scenario.pipeline.dlq_url).await, 0);
    let delivered: BTreeSet<String> = scenario
        .receiver
        .accepted("webhook")
        .iter()
        .map(alert_subject)
        .collect();
    assert_eq!(delivered, tasks.iter().cloned().collect());
    scenario.stop_worker().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_deliveries_finish_within_the_grace_period() {
    let mut scenario = Scenario::new("graceful", 5).await;
    scenario
        .receiver
        .default_reply("webhook", Reply::Slow(Duration::from_millis(1500)));
    let mut config = scenario.config(&["webhook"]);
    config.shutdown_grace_secs = 10;
    config.visibility_timeout_secs = 30;
    config.retry_budget_secs = 10;
    scenario.start(&config).await;

    let tasks: Vec<String> = (0..3).map(|n| task_id(31, n)).collect();
    let events: Vec<_> = tasks.iter().map(|id| failed_task(id)).collect();
    scenario.emulator.put_events(&events).await;
    scenario.receiver.wait_requests(tasks.len(), LIMIT).await;

    let finished = scenario.stop_worker().await;
    let delivered: BTreeSet<String> = scenario
        .receiver
        .accepted("webhook")
        .iter()
        .map(alert_subject)
        .collect();
    assert_eq!(delivered, tasks.iter().cloned().collect());
    assert_eq!(
        scenario.emulator.depth(&scenario.pipeline.queue_url).await,
        0,
        "delivered messages are deleted before the worker exits"
    );
    assert!(
        metric(&finished.metrics, "failwatch_messages_received_total", &[]) >= tasks.len() as f64
    );
}

/// Regression: a long poll in progress at SIGTERM used to be abandoned, so a message SQS was returning
/// in that poll's answer stayed invisible for its whole visibility timeout. Now the poll is finished and
/// what it returns is handed back at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_long_poll_hands_its_messages_back_at_once() {
    // A receive limit above the pollers' count: the other poller's poll, still open, may receive the
    // handed-back message too (and hand it back in turn) without pushing it to the DLQ.
    let mut scenario = Scenario::new("lastpoll", 5).await;
    let mut config = scenario.config(&["webhook"]);
    // Long polls, so that the signal lands while both pollers wait; a long visibility timeout, so that
    // only an explicit hand-back makes the message visible again before the test's deadline.
    config.wait_time_secs = 10;
    config.visibility_timeout_secs = 120;
    config.retry_budget_secs = 10;
    config.shutdown_grace_secs = 15;
    scenario.start(&config).await;
    // Ready means one poller's first receive (which does not wait) succeeded; each poller goes straight
    // on to a long poll. Nothing outside the worker can see a receive call open on the emulator, so a
    // short pause is the one way to make sure both long polls have started before the signal.
    // Two seconds leave a loaded CI machine ample time, and eight of the ten seconds of the long polls.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let worker = scenario.worker.take().expect("worker");
    signal(worker.pid(), "TERM");
    // The event goes out only once the worker has taken the signal in; sent earlier, the open poll could
    // return it before the shutdown began, and it would be delivered rather than handed back.
    worker
        .wait_log("shutdown requested", Duration::from_secs(10))
        .await;
    let task = task_id(32, 0);
    scenario.emulator.put_events(&[failed_task(&task)]).await;
    let (status, logs) = worker.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status} after SIGTERM");
    assert_no_secrets(&logs, &scenario.secrets);

    assert!(
        scenario.receiver.accepted("webhook").is_empty(),
        "a worker that is shutting down starts no new delivery"
    );
    assert!(
        logs.iter()
            .any(|line| line.contains("handed the last poll's messages back")),
        "the last poll's message was handed back; logs:\n{}",
        logs.join("\n")
    );
    // Visible again now, not in 120 s. (Counting in-flight messages too would pass without any
    // hand-back.)
    scenario
        .emulator
        .wait_visible(&scenario.pipeline.queue_url, 1, Duration::from_secs(5))
        .await;
    assert_eq!(scenario.emulator.depth(&scenario.pipeline.dlq_url).await, 0);
}

/// The grace period is counted from SIGTERM and bounds everything: long polls that would run for 20 s
/// more, and a paced backlog whose turns are minutes away. The worker exits within it, and hands every
/// unfinished message back at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_exits_within_the_grace_period_of_sigterm_whatever_it_waits_for() {
    let mut scenario = Scenario::new("deadline", 5).await;
    let mut config = scenario.config(&["slack"]);
    config.wait_time_secs = 20;
    // One post every 30 s (burst one): after the first, every message waits its turn.
    config.rate_per_second = 1.0 / 30.0;
    config.visibility_timeout_secs = 60;
    config.retry_budget_secs = 50;
    config.shutdown_grace_secs = 4;
    scenario.start(&config).await;

    let tasks: Vec<String> = (0..4).map(|n| task_id(33, n)).collect();
    let events: Vec<_> = tasks.iter().map(|id| failed_task(id)).collect();
    scenario.emulator.put_events(&events).await;
    // The first alert went out. With backpressure the pollers now wait instead of receiving what
    // cannot be posted for 30 s, or sit in 20 s long polls; whether a next message is already received
    // depends on timing, and either way the worker must stop within the grace period and post nothing
    // more. (Waiting for a second receive raced it: that happens only when its turn is near.)
    scenario.receiver.wait_requests(1, LIMIT).await;
    let worker = scenario.worker.take().expect("worker");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let signalled = Instant::now();
    let (status, logs) = worker.terminate(Duration::from_secs(30)).await;
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status} after SIGTERM");
    // Counting the grace period from the end of the long polls, or letting paced messages wait for the
    // hard stop, would take two grace periods.
    assert!(
        took < Duration::from_millis(4_000 + 2_500),
        "took {took:?} to stop with a 4 s grace period; logs:\n{}",
        logs.join("\n")
    );
    assert_no_secrets(&logs, &scenario.secrets);
    assert_eq!(
        scenario.receiver.requests().len(),
        1,
        "a paced message is handed back, not posted, once shutdown begins"
    );
    // Every message but the posted one is visible again at once: one that was received and waiting is
    // handed back, not left for its 60 s visibility timeout.
    scenario
        .emulator
        .wait_visible(
            &scenario.pipeline.queue_url,
            tasks.len() as u64 - 1,
            Duration::from_secs(3),
        )
        .await;
}

/// A delivery slower than the visibility timeout: the heartbeat keeps the message invisible, so it is
/// received once, posted once, and deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_keeps_a_slow_delivery_invisible() {
    let mut scenario = Scenario::new("heartbeat", 2).await;
    scenario
        .receiver
        .default_reply("webhook", Reply::Slow(Duration::from_secs(9)));
    let mut config = scenario.config(&["webhook"]);
    config.destinations[0].timeout_secs = 15;
    // The budget bounds waits between attempts, not one attempt's length.
    config.visibility_timeout_secs = 5;
    config.retry_budget_secs = 4;
    config.shutdown_grace_secs = 5;
    scenario.start(&config).await;

    let task = task_id(34, 0);
    scenario.emulator.put_events(&[failed_task(&task)]).await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, LIMIT)
        .await;
    let finished = scenario.stop_worker().await;
    assert_eq!(scenario.emulator.depth(&scenario.pipeline.dlq_url).await, 0);
    assert_eq!(scenario.receiver.requests().len(), 1, "one post");
    assert_eq!(
        scenario.receiver.accepted("webhook").len(),
        1,
        "the post was answered and accepted"
    );
    assert_eq!(
        metric(&finished.metrics, "failwatch_messages_received_total", &[]),
        1.0,
        "the message never became visible again while it was being delivered"
    );
    assert_eq!(
        metric(&finished.metrics, "failwatch_messages_deleted_total", &[]),
        1.0
    );
}

/// SIGTERM while start-up is stuck (here the SDK's region lookup waits on an instance-metadata service
/// that never answers, as on a node whose IMDS is firewalled) exits 0 at once instead of dying with 143.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_start_up_exits_0() {
    let mut scenario = Scenario::new("startup", 5).await;
    let config = scenario.config(&["webhook"]);
    // Accepts connections and never answers: the region lookup hangs on it.
    let imds = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a silent listener");
    let imds_url = format!("http://{}", imds.local_addr().expect("listener address"));
    let worker = Worker::spawn_with_env(
        &scenario.emulator,
        &config,
        &[
            ("AWS_REGION", None),
            ("AWS_EC2_METADATA_DISABLED", None),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", Some(&imds_url)),
            ("AWS_CONFIG_FILE", Some("/dev/null")),
            ("AWS_SHARED_CREDENTIALS_FILE", Some("/dev/null")),
        ],
    );
    worker
        .wait_log("building the SQS client", Duration::from_secs(20))
        .await;
    let signalled = Instant::now();
    signal(worker.pid(), "TERM");
    let (status, logs) = worker.wait_exit(Duration::from_secs(20)).await;
    assert!(
        status.success(),
        "exit status {status} after SIGTERM during start-up"
    );
    // Generous for a loaded machine; before the fix the signal either killed the process (143) or
    // waited for the region lookup to give up, and the log line below was missing.
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "took {:?} to stop",
        signalled.elapsed()
    );
    assert!(
        logs.iter()
            .any(|line| line.contains("stopped during start-up")),
        "start-up was still in progress when the signal came; logs:\n{}",
        logs.join("\n")
    );
    drop(imds);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_batch_loses_nothing_and_dead_letters_nothing() {
    let mut scenario = Scenario::new("sigkill", 5).await;
    // Slow enough that the kill lands with posts in flight, accepted posts not yet deleted, and
    // messages received but not yet posted.
    scenario
        .receiver
        .default_reply("webhook", Reply::Slow(Duration::from_millis(400)));
    let mut config = scenario.config(&["webhook"]);
    config.visibility_timeout_secs = 5;
    config.retry_budget_secs = 2;
    scenario.start(&config).await;

    let tasks: Vec<String> = (0..20).map(|n| task_id(32, n)).collect();
    let events: Vec<_> = tasks.iter().map(|id| failed_task(id)).collect();
    scenario.emulator.put_events(&events).await;
    scenario.receiver.wait_requests(5, LIMIT).await;

    let worker = scenario.worker.take().expect("worker");
    signal(worker.pid(), "KILL");
    let (status, logs) = worker.wait_exit(Duration::from_secs(10)).await;
    assert!(!status.success(), "SIGKILL ends the process: {status}");
    assert_no_secrets(&logs, &scenario.secrets);
    let posted_before_kill = scenario.receiver.requests().len();

    // A new worker finds every message once the dead one's visibility timeouts run out.
    scenario.receiver.default_reply("webhook", Reply::Ok);
    scenario.start(&config).await;
    scenario
        .emulator
        .wait_depth(&scenario.pipeline.queue_url, 0, Duration::from_secs(40))
        .await;
    assert_eq!(
        scenario.emulator.depth(&scenario.pipeline.dlq_url).await,
        0,
        "a crash sends nothing to the DLQ"
    );
    let accepted: Vec<String> = scenario
        .receiver
        .accepted("webhook")
        .iter()
        .map(alert_subject)
        .collect();
    let delivered: BTreeSet<String> = accepted.iter().cloned().collect();
    assert_eq!(
        delivered,
        tasks.iter().cloned().collect(),
        "every failure is delivered"
    );
    // With the memory backend, only a post that was under way or accepted but not yet deleted when the
    // process died can be posted again.
    let duplicates = accepted.len() - delivered.len();
    eprintln!(
        "sigkill: {posted_before_kill} posts before the kill; {} alerts, {duplicates} posted twice",
        delivered.len()
    );
    assert!(
        duplicates <= posted_before_kill,
        "{duplicates} duplicates, {posted_before_kill} posts before the kill"
    );
    scenario.stop_worker().await;
}
