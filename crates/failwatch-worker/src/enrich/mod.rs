//! Enrichment: what the worker looks up about an alert's resources after it is claimed and before it
//! is routed and rendered — the failed containers' last log lines ([`logs`]), the Step Functions state
//! that failed ([`history`]), the last log lines of a failed Batch job or Lambda invocation inside an
//! execution ([`execution_logs`]) and the resource's tags ([`tags`]) — through per-account clients
//! ([`clients`]) and TTL caches ([`cache`]). A Lambda lookup whose function only the failed state
//! names starts when the history has been read, within the same budget.
//!
//! Never at the alert's expense: every lookup of one alert runs concurrently, and all of them end at one
//! instant, `[enrichment] budget` after they start (or the alert's delivery deadline, if sooner). A part
//! that failed or was not back by then is left out and the alert goes on without it. Each lookup is
//! counted in `failwatch_enrichment_total{source,result}`; failures are logged at most once per
//! [`WARN_INTERVAL`] with how many were not logged. Nothing here ever sees a webhook URL.

mod cache;
mod clients;
mod execution_logs;
mod history;
mod logs;
mod tags;

use std::error::Error as StdError;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use failwatch_core::{Alert, Enrichment, ExecutionLog, LogTail, Lookups};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::EnrichmentConfig;
use crate::metrics;
use cache::Caches;
use clients::Clients;
use execution_logs::Place;
use logs::TailRequest;

/// At most one enrichment warning per this interval; the rest are counted in the next one.
const WARN_INTERVAL: Duration = Duration::from_secs(30);
/// The longest error detail kept in a log line.
const MAX_DETAIL_CHARS: usize = 300;

/// A lookup that failed. Its text is one line: the call and AWS's code and message, or the error
/// chain; never a response dump.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EnrichError {
    /// An AWS call failed (access denied, not found, throttled, unreachable).
    #[error("{operation}: {detail}")]
    Aws {
        operation: &'static str,
        detail: String,
        #[source]
        source: Box<dyn StdError + Send + Sync + 'static>,
    },
    /// A call worked but its answer cannot be used (no `awslogs` settings, a foreign ARN).
    #[error("{0}")]
    Unusable(String),
}

impl EnrichError {
    /// Maps an SDK error of any AWS service client.
    pub(crate) fn aws<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: StdError + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let detail = match (&err, err.code()) {
            (SdkError::ServiceError(_), Some(code)) => match err.message() {
                Some(message) => format!("{code}: {message}"),
                None => code.to_owned(),
            },
            _ => {
                let chain = crate::errors::chain(&err);
                match chain.char_indices().nth(MAX_DETAIL_CHARS) {
                    Some((cut, _)) => format!("{} ...", &chain[..cut]),
                    None => chain,
                }
            }
        };
        EnrichError::Aws {
            operation,
            detail,
            source: Box::new(err),
        }
    }
}

/// What was looked up: the `source` label of `failwatch_enrichment_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    LogTail,
    FailedState,
    Tags,
    BatchLogs,
    LambdaLogs,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::LogTail => "log_tail",
            Source::FailedState => "failed_state",
            Source::Tags => "tags",
            Source::BatchLogs => "batch_logs",
            Source::LambdaLogs => "lambda_logs",
        }
    }
}

/// How one lookup ended: the `result` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LookupResult {
    Ok,
    Error,
    Timeout,
    /// Turned off, or no time left before the alert's deadline.
    Skipped,
}

/// Looks up what `[enrichment]` asks for. Cloning shares the clients and caches.
#[derive(Debug, Clone, Default)]
pub(crate) struct Enricher {
    /// `None` when every part is off: the alert passes untouched, with no AWS client built.
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    log_lines: u32,
    failed_state: bool,
    tags: bool,
    budget: Duration,
    clients: Clients,
    caches: Caches,
    warnings: Warnings,
}

impl Enricher {
    /// The enricher `config` describes, its clients on the default credential chain (and the assumed
    /// roles of `config.accounts`). No network call happens until the first alert.
    pub(crate) async fn new(config: &EnrichmentConfig) -> Enricher {
        if !config.enabled() {
            return Enricher::default();
        }
        Enricher {
            inner: Some(Arc::new(Inner {
                log_lines: config.log_lines,
                failed_state: config.failed_state,
                tags: config.tags,
                budget: config.budget,
                clients: Clients::new(&config.accounts, config.budget).await,
                caches: Caches::new(),
                warnings: Warnings::new(),
            })),
        }
    }

    /// Adds what can be found within the budget (and before `deadline`) to `alert`; anything that
    /// failed or is late is left out.
    pub(crate) async fn enrich(&self, alert: &mut Alert, deadline: Instant) {
        let Some(inner) = &self.inner else { return };
        let lookups = alert.lookups();
        let end = deadline.min(Instant::now() + inner.budget);
        let partition = alert.partition.clone();
        let (log_tails, (failed_state, lambda_log), tags, batch_log) = tokio::join!(
            inner.log_tails(&lookups, &partition, end),
            inner.failed_state_and_lambda(&lookups, &partition, end),
            inner.tags(&lookups, end),
            inner.batch_log(&lookups, &partition, end),
        );
        alert.enrich(Enrichment {
            log_tails,
            failed_state,
            tags,
            execution_log: batch_log.or(lambda_log),
        });
    }
}

impl Inner {
    async fn log_tails(&self, lookups: &Lookups, partition: &str, end: Instant) -> Vec<LogTail> {
        let (Some(region), Some(definition), Some(task_id)) =
            (&lookups.region, &lookups.task_definition, &lookups.task_id)
        else {
            return Vec::new();
        };
        if lookups.failed_containers.is_empty() {
            return Vec::new();
        }
        let mut tasks = JoinSet::new();
        let late = Instant::now() >= end;
        for container in &lookups.failed_containers {
            if self.log_lines == 0 || late {
                self.record(Source::LogTail, LookupResult::Skipped, None);
                continue;
            }
            let request = TailRequest {
                account: lookups.account.clone(),
                region: region.clone(),
                partition: partition.to_owned(),
                definition: definition.clone(),
                task_id: task_id.clone(),
                container: container.clone(),
                lines: i32::try_from(self.log_lines).unwrap_or(i32::MAX),
            };
            let (clients, caches) = (self.clients.clone(), self.caches.clone());
            tasks.spawn(async move { logs::tail(&clients, &caches, request).await });
        }
        let mut tails = Vec::new();
        let joined = tokio::time::timeout_at(end, async {
            while let Some(done) = tasks.join_next().await {
                match done {
                    Ok(Ok(tail)) => {
                        self.record(Source::LogTail, LookupResult::Ok, None);
                        tails.push(tail);
                    }
                    Ok(Err(err)) => self.record(Source::LogTail, LookupResult::Error, Some(&err)),
                    Err(err) => tracing::error!(error = %err, "a log tail lookup failed"),
                }
            }
        })
        .await;
        if joined.is_err() {
            // Dropping the set aborts the lookups still running.
            for _ in 0..tasks.len() {
                self.record(Source::LogTail, LookupResult::Timeout, None);
            }
        }
        tails
    }

    /// The failed state and the Lambda invocation's lines: at once when the cause names the function,
    /// else after the history named it (no lookup when neither does).
    async fn failed_state_and_lambda(
        &self,
        lookups: &Lookups,
        partition: &str,
        end: Instant,
    ) -> (Option<failwatch_core::FailedState>, Option<ExecutionLog>) {
        let invocation = lookups.lambda_invocation.as_ref();
        let lambda = |function: failwatch_core::LambdaFunction| async move {
            let invocation = invocation?;
            let (place, lines) =
                self.execution_log_place(Source::LambdaLogs, lookups, partition)?;
            let found = execution_logs::lambda(&self.clients, place, invocation, &function, lines);
            self.bounded(Source::LambdaLogs, end, found).await
        };
        match invocation.and_then(|i| i.function.clone()) {
            Some(function) => {
                let (failed, log) =
                    tokio::join!(self.failed_state(lookups, partition, end), lambda(function));
                (failed.map(|f| f.state), log)
            }
            None => {
                let failed = self.failed_state(lookups, partition, end).await;
                let function = failed.as_ref().and_then(|f| f.function.clone());
                let log = match function.filter(|_| invocation.is_some()) {
                    Some(function) => lambda(function).await,
                    None => None,
                };
                (failed.map(|f| f.state), log)
            }
        }
    }

    /// The failed Batch job's last lines.
    async fn batch_log(
        &self,
        lookups: &Lookups,
        partition: &str,
        end: Instant,
    ) -> Option<ExecutionLog> {
        let stream = lookups.batch_log.as_ref()?;
        let (place, lines) = self.execution_log_place(Source::BatchLogs, lookups, partition)?;
        let found = execution_logs::batch(&self.clients, place, stream, lines);
        self.bounded(Source::BatchLogs, end, found).await
    }

    /// Where an execution's log lookup happens and how many lines it reads; `None` without a region, or
    /// (counted as skipped) when log tails are off.
    fn execution_log_place<'a>(
        &self,
        source: Source,
        lookups: &'a Lookups,
        partition: &'a str,
    ) -> Option<(Place<'a>, i32)> {
        let region = lookups.region.as_deref()?;
        if self.log_lines == 0 {
            self.record(source, LookupResult::Skipped, None);
            return None;
        }
        let place = Place {
            account: lookups.account.as_deref(),
            region,
            partition,
        };
        Some((place, i32::try_from(self.log_lines).unwrap_or(i32::MAX)))
    }

    async fn failed_state(
        &self,
        lookups: &Lookups,
        partition: &str,
        end: Instant,
    ) -> Option<history::Failed> {
        let (Some(region), Some(arn)) = (&lookups.region, &lookups.execution_arn) else {
            return None;
        };
        if !self.failed_state {
            self.record(Source::FailedState, LookupResult::Skipped, None);
            return None;
        }
        let regional = self.clients.regional(lookups.account.as_deref(), region);
        let found = self
            .bounded(
                Source::FailedState,
                end,
                history::lookup(&regional, arn, partition),
            )
            .await;
        found.flatten()
    }

    async fn tags(
        &self,
        lookups: &Lookups,
        end: Instant,
    ) -> Option<std::collections::BTreeMap<String, String>> {
        let (Some(region), Some(arn)) = (&lookups.region, &lookups.tagged_resource) else {
            return None;
        };
        if !self.tags {
            self.record(Source::Tags, LookupResult::Skipped, None);
            return None;
        }
        let regional = self.clients.regional(lookups.account.as_deref(), region);
        self.bounded(
            Source::Tags,
            end,
            tags::lookup(&regional, &self.caches, arn),
        )
        .await
        .map(Arc::unwrap_or_clone)
    }

    /// Runs one lookup until `end`, counting and (rate-limited) logging how it ended.
    async fn bounded<T>(
        &self,
        source: Source,
        end: Instant,
        lookup: impl Future<Output = Result<T, EnrichError>>,
    ) -> Option<T> {
        if Instant::now() >= end {
            self.record(source, LookupResult::Skipped, None);
            return None;
        }
        match tokio::time::timeout_at(end, lookup).await {
            Ok(Ok(found)) => {
                self.record(source, LookupResult::Ok, None);
                Some(found)
            }
            Ok(Err(err)) => {
                self.record(source, LookupResult::Error, Some(&err));
                None
            }
            Err(_) => {
                self.record(source, LookupResult::Timeout, None);
                None
            }
        }
    }

    /// Counts one lookup's result and logs a failure, at most once per [`WARN_INTERVAL`].
    fn record(&self, source: Source, result: LookupResult, error: Option<&EnrichError>) {
        let label = match result {
            LookupResult::Ok => "ok",
            LookupResult::Error => "error",
            LookupResult::Timeout => "timeout",
            LookupResult::Skipped => "skipped",
        };
        ::metrics::counter!(metrics::ENRICHMENT, "source" => source.as_str(), "result" => label)
            .increment(1);
        if matches!(result, LookupResult::Error | LookupResult::Timeout) {
            self.warnings.warn(source, label, error, self.budget);
        }
    }
}

/// Rate-limited enrichment warnings: a region whose API is down must not log one line per alert.
#[derive(Debug)]
struct Warnings {
    limiter: DefaultDirectRateLimiter,
    /// Failures not logged since the last line.
    unlogged: AtomicU64,
}

impl Warnings {
    fn new() -> Self {
        let quota = Quota::with_period(WARN_INTERVAL)
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::MIN);
        Warnings {
            limiter: RateLimiter::direct(quota),
            unlogged: AtomicU64::new(0),
        }
    }

    fn warn(
        &self,
        source: Source,
        result: &'static str,
        error: Option<&EnrichError>,
        budget: Duration,
    ) {
        if self.limiter.check().is_err() {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let not_logged_since = self.unlogged.swap(0, Ordering::Relaxed);
        let budget_ms = u64::try_from(budget.as_millis()).unwrap_or(u64::MAX);
        match error {
            Some(err) => tracing::warn!(
                source = source.as_str(),
                result,
                error = %err,
                not_logged_since,
                "enrichment lookup failed; the alert goes out without it"
            ),
            None => tracing::warn!(
                source = source.as_str(),
                result,
                budget_ms,
                not_logged_since,
                "enrichment lookup not done within the budget; the alert goes out without it"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_failures_logs_one_line_and_counts_the_rest() {
        let warnings = Warnings::new();
        let err = EnrichError::Unusable("no awslogs configuration".into());
        for _ in 0..5 {
            warnings.warn(Source::LogTail, "error", Some(&err), Duration::from_secs(2));
        }
        assert_eq!(warnings.unlogged.load(Ordering::Relaxed), 4);
    }

    #[tokio::test]
    async fn with_every_part_off_no_client_is_built_and_the_alert_is_untouched() {
        let config = EnrichmentConfig {
            log_lines: 0,
            failed_state: false,
            tags: false,
            ..EnrichmentConfig::default()
        };
        let enricher = Enricher::new(&config).await;
        assert!(enricher.inner.is_none());
    }
}
