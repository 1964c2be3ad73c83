//! Everything the system tests share: the emulators (moto, and local-aws-sqs where moto falls short),
//! the scriptable chat receiver, the worker process, the events they publish, and checks on metrics and
//! logs.

pub(crate) mod emulator;
pub(crate) mod events;
pub(crate) mod node_sqs;
pub(crate) mod receiver;
pub(crate) mod worker;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use emulator::{Emulator, Pipeline};
use receiver::Receiver;
use worker::{Destination, FAILWATCH, Worker, WorkerConfig};

/// The repository root (the system tests live in `<root>/tests/system`).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/failwatch-worker has a grandparent")
        .to_path_buf()
}

/// The sample SQS bodies, one per file.
pub(crate) fn fixtures_dir() -> PathBuf {
    repo_root().join("tests/fixtures/events")
}

/// A loopback port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Runs `failwatch` with `args`, feeding `stdin`, with an empty environment (plus `env`).
pub(crate) fn failwatch(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(FAILWATCH)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn failwatch");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait for failwatch")
}

/// The sum of every series of metric `name` whose labels include all of `labels` (0 when absent).
pub(crate) fn metric(exposition: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if series_name != name {
                return None;
            }
            let all_match = labels.iter().all(|(key, value)| {
                series_labels
                    .split(',')
                    .any(|pair| pair == format!("{key}=\"{value}\""))
            });
            all_match.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// Panics unless `promtool check metrics` accepts the exposition. promtool is a test dependency that
/// scripts/bootstrap.sh installs.
pub(crate) fn assert_promtool_ok(exposition: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is not installed: run scripts/bootstrap.sh");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(exposition.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("wait for promtool");
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\n--- exposition ---\n{exposition}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Panics if any secret appears in any log line (or any other text given).
pub(crate) fn assert_no_secrets(logs: &[String], secrets: &[String]) {
    for line in logs {
        for secret in secrets {
            assert!(
                !line.contains(secret.as_str()),
                "a destination secret ({secret}) leaked into the logs:\n{line}"
            );
        }
    }
}

/// One end-to-end scenario: its own emulator, queue + DLQ + rule, receiver and (once started) worker.
#[derive(Debug)]
pub(crate) struct Scenario {
    pub(crate) emulator: Emulator,
    pub(crate) pipeline: Pipeline,
    pub(crate) receiver: Receiver,
    pub(crate) worker: Option<Worker>,
    /// Every secret URL part handed to the worker; none may ever be logged.
    pub(crate) secrets: Vec<String>,
    name: String,
}

/// What a scenario left behind once its worker stopped.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) metrics: String,
    pub(crate) logs: Vec<String>,
}

impl Scenario {
    /// Emulator, pipeline (DLQ after `max_receive_count` receives) and receiver for scenario `name`.
    pub(crate) async fn new(name: &str, max_receive_count: u32) -> Scenario {
        Scenario::new_with_env(name, max_receive_count, &[]).await
    }

    /// [`Scenario::new`] with moto settings in the emulator's environment.
    pub(crate) async fn new_with_env(
        name: &str,
        max_receive_count: u32,
        emulator_env: &[(&str, &str)],
    ) -> Scenario {
        let emulator = Emulator::start_with_env(emulator_env).await;
        let pipeline = emulator.pipeline(name, max_receive_count, 5).await;
        let receiver = Receiver::start().await;
        Scenario {
            emulator,
            pipeline,
            receiver,
            worker: None,
            secrets: Vec::new(),
            name: name.to_owned(),
        }
    }

    /// A destination of `service` type on the receiver, with a recognisable secret in its URL.
    pub(crate) fn destination(&mut self, service: &str) -> Destination {
        let secret = format!(
            "SeCrEt{}{}",
            self.name.replace('-', ""),
            service.replace('-', "")
        );
        self.secrets.push(secret.clone());
        Destination {
            name: service.to_owned(),
            service: service.to_owned(),
            url: self.receiver.url(service, &secret),
            timeout_secs: 5,
        }
    }

    /// A worker config for this scenario's queue and the given destinations.
    pub(crate) fn config(&mut self, services: &[&str]) -> WorkerConfig {
        let destinations = services
            .iter()
            .map(|service| self.destination(service))
            .collect();
        WorkerConfig::new(&self.pipeline.queue_url, destinations)
    }

    /// Starts the worker and waits until it is ready.
    pub(crate) async fn start(&mut self, config: &WorkerConfig) {
        assert!(self.worker.is_none(), "one worker at a time");
        let worker = Worker::start(&self.emulator, config).await;
        assert_eq!(worker.admin_get("/healthz").await.0, 200);
        self.worker = Some(worker);
    }

    /// Scrapes `/metrics` (checked by promtool), stops the worker with SIGTERM, and checks it exited 0
    /// without ever logging a secret.
    pub(crate) async fn stop_worker(&mut self) -> Finished {
        let worker = self.worker.take().expect("worker started");
        let metrics = worker.metrics().await;
        assert_promtool_ok(&metrics);
        assert_no_secrets(std::slice::from_ref(&metrics), &self.secrets);
        let (status, logs) = worker.terminate(Duration::from_secs(30)).await;
        assert!(
            status.success(),
            "failwatch exited with {status} after SIGTERM"
        );
        assert_no_secrets(&logs, &self.secrets);
        Finished { metrics, logs }
    }
}
