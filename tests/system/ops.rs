//! The operator commands against emulated SQS and local chat receivers: `dlq stats` and `dlq peek` leave
//! the DLQ as it was, `dlq redrive` moves everything back (client-side on moto, which lacks
//! StartMessageMoveTask; natively on local-aws-sqs), a filter moves only what it selects, a crash between
//! send and delete loses nothing and duplicates at most one batch, `send-test` shows the service's
//! answer and never the URL, and `replay` puts files and JSON lines on the queue unchanged.
//!
//! Every test starts its own emulator and runs the real binary with an empty environment plus the
//! emulator endpoint, so stdin is a pipe (not a terminal), exactly like a redrive run from a script.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::json;

use crate::support::emulator::{Emulator, REGION};
use crate::support::events::{failed_execution, failed_task, malformed_bodies, task_id};
use crate::support::node_sqs::{NodeSqs, NodeSqsKind};
use crate::support::receiver::Receiver;
use crate::support::worker::{FAILWATCH, signal};
use crate::support::{failwatch, repo_root};

/// The message attribute every test message carries, to prove a redrive keeps attributes unchanged.
const ATTRIBUTE: &str = "origin";

/// A configuration file and environment for running operator commands against one emulator.
#[derive(Debug)]
struct Ops {
    _dir: tempfile::TempDir,
    config: PathBuf,
    env: Vec<(String, String)>,
}

impl Ops {
    /// `destinations` are (name, type, url); each URL is passed through its own environment variable.
    /// With none, the file has no destinations at all: the queue commands need no chat secrets.
    fn new(endpoint: &str, queue_url: &str, destinations: &[(&str, &str, String)]) -> Ops {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut toml = format!("queue_url = \"{queue_url}\"\n");
        let mut env = vec![
            ("AWS_ENDPOINT_URL_SQS".to_owned(), endpoint.to_owned()),
            ("AWS_ACCESS_KEY_ID".to_owned(), "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "test".to_owned()),
            ("AWS_REGION".to_owned(), REGION.to_owned()),
            ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
        ];
        for (name, kind, url) in destinations {
            let var = format!("FW_OPS_{}_URL", name.to_uppercase().replace('-', "_"));
            toml.push_str(&format!(
                "\n[[destinations]]\nname = \"{name}\"\ntype = \"{kind}\"\nurl_env = \"{var}\"\n\
                 rate_per_second = 1000.0\ntimeout_secs = 5\n"
            ));
            env.push((var, url.clone()));
        }
        let config = dir.path().join("failwatch.toml");
        std::fs::write(&config, toml).expect("write config");
        Ops {
            _dir: dir,
            config,
            env,
        }
    }

    /// Runs `failwatch ARGS --config FILE` with stdin a pipe holding `stdin`.
    async fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut argv: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        argv.push("--config".to_owned());
        argv.push(self.config.display().to_string());
        let env = self.env.clone();
        let stdin = stdin.to_owned();
        let output = tokio::task::spawn_blocking(move || {
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            failwatch(&argv, &stdin, &env)
        })
        .await
        .expect("failwatch runner");
        Run::from(output)
    }

    async fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, "").await
    }

    /// `failwatch ARGS --config FILE` as a process the test controls (to signal it mid-run).
    fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        tokio::process::Command::new(FAILWATCH)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn failwatch")
    }

    /// The same setup with one more destination whose `url_env` variable is not set: the worker's
    /// configuration as an on-call engineer without the chat secrets has it.
    fn with_unset_destination(self) -> Ops {
        let mut toml = std::fs::read_to_string(&self.config).expect("read config");
        toml.push_str(
            "\n[[destinations]]\nname = \"secret-chat\"\ntype = \"slack\"\n\
             url_env = \"FW_OPS_UNSET_URL\"\n\n[[routes]]\ndestinations = [\"secret-chat\"]\n",
        );
        std::fs::write(&self.config, toml).expect("write config");
        self
    }

    /// The same setup with one more environment variable (a `FAILWATCH_*` override).
    fn with_env(mut self, name: &str, value: &str) -> Ops {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// One finished command.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    aborted: bool,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        use std::os::unix::process::ExitStatusExt as _;
        let run = Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            aborted: output.status.signal() == Some(6),
        };
        eprintln!(
            "--- failwatch exited {:?} (aborted: {})\n--- stdout\n{}--- stderr\n{}",
            run.code, run.aborted, run.stdout, run.stderr
        );
        run
    }
}

impl Run {
    #[track_caller]
    fn assert_code(&self, want: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(want),
            "exit code; stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// An SQS client for any emulator endpoint.
fn sqs_at(endpoint: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "ops-tests"))
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// Sends bodies with the attribute `origin = <index>`, ten per call.
async fn send_with_attributes(sqs: &aws_sdk_sqs::Client, queue_url: &str, bodies: &[String]) {
    // As many per call as stay within SQS's 1 MiB for a whole batch, at most ten.
    let largest = bodies.iter().map(String::len).max().unwrap_or(1).max(1);
    let per_call = (900 * 1024 / largest).clamp(1, 10);
    for (chunk_index, chunk) in bodies.chunks(per_call).enumerate() {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .message_attributes(
                        ATTRIBUTE,
                        MessageAttributeValue::builder()
                            .data_type("String")
                            .string_value((chunk_index * per_call + i).to_string())
                            .build()
                            .expect("attribute"),
                    )
                    .build()
                    .expect("entry")
            })
            .collect();
        let answer = sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .expect("SendMessageBatch");
        assert!(answer.failed.is_empty(), "{:?}", answer.failed);
    }
}

/// Receives and deletes every message: body → the `origin` attribute of each copy.
async fn drain(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut empty = 0;
    // Test queues hold at most a few dozen messages; the bound only stops a runaway loop.
    for _ in 0..200 {
        if empty == 2 {
            break;
        }
        let messages = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .send()
            .await
            .expect("ReceiveMessage")
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            empty += 1;
            continue;
        }
        empty = 0;
        for m in messages {
            let origin = m
                .message_attributes
                .as_ref()
                .and_then(|a| a.get(ATTRIBUTE))
                .and_then(|v| v.string_value().map(str::to_owned));
            out.push((m.body.clone().unwrap_or_default(), origin));
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle.unwrap_or_default())
                .send()
                .await
                .expect("DeleteMessage");
        }
    }
    out
}

/// (visible, in flight) of a queue.
async fn counts(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> (u64, u64) {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .unwrap_or_default();
    let get = |name| {
        attributes
            .get(&name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

/// Polls a queue's (visible, in flight) counts until `done` holds for them, for at most `limit`;
/// panics with the last counts otherwise. Tests wait for what they can observe instead of sleeping for
/// a guessed time.
async fn wait_counts(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    limit: Duration,
    what: &str,
    done: impl Fn((u64, u64)) -> bool,
) -> (u64, u64) {
    let deadline = Instant::now() + limit;
    loop {
        let now = counts(sqs, queue_url).await;
        if done(now) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{queue_url}: still (visible, in flight) = {now:?} after {limit:?}, waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Unique ECS task failure bodies (cluster prod-payments).
fn task_bodies(scenario: u32, n: u32) -> Vec<String> {
    (0..n)
        .map(|i| {
            let id = task_id(scenario, i);
            failed_task(&id).sqs_body(&format!("event-{id}"))
        })
        .collect()
}

/// Asserts `copies` are exactly `sent`, each once, with its attribute unchanged.
#[track_caller]
fn assert_same_messages(copies: &[(String, Option<String>)], sent: &[String]) {
    let by_body: BTreeMap<&str, Option<&str>> = copies
        .iter()
        .map(|(b, o)| (b.as_str(), o.as_deref()))
        .collect();
    assert_eq!(copies.len(), sent.len(), "message count");
    assert_eq!(by_body.len(), sent.len(), "a message arrived twice");
    for (i, body) in sent.iter().enumerate() {
        let expected = i.to_string();
        assert_eq!(
            by_body.get(body.as_str()),
            Some(&Some(expected.as_str())),
            "message {i} missing or its attribute changed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_and_peek_show_the_dlq_and_leave_it_intact() {
    let emulator = Emulator::start().await;
    let pipeline = emulator.pipeline("ops-peek", 3, 5).await;
    let sqs = emulator.sqs();
    let mut bodies = task_bodies(50, 3);
    bodies.push(failed_execution("nightly-50").sqs_body("event-sfn-50"));
    bodies.push(malformed_bodies()[1].clone());
    send_with_attributes(&sqs, &pipeline.dlq_url, &bodies).await;
    emulator
        .send_bodies(&pipeline.queue_url, &bodies[..2])
        .await;
    let ops = Ops::new(emulator.endpoint(), &pipeline.queue_url, &[]);

    let stats = ops.run(&["dlq", "stats"]).await;
    stats.assert_code(0);
    assert!(stats.stdout.contains(&pipeline.dlq_url), "{}", stats.stdout);
    assert!(stats.stdout.contains("RedrivePolicy, maxReceiveCount 3"));
    let lines: Vec<&str> = stats.stdout.lines().collect();
    let queue_line = lines
        .iter()
        .position(|l| l.contains(&pipeline.queue_url))
        .unwrap();
    assert!(
        lines[queue_line + 1].contains("visible 2, in flight 0"),
        "{}",
        stats.stdout
    );
    let dlq_line = lines
        .iter()
        .position(|l| l.contains(&pipeline.dlq_url))
        .unwrap();
    assert!(
        lines[dlq_line + 1].contains("visible 5, in flight 0"),
        "{}",
        stats.stdout
    );
    assert!(
        lines[dlq_line + 2].trim_start().starts_with("oldest: "),
        "{}",
        stats.stdout
    );

    let peek = ops.run(&["dlq", "peek", "--max", "10"]).await;
    peek.assert_code(0);
    let rows: Vec<&str> = peek
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("MESSAGE ID"))
        .skip(1)
        .take_while(|l| !l.starts_with("peeked"))
        .collect();
    assert_eq!(rows.len(), 5, "{}", peek.stdout);
    let titled = |needle: &str| rows.iter().filter(|r| r.contains(needle)).count();
    assert_eq!(titled("ECS task failed"), 3, "{}", peek.stdout);
    assert_eq!(titled("Step Functions"), 1, "{}", peek.stdout);
    assert_eq!(titled("(malformed: body is not JSON"), 1, "{}", peek.stdout);
    for row in &rows {
        let columns: Vec<&str> = row.split_whitespace().collect();
        // id, receive count (stats sampled once, peek received once), age.
        assert_eq!(columns[0].len(), 36, "message id in {row}");
        assert!(columns[1].parse::<u32>().unwrap() >= 1, "{row}");
        assert!(columns[2].ends_with('s'), "age in {row}");
    }
    assert!(
        peek.stdout
            .contains("peeked 5 message(s); 5 made visible again")
    );

    // Intact: every message visible again at once, bodies and attributes unchanged.
    assert_eq!(counts(&sqs, &pipeline.dlq_url).await, (5, 0));
    let copies = drain(&sqs, &pipeline.dlq_url).await;
    assert_same_messages(&copies, &bodies);

    // A configured dlq_url wins over the RedrivePolicy.
    let other = sqs
        .create_queue()
        .queue_name("ops-peek-other")
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue URL");
    send_with_attributes(&sqs, &other, &bodies[..1]).await;
    let ops = ops.with_env("FAILWATCH_DLQ_URL", &other);
    let peek = ops.run(&["dlq", "peek"]).await;
    peek.assert_code(0);
    assert!(
        peek.stdout.contains(&format!("{other} (from dlq_url)")),
        "{}",
        peek.stdout
    );
    assert!(
        peek.stdout.contains("peeked 1 message(s)"),
        "{}",
        peek.stdout
    );
    assert_eq!(counts(&sqs, &other).await, (1, 0));

    // The queue commands work without the chat secrets; send-test still needs them.
    let ops = ops.with_unset_destination();
    let stats = ops.run(&["dlq", "stats"]).await;
    stats.assert_code(0);
    assert!(stats.stdout.contains(&other), "{}", stats.stdout);
    let send = ops.run(&["send-test"]).await;
    send.assert_code(64);
    assert!(
        send.stderr.contains("destinations[0].url_env"),
        "{}",
        send.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_on_moto_falls_back_to_send_then_delete_and_moves_everything() {
    let emulator = Emulator::start().await;
    let pipeline = emulator.pipeline("ops-redrive", 3, 5).await;
    let sqs = emulator.sqs();
    let mut bodies = task_bodies(51, 22);
    bodies.extend(malformed_bodies());
    send_with_attributes(&sqs, &pipeline.dlq_url, &bodies).await;
    let ops = Ops::new(emulator.endpoint(), &pipeline.queue_url, &[]);

    // No terminal to ask and no --yes: refuse, touch nothing.
    let refused = ops.run(&["dlq", "redrive"]).await;
    refused.assert_code(64);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(counts(&sqs, &pipeline.dlq_url).await, (25, 0));

    // A dry run says what would happen and moves nothing.
    let dry = ops.run(&["dlq", "redrive", "--dry-run"]).await;
    dry.assert_code(0);
    assert!(dry.stdout.contains("would move about 25"), "{}", dry.stdout);
    assert_eq!(counts(&sqs, &pipeline.queue_url).await, (0, 0));

    let started = Instant::now();
    let moved = ops
        .run(&["dlq", "redrive", "--yes", "--max-per-second", "20"])
        .await;
    moved.assert_code(0);
    assert!(
        moved
            .stderr
            .contains("StartMessageMoveTask is not available here"),
        "{}",
        moved.stderr
    );
    assert!(
        moved.stdout.contains("moved 25 message(s)"),
        "{}",
        moved.stdout
    );
    assert!(
        moved
            .stdout
            .contains("send failed 0, sent but not deleted 0")
    );
    // 25 messages at 20 per second cannot take less than (25 - 10) / 20 s after the first batch.
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "--max-per-second was not honoured: {:?}",
        started.elapsed()
    );
    assert_eq!(counts(&sqs, &pipeline.dlq_url).await, (0, 0));
    let copies = drain(&sqs, &pipeline.queue_url).await;
    assert_same_messages(&copies, &bodies);

    // An empty DLQ is nothing to do, not an error.
    let again = ops.run(&["dlq", "redrive", "--yes"]).await;
    again.assert_code(0);
    assert!(again.stdout.contains("nothing to move"), "{}", again.stdout);
}

/// Ten failed-task bodies of about 200 KB each: one SendMessageBatch of all ten (2 MB) is more than
/// SQS (and moto) accept in one call.
fn large_task_bodies(scenario: u32) -> Vec<String> {
    task_bodies(scenario, 10)
        .into_iter()
        .map(|body| {
            let mut value: serde_json::Value = serde_json::from_str(&body).unwrap();
            value["detail"]["stoppedReason"] = json!("x".repeat(200 * 1024));
            value.to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_side_redrive_of_large_messages_splits_its_sends_by_size() {
    let emulator = Emulator::start().await;
    let pipeline = emulator.pipeline("ops-redrive-large", 3, 5).await;
    let sqs = emulator.sqs();
    let bodies = large_task_bodies(58);
    send_with_attributes(&sqs, &pipeline.dlq_url, &bodies).await;
    let ops = Ops::new(emulator.endpoint(), &pipeline.queue_url, &[]);

    let moved = ops.run(&["dlq", "redrive", "--yes", "--client-side"]).await;
    moved.assert_code(0);
    assert!(
        moved.stdout.contains("moved 10 message(s)"),
        "{}",
        moved.stdout
    );
    assert!(
        moved
            .stdout
            .contains("send failed 0, sent but not deleted 0"),
        "{}",
        moved.stdout
    );
    assert_eq!(counts(&sqs, &pipeline.dlq_url).await, (0, 0));
    let copies = drain(&sqs, &pipeline.queue_url).await;
    assert_same_messages(&copies, &bodies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_with_a_filter_moves_only_what_it_selects() {
    let emulator = Emulator::start().await;
    let pipeline = emulator.pipeline("ops-filter", 3, 5).await;
    let sqs = emulator.sqs();
    let mut bodies = task_bodies(52, 4);
    let executions: Vec<String> = (0..3)
        .map(|i| {
            failed_execution(&format!("nightly-52-{i}")).sqs_body(&format!("event-sfn-52-{i}"))
        })
        .collect();
    bodies.extend(executions.iter().cloned());
    bodies.push(malformed_bodies()[0].clone());
    send_with_attributes(&sqs, &pipeline.dlq_url, &bodies).await;
    let ops = Ops::new(emulator.endpoint(), &pipeline.queue_url, &[]);

    let dry = ops
        .run(&["dlq", "redrive", "--dry-run", "--kind", "sfn_execution"])
        .await;
    dry.assert_code(0);
    assert_eq!(
        dry.stdout
            .lines()
            .filter(|l| l.starts_with("would move "))
            .count(),
        3,
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("would move 3, not selected 5"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        counts(&sqs, &pipeline.dlq_url).await,
        (8, 0),
        "dry run released all"
    );

    let moved = ops
        .run(&["dlq", "redrive", "--yes", "--kind", "sfn_*"])
        .await;
    moved.assert_code(0);
    assert!(
        moved.stdout.contains("moved 3 message(s)"),
        "{}",
        moved.stdout
    );
    assert!(moved.stdout.contains("not selected 5"), "{}", moved.stdout);
    // What was not selected is visible in the DLQ again at once, not hidden for the visibility timeout.
    assert_eq!(counts(&sqs, &pipeline.dlq_url).await, (5, 0));
    let moved_bodies: BTreeSet<String> = drain(&sqs, &pipeline.queue_url)
        .await
        .into_iter()
        .map(|(b, _)| b)
        .collect();
    assert_eq!(moved_bodies, executions.iter().cloned().collect());

    // A cluster filter: the ECS tasks are all in prod-payments.
    let none = ops
        .run(&["dlq", "redrive", "--yes", "--cluster", "staging-*"])
        .await;
    none.assert_code(0);
    assert!(
        none.stdout.contains("moved 0 message(s)"),
        "{}",
        none.stdout
    );
    // --to another queue: the ECS tasks, all in prod-payments, go there and nowhere else.
    let elsewhere = sqs
        .create_queue()
        .queue_name("ops-filter-elsewhere")
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue URL");
    let tasks = ops
        .run(&[
            "dlq",
            "redrive",
            "--yes",
            "--cluster",
            "prod-*",
            "--to",
            &elsewhere,
        ])
        .await;
    tasks.assert_code(0);
    assert!(
        tasks.stdout.contains("moved 4 message(s)"),
        "{}",
        tasks.stdout
    );
    assert_eq!(counts(&sqs, &elsewhere).await, (4, 0));
    assert_eq!(counts(&sqs, &pipeline.queue_url).await, (0, 0));
    assert_eq!(
        counts(&sqs, &pipeline.dlq_url).await,
        (1, 0),
        "the malformed body stays"
    );

    let bad = ops
        .run(&["dlq", "redrive", "--yes", "--kind", "ecs-task"])
        .await;
    bad.assert_code(64);
    assert!(bad.stderr.contains("--kind"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_send_and_delete_loses_nothing_and_duplicates_at_most_one_batch() {
    let emulator = Emulator::start().await;
    let pipeline = emulator.pipeline("ops-crash", 3, 5).await;
    let sqs = emulator.sqs();
    let bodies = task_bodies(53, 25);
    send_with_attributes(&sqs, &pipeline.dlq_url, &bodies).await;
    let ops = Ops::new(emulator.endpoint(), &pipeline.queue_url, &[]);

    // The worst moment: the second batch is in the queue and still in the DLQ.
    let crashed = ops
        .run(&[
            "dlq",
            "redrive",
            "--yes",
            "--client-side",
            "--visibility-timeout-secs",
            "2",
            "--crash-after-send",
            "2",
        ])
        .await;
    assert!(crashed.aborted, "the run should have aborted: {crashed:?}");
    assert_eq!(counts(&sqs, &pipeline.queue_url).await, (20, 0));
    let (visible, hidden) = counts(&sqs, &pipeline.dlq_url).await;
    assert_eq!(visible + hidden, 15, "only the first batch left the DLQ");

    // The crashed run's messages reappear after their 2 s visibility timeout; a second run finishes.
    wait_counts(
        &sqs,
        &pipeline.dlq_url,
        Duration::from_secs(20),
        "all 15 visible again",
        |(visible, hidden)| visible == 15 && hidden == 0,
    )
    .await;
    let finished = ops.run(&["dlq", "redrive", "--yes"]).await;
    finished.assert_code(0);
    assert!(
        finished.stdout.contains("moved 15 message(s)"),
        "{}",
        finished.stdout
    );
    assert_eq!(counts(&sqs, &pipeline.dlq_url).await, (0, 0));

    let copies = drain(&sqs, &pipeline.queue_url).await;
    let mut per_body: BTreeMap<&str, usize> = BTreeMap::new();
    for (body, _) in &copies {
        *per_body.entry(body.as_str()).or_default() += 1;
    }
    for body in &bodies {
        assert!(per_body.contains_key(body.as_str()), "a message was lost");
    }
    assert_eq!(per_body.len(), bodies.len());
    let duplicates = copies.len() - bodies.len();
    assert!(
        duplicates <= 10,
        "{duplicates} duplicates: more than one batch"
    );
    assert_eq!(duplicates, 10, "exactly the batch sent before the crash");
    assert!(per_body.values().all(|&n| n <= 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupting_a_redrive_stops_between_batches_and_hands_everything_back() {
    let emulator = Emulator::start().await;
    let pipeline = emulator.pipeline("ops-interrupt", 3, 5).await;
    let sqs = emulator.sqs();
    let bodies = task_bodies(56, 40);
    send_with_attributes(&sqs, &pipeline.dlq_url, &bodies).await;
    let ops = Ops::new(emulator.endpoint(), &pipeline.queue_url, &[]);

    // Five per second: the whole move takes about 8 s. Interrupt as soon as the first batch has arrived
    // (the run is then inside its move loop, Ctrl-C handler installed) while the rest wait their turn.
    let child = ops.spawn(&[
        "dlq",
        "redrive",
        "--yes",
        "--client-side",
        "--max-per-second",
        "5",
    ]);
    wait_counts(
        &sqs,
        &pipeline.queue_url,
        Duration::from_secs(20),
        "the first batch moved",
        |(visible, _)| visible >= 5,
    )
    .await;
    signal(child.id().expect("running"), "INT");
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("failwatch stops soon after Ctrl-C")
        .expect("wait for failwatch");
    let run = Run::from(output);
    run.assert_code(1);
    assert!(run.stderr.contains("interrupted"), "{}", run.stderr);

    // Nothing is left hidden for the 300 s visibility timeout, nothing is lost or duplicated.
    let (dlq_visible, dlq_hidden) = counts(&sqs, &pipeline.dlq_url).await;
    assert_eq!(dlq_hidden, 0, "messages the run held were not handed back");
    let (queue_visible, _) = counts(&sqs, &pipeline.queue_url).await;
    assert!(
        queue_visible >= 5 && dlq_visible >= 5,
        "moved {queue_visible}, left {dlq_visible}"
    );
    assert_eq!(queue_visible + dlq_visible, 40);
    assert!(
        run.stdout
            .contains(&format!("moved {queue_visible} message(s)")),
        "{}",
        run.stdout
    );
    let mut copies = drain(&sqs, &pipeline.queue_url).await;
    copies.extend(drain(&sqs, &pipeline.dlq_url).await);
    assert_same_messages(&copies, &bodies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_on_local_aws_sqs_uses_start_message_move_task() {
    let emulator = NodeSqs::start(NodeSqsKind::LocalAwsSqs);
    let sqs = sqs_at(emulator.endpoint());
    let dlq_url = sqs
        .create_queue()
        .queue_name("ops-native-dlq")
        .send()
        .await
        .expect("create DLQ")
        .queue_url
        .expect("DLQ URL");
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("DLQ ARN")
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .expect("DLQ ARN");
    let queue_url = sqs
        .create_queue()
        .queue_name("ops-native")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}).to_string(),
        )
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue URL");
    let bodies = task_bodies(54, 30);
    send_with_attributes(&sqs, &dlq_url, &bodies).await;
    let ops = Ops::new(emulator.endpoint(), &queue_url, &[]);

    let stats = ops.run(&["dlq", "stats"]).await;
    stats.assert_code(0);
    assert!(stats.stdout.contains("visible 30"), "{}", stats.stdout);

    let moved = ops
        .run(&["dlq", "redrive", "--yes", "--max-per-second", "100"])
        .await;
    moved.assert_code(0);
    assert!(
        moved.stdout.contains("started StartMessageMoveTask"),
        "{}",
        moved.stdout
    );
    assert!(
        moved.stdout.contains(
            "StartMessageMoveTask completed: moved 30 message(s); left in the dead-letter queue: 0"
        ),
        "{}",
        moved.stdout
    );
    assert!(!moved.stderr.contains("not available"), "{}", moved.stderr);
    assert_eq!(counts(&sqs, &dlq_url).await, (0, 0));
    let copies = drain(&sqs, &queue_url).await;
    assert_same_messages(&copies, &bodies);
}

/// A webhook that fails with the service's own error text, like Slack and Google Chat do.
async fn failing_webhook() -> (String, tokio::task::JoinHandle<()>) {
    let app = Router::new()
        .route(
            "/forbidden/{*secret}",
            post(|| async {
                (
                    StatusCode::FORBIDDEN,
                    "invalid_token: this webhook was revoked",
                )
            }),
        )
        .route(
            "/broken/{*secret}",
            post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "upstream exploded") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_shows_status_and_error_text_and_never_the_url() {
    let receiver = Receiver::start().await;
    let (failing, server) = failing_webhook().await;
    let secrets = ["SeCrEtOpsOk", "SeCrEtOpsForbidden", "SeCrEtOpsBroken"];
    let destinations = [
        (
            "chat",
            "google-chat",
            receiver.url("google-chat", secrets[0]),
        ),
        (
            "revoked",
            "slack",
            format!(
                "{failing}/forbidden/{}/hook?token={}",
                secrets[1], secrets[1]
            ),
        ),
        (
            "down",
            "webhook",
            format!("{failing}/broken/{}/hook?token={}", secrets[2], secrets[2]),
        ),
    ];
    let ops = Ops::new(
        "http://127.0.0.1:9",
        "https://sqs.us-east-1.amazonaws.com/123456789012/unused",
        &destinations,
    );

    let all = ops.run(&["send-test"]).await;
    all.assert_code(1);
    let line = |name: &str| {
        all.stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name}:\n{}", all.stdout))
            .to_owned()
    };
    line("chat (google-chat): OK, HTTP 2xx");
    assert_eq!(
        line("revoked (slack)"),
        "revoked (slack): FAILED: HTTP 403 rejected: invalid_token: this webhook was revoked"
    );
    assert!(
        line("down (webhook)").contains("HTTP 500"),
        "{}",
        all.stdout
    );
    assert!(
        all.stderr.contains("2 of 3 destination(s)"),
        "{}",
        all.stderr
    );
    for secret in secrets {
        assert!(!all.stdout.contains(secret), "URL leaked:\n{}", all.stdout);
        assert!(!all.stderr.contains(secret), "URL leaked:\n{}", all.stderr);
    }
    assert!(!all.stdout.contains("127.0.0.1"), "{}", all.stdout);

    // The accepted payload is a valid Google Chat message, marked as a test.
    receiver.assert_payloads_valid();
    let accepted = receiver.accepted("google-chat");
    assert_eq!(accepted.len(), 1);
    assert!(
        accepted[0]
            .body
            .to_string()
            .contains("[failwatch test] ECS task failed"),
        "{}",
        accepted[0].body
    );

    let one = ops.run(&["send-test", "--destination", "chat"]).await;
    one.assert_code(0);
    assert_eq!(one.stdout.lines().count(), 1, "{}", one.stdout);
    assert_eq!(receiver.accepted("google-chat").len(), 2);

    let unknown = ops.run(&["send-test", "--destination", "nope"]).await;
    unknown.assert_code(64);
    assert!(
        unknown.stderr.contains("chat, revoked, down"),
        "{}",
        unknown.stderr
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_sends_files_and_json_lines_unchanged_and_refuses_bad_input() {
    let emulator = Emulator::start().await;
    let pipeline = emulator.pipeline("ops-replay", 3, 5).await;
    let sqs = emulator.sqs();
    let ops = Ops::new(emulator.endpoint(), &pipeline.queue_url, &[]);
    let dir = tempfile::tempdir().expect("temp dir");

    let fixture = repo_root().join("tests/fixtures/events/ecs_task-oom.json");
    let lines = task_bodies(55, 12);
    let jsonl = dir.path().join("events.jsonl");
    std::fs::write(&jsonl, format!("{}\n\n", lines.join("\n"))).expect("write jsonl");
    let path = |p: &Path| p.display().to_string();

    let sent = ops.run(&["replay", &path(&fixture), &path(&jsonl)]).await;
    sent.assert_code(0);
    assert!(
        sent.stdout.contains("sent 13 of 13 message(s)") && sent.stdout.contains("13 alert(s)"),
        "{}",
        sent.stdout
    );
    let mut expected: BTreeSet<String> = lines.iter().cloned().collect();
    expected.insert(
        std::fs::read_to_string(&fixture)
            .expect("fixture")
            .trim()
            .to_owned(),
    );
    let got: BTreeSet<String> = drain(&sqs, &pipeline.queue_url)
        .await
        .into_iter()
        .map(|(b, _)| b)
        .collect();
    assert_eq!(got, expected);

    // One bad line: exit 65, its line named, nothing sent.
    let broken = dir.path().join("broken.jsonl");
    std::fs::write(&broken, format!("{}\n{{oops\n", lines[0])).expect("write");
    let refused = ops.run(&["replay", &path(&jsonl), &path(&broken)]).await;
    refused.assert_code(65);
    assert!(
        refused.stderr.contains("broken.jsonl:2: not JSON"),
        "{}",
        refused.stderr
    );
    assert_eq!(counts(&sqs, &pipeline.queue_url).await, (0, 0));

    // JSON lines on stdin.
    let piped = ops
        .run_with_stdin(&["replay", "-"], &format!("{}\n{}\n", lines[0], lines[1]))
        .await;
    piped.assert_code(0);
    assert!(piped.stdout.contains("sent 2 of 2"), "{}", piped.stdout);
    assert_eq!(counts(&sqs, &pipeline.queue_url).await.0, 2);
}
