//! The only module that talks to SQS: building the client, and every call the worker and the operator
//! commands make — receiving, deleting, changing visibility, sending, reading queue attributes, finding
//! the dead-letter queue and SQS's own redrive (StartMessageMoveTask). Everything above it works with
//! [`Queue`], [`Received`] messages and one error type, [`SqsError`].
//!
//! Credentials and region come from the AWS default chain (environment, IRSA web identity, ECS task role,
//! IMDS, profile); `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL` point the client at an emulator (aws-config
//! reads those itself). When the queue URL names its region (`https://sqs.eu-west-1.amazonaws.com/...`),
//! that region is used: it is where the queue is, and it spares start-up a slow IMDS region lookup.
//!
//! Timeouts: every call gets short attempts (5 s, 12 s in all with the SDK's retries) — a delete or
//! visibility change that hangs would let a message's visibility lapse while the worker believes it holds
//! it — except ReceiveMessage, whose attempt timeout is its own long-poll wait plus a margin, with no
//! overall bound beyond the SDK's three attempts.
//!
//! The submodules group the calls: [`receive`] (ReceiveMessage), [`batch`] (the batch calls and what
//! SQS's per-entry answers mean), [`attributes`] (counts, the RedrivePolicy and the dead-letter queue),
//! [`move_task`] (StartMessageMoveTask and ListMessageMoveTasks), [`error`] (what a failed call says).

pub(crate) mod attributes;
pub(crate) mod batch;
pub(crate) mod error;
pub(crate) mod move_task;
pub(crate) mod receive;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::Region;

pub(crate) use attributes::{Counts, QueueInfo};
pub(crate) use batch::{BatchOutcome, Outgoing};
pub(crate) use error::SqsError;
pub(crate) use move_task::{MAX_NATIVE_RATE, MoveTaskStart};
pub(crate) use receive::Received;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Every call but a receive answers in milliseconds when SQS is healthy, so it gets a short attempt
/// timeout instead of the long poll's: a delete or visibility change that hangs for 35 s (and again on
/// each SDK retry) would let the message's visibility lapse while the worker still believes it holds it.
const SHORT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// The bound on a short call including the SDK's retries and their backoff: two full attempts and part
/// of a third.
const SHORT_OPERATION_TIMEOUT: Duration = Duration::from_secs(12);
/// SQS accepts at most 10 entries per batch call and 10 messages per receive.
pub(crate) const MAX_BATCH: usize = 10;
/// The longest visibility timeout SQS accepts (12 hours).
pub(crate) const MAX_VISIBILITY: Duration = Duration::from_secs(43_200);

/// Builds the SQS client for `queue_url`: the default credential chain, the region the URL names (else
/// the default region), and the short call timeouts, which ReceiveMessage overrides per call.
pub(crate) async fn client(queue_url: &str) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(short_calls());
    if let Some(region) = region_of_queue_url(queue_url) {
        loader = loader.region(Region::new(region));
    }
    Client::new(&loader.load().await)
}

/// The client's timeouts, which every call but ReceiveMessage keeps.
fn short_calls() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(SHORT_ATTEMPT_TIMEOUT)
        .operation_timeout(SHORT_OPERATION_TIMEOUT)
        .build()
}

/// The region named in an SQS queue URL's host, if any: `sqs.REGION.amazonaws.com[.cn]`, the legacy
/// `REGION.queue.amazonaws.com`, or LocalStack's `sqs.REGION.localhost.localstack.cloud`.
pub(crate) fn region_of_queue_url(queue_url: &str) -> Option<String> {
    let url = reqwest::Url::parse(queue_url).ok()?;
    let labels: Vec<&str> = url.host_str()?.split('.').collect();
    let candidate = match labels.as_slice() {
        ["sqs", region, _, ..] => *region,
        [region, "queue", "amazonaws", "com"] => *region,
        _ => return None,
    };
    let looks_like_region = candidate.contains('-')
        && candidate.ends_with(|c: char| c.is_ascii_digit())
        && candidate
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    looks_like_region.then(|| candidate.to_owned())
}

/// One queue, by URL, on a shared client. Cloning is cheap (the client is reference-counted).
#[derive(Debug, Clone)]
pub(crate) struct Queue {
    client: Client,
    url: String,
}

impl Queue {
    /// The queue at `url`, reached through `client` (see [`client`]).
    pub(crate) fn new(client: Client, url: impl Into<String>) -> Self {
        Queue {
            client,
            url: url.into(),
        }
    }

    /// Another queue on the same client: the dead-letter queue, a redrive's destination.
    pub(crate) fn at(&self, url: impl Into<String>) -> Queue {
        Queue::new(self.client.clone(), url)
    }

    /// The queue URL, as SQS and the configuration spell it.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Maps an SDK error of `operation` on this queue.
    fn error<E, R>(
        &self,
        operation: &'static str,
        err: aws_sdk_sqs::error::SdkError<E, R>,
    ) -> SqsError
    where
        E: std::error::Error + aws_sdk_sqs::error::ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        SqsError::sdk(operation, &self.url, err)
    }
}

/// Caps a count or a number of seconds at what SQS's `Integer` fields hold.
fn clamp_i32<T: TryInto<i32>>(n: T) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests;
