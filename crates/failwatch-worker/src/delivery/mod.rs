//! Delivery: POST one rendered payload to one destination, pacing politely and retrying what can be
//! retried, within a time budget.
//!
//! - **Pacing**: a token bucket per destination (`governor`), so a burst of alerts queues instead of
//!   drawing 429s (Slack and Google Chat allow about one message per second per channel or space).
//! - **Retry or give up** is decided by [`outcome::Failure`] alone, by error type.
//! - **Backoff**: capped exponential (`backon`'s schedule: `retry_initial_delay_ms`, doubling, at most
//!   `retry_max_delay_secs`) with full jitter (each wait uniform between zero and the schedule's value), so
//!   many workers retrying one outage do not stampede in lock-step. A `Retry-After` from the service
//!   replaces the jittered wait, clamped to `retry_after_max_secs`.
//! - **Budget**: retries stop when the next wait would end after the message's deadline
//!   (`retry_budget_secs` after work started). The delivery is then *deferred*: the caller hands the
//!   message back to SQS with that next wait as its visibility timeout, so SQS retries it later and, after
//!   `maxReceiveCount`, moves it to the DLQ.
//!
//! Webhook URLs never leave this module: requests use [`SecretUrl::expose`], and transport errors are
//! stripped of their URL (`reqwest::Error::without_url`) before anything prints them.

pub mod outcome;

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use rand::Rng;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::redirect::Policy;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, Destination};
use crate::metrics;
use crate::secret::SecretUrl;
pub use outcome::Failure;

/// Google Chat threads messages by `thread.threadKey` only when asked to; this option also starts a new
/// thread when the key is new instead of failing.
const GOOGLE_CHAT_REPLY_OPTION: (&str, &str) =
    ("messageReplyOption", "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD");
/// Connecting should be quick; the per-destination `timeout_secs` bounds the whole attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The shortest visibility a deferred message is handed back with, so a zero jitter draw cannot make
/// SQS redeliver it in a hot loop.
const MIN_HANDBACK: Duration = Duration::from_secs(1);
/// How much of a rejecting service's answer is read: enough for any error text worth logging, and a
/// bound on what a misbehaving endpoint can make the worker buffer.
const ERROR_BODY_LIMIT: usize = 4096;
/// Path segments and query values at least this long are treated as secrets when scrubbing an answer;
/// shorter ones ("services", "v1", "webhookb2" aside) are structure, not keys.
const SECRET_PART_MIN: usize = 8;

/// The retry schedule and budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub initial_delay: Duration,
    pub max_delay: Duration,
    pub retry_after_max: Duration,
    pub budget: Duration,
}

impl RetryPolicy {
    pub fn from_config(config: &Config) -> Self {
        RetryPolicy {
            initial_delay: config.retry.initial_delay,
            max_delay: config.retry.max_delay,
            retry_after_max: config.retry.retry_after_max,
            budget: config.retry.budget,
        }
    }

    /// The capped exponential schedule: the ceiling of each successive wait, before jitter.
    pub fn schedule(&self) -> ExponentialBuilder {
        ExponentialBuilder::new()
            .with_min_delay(self.initial_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .without_max_times()
    }

    /// The wait before the next attempt after `failure`, given the schedule's current `ceiling`.
    pub fn wait(&self, failure: &Failure, ceiling: Duration) -> Duration {
        match failure.retry_after() {
            Some(asked) => asked.min(self.retry_after_max),
            None => full_jitter(ceiling),
        }
    }
}

/// A wait drawn uniformly from `[0, ceiling]`.
pub fn full_jitter(ceiling: Duration) -> Duration {
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

/// A `governor` clock on tokio's time, so pacing follows paused time in tests like everything else.
#[derive(Debug, Clone)]
struct TokioClock {
    origin: Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// The final outcome of delivering one payload to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The destination accepted it.
    Delivered { attempts: u32, duration: Duration },
    /// The destination refused it for good; retrying cannot help.
    Rejected { failure: Failure },
    /// Still failing when the budget ran out (or shutdown began): try again after `retry_in`.
    Deferred {
        retry_in: Duration,
        failure: Failure,
    },
}

impl Delivery {
    /// The `result` label of `failwatch_deliveries_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Delivery::Delivered { .. } => "delivered",
            Delivery::Rejected { .. } => "rejected",
            Delivery::Deferred { .. } => "deferred",
        }
    }
}

/// Why the delivery client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {}", crate::errors::chain(.0))]
pub struct ClientError(#[source] reqwest::Error);

struct Target {
    name: String,
    kind: failwatch_core::Target,
    url: SecretUrl,
    timeout: Duration,
    limiter: Limiter,
    /// Set from a 429/503's `Retry-After`: no request to this destination, from any message, before this
    /// instant.
    not_before: Mutex<Option<Instant>>,
}

impl Target {
    fn not_before(&self) -> Option<Instant> {
        *self.not_before.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds every request to this destination until `until` (never shortening an earlier hold).
    fn hold_until(&self, until: Instant) {
        let mut not_before = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        *not_before = Some(not_before.map_or(until, |held| held.max(until)));
    }
}

/// Posts payloads to the configured destinations.
pub struct Deliverer {
    http: reqwest::Client,
    targets: Vec<Target>,
    policy: RetryPolicy,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field(
                "destinations",
                &self
                    .targets
                    .iter()
                    .map(|t| (&t.name, config::type_name(t.kind), &t.url))
                    .collect::<Vec<_>>(),
            )
            .field("policy", &self.policy)
            .finish()
    }
}

impl Deliverer {
    pub fn new(destinations: &[Destination], policy: RetryPolicy) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("failwatch/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(Policy::none())
            .build()
            .map_err(ClientError)?;
        let clock = TokioClock {
            origin: Instant::now(),
        };
        let targets = destinations
            .iter()
            .map(|d| Target {
                name: d.name.clone(),
                kind: d.kind,
                url: post_url(d),
                timeout: d.timeout,
                limiter: RateLimiter::direct_with_clock(quota(d), clock.clone()),
                not_before: Mutex::new(None),
            })
            .collect();
        Ok(Deliverer {
            http,
            targets,
            policy,
        })
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Delivers `payload` to destination `index`, retrying transient failures until `deadline`.
    ///
    /// Once `stop` is cancelled (shutdown), a backoff wait in progress ends early, one last attempt is
    /// made, and no further retry is started: the delivery is deferred with no wait, so the message can
    /// be handed back for another worker at once.
    pub async fn deliver(
        &self,
        index: usize,
        payload: &str,
        deadline: Instant,
        stop: &CancellationToken,
    ) -> Delivery {
        let target = &self.targets[index];
        let started = Instant::now();
        let (result, attempts, deferred_by) = with_retries(
            &self.policy,
            deadline,
            stop,
            |n| {
                if n > 0 {
                    ::metrics::counter!(metrics::DELIVERY_RETRIES, "destination" => target.name.clone())
                        .increment(1);
                }
                self.attempt(target, payload, deadline, stop)
            },
            |failure, wait| {
                tracing::info!(
                    destination = %target.name,
                    error = %failure,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "delivery attempt failed, retrying"
                );
            },
        )
        .await;

        let delivery = match result {
            Ok(()) => Delivery::Delivered {
                attempts,
                duration: started.elapsed(),
            },
            Err(failure) if !failure.is_transient() => Delivery::Rejected { failure },
            Err(failure) => Delivery::Deferred {
                retry_in: deferred_by.unwrap_or(MIN_HANDBACK),
                failure,
            },
        };
        ::metrics::counter!(
            metrics::DELIVERIES,
            "destination" => target.name.clone(),
            "result" => delivery.label()
        )
        .increment(1);
        if let Delivery::Delivered { duration, .. } = &delivery {
            ::metrics::histogram!(metrics::DELIVERY_DURATION, "destination" => target.name.clone())
                .record(duration.as_secs_f64());
        }
        delivery
    }

    /// One paced HTTP attempt.
    async fn attempt(
        &self,
        target: &Target,
        payload: &str,
        deadline: Instant,
        stop: &CancellationToken,
    ) -> Result<(), Failure> {
        // Waiting for a turn is not an attempt: nothing is sent or counted.
        pace(target, deadline, stop).await?;
        let sent = self
            .http
            .post(target.url.expose().clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .timeout(target.timeout)
            .body(payload.to_owned())
            .send()
            .await;
        let result = match sent {
            Err(err) => Err(Failure::from_transport(&err.without_url())),
            Ok(response) => {
                let status = response.status();
                let headers = response.headers().clone();
                // The answer of a success is not needed; a rejection's text is worth logging.
                let body = if status.is_success() {
                    String::new()
                } else {
                    read_start(response, ERROR_BODY_LIMIT).await
                };
                match Failure::from_response(status, &headers, &scrub(&body, &target.url)) {
                    None => Ok(()),
                    Some(failure) => {
                        if let Some(asked) = failure.retry_after() {
                            // Every message to this destination waits, not only this one: the service
                            // asked the sender, not the message, to slow down.
                            target.hold_until(
                                Instant::now() + asked.min(self.policy.retry_after_max),
                            );
                        }
                        Err(failure)
                    }
                }
            }
        };
        let label = match &result {
            Ok(()) => "success",
            Err(failure) => failure.label(),
        };
        ::metrics::counter!(
            metrics::DELIVERY_ATTEMPTS,
            "destination" => target.name.clone(),
            "outcome" => label
        )
        .increment(1);
        result
    }
}

/// Runs `attempt` (given the attempt's number, from 0) until it succeeds, fails permanently, or the next
/// wait would end after `deadline`. Returns the last result, the number of attempts, and — when retries
/// stopped early for the budget or shutdown — the wait that was not taken, which becomes the message's
/// visibility timeout when it is handed back.
pub async fn with_retries<F, Fut>(
    policy: &RetryPolicy,
    deadline: Instant,
    stop: &CancellationToken,
    mut attempt: F,
    on_retry: impl FnMut(&Failure, Duration),
) -> (Result<(), Failure>, u32, Option<Duration>)
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    let attempts = AtomicU32::new(0);
    let deferred_by: Mutex<Option<Duration>> = Mutex::new(None);
    let sleep_stop = stop.clone();
    let result = (|| attempt(attempts.fetch_add(1, Ordering::Relaxed)))
        .retry(policy.schedule())
        // A shutdown cuts a backoff wait short; the attempt that follows is the last (see `adjust`).
        .sleep(move |wait| {
            let stop = sleep_stop.clone();
            async move {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stop.cancelled() => {}
                }
            }
        })
        .when(Failure::is_transient)
        .adjust(|failure, ceiling| {
            let wait = policy.wait(failure, ceiling.unwrap_or(policy.max_delay));
            let mut deferred = deferred_by.lock().unwrap_or_else(|e| e.into_inner());
            if stop.is_cancelled() {
                *deferred = Some(Duration::ZERO);
                None
            } else if Instant::now() + wait > deadline {
                *deferred = Some(wait.max(MIN_HANDBACK));
                None
            } else {
                Some(wait)
            }
        })
        .notify(on_retry)
        .await;
    let deferred = *deferred_by.lock().unwrap_or_else(|e| e.into_inner());
    (result, attempts.load(Ordering::Relaxed), deferred)
}

/// Waits until the destination allows one more request: a `Retry-After` it sent has passed and its token
/// bucket has a token.
///
/// A request that may go at once goes, even during shutdown (it is the "one last attempt"). A wait,
/// however, never holds a message past a stop: once `stop` is cancelled the attempt is given up as
/// [`Failure::Stopped`], so the message is handed back at once instead of queueing behind a paced
/// backlog until the hard stop. A `Retry-After` hold that ends after the message's `deadline` gives up
/// at once as a rate limit of the remaining hold, which defers the message by that much.
async fn pace(target: &Target, deadline: Instant, stop: &CancellationToken) -> Result<(), Failure> {
    loop {
        let now = Instant::now();
        if let Some(not_before) = target.not_before().filter(|t| *t > now) {
            if stop.is_cancelled() {
                return Err(Failure::Stopped);
            }
            if not_before > deadline {
                return Err(Failure::RateLimited {
                    retry_after: Some(not_before - now),
                });
            }
            tokio::select! {
                () = tokio::time::sleep_until(not_before) => continue,
                () = stop.cancelled() => return Err(Failure::Stopped),
            }
        }
        let Err(not_until) = target.limiter.check() else {
            return Ok(());
        };
        if stop.is_cancelled() {
            return Err(Failure::Stopped);
        }
        let wait = not_until.wait_time_from(target.limiter.clock().now());
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.cancelled() => return Err(Failure::Stopped),
        }
    }
}

/// Reads at most `limit` bytes of a response body, chunk by chunk, and drops the rest.
async fn read_start(mut response: reqwest::Response, limit: usize) -> String {
    let mut start = Vec::new();
    while start.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(limit - start.len());
                start.extend_from_slice(&chunk[..take]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&start).into_owned()
}

fn quota(d: &Destination) -> Quota {
    let burst = NonZeroU32::new(d.burst).unwrap_or(NonZeroU32::MIN);
    // Validation keeps the rate within (0, 1000], so the period is at least a millisecond.
    let period = Duration::from_secs_f64(1.0 / d.rate_per_second);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

/// The URL actually posted to: Google Chat gets the reply option that makes `threadKey` thread.
fn post_url(d: &Destination) -> SecretUrl {
    let mut url = d.url.expose().clone();
    if d.kind == failwatch_core::Target::GoogleChat
        && !url
            .query_pairs()
            .any(|(k, _)| k == GOOGLE_CHAT_REPLY_OPTION.0)
    {
        url.query_pairs_mut()
            .append_pair(GOOGLE_CHAT_REPLY_OPTION.0, GOOGLE_CHAT_REPLY_OPTION.1);
    }
    SecretUrl::new(url)
}

/// Removes every secret part of the webhook URL from a service's answer, in case it echoes the request
/// back: the whole URL, its path and query, and each path segment and query value long enough to be a
/// key or token, as sent, percent-decoded and fully percent-encoded (Teams' `sig=` is percent-encoded in
/// the URL but may come back decoded; its path's `@` may come back as `%40`).
fn scrub(body: &str, url: &SecretUrl) -> String {
    use percent_encoding::{percent_decode_str, utf8_percent_encode};
    let url = url.expose();
    let mut secrets: Vec<String> = vec![url.as_str().to_owned(), url.path().to_owned()];
    secrets.extend(url.query().map(str::to_owned));
    let raw_values = url
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.split_once('=').map(|(_, value)| value));
    // Each long part as sent, decoded (query values form-decoded, so `+` is a space) and re-encoded.
    let mut parts: Vec<(String, String)> = url
        .path_segments()
        .into_iter()
        .flatten()
        .map(|segment| {
            let decoded = percent_decode_str(segment).decode_utf8_lossy().into_owned();
            (segment.to_owned(), decoded)
        })
        .collect();
    parts.extend(
        raw_values
            .zip(url.query_pairs())
            .map(|(raw, (_, decoded))| (raw.to_owned(), decoded.into_owned())),
    );
    for (raw, decoded) in parts {
        if raw.len() >= SECRET_PART_MIN {
            secrets.push(utf8_percent_encode(&decoded, NOT_UNRESERVED).to_string());
            secrets.push(raw);
            secrets.push(decoded);
        }
    }
    // Longest first, so a part never leaves the rest of a longer secret behind.
    secrets.retain(|s| s.len() > 1);
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    let mut out = body.to_owned();
    for secret in &secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "****");
        }
    }
    out
}

/// Every byte but RFC 3986's unreserved characters is percent-encoded: the fullest form a service could
/// echo a URL part back in.
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[cfg(test)]
mod tests;
