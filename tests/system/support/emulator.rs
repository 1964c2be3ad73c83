//! The AWS emulator (moto server) for one test: started on a free loopback port, killed on drop, plus
//! the queue, dead-letter queue and EventBridge rule every end-to-end scenario needs.
//!
//! Each test gets its own emulator process, so tests run concurrently without sharing queues and a
//! failed test cannot leave state behind for another. moto starts in about a second.
//!
//! EventBridge is called through its JSON protocol with a plain HTTP client rather than through
//! `aws-sdk-eventbridge`: the tests need three calls (PutRule, PutTargets, PutEvents) against an emulator
//! that checks no signature, and a whole SDK crate would add minutes to every cold build of the suite.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};

use super::events::EventEntry;
use super::free_port;

/// The region every emulated resource lives in. moto takes the region from the request's credential
/// scope; the worker gets the same one through `AWS_REGION`.
pub(crate) const REGION: &str = "us-east-1";
/// moto's fixed account id.
pub(crate) const ACCOUNT: &str = "123456789012";

/// A running moto server, killed when dropped.
#[derive(Debug)]
pub(crate) struct Emulator {
    child: Child,
    endpoint: String,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

/// The queues and rule of one scenario.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub(crate) queue_url: String,
    pub(crate) dlq_url: String,
}

/// Locates `moto_server`: on `PATH` first, then in the repository's `.venv` that scripts/bootstrap.sh
/// creates. A missing emulator is a broken test machine, never a reason to skip.
pub(crate) fn moto_server_path() -> PathBuf {
    let in_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|candidate| candidate.is_file())
    });
    let in_venv = super::repo_root().join(".venv/bin/moto_server");
    match in_path {
        Some(path) => path,
        None if in_venv.is_file() => in_venv,
        None => panic!(
            "moto_server is neither on PATH nor at {}: run scripts/bootstrap.sh first",
            in_venv.display()
        ),
    }
}

impl Emulator {
    /// Starts moto on a free loopback port and waits until it answers.
    pub(crate) async fn start() -> Emulator {
        Emulator::start_with_env(&[]).await
    }

    /// [`Emulator::start`] with moto settings in its environment (`SF_EXECUTION_HISTORY_TYPE`, ...).
    pub(crate) async fn start_with_env(env: &[(&str, &str)]) -> Emulator {
        let moto = moto_server_path();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client");
        // Another process can take the port between our probe and moto's bind; a second port fixes that.
        let mut last_log = String::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("temp dir for the emulator log");
            let log_path = dir.path().join("moto.log");
            let log = std::fs::File::create(&log_path).expect("emulator log file");
            let port = free_port();
            let child = Command::new(&moto)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|err| panic!("cannot start {}: {err}", moto.display()));
            let mut emulator = Emulator {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
                log_path,
                _dir: dir,
                http: http.clone(),
            };
            if emulator.wait_ready(Duration::from_secs(20)).await {
                return emulator;
            }
            last_log = std::fs::read_to_string(&emulator.log_path).unwrap_or_default();
        }
        panic!("moto_server did not become ready; its last log:\n{last_log}");
    }

    async fn wait_ready(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            let url = format!("{}/moto-api/", self.endpoint);
            if let Ok(response) = self.http.get(&url).send().await
                && response.status().is_success()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// The emulator's base URL, for `AWS_ENDPOINT_URL_SQS`.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// An SQS client for the emulator, configured explicitly so that nothing from the test machine's
    /// environment or profile leaks in.
    pub(crate) fn sqs(&self) -> aws_sdk_sqs::Client {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new("test", "test", None, None, "system-tests"))
            .build();
        aws_sdk_sqs::Client::from_conf(config)
    }

    /// Creates `<name>` with a dead-letter queue `<name>-dlq` after `max_receive_count` receives, and an
    /// EventBridge rule that sends every ECS and Step Functions event to it.
    pub(crate) async fn pipeline(
        &self,
        name: &str,
        max_receive_count: u32,
        visibility_timeout_secs: u32,
    ) -> Pipeline {
        let sqs = self.sqs();
        let dlq_url = sqs
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .send()
            .await
            .expect("create DLQ")
            .queue_url
            .expect("DLQ URL");
        let dlq_arn = self.queue_arn(&dlq_url).await;
        let redrive = json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": max_receive_count.to_string(),
        });
        let queue_url = sqs
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                visibility_timeout_secs.to_string(),
            )
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue URL");
        let queue_arn = self.queue_arn(&queue_url).await;
        let rule = format!("{name}-failures");
        self.events(
            "PutRule",
            json!({
                "Name": rule,
                "EventPattern": json!({"source": ["aws.ecs", "aws.states"]}).to_string(),
                "State": "ENABLED",
            }),
        )
        .await;
        self.events(
            "PutTargets",
            json!({"Rule": rule, "Targets": [{"Id": "failwatch", "Arn": queue_arn}]}),
        )
        .await;
        Pipeline { queue_url, dlq_url }
    }

    async fn queue_arn(&self, queue_url: &str) -> String {
        self.sqs()
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("GetQueueAttributes")
            .attributes
            .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
            .expect("queue ARN")
    }

    /// Publishes events through EventBridge, ten per call as the real API requires. moto delivers to the
    /// rule's SQS target before PutEvents returns.
    pub(crate) async fn put_events(&self, events: &[EventEntry]) {
        for chunk in events.chunks(10) {
            let entries: Vec<Value> = chunk.iter().map(EventEntry::put_events_entry).collect();
            let answer = self
                .events("PutEvents", json!({ "Entries": entries }))
                .await;
            assert_eq!(
                answer["FailedEntryCount"].as_u64(),
                Some(0),
                "PutEvents failed: {answer}"
            );
        }
    }

    /// Sends raw bodies straight to a queue, for shapes EventBridge cannot produce (malformed bodies,
    /// exact duplicates).
    pub(crate) async fn send_bodies(&self, queue_url: &str, bodies: &[String]) {
        let sqs = self.sqs();
        for body in bodies {
            sqs.send_message()
                .queue_url(queue_url)
                .message_body(body)
                .send()
                .await
                .expect("SendMessage");
        }
    }

    /// Visible + in-flight + delayed messages of a queue.
    pub(crate) async fn depth(&self, queue_url: &str) -> u64 {
        let attributes = self
            .sqs()
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .expect("GetQueueAttributes")
            .attributes
            .unwrap_or_default();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        ]
        .iter()
        .filter_map(|name| attributes.get(name))
        .map(|value| value.parse::<u64>().expect("numeric queue attribute"))
        .sum()
    }

    /// Visible messages only (`ApproximateNumberOfMessages`): what a receive could get now, unlike
    /// [`Emulator::depth`], which also counts in-flight messages.
    pub(crate) async fn visible(&self, queue_url: &str) -> u64 {
        let attributes = self
            .sqs()
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .expect("GetQueueAttributes")
            .attributes
            .unwrap_or_default();
        attributes
            .get(&QueueAttributeName::ApproximateNumberOfMessages)
            .map_or(0, |value| {
                value.parse::<u64>().expect("numeric queue attribute")
            })
    }

    /// Waits until `queue_url` holds exactly `want` visible messages, or panics after `limit`.
    pub(crate) async fn wait_visible(&self, queue_url: &str, want: u64, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let visible = self.visible(queue_url).await;
            if visible == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{queue_url} shows {visible} visible messages after {limit:?}, expected {want}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `queue_url` holds exactly `want` messages, or panics after `limit` with the depth seen.
    pub(crate) async fn wait_depth(&self, queue_url: &str, want: u64, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let depth = self.depth(queue_url).await;
            if depth == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{queue_url} holds {depth} messages after {limit:?}, expected {want}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Receives and deletes every message of a queue (used on the DLQ to see what ended there).
    pub(crate) async fn drain_bodies(&self, queue_url: &str) -> Vec<String> {
        let sqs = self.sqs();
        let mut bodies = Vec::new();
        // A queue of a test holds at most a few hundred messages; empty twice in a row means drained.
        let mut empty = 0;
        while empty < 2 {
            let received = sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("ReceiveMessage");
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                empty += 1;
                continue;
            }
            empty = 0;
            for message in messages {
                bodies.push(message.body.unwrap_or_default());
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(message.receipt_handle.unwrap_or_default())
                    .send()
                    .await
                    .expect("DeleteMessage");
            }
        }
        bodies
    }

    /// One EventBridge JSON-protocol call.
    async fn events(&self, operation: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/", self.endpoint))
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("AWSEvents.{operation}"))
            // moto reads the region from the credential scope; the signature itself is not checked.
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=test/20260101/{REGION}/events/aws4_request, \
                     SignedHeaders=host, Signature=0"
                ),
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|err| panic!("EventBridge {operation}: {err}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "EventBridge {operation}: {status} {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

impl Emulator {
    /// Kills the emulator now, as if the network to SQS went away.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.kill();
    }
}
