//! The configuration file's sections: `[sqs]`, `[retry]`, `[dedup]`, `[state]`, `[grouping]`,
//! `[admin]`, `[logging]` and `[enrichment]`.
//!
//! Each section is one serde struct whose `///` docs are the reference for its keys, whose `Default`
//! holds the documented defaults, and whose `check` method validates its own ranges, naming the key.
//! Durations are `std::time::Duration`, written as humantime strings (`"20s"`, `"500ms"`, `"1h"`).
//! Overrides (`FAILWATCH_<SECTION>__<KEY>`) and `check-config`'s output are derived from these same
//! structs, so adding a key is one field, its default and its check. A later section (`[state]`,
//! `[grouping]`, `[enrichment]`) is a new struct here, one field of [`super::Config`] and one entry in
//! [`SECTIONS`].

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Checker;
use super::defaults;
use crate::telemetry::{self, LogFormat};

/// The names of every scalar section, in the order `check-config` prints them. Override variables are
/// accepted for these sections only.
pub(crate) const SECTIONS: [&str; 8] = [
    "sqs",
    "retry",
    "dedup",
    "state",
    "grouping",
    "admin",
    "logging",
    "enrichment",
];

/// `[sqs]`: the queue, how it is polled, and how messages in flight are kept invisible and handed back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct SqsConfig {
    /// The queue EventBridge delivers to; its region is taken from the URL. Required by `run` and the
    /// queue commands, not by `send-test`.
    pub(crate) queue_url: String,
    /// The dead-letter queue; by default found from the queue's `RedrivePolicy` (for the DLQ depth
    /// gauge and the `failwatch dlq` commands).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) dlq_url: Option<String>,
    /// Concurrent long-poll loops (1 to 32).
    pub(crate) pollers: u32,
    /// Messages worked on at once (1 to 10,000).
    pub(crate) max_in_flight: u32,
    /// `ReceiveMessage` `WaitTimeSeconds` (0s to 20s, whole seconds).
    #[serde(with = "humantime_serde")]
    pub(crate) wait_time: Duration,
    /// Requested on receive and renewed by a heartbeat while a message is worked on. At least 5s (the
    /// heartbeat renews at most once a second) and greater than `retry.budget`; whole seconds.
    #[serde(with = "humantime_serde")]
    pub(crate) visibility_timeout: Duration,
    /// Malformed bodies (and alerts a destination rejected for good) are made visible again after this
    /// long, so they reach the DLQ quickly without spinning a poller (0s to 12h, whole seconds).
    #[serde(with = "humantime_serde")]
    pub(crate) malformed_visibility: Duration,
    /// On SIGTERM/SIGINT: stop polling, let in-flight deliveries finish for this long (0s to 1h), then
    /// hand every unfinished message back with visibility 0 and exit 0.
    #[serde(with = "humantime_serde")]
    pub(crate) shutdown_grace: Duration,
    /// How often the queue and DLQ depth gauges are sampled with `GetQueueAttributes`; 0s turns that
    /// off (at most 1h).
    #[serde(with = "humantime_serde")]
    pub(crate) queue_metrics_interval: Duration,
}

impl Default for SqsConfig {
    fn default() -> Self {
        SqsConfig {
            queue_url: String::new(),
            dlq_url: None,
            pollers: defaults::POLLERS,
            max_in_flight: defaults::MAX_IN_FLIGHT,
            wait_time: defaults::WAIT_TIME,
            visibility_timeout: defaults::VISIBILITY_TIMEOUT,
            malformed_visibility: defaults::MALFORMED_VISIBILITY,
            shutdown_grace: defaults::SHUTDOWN_GRACE,
            queue_metrics_interval: defaults::QUEUE_METRICS_INTERVAL,
        }
    }
}

impl SqsConfig {
    /// Checks every range; the queue URLs are checked by [`super::load`], which knows whether the
    /// command needs them.
    pub(crate) fn check(&self, c: &mut Checker) {
        c.range("sqs.pollers", self.pollers, 1..=32);
        c.range("sqs.max_in_flight", self.max_in_flight, 1..=10_000);
        c.seconds("sqs.wait_time", self.wait_time, 0..=20);
        // The heartbeat extends a message's visibility at most once a second and needs a few seconds of
        // margin for the SQS round trip, so below five seconds a message in flight could reappear.
        c.seconds(
            "sqs.visibility_timeout",
            self.visibility_timeout,
            defaults::MIN_VISIBILITY_TIMEOUT_SECS..=43_200,
        );
        c.seconds(
            "sqs.malformed_visibility",
            self.malformed_visibility,
            0..=43_200,
        );
        c.duration(
            "sqs.shutdown_grace",
            self.shutdown_grace,
            Duration::ZERO,
            HOUR,
        );
        c.duration(
            "sqs.queue_metrics_interval",
            self.queue_metrics_interval,
            Duration::ZERO,
            HOUR,
        );
    }
}

const HOUR: Duration = Duration::from_secs(3_600);
const HALF_DAY: Duration = Duration::from_secs(43_200);

/// `[retry]`: how a failed delivery is retried in process before the message is handed back to SQS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct RetryConfig {
    /// How long one message may retry in process (transient failures: timeouts, connection errors,
    /// 5xx, 429, 408) before it is handed back to SQS with the next backoff as its visibility timeout.
    /// 0s means one attempt per receive; at most 1h.
    #[serde(with = "humantime_serde")]
    pub(crate) budget: Duration,
    /// The first backoff delay (1ms to 60s); delays double up to `max_delay`, with full jitter.
    #[serde(with = "humantime_serde")]
    pub(crate) initial_delay: Duration,
    /// The longest backoff delay (1s to 12h).
    #[serde(with = "humantime_serde")]
    pub(crate) max_delay: Duration,
    /// A `Retry-After` from the service is honoured, clamped to this (1s to 12h).
    #[serde(with = "humantime_serde")]
    pub(crate) retry_after_max: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            budget: defaults::RETRY_BUDGET,
            initial_delay: defaults::RETRY_INITIAL_DELAY,
            max_delay: defaults::RETRY_MAX_DELAY,
            retry_after_max: defaults::RETRY_AFTER_MAX,
        }
    }
}

impl RetryConfig {
    pub(crate) fn check(&self, c: &mut Checker) {
        c.duration("retry.budget", self.budget, Duration::ZERO, HOUR);
        c.duration(
            "retry.initial_delay",
            self.initial_delay,
            Duration::from_millis(1),
            Duration::from_secs(60),
        );
        c.duration(
            "retry.max_delay",
            self.max_delay,
            Duration::from_secs(1),
            HALF_DAY,
        );
        c.duration(
            "retry.retry_after_max",
            self.retry_after_max,
            Duration::from_secs(1),
            HALF_DAY,
        );
    }
}

/// `[dedup]`: one alert per failure. Alerts with the same dedup key within `ttl` are dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct DedupConfig {
    /// How long a dedup key is remembered (1s to 7 days).
    #[serde(with = "humantime_serde")]
    pub(crate) ttl: Duration,
    /// At most this many keys are remembered (1 to 10,000,000); the oldest are forgotten first.
    pub(crate) capacity: u64,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            ttl: defaults::DEDUP_TTL,
            capacity: defaults::DEDUP_CAPACITY,
        }
    }
}

impl DedupConfig {
    pub(crate) fn check(&self, c: &mut Checker) {
        c.duration(
            "dedup.ttl",
            self.ttl,
            Duration::from_secs(1),
            Duration::from_secs(7 * 24 * 3_600),
        );
        c.range("dedup.capacity", self.capacity, 1..=10_000_000);
    }
}

/// Where the worker keeps what it remembers about alerts (see `crate::state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StateBackend {
    /// In this process only: de-duplication and delivered-to records are lost on restart and not
    /// shared between replicas.
    #[default]
    Memory,
    /// A DynamoDB table shared by every replica.
    Dynamodb,
}

/// `[state]`: the state store behind de-duplication, alert claims and delivered-to records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct StateConfig {
    /// `"memory"` (one process; the default) or `"dynamodb"` (one table shared by every replica).
    pub(crate) backend: StateBackend,
    /// The DynamoDB table (partition key `pk`, a string; TTL on `expires_at`), created by the deploy
    /// artefacts, never by the worker. Required by the `dynamodb` backend. Its region is the default
    /// chain's (`AWS_REGION`); `AWS_ENDPOINT_URL_DYNAMODB` points the client at an emulator.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) table: String,
    /// How long a claim on an alert keeps other messages and replicas from delivering it (1s to 12h,
    /// less than `dedup.ttl`). A replica that dies mid-delivery blocks the alert this long. By default
    /// `retry.budget` plus the slowest destination's timeout: as long as one receive may work on it.
    #[serde(
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub(crate) lease: Option<Duration>,
    /// The longest one store call may take, SDK retries included, before the worker gives up on it and
    /// delivers anyway (100ms to 10s; less than half of `sqs.visibility_timeout`).
    #[serde(with = "humantime_serde")]
    pub(crate) call_timeout: Duration,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            backend: StateBackend::Memory,
            table: String::new(),
            lease: None,
            call_timeout: defaults::STATE_CALL_TIMEOUT,
        }
    }
}

impl StateConfig {
    pub(crate) fn check(&self, c: &mut Checker) {
        if self.backend == StateBackend::Dynamodb && self.table.trim().is_empty() {
            c.problem("state.table", "required when state.backend is \"dynamodb\"");
        }
        if let Some(lease) = self.lease {
            c.duration("state.lease", lease, Duration::from_secs(1), HALF_DAY);
        }
        c.duration(
            "state.call_timeout",
            self.call_timeout,
            Duration::from_millis(100),
            Duration::from_secs(10),
        );
    }
}

/// `[grouping]`: how a burst of alerts with one `group_key` becomes one first alert and digests, when
/// a crash loop is named, and whether recoveries are told (see `crate::grouping`). Every key but
/// `max_held` can be overridden per route in `[routes.grouping]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct GroupingConfig {
    /// Alerts of a group that follow its first alert within this are folded into one digest posted
    /// when the interval ends; a group quiet for this long closes. 0s turns grouping off (every alert
    /// is posted); otherwise 1s to 1h.
    #[serde(with = "humantime_serde")]
    pub(crate) group_interval: Duration,
    /// A group that reaches this many failures within `crash_loop_window` is crash-looping: its next
    /// message says so and is critical. 0 turns crash-loop notices off; otherwise 2 to 10,000.
    pub(crate) crash_loop_threshold: u32,
    /// The window `crash_loop_threshold` counts failures in (1s to 1 day).
    #[serde(with = "humantime_serde")]
    pub(crate) crash_loop_window: Duration,
    /// Whether a group that alerted gets a recovery notice (and closes) when its service reaches a
    /// steady state, completes a deployment, or its state machine's execution succeeds.
    pub(crate) recovery_notices: bool,
    /// With the `memory` state backend, a folded message stays in flight until the digest carrying it
    /// was delivered; at most this many are held at once (10 to 100,000, below SQS's 120,000 in-flight
    /// messages per queue). When few are left, pending digests are posted early.
    pub(crate) max_held: u32,
}

impl Default for GroupingConfig {
    fn default() -> Self {
        GroupingConfig {
            group_interval: defaults::GROUP_INTERVAL,
            crash_loop_threshold: defaults::CRASH_LOOP_THRESHOLD,
            crash_loop_window: defaults::CRASH_LOOP_WINDOW,
            recovery_notices: true,
            max_held: defaults::MAX_HELD,
        }
    }
}

impl GroupingConfig {
    pub(crate) fn check(&self, c: &mut Checker) {
        check_group_interval(c, "grouping.group_interval", self.group_interval);
        check_crash_loop_threshold(
            c,
            "grouping.crash_loop_threshold",
            self.crash_loop_threshold,
        );
        check_crash_loop_window(c, "grouping.crash_loop_window", self.crash_loop_window);
        c.range("grouping.max_held", self.max_held, 10..=100_000);
    }

    /// This section with a route's `[routes.grouping]` keys over it.
    pub(crate) fn with(&self, route: &GroupingOverride) -> GroupingConfig {
        GroupingConfig {
            group_interval: route.group_interval.unwrap_or(self.group_interval),
            crash_loop_threshold: route
                .crash_loop_threshold
                .unwrap_or(self.crash_loop_threshold),
            crash_loop_window: route.crash_loop_window.unwrap_or(self.crash_loop_window),
            recovery_notices: route.recovery_notices.unwrap_or(self.recovery_notices),
            max_held: self.max_held,
        }
    }

    /// Whether alerts are grouped at all (`group_interval` is not 0s).
    pub(crate) fn enabled(&self) -> bool {
        !self.group_interval.is_zero()
    }
}

/// A route's `[routes.grouping]` table: any of `[grouping]`'s keys but `max_held`, each overriding the
/// section's value for the destinations this route chooses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GroupingOverride {
    /// See [`GroupingConfig::group_interval`].
    #[serde(
        with = "humantime_serde",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) group_interval: Option<Duration>,
    /// See [`GroupingConfig::crash_loop_threshold`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) crash_loop_threshold: Option<u32>,
    /// See [`GroupingConfig::crash_loop_window`].
    #[serde(
        with = "humantime_serde",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) crash_loop_window: Option<Duration>,
    /// See [`GroupingConfig::recovery_notices`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) recovery_notices: Option<bool>,
}

impl GroupingOverride {
    /// Checks the keys this route sets, naming them under `at` (`routes[2].grouping`).
    pub(crate) fn check(&self, c: &mut Checker, at: &str) {
        if let Some(interval) = self.group_interval {
            check_group_interval(c, &format!("{at}.group_interval"), interval);
        }
        if let Some(threshold) = self.crash_loop_threshold {
            check_crash_loop_threshold(c, &format!("{at}.crash_loop_threshold"), threshold);
        }
        if let Some(window) = self.crash_loop_window {
            check_crash_loop_window(c, &format!("{at}.crash_loop_window"), window);
        }
    }
}

/// The values `[grouping]`'s keys accept, in one place: the section's checks (and `[routes.grouping]`'s)
/// and `render`'s `--group-interval`, `--crash-loop-threshold` and `--crash-loop-window` all use them.
pub(crate) mod grouping_ranges {
    use std::ops::RangeInclusive;
    use std::time::Duration;

    /// `group_interval` when grouping is on (0s is off): with the `memory` backend a folded message
    /// stays in flight that long, and SQS keeps a message in flight for at most 12 h.
    pub(crate) const GROUP_INTERVAL: RangeInclusive<Duration> =
        Duration::from_secs(1)..=Duration::from_secs(3_600);
    /// `crash_loop_threshold` when crash-loop notices are on (0 is off; 1 would call every failure a
    /// crash loop).
    pub(crate) const CRASH_LOOP_THRESHOLD: RangeInclusive<u32> = 2..=10_000;
    /// `crash_loop_window`.
    pub(crate) const CRASH_LOOP_WINDOW: RangeInclusive<Duration> =
        Duration::from_secs(1)..=Duration::from_secs(86_400);
}

fn check_group_interval(c: &mut Checker, key: &str, interval: Duration) {
    let range = grouping_ranges::GROUP_INTERVAL;
    if !interval.is_zero() {
        c.duration(key, interval, *range.start(), *range.end());
    }
}

fn check_crash_loop_threshold(c: &mut Checker, key: &str, threshold: u32) {
    let range = grouping_ranges::CRASH_LOOP_THRESHOLD;
    if threshold == 1 {
        c.problem(
            key,
            format!(
                "1 would call every failure a crash loop: use 0 (off) or {} to {}",
                range.start(),
                range.end()
            ),
        );
    } else {
        c.range(key, threshold, 0..=*range.end());
    }
}

fn check_crash_loop_window(c: &mut Checker, key: &str, window: Duration) {
    let range = grouping_ranges::CRASH_LOOP_WINDOW;
    c.duration(key, window, *range.start(), *range.end());
}

/// `[admin]`: the `/metrics`, `/healthz` and `/readyz` server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct AdminConfig {
    /// The address and port the admin server listens on.
    pub(crate) listen: SocketAddr,
    /// `/readyz` fails when the last successful `ReceiveMessage` is older than this (1s to 1 day; must
    /// exceed `sqs.wait_time`).
    #[serde(with = "humantime_serde")]
    pub(crate) readiness_max_poll_age: Duration,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: defaults::ADMIN_LISTEN,
            readiness_max_poll_age: defaults::READINESS_MAX_POLL_AGE,
        }
    }
}

impl AdminConfig {
    pub(crate) fn check(&self, c: &mut Checker) {
        c.duration(
            "admin.readiness_max_poll_age",
            self.readiness_max_poll_age,
            Duration::from_secs(1),
            Duration::from_secs(86_400),
        );
    }
}

/// `[logging]`: log lines on stderr.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct LoggingConfig {
    /// `"json"` (one object per line) or `"text"`; by default json, or text when stderr is a terminal.
    pub(crate) format: LogFormat,
    /// A `tracing` filter; `RUST_LOG` is used when no override variable sets it. The HTTP client's own
    /// logs are always capped at info, because they could contain webhook URLs.
    pub(crate) filter: String,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            format: LogFormat::detect(),
            filter: telemetry::DEFAULT_FILTER.to_owned(),
        }
    }
}

impl LoggingConfig {
    pub(crate) fn check(&self, c: &mut Checker) {
        if let Err(err) = telemetry::filter(&self.filter) {
            let message = err.to_string();
            c.problem(
                "logging.filter",
                message.trim_start_matches("log_filter: ").to_owned(),
            );
        }
    }
}

/// `[enrichment]`: what the worker looks up about an alert's resources before it is routed and
/// rendered (log tails, the failed Step Functions state, tags), and how long it may take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct EnrichmentConfig {
    /// The last log lines read per failed container (`awslogs` only); 0 turns log tails off (at most
    /// `failwatch_core::MAX_LOG_LINES`).
    pub(crate) log_lines: u32,
    /// Whether the failed state of a Step Functions execution is read from its history.
    pub(crate) failed_state: bool,
    /// Whether the failed resource's tags are read (for the alert document and `tags.*` route matches).
    pub(crate) tags: bool,
    /// All lookups of one alert run concurrently within this; whatever is not back by then is left out
    /// and the alert goes on without it (100ms to 10s, and at most half of `sqs.visibility_timeout`).
    #[serde(with = "humantime_serde")]
    pub(crate) budget: Duration,
    /// `[[enrichment.accounts]]`: a role to assume for the lookups of alerts from another account.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) accounts: Vec<EnrichmentAccount>,
}

/// One `[[enrichment.accounts]]` entry: the lookups of this account's alerts use credentials from
/// `sts:AssumeRole` of `role_arn`, cached and refreshed by the SDK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnrichmentAccount {
    /// The 12-digit account id the alert names.
    pub(crate) account: String,
    /// The role to assume, `arn:<partition>:iam::<account>:role/<name>`.
    pub(crate) role_arn: String,
}

impl Default for EnrichmentConfig {
    fn default() -> Self {
        EnrichmentConfig {
            log_lines: defaults::ENRICHMENT_LOG_LINES,
            failed_state: true,
            tags: true,
            budget: defaults::ENRICHMENT_BUDGET,
            accounts: Vec::new(),
        }
    }
}

impl EnrichmentConfig {
    /// Whether any lookup is on.
    pub(crate) fn enabled(&self) -> bool {
        self.log_lines > 0 || self.failed_state || self.tags
    }

    pub(crate) fn check(&self, c: &mut Checker) {
        let max = u32::try_from(failwatch_core::MAX_LOG_LINES).unwrap_or(u32::MAX);
        c.range("enrichment.log_lines", self.log_lines, 0..=max);
        c.duration(
            "enrichment.budget",
            self.budget,
            Duration::from_millis(100),
            Duration::from_secs(10),
        );
        for (i, entry) in self.accounts.iter().enumerate() {
            if entry.account.len() != 12 || !entry.account.bytes().all(|b| b.is_ascii_digit()) {
                c.problem(
                    format!("enrichment.accounts[{i}].account"),
                    "must be a 12-digit AWS account id",
                );
            }
            let parts: Vec<&str> = entry.role_arn.splitn(6, ':').collect();
            let is_role = matches!(parts.as_slice(),
                ["arn", partition, "iam", "", account, resource]
                    if !partition.is_empty() && account.len() == 12 && resource.starts_with("role/"));
            if !is_role {
                c.problem(
                    format!("enrichment.accounts[{i}].role_arn"),
                    "must be an IAM role ARN, arn:aws:iam::<account>:role/<name>",
                );
            }
            if self.accounts[..i]
                .iter()
                .any(|a| a.account == entry.account)
            {
                c.problem(
                    format!("enrichment.accounts[{i}].account"),
                    format!("account {} is listed twice", entry.account),
                );
            }
        }
    }
}
