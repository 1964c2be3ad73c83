//! Configuration: the TOML file in typed sections, `FAILWATCH_*` overrides, the zero-file shortcut,
//! and validation.
//!
//! [`load`] is the one entry point of `run` and `check-config`; [`load_for`] lets a command say what it
//! needs ([`Needs`]), and [`load_queue`] is the queue commands' narrower form. Loading reads the file
//! (from `--config` or `FAILWATCH_CONFIG`) into a table ([`file`]), rewrites the deprecated flat keys and
//! variables into their sections with a warning ([`legacy`]), applies `FAILWATCH_<SECTION>__<KEY>`
//! overrides ([`overrides`]), deserialises every part on its own so that every unknown key and wrong
//! type is found, then checks ranges ([`sections`]), destination URLs ([`destinations`]) and routes
//! ([`routes`]). Every problem names its key (`destinations[1].url_env: ...`), never a URL's value, and
//! all problems are reported together so one `check-config` run shows everything to fix.
//!
//! The environment is read only through [`env::Env`], never directly.

pub(crate) mod env;

mod destinations;
mod file;
mod legacy;
mod overrides;
mod print;
mod routes;
mod sections;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::routing::Router;
pub(crate) use destinations::{Destination, UrlSource, type_name};
use env::Env;
pub(crate) use print::RedactedTomlError;
pub(crate) use sections::{
    AdminConfig, DedupConfig, EnrichmentAccount, EnrichmentConfig, GroupingConfig,
    GroupingOverride, LoggingConfig, RetryConfig, SqsConfig, StateBackend, StateConfig,
    grouping_ranges,
};

/// Defaults, in one place so the example configuration and the README can quote them. Each is the
/// default of the section key of the same name (`WAIT_TIME` is `sqs.wait_time`).
pub(crate) mod defaults {
    use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
    use std::time::Duration;

    /// `admin.listen`: every interface, so that a pod's probes and Prometheus can reach it.
    pub(crate) const ADMIN_LISTEN: SocketAddr =
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 9090));
    pub(crate) const POLLERS: u32 = 2;
    pub(crate) const MAX_IN_FLIGHT: u32 = 64;
    pub(crate) const WAIT_TIME: Duration = Duration::from_secs(20);
    pub(crate) const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(60);
    /// The shortest `sqs.visibility_timeout`, in seconds (see [`super::SqsConfig::visibility_timeout`]).
    pub(crate) const MIN_VISIBILITY_TIMEOUT_SECS: u64 = 5;
    pub(crate) const RETRY_BUDGET: Duration = Duration::from_secs(30);
    pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
    pub(crate) const DEDUP_TTL: Duration = Duration::from_secs(3600);
    pub(crate) const DEDUP_CAPACITY: u64 = 100_000;
    /// A shared store answers in milliseconds; two seconds is many slow answers, and well under the
    /// shortest visibility timeout.
    pub(crate) const STATE_CALL_TIMEOUT: Duration = Duration::from_secs(2);
    pub(crate) const READINESS_MAX_POLL_AGE: Duration = Duration::from_secs(120);
    /// Malformed bodies are made visible again almost at once, so that SQS moves them to the DLQ after
    /// `maxReceiveCount` quickly; a second keeps a poison message from spinning a poller hot.
    pub(crate) const MALFORMED_VISIBILITY: Duration = Duration::from_secs(1);
    pub(crate) const RETRY_INITIAL_DELAY: Duration = Duration::from_millis(500);
    pub(crate) const RETRY_MAX_DELAY: Duration = Duration::from_secs(60);
    pub(crate) const RETRY_AFTER_MAX: Duration = Duration::from_secs(300);
    pub(crate) const QUEUE_METRICS_INTERVAL: Duration = Duration::from_secs(30);
    pub(crate) const DESTINATION_TIMEOUT: Duration = Duration::from_secs(10);
    pub(crate) const DESTINATION_BURST: u32 = 5;
    /// Slack and Google Chat allow about one message per second per channel or space.
    pub(crate) const CHAT_RATE_PER_SECOND: f64 = 1.0;
    pub(crate) const OTHER_RATE_PER_SECOND: f64 = 5.0;
    pub(crate) const ENRICHMENT_LOG_LINES: u32 = 20;
    /// Long enough for three concurrent AWS calls in the alert's region, short enough that an
    /// unreachable API never delays an alert noticeably.
    pub(crate) const ENRICHMENT_BUDGET: Duration = Duration::from_secs(2);
    /// Alertmanager's default: long enough to fold a burst, short enough that the digest still matters.
    pub(crate) const GROUP_INTERVAL: Duration = Duration::from_secs(300);
    pub(crate) const CRASH_LOOP_THRESHOLD: u32 = 5;
    pub(crate) const CRASH_LOOP_WINDOW: Duration = Duration::from_secs(600);
    /// A few thousand held messages is many storms' worth, far below SQS's 120,000 in flight.
    pub(crate) const MAX_HELD: u32 = 5_000;
}

/// The name of the destination the zero-file shortcut creates.
pub(crate) const DEFAULT_DESTINATION: &str = "default";

/// A validated configuration, in the file's sections.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Config {
    /// `[sqs]`: the queue, polling, visibility and hand-back.
    pub(crate) sqs: SqsConfig,
    /// `[retry]`: in-process retries of a delivery.
    pub(crate) retry: RetryConfig,
    /// `[dedup]`: the de-duplication window.
    pub(crate) dedup: DedupConfig,
    /// `[state]`: the state store (memory or DynamoDB).
    pub(crate) state: StateConfig,
    /// `[grouping]`: digests, crash loops and recoveries.
    pub(crate) grouping: GroupingConfig,
    /// `[admin]`: the admin server and readiness.
    pub(crate) admin: AdminConfig,
    /// `[logging]`: log format and filter.
    pub(crate) logging: LoggingConfig,
    /// `[enrichment]`: log tails, failed states and tags looked up before routing.
    pub(crate) enrichment: EnrichmentConfig,
    /// `[[destinations]]`, URLs resolved, in file order (routes refer to them by index).
    pub(crate) destinations: Vec<Destination>,
    /// `[[routes]]` and `[default_route]`.
    #[serde(flatten)]
    pub(crate) router: Router,
    /// Things that work but should be changed (a literal webhook URL, a deprecated key), for the caller
    /// to log once its logging is set up.
    #[serde(skip)]
    pub(crate) warnings: Vec<String>,
}

impl Config {
    /// The effective configuration as TOML in the sectioned form, loadable back, every URL redacted:
    /// what `check-config` prints.
    ///
    /// Validated values always serialise; the error exists so that a future field TOML cannot hold makes
    /// `check-config` fail loudly instead of printing nothing and exiting 0.
    pub(crate) fn redacted_toml(&self) -> Result<String, RedactedTomlError> {
        print::redacted_toml(self)
    }
}

/// The queue commands' configuration ([`load_queue`]): the queue and its dead-letter queue, nothing
/// secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueueConfig {
    /// `sqs.queue_url`.
    pub(crate) queue_url: String,
    /// `sqs.dlq_url`, when configured.
    pub(crate) dlq_url: Option<String>,
}

/// What a command needs from the configuration beyond its shape: each requirement is checked only for
/// the commands that use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    /// `run` and `check-config`: the queue and at least one destination with a resolved URL.
    Worker,
    /// `send-test`: destinations only; it never touches the queue.
    Destinations,
    /// The queue commands: the queue only; destinations are neither required nor resolved.
    Queue,
}

impl Needs {
    fn queue(self) -> bool {
        matches!(self, Needs::Worker | Needs::Queue)
    }
    fn destinations(self) -> bool {
        matches!(self, Needs::Worker | Needs::Destinations)
    }
}

/// Said in place of a value a problem would quote, when the value looks like a URL: a webhook URL pasted
/// into the wrong key must not be repeated, since its path is its secret.
const URL_NOT_SHOWN: &str = "value not shown: it looks like a URL, which may be a secret";

/// A value the user wrote, quoted for a problem, or [`URL_NOT_SHOWN`] when it looks like a URL.
fn quoted(value: &str) -> String {
    if destinations::looks_like_url(value) {
        format!("({URL_NOT_SHOWN})")
    } else {
        format!("{value:?}")
    }
}

/// One thing wrong with the configuration, and the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// A key path such as `destinations[1].url_env`, or an environment variable's name.
    pub(crate) key: String,
    /// What is wrong, never quoting a URL.
    pub(crate) message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Why a configuration could not be loaded. Every variant means exit code 64.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("{path}: cannot read the configuration file: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    /// Every problem found, one per line.
    #[error("{}", display_problems(.0))]
    Invalid(Vec<Problem>),
}

fn display_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Loads and validates the configuration for `run` and `check-config` ([`Needs::Worker`]).
///
/// `path` is `--config`; without it `FAILWATCH_CONFIG` is used; without either, the configuration comes
/// from the environment alone (the zero-file shortcut).
pub(crate) fn load(path: Option<&Path>, env: &dyn Env) -> Result<Config, ConfigError> {
    load_for(path, env, Needs::Worker)
}

/// Loads and validates the configuration for a command that needs `needs`. With [`Needs::Queue`] no
/// destination is resolved and the result has none; [`load_queue`] is the convenient form.
pub(crate) fn load_for(
    path: Option<&Path>,
    env: &dyn Env,
    needs: Needs,
) -> Result<Config, ConfigError> {
    let mut c = Checker::default();
    let parts = file::read(path, env, needs, &mut c)?;
    let config = validate(parts, env, needs, &mut c);
    if c.problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Invalid(c.finish()))
    }
}

/// Loads only what the queue commands (`dlq stats|peek|redrive`, `replay`) need: the queue and its
/// dead-letter queue.
///
/// The file is still parsed whole (unknown keys and wrong types are still errors), but destinations are
/// neither required nor resolved, so an on-call engineer without the chat secrets can use the worker's
/// own configuration file.
pub(crate) fn load_queue(path: Option<&Path>, env: &dyn Env) -> Result<QueueConfig, ConfigError> {
    let config = load_for(path, env, Needs::Queue)?;
    Ok(QueueConfig {
        queue_url: config.sqs.queue_url,
        dlq_url: config.sqs.dlq_url,
    })
}

/// Checks what the parts of the file could not check alone (cross-section rules, queue URLs, URL
/// sources, route references) and assembles the [`Config`]. A part that failed to deserialise is
/// checked as its defaults, so that its problem does not hide the others; any problem means the
/// result is not used.
fn validate(parts: file::Parts, env: &dyn Env, needs: Needs, c: &mut Checker) -> Config {
    let file::Parts {
        sqs,
        retry,
        dedup,
        state,
        grouping,
        admin,
        logging,
        enrichment,
        destinations,
        routes,
        default_route,
        declared,
        from_file,
    } = parts;
    let (mut sqs, retry, dedup, state, admin, logging) = (
        sqs.unwrap_or_default(),
        retry.unwrap_or_default(),
        dedup.unwrap_or_default(),
        state.unwrap_or_default(),
        admin.unwrap_or_default(),
        logging.unwrap_or_default(),
    );
    let (enrichment, grouping) = (enrichment.unwrap_or_default(), grouping.unwrap_or_default());
    destinations::check_queues(c, &mut sqs, from_file, needs);
    let (mut resolved, mut router) = (Vec::new(), Router::default());
    // The queue commands check only what they use, so that the rest of a worker's file (and its
    // secrets) cannot stop an operator.
    if needs.destinations() {
        check_sections(c, &sqs, &retry, &dedup, &admin, &logging);
        check_state(c, &state, &sqs, &retry, &dedup);
        check_enrichment(c, &enrichment, &sqs);
        grouping.check(c);
        resolved = destinations::resolve(c, destinations, &declared, env);
        router = routes::build(c, routes, default_route, &declared);
    }
    Config {
        sqs,
        retry,
        dedup,
        state,
        grouping,
        admin,
        logging,
        enrichment,
        destinations: resolved,
        router,
        warnings: std::mem::take(&mut c.warnings),
    }
}

/// Each section's own checks, then the rules that relate two sections.
fn check_sections(
    c: &mut Checker,
    sqs: &SqsConfig,
    retry: &RetryConfig,
    dedup: &DedupConfig,
    admin: &AdminConfig,
    logging: &LoggingConfig,
) {
    use humantime_serde::re::humantime::format_duration;
    sqs.check(c);
    retry.check(c);
    dedup.check(c);
    admin.check(c);
    logging.check(c);
    if sqs.visibility_timeout <= retry.budget {
        c.problem(
            "sqs.visibility_timeout",
            format!(
                "must be greater than retry.budget ({}), or SQS would hand the message to another \
                 worker while this one is still retrying it",
                format_duration(retry.budget)
            ),
        );
    }
    if admin.readiness_max_poll_age <= sqs.wait_time {
        c.problem(
            "admin.readiness_max_poll_age",
            format!(
                "must be greater than sqs.wait_time ({}): an empty long poll takes that long and \
                 must not make the worker unready",
                format_duration(sqs.wait_time)
            ),
        );
    }
}

/// `[state]`'s own checks and its relations to the other sections: a claim must end before the dedup
/// record it guards, and a store call must leave the heartbeat room to keep the message invisible.
fn check_state(
    c: &mut Checker,
    state: &StateConfig,
    sqs: &SqsConfig,
    retry: &RetryConfig,
    dedup: &DedupConfig,
) {
    use humantime_serde::re::humantime::format_duration;
    state.check(c);
    if let Some(lease) = state.lease {
        if lease >= dedup.ttl {
            c.problem(
                "state.lease",
                format!(
                    "must be less than dedup.ttl ({}): a claim outliving the alert's record would \
                     hold back a later failure with the same key",
                    format_duration(dedup.ttl)
                ),
            );
        } else if lease < retry.budget {
            c.warn(format!(
                "state.lease ({}) is shorter than retry.budget ({}): another replica may take over \
                 an alert this one is still retrying, and post it twice",
                format_duration(lease),
                format_duration(retry.budget)
            ));
        }
    }
    // An out-of-range visibility timeout is reported on its own; this would only repeat it.
    let visibility_valid =
        sqs.visibility_timeout.as_secs() >= defaults::MIN_VISIBILITY_TIMEOUT_SECS;
    if visibility_valid && state.call_timeout * 2 >= sqs.visibility_timeout {
        c.problem(
            "state.call_timeout",
            format!(
                "must be less than half of sqs.visibility_timeout ({}), so that a slow store call \
                 cannot outlast the heartbeat that keeps the message invisible",
                format_duration(sqs.visibility_timeout)
            ),
        );
    }
}

/// `[enrichment]`'s own checks, and its budget against the visibility timeout: the heartbeat keeps the
/// message invisible while enrichment runs, but one lost renewal must not let it reappear mid-lookup.
fn check_enrichment(c: &mut Checker, enrichment: &EnrichmentConfig, sqs: &SqsConfig) {
    use humantime_serde::re::humantime::format_duration;
    enrichment.check(c);
    // A visibility timeout out of its own range is already a problem; comparing with it says nothing.
    let visibility_valid =
        sqs.visibility_timeout >= Duration::from_secs(defaults::MIN_VISIBILITY_TIMEOUT_SECS);
    if visibility_valid && enrichment.budget * 2 > sqs.visibility_timeout {
        c.problem(
            "enrichment.budget",
            format!(
                "must be at most half of sqs.visibility_timeout ({}): enrichment must end well \
                 before the message could become visible again",
                format_duration(sqs.visibility_timeout)
            ),
        );
    }
}

/// Collects problems and warnings while the configuration is read and checked, and the key renames
/// that make a problem about a deprecated key name the key the user wrote.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    problems: Vec<Problem>,
    warnings: Vec<String>,
    /// New key path -> where its value came from, when that is not the key itself (a deprecated flat
    /// key, or an override variable).
    origins: Vec<(String, String)>,
    /// Keys whose values did not deserialise: the later checks saw defaults in their place.
    unparsed: Vec<String>,
}

impl Checker {
    /// Records a problem, unless it is about a value that did not deserialise (see [`Checker::unparsed`]):
    /// a check of such a key saw its default, not what the user wrote.
    fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        let key = key.into();
        let under = |bad: &String| {
            key.strip_prefix(bad.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        };
        if self.unparsed.iter().any(under) {
            return;
        }
        self.problems.push(Problem {
            key,
            message: message.into(),
        });
    }

    /// Records that the value at `key` did not deserialise, and why.
    fn unparsed(&mut self, key: String, message: String) {
        self.problems.push(Problem {
            key: key.clone(),
            message,
        });
        self.unparsed.push(key);
    }

    fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    /// Remembers that `key`'s value came from `origin` (a deprecated key or a variable's name).
    fn origin(&mut self, key: String, origin: String) {
        self.origins.retain(|(k, _)| *k != key);
        self.origins.push((key, origin));
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

    /// A duration between `min` and `max`, inclusive.
    fn duration(
        &mut self,
        key: &str,
        value: std::time::Duration,
        min: std::time::Duration,
        max: std::time::Duration,
    ) {
        use humantime_serde::re::humantime::format_duration;
        if value < min || value > max {
            self.problem(
                key,
                format!(
                    "{} is out of range ({}..={})",
                    format_duration(value),
                    format_duration(min),
                    format_duration(max)
                ),
            );
        }
    }

    /// A duration SQS takes in whole seconds, within `range` seconds.
    fn seconds(
        &mut self,
        key: &str,
        value: std::time::Duration,
        range: std::ops::RangeInclusive<u64>,
    ) {
        if value.subsec_nanos() != 0 {
            self.problem(key, "must be whole seconds: SQS counts in seconds");
        } else {
            self.range(key, value.as_secs(), range);
        }
    }

    /// The problems, each naming the key the user wrote: a deprecated key or an override variable
    /// instead of the new key its value was moved to.
    fn finish(mut self) -> Vec<Problem> {
        for problem in &mut self.problems {
            if let Some((_, origin)) = self.origins.iter().find(|(k, _)| *k == problem.key) {
                problem.key.clone_from(origin);
            }
        }
        self.problems
    }
}

#[cfg(test)]
mod tests;
