//! Delivery: POST one rendered payload to one destination, pacing politely and retrying what the retry
//! policy (`crate::retry`) says can be retried, within the message's budget.
//!
//! - **Pacing** (`pacing`): a token bucket per destination, charged with the instant each post actually
//!   went out, so a burst of alerts queues instead of drawing 429s (Slack and Google Chat allow about one
//!   message per second per channel or space), and the destination's `Retry-After` hold ([`Hold`]).
//! - **Retries**: every attempt runs through [`retry::with_retries`]; the classification, schedule,
//!   budget and hand-back delay all live in `crate::retry`.
//! - **Connections**: one HTTP client, built once, pools connections for every destination. An answer is
//!   always read to its end (a success's up to [`SUCCESS_BODY_LIMIT`]) so that its HTTP/1.1 connection
//!   goes back to the pool instead of being closed: a webhook that answers `ok` or a JSON body would
//!   otherwise cost a new TCP (and TLS) connection per alert.
//!
//! Webhook URLs never leave this module: requests use [`SecretUrl::expose`], and transport errors are
//! stripped of their URL (`reqwest::Error::without_url`) before anything prints them.

mod admission;
mod pacing;
mod scrub;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use ::metrics::SharedString;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::redirect::Policy;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Destination};
use crate::metrics;
use crate::retry::{self, Failure, Hold, Retried, RetryPolicy};
use crate::secret::SecretUrl;
pub(crate) use admission::{Admission, Ticket};
use admission::{Decayed, HeldShare, Window};
use pacing::{Pacer, StampedBody, pace};

/// Google Chat threads messages by `thread.threadKey` only when asked to; this option also starts a new
/// thread when the key is new instead of failing.
const GOOGLE_CHAT_REPLY_OPTION: (&str, &str) =
    ("messageReplyOption", "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD");
/// Connecting should be quick; the per-destination `timeout_secs` bounds the whole attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of a rejecting service's answer is read: enough for any error text worth logging, and a
/// bound on what a misbehaving endpoint can make the worker buffer.
const ERROR_BODY_LIMIT: usize = 4096;
/// How much of a success's answer is read (and dropped). Chat services answer a post with a few hundred
/// bytes (Slack `ok`, Google Chat the created message); reading it to the end lets the connection be
/// reused. A longer answer is cut off, which only costs that connection.
const SUCCESS_BODY_LIMIT: usize = 64 * 1024;

/// The final outcome of delivering one payload to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The destination accepted it.
    Delivered {
        /// HTTP attempts made, the successful one included.
        attempts: u32,
        /// From the first attempt's turn to the acceptance, retries and pacing included.
        duration: Duration,
    },
    /// The destination refused it for good; retrying cannot help.
    Rejected {
        /// The refusal.
        failure: Failure,
    },
    /// Still failing when the budget ran out (or shutdown began): try again after `retry_in`.
    Deferred {
        /// The wait the retry policy would have taken next (zero during shutdown).
        retry_in: Duration,
        /// The last attempt's failure.
        failure: Failure,
    },
}

impl Delivery {
    /// The `result` label of `failwatch_deliveries_total`.
    pub(crate) fn label(&self) -> &'static str {
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
pub(crate) struct ClientError(#[source] reqwest::Error);

struct Target {
    name: String,
    /// `name` as a metric label, built once: cloning it is a reference count, not an allocation.
    label: SharedString,
    kind: failwatch_core::Target,
    url: SecretUrl,
    timeout: Duration,
    pacer: Pacer,
    /// One over `rate_per_second`: the time one more attempt adds to the pacing queue.
    period: Duration,
    /// Deliveries to it not yet final (waiting for a turn, posting, or in a backoff wait), for
    /// admission.
    in_progress: Arc<AtomicUsize>,
    /// The recent share of time `hold` held it, for admission.
    held: HeldShare,
    /// How many deliveries admission lets ahead, learnt from its answers (slow start).
    window: Window,
    /// Deliveries to it lately (a decayed count), for its routing share in admission.
    enqueued: Decayed,
    hold: Hold,
}

impl Target {
    fn new(destination: &Destination) -> Self {
        Target {
            name: destination.name.clone(),
            label: SharedString::from(std::sync::Arc::<str>::from(destination.name.as_str())),
            kind: destination.kind,
            url: post_url(destination),
            timeout: destination.timeout,
            pacer: Pacer::new(period(destination), destination.burst),
            period: period(destination),
            in_progress: Arc::default(),
            held: HeldShare::default(),
            window: Window::new(destination.burst),
            enqueued: Decayed::default(),
            hold: Hold::default(),
        }
    }
}

/// Posts payloads to the configured destinations.
pub(crate) struct Deliverer {
    http: reqwest::Client,
    targets: Vec<Target>,
    policy: RetryPolicy,
    /// Messages received and not yet routed to destinations, for admission.
    unrouted: Arc<AtomicUsize>,
    /// Messages routed lately (a decayed count), for the routing shares in admission.
    routed: Arc<Decayed>,
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
    /// One HTTP client and one pacing state per destination, in the order of `destinations` (the index
    /// [`Deliverer::deliver`] takes).
    pub(crate) fn new(
        destinations: &[Destination],
        policy: RetryPolicy,
    ) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("failwatch/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(Policy::none())
            .build()
            .map_err(ClientError)?;
        let targets = destinations.iter().map(Target::new).collect();
        Ok(Deliverer {
            http,
            targets,
            policy,
            unrouted: Arc::default(),
            routed: Arc::default(),
        })
    }

    /// The deadline of a receive that starts delivering at `started`: no retry starts after it.
    pub(crate) fn deadline(&self, started: Instant) -> Instant {
        self.policy.deadline(started)
    }

    /// How long one receive may spend delivering an alert: the retry budget and one last attempt to the
    /// slowest destination. An alert's claim lasts this long.
    pub(crate) fn lease(&self) -> Duration {
        let slowest = self.targets.iter().map(|t| t.timeout).max();
        self.policy.lease(slowest.unwrap_or_default())
    }

    /// Delivers `payload` to destination `index`, retrying transient failures until `deadline`.
    ///
    /// Once `stop` is cancelled (shutdown), a backoff wait in progress ends early, one last attempt is
    /// made, and no further retry is started: the delivery is deferred with no wait, so the message can
    /// be handed back for another worker at once.
    pub(crate) async fn deliver(
        &self,
        index: usize,
        payload: &str,
        deadline: Instant,
        stop: &CancellationToken,
    ) -> Delivery {
        self.deliver_queued(index, self.enqueue(index), payload, deadline, stop)
            .await
    }

    /// [`Deliverer::deliver`] for a delivery already counted as in progress by `queued` (from
    /// [`Deliverer::enqueue`]), so that admission sees it from the moment its message was routed until
    /// it is final.
    pub(crate) async fn deliver_queued(
        &self,
        index: usize,
        queued: Ticket,
        payload: &str,
        deadline: Instant,
        stop: &CancellationToken,
    ) -> Delivery {
        let _queued = queued;
        let target = &self.targets[index];
        let started = Instant::now();
        let Retried {
            result,
            attempts,
            deferred_by,
        } = retry::with_retries(
            &self.policy,
            deadline,
            stop,
            |n| {
                if n > 0 {
                    ::metrics::counter!(metrics::DELIVERY_RETRIES, "destination" => target.label.clone())
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
                retry_in: deferred_by.unwrap_or(retry::MIN_HANDBACK),
                failure,
            },
        };
        ::metrics::counter!(
            metrics::DELIVERIES,
            "destination" => target.label.clone(),
            "result" => delivery.label()
        )
        .increment(1);
        if let Delivery::Delivered { duration, .. } = &delivery {
            ::metrics::histogram!(metrics::DELIVERY_DURATION, "destination" => target.label.clone())
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
        let turn = pace(target, deadline, stop).await?;
        let sent = self
            .http
            .post(target.url.expose().clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .timeout(target.timeout)
            .body(reqwest::Body::wrap(StampedBody::new(payload, turn)))
            .send()
            .await;
        let result = match sent {
            Err(err) => Err(Failure::from_transport(&err.without_url())),
            Ok(response) if response.status().is_success() => {
                // The answer is not needed, but reading it to its end returns the connection to the
                // pool; dropping it half-read would close the connection.
                read_start(response, SUCCESS_BODY_LIMIT).await;
                target.accepted();
                Ok(())
            }
            Ok(response) => {
                let status = response.status();
                let headers = response.headers().clone();
                let body = read_start(response, ERROR_BODY_LIMIT).await;
                let body = scrub::scrub(&body, &target.url);
                match Failure::from_response(status, &headers, &body) {
                    None => Ok(()),
                    Some(failure) => {
                        let before = target.hold.not_before();
                        self.policy.observe(&target.hold, &failure);
                        target.hold_extended(before);
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
            "destination" => target.label.clone(),
            "outcome" => label
        )
        .increment(1);
        result
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

/// The pacing period: one over `rate_per_second`. Validation keeps the rate within (0, 1000], so the
/// period is at least a millisecond.
fn period(d: &Destination) -> Duration {
    Duration::from_secs_f64(1.0 / d.rate_per_second)
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

#[cfg(test)]
mod tests;
