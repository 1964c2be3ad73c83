//! The real `failwatch` binary under test: a generated configuration file, an environment holding only
//! what the worker needs (emulator endpoint, dummy credentials, destination URLs), every log line
//! captured, readiness awaited on `/readyz`, metrics scraped from `/metrics`, and SIGTERM for shutdown.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::emulator::{Emulator, REGION};
use super::free_port;

/// The worker's own debug logs on top of the default levels, so the secret-leak check sees every line
/// the worker could write.
const LOG_FILTER: &str = "info,failwatch_worker=debug,failwatch=debug";

/// The binary Cargo built for this test run.
pub(crate) const FAILWATCH: &str = env!("CARGO_BIN_EXE_failwatch");

/// One `[[destinations]]` entry; its URL is passed through an environment variable, as in production.
#[derive(Debug, Clone)]
pub(crate) struct Destination {
    pub(crate) name: String,
    /// The `type` key: google-chat, slack, teams, discord or webhook.
    pub(crate) service: String,
    pub(crate) url: String,
    pub(crate) timeout_secs: u64,
}

impl Destination {
    fn url_env(&self) -> String {
        format!("FW_TEST_{}_URL", self.name.to_uppercase().replace('-', "_"))
    }
}

/// The worker configuration of one scenario, with values small enough to keep the suite fast.
#[derive(Debug, Clone)]
pub(crate) struct WorkerConfig {
    pub(crate) queue_url: String,
    pub(crate) destinations: Vec<Destination>,
    pub(crate) pollers: u32,
    pub(crate) wait_time_secs: u32,
    pub(crate) visibility_timeout_secs: u32,
    pub(crate) retry_budget_secs: u32,
    pub(crate) shutdown_grace_secs: u32,
    /// Every destination's `rate_per_second`, with a burst of one when below 1000 (the default, which
    /// makes pacing invisible).
    pub(crate) rate_per_second: f64,
    /// Extra top-level keys, placed before the first table.
    pub(crate) top: String,
    /// Extra TOML tables appended verbatim (routes, a default route).
    pub(crate) extra: String,
    /// Whether the worker looks up log tails, failed states and tags (`[enrichment]`, on by default in
    /// the product). Off unless a test is about it: against the emulator each lookup is a round trip
    /// or a timeout of up to the 2 s budget per alert, which only slows the other tests and their
    /// timing assertions down.
    pub(crate) enrichment: bool,
    /// The `[grouping]` section's keys. By default grouping is off (`group_interval = "0s"`): most
    /// scenarios send several failures of one service and expect each posted; `tests/system/
    /// grouping.rs` turns it on.
    pub(crate) grouping: String,
}

impl WorkerConfig {
    /// Defaults for a scenario: short polls, a 2 s in-process retry budget, retries 0.1 s apart at first
    /// and SQS hand-backs of at most 2 s, malformed bodies visible again at once.
    pub(crate) fn new(queue_url: &str, destinations: Vec<Destination>) -> WorkerConfig {
        WorkerConfig {
            queue_url: queue_url.to_owned(),
            destinations,
            pollers: 2,
            wait_time_secs: 1,
            visibility_timeout_secs: 5,
            retry_budget_secs: 2,
            shutdown_grace_secs: 5,
            rate_per_second: 1000.0,
            top: String::new(),
            extra: String::new(),
            enrichment: false,
            grouping: "group_interval = \"0s\"\n".to_owned(),
        }
    }

    /// The TOML file, listening for admin requests on `admin`.
    pub(crate) fn toml(&self, admin: &str) -> String {
        let mut toml = format!(
            "queue_url = \"{}\"\nadmin_listen = \"{admin}\"\npollers = {}\nwait_time_secs = {}\n\
             visibility_timeout_secs = {}\nretry_budget_secs = {}\nshutdown_grace_secs = {}\n\
             log_format = \"json\"\nlog_filter = \"{LOG_FILTER}\"\n\
             retry_initial_delay_ms = 100\nretry_max_delay_secs = 2\nmalformed_visibility_secs = 0\n",
            self.queue_url,
            self.pollers,
            self.wait_time_secs,
            self.visibility_timeout_secs,
            self.retry_budget_secs,
            self.shutdown_grace_secs,
        );
        toml.push_str(&self.top);
        for destination in &self.destinations {
            // Pacing is tested by the worker's own unit tests; here it would only slow the suite down,
            // except where a test asks for a paced backlog.
            let burst = if self.rate_per_second < 1000.0 {
                1
            } else {
                1000
            };
            let _ = write!(
                toml,
                "\n[[destinations]]\nname = \"{}\"\ntype = \"{}\"\nurl_env = \"{}\"\n\
                 rate_per_second = {:?}\nburst = {burst}\ntimeout_secs = {}\n",
                destination.name,
                destination.service,
                destination.url_env(),
                self.rate_per_second,
                destination.timeout_secs,
            );
        }
        toml.push('\n');
        toml.push_str(&self.extra);
        if !self.enrichment {
            toml.push_str("\n[enrichment]\nlog_lines = 0\nfailed_state = false\ntags = false\n");
        }
        toml.push_str("\n[grouping]\n");
        toml.push_str(&self.grouping);
        toml
    }

    fn destination_env(&self) -> Vec<(String, String)> {
        self.destinations
            .iter()
            .map(|destination| (destination.url_env(), destination.url.clone()))
            .collect()
    }
}

/// What the worker needs to reach the emulator: endpoints (SQS, the enrichment lookups' and STS), dummy
/// credentials, region, and no IMDS probe.
fn aws_env(emulator: &Emulator) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL_SQS", emulator.endpoint()),
        ("AWS_ENDPOINT_URL_ECS", emulator.endpoint()),
        ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", emulator.endpoint()),
        ("AWS_ENDPOINT_URL_SFN", emulator.endpoint()),
        ("AWS_ENDPOINT_URL_STS", emulator.endpoint()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", REGION),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect()
}

/// A running `failwatch run`; killed if dropped without [`Worker::terminate`].
#[derive(Debug)]
pub(crate) struct Worker {
    child: Child,
    admin: String,
    logs: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Worker {
    /// Starts `failwatch run` with `config` against `emulator` and waits until `/readyz` answers 200.
    pub(crate) async fn start(emulator: &Emulator, config: &WorkerConfig) -> Worker {
        let mut worker = Worker::spawn(emulator, config);
        worker.wait_ready(Duration::from_secs(20)).await;
        worker
    }

    /// Starts `failwatch run` without waiting for readiness.
    pub(crate) fn spawn(emulator: &Emulator, config: &WorkerConfig) -> Worker {
        let admin = format!("127.0.0.1:{}", free_port());
        let dir = tempfile::tempdir().expect("temp dir for the worker config");
        let path: PathBuf = dir.path().join("failwatch.toml");
        std::fs::write(&path, config.toml(&admin)).expect("write the worker config");
        let mut env = aws_env(emulator);
        env.extend(config.destination_env());
        let args = vec![
            "run".to_owned(),
            "--config".to_owned(),
            path.to_str().expect("UTF-8 temp path").to_owned(),
        ];
        Worker::launch(&args, env, admin, dir)
    }

    /// Starts `failwatch run` without waiting for readiness, with `env` changed: each `(key, Some(value))`
    /// sets a variable, each `(key, None)` removes one.
    pub(crate) fn spawn_with_env(
        emulator: &Emulator,
        config: &WorkerConfig,
        changes: &[(&str, Option<&str>)],
    ) -> Worker {
        let admin = format!("127.0.0.1:{}", free_port());
        let dir = tempfile::tempdir().expect("temp dir for the worker config");
        let path: PathBuf = dir.path().join("failwatch.toml");
        std::fs::write(&path, config.toml(&admin)).expect("write the worker config");
        let mut env = aws_env(emulator);
        env.extend(config.destination_env());
        for (key, value) in changes {
            env.retain(|(k, _)| k != key);
            if let Some(value) = value {
                env.push(((*key).to_owned(), (*value).to_owned()));
            }
        }
        let args = vec![
            "run".to_owned(),
            "--config".to_owned(),
            path.to_str().expect("UTF-8 temp path").to_owned(),
        ];
        Worker::launch(&args, env, admin, dir)
    }

    /// Waits until a log line contains `text`, or panics with the logs after `limit`.
    pub(crate) async fn wait_log(&self, text: &str, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.logs().iter().any(|line| line.contains(text)) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no log line with {text:?} after {limit:?}; logs:\n{}",
                self.logs().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Starts `failwatch run` with no configuration file, the zero-file shortcut: the queue and one
    /// webhook URL from the environment, plus any other `FAILWATCH_*` overrides in `env`.
    pub(crate) async fn start_zero_file(
        emulator: &Emulator,
        queue_url: &str,
        webhook_url: &str,
        env: &[(&str, &str)],
    ) -> Worker {
        let admin = format!("127.0.0.1:{}", free_port());
        let mut all = aws_env(emulator);
        all.extend(
            [
                ("FAILWATCH_QUEUE_URL", queue_url),
                ("FAILWATCH_WEBHOOK_URL", webhook_url),
                ("FAILWATCH_ADMIN_LISTEN", admin.as_str()),
                ("FAILWATCH_LOG_FORMAT", "json"),
            ]
            .into_iter()
            .chain(env.iter().copied())
            .map(|(key, value)| (key.to_owned(), value.to_owned())),
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let mut worker = Worker::launch(&["run".to_owned()], all, admin, dir);
        worker.wait_ready(Duration::from_secs(20)).await;
        worker
    }

    fn launch(
        args: &[String],
        env: Vec<(String, String)>,
        admin: String,
        dir: tempfile::TempDir,
    ) -> Worker {
        let mut child = Command::new(FAILWATCH)
            .args(args)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn failwatch run");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            capture(child.stdout.take().expect("stdout"), logs.clone()),
            capture(child.stderr.take().expect("stderr"), logs.clone()),
        ];
        Worker {
            child,
            admin: format!("http://{admin}"),
            logs,
            readers,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("HTTP client"),
            _dir: dir,
        }
    }

    /// Waits until `/readyz` answers 200, or panics with the worker's logs.
    pub(crate) async fn wait_ready(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the readers collect the last lines (the reason it exited).
                for reader in self.readers.drain(..) {
                    let _ = reader.await;
                }
                panic!(
                    "failwatch exited with {status} before it was ready; its logs:\n{}",
                    self.logs().join("\n")
                );
            }
            if let Ok(response) = self.http.get(format!("{}/readyz", self.admin)).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "failwatch was not ready after {limit:?}; its logs:\n{}",
            self.logs().join("\n")
        );
    }

    /// GET on the admin server: status and body.
    pub(crate) async fn admin_get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.admin))
            .send()
            .await
            .unwrap_or_else(|err| panic!("GET {path}: {err}"));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// The Prometheus exposition from `/metrics`.
    pub(crate) async fn metrics(&self) -> String {
        let (status, body) = self.admin_get("/metrics").await;
        assert_eq!(status, 200, "/metrics answered {status}");
        body
    }

    /// Every stdout and stderr line so far.
    pub(crate) fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("logs lock").clone()
    }

    /// The process id, for signals.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id().expect("worker still running")
    }

    /// Sends SIGTERM and waits up to `limit` for the exit; returns the exit status and every log line.
    pub(crate) async fn terminate(self, limit: Duration) -> (ExitStatus, Vec<String>) {
        signal(self.pid(), "TERM");
        self.wait_exit(limit).await
    }

    /// Waits up to `limit` for the process to exit by itself (after a signal sent with [`signal`]);
    /// returns the exit status and every log line.
    pub(crate) async fn wait_exit(mut self, limit: Duration) -> (ExitStatus, Vec<String>) {
        let status = match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => status.expect("wait for failwatch"),
            Err(_) => {
                let _ = self.child.start_kill();
                panic!(
                    "failwatch did not exit within {limit:?}; its logs:\n{}",
                    self.logs().join("\n")
                );
            }
        };
        for reader in self.readers.drain(..) {
            let _ = reader.await;
        }
        (status, self.logs())
    }
}

/// Sends a signal with kill(1): the test crate has no signal library and needs none.
pub(crate) fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}

fn capture(
    stream: impl AsyncRead + Unpin + Send + 'static,
    logs: Arc<Mutex<Vec<String>>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            // Shown by the test harness when a test fails.
            eprintln!("[failwatch] {line}");
            logs.lock().expect("logs lock").push(line);
        }
    })
}
