//! The environment seam: every variable failwatch reads is a constant here, and every read goes through
//! [`Env`], so tests pass a map instead of mutating the process environment (which is `unsafe` in Rust
//! 2024 and racy across test threads).

use std::collections::BTreeMap;

/// The configuration file's path, when `--config` is not given.
pub const CONFIG: &str = "FAILWATCH_CONFIG";
/// Zero-file shortcut: the one webhook URL, made into a destination named `default`.
pub const WEBHOOK_URL: &str = "FAILWATCH_WEBHOOK_URL";
/// Zero-file shortcut: the destination type when the URL's host does not tell it.
pub const WEBHOOK_TYPE: &str = "FAILWATCH_WEBHOOK_TYPE";

/// The conventional `tracing` filter variable; used for `log_filter` when `FAILWATCH_LOG_FILTER` is
/// not set.
pub const RUST_LOG: &str = "RUST_LOG";

pub const QUEUE_URL: &str = "FAILWATCH_QUEUE_URL";
pub const DLQ_URL: &str = "FAILWATCH_DLQ_URL";
pub const ADMIN_LISTEN: &str = "FAILWATCH_ADMIN_LISTEN";
pub const POLLERS: &str = "FAILWATCH_POLLERS";
pub const MAX_IN_FLIGHT: &str = "FAILWATCH_MAX_IN_FLIGHT";
pub const WAIT_TIME_SECS: &str = "FAILWATCH_WAIT_TIME_SECS";
pub const VISIBILITY_TIMEOUT_SECS: &str = "FAILWATCH_VISIBILITY_TIMEOUT_SECS";
pub const RETRY_BUDGET_SECS: &str = "FAILWATCH_RETRY_BUDGET_SECS";
pub const SHUTDOWN_GRACE_SECS: &str = "FAILWATCH_SHUTDOWN_GRACE_SECS";
pub const DEDUP_TTL_SECS: &str = "FAILWATCH_DEDUP_TTL_SECS";
pub const DEDUP_CAPACITY: &str = "FAILWATCH_DEDUP_CAPACITY";
pub const READINESS_MAX_POLL_AGE_SECS: &str = "FAILWATCH_READINESS_MAX_POLL_AGE_SECS";
pub const LOG_FORMAT: &str = "FAILWATCH_LOG_FORMAT";
pub const LOG_FILTER: &str = "FAILWATCH_LOG_FILTER";
pub const MALFORMED_VISIBILITY_SECS: &str = "FAILWATCH_MALFORMED_VISIBILITY_SECS";
pub const RETRY_INITIAL_DELAY_MS: &str = "FAILWATCH_RETRY_INITIAL_DELAY_MS";
pub const RETRY_MAX_DELAY_SECS: &str = "FAILWATCH_RETRY_MAX_DELAY_SECS";
pub const RETRY_AFTER_MAX_SECS: &str = "FAILWATCH_RETRY_AFTER_MAX_SECS";
pub const QUEUE_METRICS_INTERVAL_SECS: &str = "FAILWATCH_QUEUE_METRICS_INTERVAL_SECS";

/// How an override's text becomes a TOML value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Integer,
}

/// Every top-level scalar key with its override variable. The file's value is replaced by the
/// variable's when the variable is set (even to an empty string, which then fails validation loudly
/// instead of being ignored).
pub(crate) const OVERRIDES: &[(&str, &str, Kind)] = &[
    ("queue_url", QUEUE_URL, Kind::Text),
    ("dlq_url", DLQ_URL, Kind::Text),
    ("admin_listen", ADMIN_LISTEN, Kind::Text),
    ("pollers", POLLERS, Kind::Integer),
    ("max_in_flight", MAX_IN_FLIGHT, Kind::Integer),
    ("wait_time_secs", WAIT_TIME_SECS, Kind::Integer),
    (
        "visibility_timeout_secs",
        VISIBILITY_TIMEOUT_SECS,
        Kind::Integer,
    ),
    ("retry_budget_secs", RETRY_BUDGET_SECS, Kind::Integer),
    ("shutdown_grace_secs", SHUTDOWN_GRACE_SECS, Kind::Integer),
    ("dedup_ttl_secs", DEDUP_TTL_SECS, Kind::Integer),
    ("dedup_capacity", DEDUP_CAPACITY, Kind::Integer),
    (
        "readiness_max_poll_age_secs",
        READINESS_MAX_POLL_AGE_SECS,
        Kind::Integer,
    ),
    ("log_format", LOG_FORMAT, Kind::Text),
    ("log_filter", LOG_FILTER, Kind::Text),
    (
        "malformed_visibility_secs",
        MALFORMED_VISIBILITY_SECS,
        Kind::Integer,
    ),
    (
        "retry_initial_delay_ms",
        RETRY_INITIAL_DELAY_MS,
        Kind::Integer,
    ),
    ("retry_max_delay_secs", RETRY_MAX_DELAY_SECS, Kind::Integer),
    ("retry_after_max_secs", RETRY_AFTER_MAX_SECS, Kind::Integer),
    (
        "queue_metrics_interval_secs",
        QUEUE_METRICS_INTERVAL_SECS,
        Kind::Integer,
    ),
];

/// Read access to environment variables.
pub trait Env {
    /// The variable's value, or `None` when it is unset or not valid Unicode.
    fn get(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A fixed set of variables, for tests and for commands that build an environment on purpose.
impl Env for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}
