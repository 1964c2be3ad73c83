//! Configuration: the TOML file, `FAILWATCH_*` overrides, the zero-file shortcut, and validation.
//!
//! [`load`] is the one entry point every command uses. It reads the file (from `--config` or
//! `FAILWATCH_CONFIG`), replaces top-level scalars with their `FAILWATCH_<KEY>` overrides, rejects unknown
//! keys, resolves every destination's URL (environment variable, mounted file or literal), checks every
//! range and reference, and returns a [`Config`] that the rest of the program can trust without
//! re-checking. Every problem names the key it is about (`destinations[1].url_env: ...`); all problems
//! are reported at once so one `check-config` run shows everything to fix.
//!
//! [`load_queue`] is the narrower entry point of the queue commands (`dlq ...`, `replay`): the same file
//! and overrides, but only `queue_url` and `dlq_url` are checked and no destination URL is resolved, so
//! those commands work without the chat secrets.
//!
//! The environment is read only through [`env::Env`], never directly.

pub mod env;

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use failwatch_core::Target;
use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::routing::{self, DefaultRoute, Match, Pattern, Route, Router};
use crate::secret::SecretUrl;
use crate::telemetry::{self, LogFormat};
use env::Env;

/// Defaults, in one place so the example configuration and the README can quote them.
pub mod defaults {
    pub const ADMIN_LISTEN: &str = "0.0.0.0:9090";
    pub const POLLERS: u32 = 2;
    pub const MAX_IN_FLIGHT: u32 = 64;
    pub const WAIT_TIME_SECS: u32 = 20;
    pub const VISIBILITY_TIMEOUT_SECS: u32 = 60;
    pub const MIN_VISIBILITY_TIMEOUT_SECS: u32 = 5;
    pub const RETRY_BUDGET_SECS: u32 = 30;
    pub const SHUTDOWN_GRACE_SECS: u32 = 20;
    pub const DEDUP_TTL_SECS: u64 = 3600;
    pub const DEDUP_CAPACITY: u64 = 100_000;
    pub const READINESS_MAX_POLL_AGE_SECS: u32 = 120;
    /// Malformed bodies are made visible again almost at once, so that SQS moves them to the DLQ after
    /// `maxReceiveCount` quickly; a second keeps a poison message from spinning a poller hot.
    pub const MALFORMED_VISIBILITY_SECS: u32 = 1;
    pub const RETRY_INITIAL_DELAY_MS: u64 = 500;
    pub const RETRY_MAX_DELAY_SECS: u32 = 60;
    pub const RETRY_AFTER_MAX_SECS: u32 = 300;
    pub const QUEUE_METRICS_INTERVAL_SECS: u32 = 30;
    pub const DESTINATION_TIMEOUT_SECS: u32 = 10;
    pub const DESTINATION_BURST: u32 = 5;
    /// Slack and Google Chat allow about one message per second per channel or space.
    pub const CHAT_RATE_PER_SECOND: f64 = 1.0;
    pub const OTHER_RATE_PER_SECOND: f64 = 5.0;
}

/// The name of the destination the zero-file shortcut creates.
pub const DEFAULT_DESTINATION: &str = "default";

/// A validated configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub queue_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dlq_url: Option<String>,
    pub admin_listen: SocketAddr,
    pub pollers: u32,
    pub max_in_flight: u32,
    pub wait_time_secs: u32,
    pub visibility_timeout_secs: u32,
    pub retry_budget_secs: u32,
    pub shutdown_grace_secs: u32,
    pub dedup_ttl_secs: u64,
    pub dedup_capacity: u64,
    pub readiness_max_poll_age_secs: u32,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub malformed_visibility_secs: u32,
    pub retry_initial_delay_ms: u64,
    pub retry_max_delay_secs: u32,
    pub retry_after_max_secs: u32,
    pub queue_metrics_interval_secs: u32,
    pub destinations: Vec<Destination>,
    #[serde(flatten)]
    pub router: Router,
    /// Things that work but should be changed, e.g. a literal webhook URL in the file.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl Config {
    pub fn visibility_timeout(&self) -> Duration {
        Duration::from_secs(self.visibility_timeout_secs.into())
    }
    pub fn retry_budget(&self) -> Duration {
        Duration::from_secs(self.retry_budget_secs.into())
    }
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs.into())
    }
    pub fn readiness_max_poll_age(&self) -> Duration {
        Duration::from_secs(self.readiness_max_poll_age_secs.into())
    }

    /// The effective configuration as TOML, every URL redacted: what `check-config` prints.
    ///
    /// Validated values always serialise; the error exists so that a future field TOML cannot hold makes
    /// `check-config` fail loudly instead of printing nothing and exiting 0.
    pub fn redacted_toml(&self) -> Result<String, RedactedTomlError> {
        to_toml(self)
    }
}

/// Writes `value` as a TOML document; [`Config::redacted_toml`]'s one step, separate so that its error
/// path can be tested.
fn to_toml<T: Serialize>(value: &T) -> Result<String, RedactedTomlError> {
    Ok(toml::to_string_pretty(value)?)
}

/// The effective configuration could not be written as TOML (a bug, not a configuration problem).
#[derive(Debug, thiserror::Error)]
#[error("cannot print the effective configuration: {0}")]
pub struct RedactedTomlError(#[from] toml::ser::Error);

/// The queue commands' configuration ([`load_queue`]): the queue and its dead-letter queue, nothing
/// secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    pub queue_url: String,
    pub dlq_url: Option<String>,
}

/// One chat service or webhook alerts are posted to.
#[derive(Debug, Clone, Serialize)]
pub struct Destination {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: DestinationKind,
    pub url: SecretUrl,
    /// Where the URL came from (`env:NAME`, `file:PATH` or `literal`), shown by `check-config`.
    pub url_source: String,
    pub rate_per_second: f64,
    pub burst: u32,
    pub timeout_secs: u32,
}

impl Destination {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.into())
    }
}

/// The chat service (or generic webhook) behind a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DestinationKind {
    GoogleChat,
    Slack,
    Teams,
    Discord,
    Webhook,
}

impl DestinationKind {
    pub const ALL: [DestinationKind; 5] = [
        DestinationKind::GoogleChat,
        DestinationKind::Slack,
        DestinationKind::Teams,
        DestinationKind::Discord,
        DestinationKind::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DestinationKind::GoogleChat => "google-chat",
            DestinationKind::Slack => "slack",
            DestinationKind::Teams => "teams",
            DestinationKind::Discord => "discord",
            DestinationKind::Webhook => "webhook",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The renderer for this destination; a generic webhook receives the alert document itself.
    pub fn target(self) -> Target {
        match self {
            DestinationKind::GoogleChat => Target::GoogleChat,
            DestinationKind::Slack => Target::Slack,
            DestinationKind::Teams => Target::Teams,
            DestinationKind::Discord => Target::Discord,
            DestinationKind::Webhook => Target::Json,
        }
    }

    /// Guesses the type from a webhook URL's host, for the zero-file shortcut.
    pub fn from_host(host: &str) -> Self {
        let host = host.to_ascii_lowercase();
        let is = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
        if host == "chat.googleapis.com" {
            DestinationKind::GoogleChat
        } else if host == "hooks.slack.com" {
            DestinationKind::Slack
        } else if is("discord.com") || is("discordapp.com") {
            DestinationKind::Discord
        } else if host.ends_with(".logic.azure.com") || host.ends_with(".powerplatform.com") {
            // Power Automate Workflows (`*.environment.api.powerplatform.com`) and the older Logic Apps
            // endpoints (`*.logic.azure.com`) are how Teams takes incoming webhooks now.
            DestinationKind::Teams
        } else {
            DestinationKind::Webhook
        }
    }

    fn default_rate(self) -> f64 {
        match self {
            DestinationKind::GoogleChat | DestinationKind::Slack => defaults::CHAT_RATE_PER_SECOND,
            _ => defaults::OTHER_RATE_PER_SECOND,
        }
    }
}

/// One thing wrong with the configuration, and the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// A key path such as `destinations[1].url_env`, or an environment variable's name.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Why a configuration could not be loaded. Every variant means exit code 64.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read the configuration file: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{}", display_problems(.0))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    /// The problems found, for callers that want to inspect them.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid(problems) => problems,
            _ => &[],
        }
    }
}

fn display_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------------
// The file as written. Options everywhere so that defaults live in `defaults` and validation can tell
// "absent" from "given".

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    queue_url: Option<String>,
    dlq_url: Option<String>,
    admin_listen: Option<String>,
    pollers: Option<u32>,
    max_in_flight: Option<u32>,
    wait_time_secs: Option<u32>,
    visibility_timeout_secs: Option<u32>,
    retry_budget_secs: Option<u32>,
    shutdown_grace_secs: Option<u32>,
    dedup_ttl_secs: Option<u64>,
    dedup_capacity: Option<u64>,
    readiness_max_poll_age_secs: Option<u32>,
    log_format: Option<String>,
    log_filter: Option<String>,
    malformed_visibility_secs: Option<u32>,
    retry_initial_delay_ms: Option<u64>,
    retry_max_delay_secs: Option<u32>,
    retry_after_max_secs: Option<u32>,
    queue_metrics_interval_secs: Option<u32>,
    #[serde(default)]
    destinations: Vec<RawDestination>,
    #[serde(default)]
    routes: Vec<RawRoute>,
    default_route: Option<RawDefaultRoute>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDestination {
    name: String,
    #[serde(rename = "type")]
    kind: DestinationKind,
    url_env: Option<String>,
    url_file: Option<PathBuf>,
    url: Option<String>,
    rate_per_second: Option<f64>,
    burst: Option<u32>,
    timeout_secs: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: Option<String>,
    destinations: Vec<String>,
    mention: Option<String>,
    #[serde(default, rename = "continue")]
    continue_: bool,
    #[serde(default, rename = "match")]
    matcher: RawMatch,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    cluster: Option<String>,
    service: Option<String>,
    kind: Option<String>,
    severity: Option<String>,
    account: Option<String>,
    region: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaultRoute {
    destinations: Vec<String>,
    mention: Option<String>,
}

// ---------------------------------------------------------------------------------------------------

/// Loads and validates the configuration for any command.
///
/// `path` is `--config`; without it `FAILWATCH_CONFIG` is used; without either, the configuration comes
/// from the environment alone (the zero-file shortcut).
pub fn load(path: Option<&Path>, env: &dyn Env) -> Result<Config, ConfigError> {
    let (raw, from_file) = read_raw(path, env, Scope::Worker)?;
    validate(raw, from_file, env)
}

/// Loads only what the queue commands (`dlq stats|peek|redrive`, `replay`) need: the queue and its
/// dead-letter queue.
///
/// The file is still parsed whole (unknown keys and wrong types are still errors), but destinations are
/// neither required nor resolved, so an on-call engineer without the chat secrets can use the worker's
/// own configuration file. Everything else is left to [`load`], which `run`, `check-config` and
/// `send-test` use.
pub fn load_queue(path: Option<&Path>, env: &dyn Env) -> Result<QueueConfig, ConfigError> {
    let (raw, from_file) = read_raw(path, env, Scope::Queue)?;
    let mut c = Checker {
        problems: Vec::new(),
    };
    let (queue_url, dlq_url) =
        validate_queues(&mut c, raw.queue_url, raw.dlq_url, from_file, Scope::Queue);
    if !c.problems.is_empty() {
        return Err(ConfigError::Invalid(c.problems));
    }
    Ok(QueueConfig { queue_url, dlq_url })
}

/// What a loading is for: the worker (and everything that posts alerts) needs every destination's URL,
/// the queue commands need none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Worker,
    Queue,
}

/// Reads the file (or none), applies the overrides and, for the worker, the zero-file shortcut.
/// Returns the raw configuration and whether it came from a file.
fn read_raw(
    path: Option<&Path>,
    env: &dyn Env,
    scope: Scope,
) -> Result<(RawConfig, bool), ConfigError> {
    let path = path.map(Path::to_path_buf).or_else(|| {
        env.get(env::CONFIG)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    });
    let mut table = match &path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            parse_toml(path, &text)?
        }
        None => toml::Table::new(),
    };
    let mut problems = Vec::new();
    apply_overrides(&mut table, env, &mut problems);
    if scope == Scope::Worker {
        add_shortcut_destination(&mut table, env, &mut problems);
    }
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    let raw: RawConfig =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|err| {
            let key = err.path().to_string();
            let key = if key == "." {
                "(top level)".to_owned()
            } else {
                key
            };
            let message = err.into_inner().to_string();
            // serde quotes the offending value ("unknown variant `...`"); a webhook URL pasted into
            // the wrong key must not be repeated.
            let message = if message.contains("://") {
                "invalid value (value not shown: it looks like a URL, which may be a secret)"
                    .to_owned()
            } else {
                message
            };
            ConfigError::Invalid(vec![Problem { key, message }])
        })?;
    Ok((raw, path.is_some()))
}

/// Parses TOML text. Public so that tests and operator commands can check a file's syntax alone.
///
/// The error keeps the parser's message and the position, never toml's own `Display`: that quotes the
/// offending source line, and an unclosed quote on a literal `url = "..."` line would print the webhook
/// URL.
pub fn parse_toml(path: &Path, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|err| {
        let message = err.message().trim_end();
        let message = match err.span() {
            Some(span) => {
                let (line, column) = line_and_column(text, span.start);
                format!("line {line}, column {column}: {message}")
            }
            None => message.to_owned(),
        };
        ConfigError::Syntax {
            path: path.to_path_buf(),
            message,
        }
    })
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn apply_overrides(table: &mut toml::Table, env: &dyn Env, problems: &mut Vec<Problem>) {
    if env.get(env::LOG_FILTER).is_none()
        && let Some(filter) = env.get(env::RUST_LOG).filter(|f| !f.trim().is_empty())
    {
        table.insert("log_filter".into(), toml::Value::String(filter));
    }
    for &(key, var, kind) in env::OVERRIDES {
        let Some(text) = env.get(var) else { continue };
        let value = match kind {
            env::Kind::Text => toml::Value::String(text),
            env::Kind::Integer => match text.trim().parse::<i64>() {
                Ok(n) => toml::Value::Integer(n),
                Err(_) => {
                    problems.push(Problem {
                        key: var.to_owned(),
                        message: format!("{key}: expected a whole number, got {text:?}"),
                    });
                    continue;
                }
            },
        };
        table.insert(key.to_owned(), value);
    }
}

/// With no destinations configured and `FAILWATCH_WEBHOOK_URL` set, makes the one destination named
/// `default`. Its type comes from `FAILWATCH_WEBHOOK_TYPE` or the URL's host.
fn add_shortcut_destination(table: &mut toml::Table, env: &dyn Env, problems: &mut Vec<Problem>) {
    let has_destinations = table
        .get("destinations")
        .and_then(toml::Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if has_destinations {
        return;
    }
    let Some(url) = env.get(env::WEBHOOK_URL) else {
        return;
    };
    let kind = match env.get(env::WEBHOOK_TYPE).filter(|t| !t.is_empty()) {
        Some(text) => match DestinationKind::parse(&text) {
            Some(kind) => kind,
            None => {
                problems.push(Problem {
                    key: env::WEBHOOK_TYPE.to_owned(),
                    message: format!("unknown destination type {text:?}: {}", kind_list()),
                });
                return;
            }
        },
        None => Url::parse(url.trim())
            .ok()
            .and_then(|u| u.host_str().map(DestinationKind::from_host))
            .unwrap_or(DestinationKind::Webhook),
    };
    let mut destination = toml::Table::new();
    destination.insert("name".into(), DEFAULT_DESTINATION.into());
    destination.insert("type".into(), kind.as_str().into());
    destination.insert("url_env".into(), env::WEBHOOK_URL.into());
    table.insert(
        "destinations".into(),
        toml::Value::Array(vec![toml::Value::Table(destination)]),
    );
}

fn kind_list() -> String {
    let names: Vec<&str> = DestinationKind::ALL.iter().map(|k| k.as_str()).collect();
    format!("expected one of {}", names.join(", "))
}

/// Collects problems while building the validated configuration.
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    fn range<T: PartialOrd + fmt::Display + Copy>(
        &mut self,
        key: &str,
        value: T,
        range: std::ops::RangeInclusive<T>,
    ) -> T {
        if !range.contains(&value) {
            self.problem(
                key,
                format!(
                    "{value} is out of range ({}..={})",
                    range.start(),
                    range.end()
                ),
            );
        }
        value
    }
}

fn validate(raw: RawConfig, from_file: bool, env: &dyn Env) -> Result<Config, ConfigError> {
    let mut c = Checker {
        problems: Vec::new(),
    };
    let mut warnings = Vec::new();

    let (queue_url, dlq_url) =
        validate_queues(&mut c, raw.queue_url, raw.dlq_url, from_file, Scope::Worker);
    let admin_text = raw
        .admin_listen
        .unwrap_or_else(|| defaults::ADMIN_LISTEN.to_owned());
    let admin_listen = admin_text.parse::<SocketAddr>().unwrap_or_else(|_| {
        c.problem(
            "admin_listen",
            format!("{admin_text:?} is not an IP address and port such as 0.0.0.0:9090"),
        );
        SocketAddr::from(([0, 0, 0, 0], 9090))
    });

    let pollers = c.range("pollers", raw.pollers.unwrap_or(defaults::POLLERS), 1..=32);
    let max_in_flight = c.range(
        "max_in_flight",
        raw.max_in_flight.unwrap_or(defaults::MAX_IN_FLIGHT),
        1..=10_000,
    );
    let wait_time_secs = c.range(
        "wait_time_secs",
        raw.wait_time_secs.unwrap_or(defaults::WAIT_TIME_SECS),
        0..=20,
    );
    // The heartbeat extends a message's visibility at most once a second and needs a few seconds of
    // margin for the SQS round trip, so below five seconds a message in flight could reappear.
    let visibility_timeout_secs = c.range(
        "visibility_timeout_secs",
        raw.visibility_timeout_secs
            .unwrap_or(defaults::VISIBILITY_TIMEOUT_SECS),
        defaults::MIN_VISIBILITY_TIMEOUT_SECS..=43_200,
    );
    let retry_budget_secs = c.range(
        "retry_budget_secs",
        raw.retry_budget_secs.unwrap_or(defaults::RETRY_BUDGET_SECS),
        0..=3_600,
    );
    if visibility_timeout_secs <= retry_budget_secs {
        c.problem(
            "visibility_timeout_secs",
            format!(
                "must be greater than retry_budget_secs ({retry_budget_secs}), or SQS would hand the \
                 message to another worker while this one is still retrying it"
            ),
        );
    }
    let shutdown_grace_secs = c.range(
        "shutdown_grace_secs",
        raw.shutdown_grace_secs
            .unwrap_or(defaults::SHUTDOWN_GRACE_SECS),
        0..=3_600,
    );
    let dedup_ttl_secs = c.range(
        "dedup_ttl_secs",
        raw.dedup_ttl_secs.unwrap_or(defaults::DEDUP_TTL_SECS),
        1..=7 * 24 * 3600,
    );
    let dedup_capacity = c.range(
        "dedup_capacity",
        raw.dedup_capacity.unwrap_or(defaults::DEDUP_CAPACITY),
        1..=10_000_000,
    );
    let readiness_max_poll_age_secs = c.range(
        "readiness_max_poll_age_secs",
        raw.readiness_max_poll_age_secs
            .unwrap_or(defaults::READINESS_MAX_POLL_AGE_SECS),
        1..=86_400,
    );
    if readiness_max_poll_age_secs <= wait_time_secs {
        c.problem(
            "readiness_max_poll_age_secs",
            format!(
                "must be greater than wait_time_secs ({wait_time_secs}): an empty long poll takes \
                 that long and must not make the worker unready"
            ),
        );
    }
    let log_format = match raw.log_format.as_deref() {
        None => LogFormat::detect(),
        Some("json") => LogFormat::Json,
        Some("text") => LogFormat::Text,
        Some(other) => {
            c.problem(
                "log_format",
                format!("unknown log format {other:?}: expected \"json\" or \"text\""),
            );
            LogFormat::Json
        }
    };
    let log_filter = raw
        .log_filter
        .unwrap_or_else(|| telemetry::DEFAULT_FILTER.to_owned());
    if let Err(err) = telemetry::filter(&log_filter) {
        c.problem(
            "log_filter",
            format!("{}", err)
                .trim_start_matches("log_filter: ")
                .to_owned(),
        );
    }
    let malformed_visibility_secs = c.range(
        "malformed_visibility_secs",
        raw.malformed_visibility_secs
            .unwrap_or(defaults::MALFORMED_VISIBILITY_SECS),
        0..=43_200,
    );
    let retry_initial_delay_ms = c.range(
        "retry_initial_delay_ms",
        raw.retry_initial_delay_ms
            .unwrap_or(defaults::RETRY_INITIAL_DELAY_MS),
        1..=60_000,
    );
    let retry_max_delay_secs = c.range(
        "retry_max_delay_secs",
        raw.retry_max_delay_secs
            .unwrap_or(defaults::RETRY_MAX_DELAY_SECS),
        1..=43_200,
    );
    let retry_after_max_secs = c.range(
        "retry_after_max_secs",
        raw.retry_after_max_secs
            .unwrap_or(defaults::RETRY_AFTER_MAX_SECS),
        1..=43_200,
    );
    let queue_metrics_interval_secs = c.range(
        "queue_metrics_interval_secs",
        raw.queue_metrics_interval_secs
            .unwrap_or(defaults::QUEUE_METRICS_INTERVAL_SECS),
        0..=3_600,
    );

    // Routes are checked against every declared name, not only the destinations that resolved: a
    // destination whose URL failed already has its problem, and a second "unknown destination" would
    // point the reader at the wrong line. Both lists agree whenever a `Config` is returned.
    let declared: Vec<String> = raw.destinations.iter().map(|d| d.name.clone()).collect();
    let destinations = validate_destinations(&mut c, &mut warnings, raw.destinations, env);
    let router = validate_routes(&mut c, raw.routes, raw.default_route, &declared);

    if !c.problems.is_empty() {
        return Err(ConfigError::Invalid(c.problems));
    }
    Ok(Config {
        queue_url,
        dlq_url,
        admin_listen,
        pollers,
        max_in_flight,
        wait_time_secs,
        visibility_timeout_secs,
        retry_budget_secs,
        shutdown_grace_secs,
        dedup_ttl_secs,
        dedup_capacity,
        readiness_max_poll_age_secs,
        log_format,
        log_filter,
        malformed_visibility_secs,
        retry_initial_delay_ms,
        retry_max_delay_secs,
        retry_after_max_secs,
        queue_metrics_interval_secs,
        destinations,
        router,
        warnings,
    })
}

/// `queue_url` (required) and `dlq_url` (optional), shared by [`load`] and [`load_queue`].
fn validate_queues(
    c: &mut Checker,
    queue_url: Option<String>,
    dlq_url: Option<String>,
    from_file: bool,
    scope: Scope,
) -> (String, Option<String>) {
    let queue_url = match queue_url {
        Some(url) if !url.trim().is_empty() => {
            check_queue_url(c, "queue_url", &url);
            url
        }
        Some(_) => {
            c.problem("queue_url", "must not be empty");
            String::new()
        }
        None => {
            let how = match (from_file, scope) {
                (true, _) => "required: set it in the configuration file or FAILWATCH_QUEUE_URL",
                (false, Scope::Worker) => {
                    "required: no configuration file was given (--config or FAILWATCH_CONFIG), so \
                     set FAILWATCH_QUEUE_URL and FAILWATCH_WEBHOOK_URL"
                }
                (false, Scope::Queue) => {
                    "required: no configuration file was given (--config or FAILWATCH_CONFIG), so \
                     set FAILWATCH_QUEUE_URL"
                }
            };
            c.problem("queue_url", how);
            String::new()
        }
    };
    let dlq_url = dlq_url.filter(|u| !u.trim().is_empty());
    if let Some(url) = &dlq_url {
        check_queue_url(c, "dlq_url", url);
    }
    (queue_url, dlq_url)
}

fn check_queue_url(c: &mut Checker, key: &str, url: &str) {
    match Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => {}
        _ => c.problem(
            key,
            format!("{url:?} is not a queue URL such as https://sqs.eu-west-1.amazonaws.com/123456789012/failwatch"),
        ),
    }
}

fn validate_destinations(
    c: &mut Checker,
    warnings: &mut Vec<String>,
    raw: Vec<RawDestination>,
    env: &dyn Env,
) -> Vec<Destination> {
    if raw.is_empty() {
        c.problem(
            "destinations",
            "at least one destination is required ([[destinations]] in the file, or \
             FAILWATCH_WEBHOOK_URL)",
        );
    }
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, d) in raw.into_iter().enumerate() {
        let at = |field: &str| format!("destinations[{i}].{field}");
        if d.name.is_empty()
            || d.name.len() > 64
            || !d
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            let shown = if looks_like_url(&d.name) {
                "(value not shown)".to_owned()
            } else {
                format!("{:?}", d.name)
            };
            c.problem(
                at("name"),
                format!(
                    "{shown} must be 1 to 64 characters of a-z, 0-9, '_' and '-' (it is a metric label)"
                ),
            );
        } else if !names.insert(d.name.clone()) {
            c.problem(
                at("name"),
                format!("{:?} is used by two destinations", d.name),
            );
        }
        let sources = [d.url_env.is_some(), d.url_file.is_some(), d.url.is_some()];
        let url_key;
        let resolved: Option<(String, String)> = if sources.iter().filter(|s| **s).count() != 1 {
            c.problem(
                format!("destinations[{i}]"),
                "exactly one of url_env, url_file and url is required",
            );
            None
        } else if let Some(var) = &d.url_env
            && !is_variable_name(var)
        {
            // Most often the webhook URL itself, written where its variable's name belongs: naming the
            // key is enough, repeating the value would print the secret.
            c.problem(
                at("url_env"),
                "must name an environment variable (value not shown)",
            );
            None
        } else if let Some(var) = &d.url_env {
            url_key = at("url_env");
            match env.get(var) {
                None => {
                    c.problem(&url_key, format!("environment variable {var} is not set"));
                    None
                }
                Some(v) if v.trim().is_empty() => {
                    c.problem(&url_key, format!("environment variable {var} is empty"));
                    None
                }
                Some(v) => Some((v.trim().to_owned(), format!("env:{var}"))),
            }
        } else if let Some(path) = &d.url_file
            && looks_like_url(&path.to_string_lossy())
        {
            c.problem(
                at("url_file"),
                "must be the path of a file holding the URL, not the URL (value not shown)",
            );
            None
        } else if let Some(path) = &d.url_file {
            url_key = at("url_file");
            match std::fs::read_to_string(path) {
                // Only the error's kind: an `io::Error` never carries the file's bytes today, but this
                // message must not depend on that.
                Err(err) => {
                    c.problem(
                        &url_key,
                        format!("cannot read {}: {}", path.display(), io_reason(&err)),
                    );
                    None
                }
                Ok(v) if v.trim().is_empty() => {
                    c.problem(&url_key, format!("{} is empty", path.display()));
                    None
                }
                Ok(v) => Some((v.trim().to_owned(), format!("file:{}", path.display()))),
            }
        } else {
            url_key = at("url");
            warnings.push(format!(
                "{url_key}: a literal webhook URL in the configuration file is discouraged: it is a \
                 secret; use url_env or url_file"
            ));
            d.url
                .clone()
                .map(|u| (u.trim().to_owned(), "literal".to_owned()))
        };
        let url = resolved.and_then(|(text, source)| {
            let key = match source.split(':').next() {
                Some("env") => at("url_env"),
                Some("file") => at("url_file"),
                _ => at("url"),
            };
            check_destination_url(c, &key, &text).map(|u| (SecretUrl::new(u), source))
        });
        let rate_per_second = d.rate_per_second.unwrap_or(d.kind.default_rate());
        if !(rate_per_second > 0.0 && rate_per_second <= 1000.0) {
            c.problem(
                at("rate_per_second"),
                format!("{rate_per_second} is out of range (greater than 0, at most 1000)"),
            );
        }
        let burst = c.range(
            &at("burst"),
            d.burst.unwrap_or(defaults::DESTINATION_BURST),
            1..=1000,
        );
        let timeout_secs = c.range(
            &at("timeout_secs"),
            d.timeout_secs.unwrap_or(defaults::DESTINATION_TIMEOUT_SECS),
            1..=300,
        );
        if let Some((url, url_source)) = url {
            out.push(Destination {
                name: d.name,
                kind: d.kind,
                url,
                url_source,
                rate_per_second,
                burst,
                timeout_secs,
            });
        }
    }
    out
}

/// Whether `text` can be an environment variable's name (the POSIX portable set).
fn is_variable_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether a `url_file` value is really a URL (`https://...`, also `https:host/...`, any case).
fn looks_like_url(text: &str) -> bool {
    text.contains("://")
        || Url::parse(text.trim()).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// Why a file could not be read, without the OS's text where it could carry more than the reason.
fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::InvalidData => "not valid UTF-8 text".to_owned(),
        _ => err.to_string(),
    }
}

/// Checks a webhook URL without ever putting it into a message: only its scheme and host, which are not
/// secret, may appear.
fn check_destination_url(c: &mut Checker, key: &str, text: &str) -> Option<Url> {
    let Ok(url) = Url::parse(text) else {
        c.problem(key, "not a valid URL (value not shown: it is a secret)");
        return None;
    };
    let Some(host) = url.host_str() else {
        c.problem(key, "the URL has no host");
        return None;
    };
    match url.scheme() {
        "https" => Some(url),
        "http" if is_loopback(host) => Some(url),
        "http" => {
            c.problem(
                key,
                format!(
                    "http://{host}/... is not allowed: use https://, plain http:// is only accepted \
                     for loopback addresses"
                ),
            );
            None
        }
        other => {
            c.problem(key, format!("unsupported scheme {other:?}: use https://"));
            None
        }
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn validate_routes(
    c: &mut Checker,
    raw: Vec<RawRoute>,
    raw_default: Option<RawDefaultRoute>,
    destinations: &[String],
) -> Router {
    let resolve = |c: &mut Checker, key: String, names: &[String]| -> Vec<usize> {
        if names.is_empty() {
            c.problem(&key, "must name at least one destination");
        }
        let mut out = Vec::new();
        for name in names {
            match destinations.iter().position(|d| d == name) {
                Some(i) => out.push(i),
                None => {
                    c.problem(
                        &key,
                        format!(
                            "unknown destination {name:?} (configured: {})",
                            destinations.join(", ")
                        ),
                    );
                }
            }
        }
        out
    };
    let mut routes = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let indices = resolve(c, format!("routes[{i}].destinations"), &r.destinations);
        let pattern = |c: &mut Checker, field: &str, text: Option<String>| {
            text.and_then(|t| match Pattern::new(&t) {
                Ok(p) => Some(p),
                Err(message) => {
                    c.problem(format!("routes[{i}].match.{field}"), message);
                    None
                }
            })
        };
        let matcher = Match {
            cluster: pattern(c, "cluster", r.matcher.cluster),
            service: pattern(c, "service", r.matcher.service),
            kind: pattern(c, "kind", r.matcher.kind),
            severity: pattern(c, "severity", r.matcher.severity),
            account: pattern(c, "account", r.matcher.account),
            region: pattern(c, "region", r.matcher.region),
        };
        if let Some(p) = &matcher.kind
            && let Err(message) =
                routing::check_matches_some(p, routing::KINDS.iter().map(|k| k.as_str()))
        {
            c.problem(format!("routes[{i}].match.kind"), message);
        }
        if let Some(p) = &matcher.severity
            && let Err(message) =
                routing::check_matches_some(p, routing::SEVERITIES.iter().map(|s| s.as_str()))
        {
            c.problem(format!("routes[{i}].match.severity"), message);
        }
        routes.push(Route {
            name: r.name.unwrap_or_else(|| format!("routes[{i}]")),
            destinations: r.destinations,
            destination_indices: indices,
            mention: r.mention.filter(|m| !m.is_empty()),
            continue_: r.continue_,
            matcher,
        });
    }
    let default_route = raw_default.map(|d| DefaultRoute {
        destination_indices: resolve(c, "default_route.destinations".into(), &d.destinations),
        destinations: d.destinations,
        mention: d.mention.filter(|m| !m.is_empty()),
    });
    Router {
        routes,
        default_route,
        destination_count: destinations.len(),
    }
}

#[cfg(test)]
mod tests;
