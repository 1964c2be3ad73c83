//! The only module that talks to SQS: building the client, receiving, deleting, changing visibility and
//! reading queue attributes. Everything above it works with [`Received`] messages and typed errors.
//!
//! Credentials and region come from the AWS default chain (environment, IRSA web identity, ECS task role,
//! IMDS, profile); `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL` point the client at an emulator (aws-config
//! reads those itself). When the queue URL names its region (`https://sqs.eu-west-1.amazonaws.com/...`),
//! that region is used: it is where the queue is, and it spares start-up a slow IMDS region lookup.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::Region;
use aws_sdk_sqs::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageSystemAttributeName, QueueAttributeName,
};
use time::OffsetDateTime;

/// A ReceiveMessage with `WaitTimeSeconds` 20 legitimately takes 20 s; the attempt timeout must be well
/// above that, and still end a call that hangs on a dead connection.
const ATTEMPT_TIMEOUT_MARGIN: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Every call but a receive answers in milliseconds when SQS is healthy, so it gets a short attempt
/// timeout instead of the long poll's: a delete or visibility change that hangs for 35 s (and again on
/// each SDK retry) would let the message's visibility lapse while the worker still believes it holds it.
const SHORT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// The bound on a short call including the SDK's retries and their backoff: two full attempts and part
/// of a third.
const SHORT_OPERATION_TIMEOUT: Duration = Duration::from_secs(12);
/// SQS accepts at most 10 entries per batch call and 10 messages per receive.
pub const MAX_BATCH: usize = 10;
/// The longest visibility timeout SQS accepts (12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(43_200);

/// Builds the SQS client for `queue_url`, with call timeouts that suit long polls of `wait_time_secs`.
/// Calls other than ReceiveMessage override them with [`short_call`].
pub async fn client(queue_url: &str, wait_time_secs: u32) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(long_poll_timeouts(wait_time_secs));
    if let Some(region) = region_of_queue_url(queue_url) {
        loader = loader.region(Region::new(region));
    }
    Client::new(&loader.load().await)
}

fn long_poll_timeouts(wait_time_secs: u32) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(
            Duration::from_secs(wait_time_secs.into()) + ATTEMPT_TIMEOUT_MARGIN,
        )
        .build()
}

/// The per-operation override for every call but ReceiveMessage: short attempts, a bounded total.
/// Apply it with `.customize().config_override(sqs::short_call())`.
///
/// An override's timeout settings replace the client's as a whole rather than field by field, so the
/// connect timeout is repeated here.
pub fn short_call() -> aws_sdk_sqs::config::Builder {
    aws_sdk_sqs::config::Builder::new().timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(SHORT_ATTEMPT_TIMEOUT)
            .operation_timeout(SHORT_OPERATION_TIMEOUT)
            .build(),
    )
}

/// The region named in an SQS queue URL's host, if any: `sqs.REGION.amazonaws.com[.cn]`, the legacy
/// `REGION.queue.amazonaws.com`, or LocalStack's `sqs.REGION.localhost.localstack.cloud`.
pub fn region_of_queue_url(queue_url: &str) -> Option<String> {
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

/// An SQS call that failed. The SDK error is kept as the source; `Display` names the operation and adds
/// what the SDK's own `Display` leaves out ("service error", "dispatch failure"): the AWS error code and
/// message for an error answer, else the text of every error down the source chain.
#[derive(Debug, thiserror::Error)]
#[error("SQS {operation} failed: {}", self.detail())]
pub struct SqsError {
    pub operation: &'static str,
    /// The AWS error code and message, when SQS answered with an error.
    code: Option<String>,
    aws_message: Option<String>,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl SqsError {
    fn sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        // Only an error answer carries metadata worth showing; for the others the chain says more.
        let (code, aws_message) = match &err {
            SdkError::ServiceError(_) => (
                err.code().map(str::to_owned),
                err.message().map(str::to_owned),
            ),
            _ => (None, None),
        };
        SqsError {
            operation,
            code,
            aws_message,
            source: Box::new(err),
        }
    }

    fn build(operation: &'static str, err: BuildError) -> Self {
        SqsError {
            operation,
            code: None,
            aws_message: None,
            source: Box::new(err),
        }
    }

    /// The AWS error code (`AWS.SimpleQueueService.NonExistentQueue`, `RequestThrottled`, ...), when SQS
    /// answered with an error.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    fn detail(&self) -> String {
        match (&self.code, &self.aws_message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.clone(),
            _ => crate::errors::chain(&*self.source),
        }
    }
}

/// One received message.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// `ApproximateReceiveCount`: 1 on first delivery.
    pub receive_count: u32,
    /// `SentTimestamp`: when the message entered the queue.
    pub sent_at: Option<OffsetDateTime>,
}

/// One entry of a batch call that failed, or whose outcome SQS's answer did not make known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFailure {
    /// Index into the entries passed in; always in range.
    pub index: usize,
    pub code: String,
    pub message: String,
    /// Whether SQS blamed the request (retrying the same entry cannot help).
    pub sender_fault: bool,
}

/// The outcome of a batch call, entry by entry: every entry index appears in exactly one of the two
/// lists, each sorted ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub succeeded: Vec<usize>,
    pub failed: Vec<EntryFailure>,
}

/// The code given to entries whose outcome SQS's answer does not state.
pub const UNREPORTED: &str = "Unreported";

/// Approximate message counts of one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depth {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

/// A queue, by URL.
#[derive(Debug, Clone)]
pub struct Queue {
    client: Client,
    url: String,
}

impl Queue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Queue {
            client,
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Receives up to `max` (1..=10) messages, waiting up to `wait` for the first, and makes them
    /// invisible for `visibility`.
    pub async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, SqsError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(clamp_i32(max.clamp(1, MAX_BATCH) as u64))
            .wait_time_seconds(clamp_i32(wait.as_secs()))
            .visibility_timeout(clamp_i32(visibility.as_secs()))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| SqsError::sdk("ReceiveMessage", e))?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                let attribute = |name: MessageSystemAttributeName| {
                    m.attributes()
                        .and_then(|a| a.get(&name))
                        .map(String::as_str)
                };
                Some(Received {
                    message_id: m.message_id()?.to_owned(),
                    receipt_handle: m.receipt_handle()?.to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                    receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(1),
                    sent_at: attribute(MessageSystemAttributeName::SentTimestamp)
                        .and_then(|v| v.parse::<i128>().ok())
                        .and_then(|ms| {
                            OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).ok()
                        }),
                })
            })
            .collect())
    }

    /// Deletes up to 10 messages by receipt handle; the outcome says which deletes SQS confirmed.
    pub async fn delete_batch(&self, receipt_handles: &[&str]) -> Result<BatchOutcome, SqsError> {
        let entries = delete_entries(receipt_handles)
            .map_err(|e| SqsError::build("DeleteMessageBatch", e))?;
        let out = self
            .client
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .customize()
            .config_override(short_call())
            .send()
            .await
            .map_err(|e| SqsError::sdk("DeleteMessageBatch", e))?;
        Ok(batch_outcome(
            receipt_handles.len(),
            out.successful().iter().map(|e| e.id()),
            out.failed(),
        ))
    }

    /// Makes one message visible again after `visibility` (zero: at once).
    pub async fn change_visibility(
        &self,
        receipt_handle: &str,
        visibility: Duration,
    ) -> Result<(), SqsError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(clamp_i32(visibility.min(MAX_VISIBILITY).as_secs()))
            .customize()
            .config_override(short_call())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| SqsError::sdk("ChangeMessageVisibility", e))
    }

    /// Changes the visibility of up to 10 messages at once; returns the entries SQS refused or did not
    /// confirm (at most one per entry).
    pub async fn change_visibility_batch(
        &self,
        entries: &[(&str, Duration)],
    ) -> Result<Vec<EntryFailure>, SqsError> {
        let batch = visibility_entries(entries.iter().copied())
            .map_err(|e| SqsError::build("ChangeMessageVisibilityBatch", e))?;
        let out = self
            .client
            .change_message_visibility_batch()
            .queue_url(&self.url)
            .set_entries(Some(batch))
            .customize()
            .config_override(short_call())
            .send()
            .await
            .map_err(|e| SqsError::sdk("ChangeMessageVisibilityBatch", e))?;
        Ok(batch_outcome(
            entries.len(),
            out.successful().iter().map(|e| e.id()),
            out.failed(),
        )
        .failed)
    }

    /// Approximate visible, in-flight and delayed message counts.
    pub async fn depth(&self) -> Result<Depth, SqsError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .customize()
            .config_override(short_call())
            .send()
            .await
            .map_err(|e| SqsError::sdk("GetQueueAttributes", e))?;
        let get = |name: QueueAttributeName| {
            out.attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(Depth {
            visible: get(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            delayed: get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        })
    }

    /// The URL of this queue's dead-letter queue, from its RedrivePolicy; `None` when it has none.
    pub async fn dead_letter_queue_url(&self) -> Result<Option<String>, SqsError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .customize()
            .config_override(short_call())
            .send()
            .await
            .map_err(|e| SqsError::sdk("GetQueueAttributes", e))?;
        let Some(policy) = out
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
        else {
            return Ok(None);
        };
        let Some((account, name)) = dead_letter_target(policy) else {
            return Ok(None);
        };
        let out = self
            .client
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .customize()
            .config_override(short_call())
            .send()
            .await
            .map_err(|e| SqsError::sdk("GetQueueUrl", e))?;
        Ok(out.queue_url().map(str::to_owned))
    }
}

/// The account and queue name of a RedrivePolicy's `deadLetterTargetArn`
/// (`arn:PARTITION:sqs:REGION:ACCOUNT:NAME`).
pub fn dead_letter_target(redrive_policy: &str) -> Option<(String, String)> {
    let policy: serde_json::Value = serde_json::from_str(redrive_policy).ok()?;
    let arn = policy.get("deadLetterTargetArn")?.as_str()?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "sqs", _, account, name] if !name.is_empty() => {
            Some(((*account).to_owned(), (*name).to_owned()))
        }
        _ => None,
    }
}

/// DeleteMessageBatch entries for `receipt_handles`, each entry's id its index, which
/// [`batch_outcome`] maps back. Shared by the worker and the operator commands.
pub fn delete_entries(
    receipt_handles: &[&str],
) -> Result<Vec<DeleteMessageBatchRequestEntry>, aws_sdk_sqs::error::BuildError> {
    receipt_handles
        .iter()
        .enumerate()
        .map(|(i, handle)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(*handle)
                .build()
        })
        .collect()
}

/// ChangeMessageVisibilityBatch entries, each id its index, each visibility capped at SQS's maximum.
pub fn visibility_entries<'a>(
    entries: impl IntoIterator<Item = (&'a str, Duration)>,
) -> Result<Vec<ChangeMessageVisibilityBatchRequestEntry>, aws_sdk_sqs::error::BuildError> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, (handle, visibility))| {
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(handle)
                .visibility_timeout(clamp_i32(visibility.min(MAX_VISIBILITY).as_secs()))
                .build()
        })
        .collect()
}

/// Maps SQS's answer to a batch call back onto the `count` entries sent, whose ids were their indices
/// (`"0"`, `"1"`, ...).
///
/// An entry succeeded only when SQS listed its id as successful and not also as failed. A failure whose
/// id is unparseable, out of range or otherwise not one of ours cannot be pinned on one entry, so it is
/// charged to every entry SQS did not explicitly report as successful; an entry the answer does not
/// mention at all fails with the code [`UNREPORTED`]. A refused delete or send must never be counted as
/// done: the cost of a false failure is one more delivery attempt, the cost of a false success is a
/// lost or silently duplicated message.
pub fn batch_outcome<'a>(
    count: usize,
    successful_ids: impl IntoIterator<Item = &'a str>,
    failed: &[aws_sdk_sqs::types::BatchResultErrorEntry],
) -> BatchOutcome {
    let index_of = |id: &str| id.parse::<usize>().ok().filter(|&i| i < count);
    let mut failures: Vec<Option<EntryFailure>> = vec![None; count];
    let mut unattributed: Option<&aws_sdk_sqs::types::BatchResultErrorEntry> = None;
    for entry in failed {
        match index_of(entry.id()) {
            // The first report of an id wins; a duplicate adds nothing.
            Some(index) => {
                failures[index].get_or_insert_with(|| EntryFailure {
                    index,
                    code: entry.code().to_owned(),
                    message: entry.message().unwrap_or_default().to_owned(),
                    sender_fault: entry.sender_fault(),
                });
            }
            None => {
                unattributed.get_or_insert(entry);
            }
        }
    }
    let mut reported_ok = vec![false; count];
    for index in successful_ids.into_iter().filter_map(index_of) {
        reported_ok[index] = true;
    }
    let mut outcome = BatchOutcome::default();
    for (index, (failure, ok)) in failures.into_iter().zip(reported_ok).enumerate() {
        match (failure, ok) {
            (Some(failure), _) => outcome.failed.push(failure),
            (None, true) => outcome.succeeded.push(index),
            (None, false) => outcome.failed.push(match unattributed {
                Some(entry) => EntryFailure {
                    index,
                    code: entry.code().to_owned(),
                    message: format!(
                        "{} (reported for unknown entry id {:?}; charged to every entry SQS did not \
                         confirm)",
                        entry.message().unwrap_or_default(),
                        entry.id()
                    ),
                    sender_fault: entry.sender_fault(),
                },
                None => EntryFailure {
                    index,
                    code: UNREPORTED.to_owned(),
                    message: "SQS's answer reported neither success nor failure for this entry"
                        .to_owned(),
                    sender_fault: false,
                },
            }),
        }
    }
    outcome
}

fn clamp_i32(value: u64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_come_from_real_queue_urls_only() {
        for (url, want) in [
            (
                "https://sqs.eu-west-1.amazonaws.com/123456789012/failwatch",
                Some("eu-west-1"),
            ),
            (
                "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q",
                Some("cn-north-1"),
            ),
            (
                "https://sqs.us-gov-west-1.amazonaws.com/123456789012/q",
                Some("us-gov-west-1"),
            ),
            (
                "https://us-east-2.queue.amazonaws.com/123456789012/q",
                Some("us-east-2"),
            ),
            (
                "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/q",
                Some("us-east-1"),
            ),
            ("http://127.0.0.1:5000/123456789012/q", None),
            ("https://queue.amazonaws.com/123456789012/q", None),
            ("not a url", None),
        ] {
            assert_eq!(region_of_queue_url(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn dead_letter_targets_are_parsed_from_the_redrive_policy() {
        assert_eq!(
            dead_letter_target(
                r#"{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:123456789012:failwatch-dlq","maxReceiveCount":5}"#
            ),
            Some(("123456789012".into(), "failwatch-dlq".into()))
        );
        assert_eq!(dead_letter_target(r#"{"maxReceiveCount":5}"#), None);
        assert_eq!(dead_letter_target("nonsense"), None);
    }

    fn refused(
        id: &str,
        code: &str,
        sender_fault: bool,
    ) -> aws_sdk_sqs::types::BatchResultErrorEntry {
        aws_sdk_sqs::types::BatchResultErrorEntry::builder()
            .id(id)
            .code(code)
            .message(format!("{code} says no"))
            .sender_fault(sender_fault)
            .build()
            .expect("every required field is set")
    }

    fn failed_indices(outcome: &BatchOutcome) -> Vec<usize> {
        outcome.failed.iter().map(|f| f.index).collect()
    }

    #[test]
    fn batch_outcome_maps_entries_by_id() {
        let outcome = batch_outcome(
            3,
            ["0", "2"],
            &[refused("1", "ReceiptHandleIsInvalid", true)],
        );
        assert_eq!(outcome.succeeded, vec![0, 2]);
        assert_eq!(
            outcome.failed,
            vec![EntryFailure {
                index: 1,
                code: "ReceiptHandleIsInvalid".into(),
                message: "ReceiptHandleIsInvalid says no".into(),
                sender_fault: true,
            }]
        );
    }

    /// The bug this replaced: an unparseable id was reported against index `count`, which the deleter
    /// looked up, found nothing, and so counted every entry of the batch as deleted.
    #[test]
    fn unparseable_failure_id_fails_every_unconfirmed_entry_never_counts_as_deleted() {
        let outcome = batch_outcome(3, ["1"], &[refused("not-an-index", "InternalError", false)]);
        assert_eq!(outcome.succeeded, vec![1]);
        assert_eq!(failed_indices(&outcome), vec![0, 2]);
        for failure in &outcome.failed {
            assert_eq!(failure.code, "InternalError");
            assert!(!failure.sender_fault);
            assert!(
                failure.message.contains("not-an-index"),
                "{}",
                failure.message
            );
        }
    }

    #[test]
    fn out_of_range_failure_ids_fail_every_unconfirmed_entry() {
        for id in ["3", "99", "-1", "18446744073709551616"] {
            let outcome = batch_outcome(3, ["0"], &[refused(id, "InternalError", false)]);
            assert_eq!(outcome.succeeded, vec![0], "{id}");
            assert_eq!(failed_indices(&outcome), vec![1, 2], "{id}");
        }
    }

    #[test]
    fn an_entry_reported_both_ways_or_twice_fails_once() {
        let outcome = batch_outcome(
            2,
            ["0", "0", "1"],
            &[refused("0", "First", true), refused("0", "Second", false)],
        );
        assert_eq!(outcome.succeeded, vec![1]);
        assert_eq!(outcome.failed.len(), 1);
        assert_eq!(outcome.failed[0].index, 0);
        assert_eq!(outcome.failed[0].code, "First");
        assert!(outcome.failed[0].sender_fault);
    }

    #[test]
    fn success_ids_out_of_range_or_unparseable_confirm_nothing() {
        let outcome = batch_outcome(2, ["2", "x", " 0", "1"], &[]);
        assert_eq!(outcome.succeeded, vec![1]);
        assert_eq!(failed_indices(&outcome), vec![0]);
        assert_eq!(outcome.failed[0].code, UNREPORTED);
        assert!(!outcome.failed[0].sender_fault);
    }

    #[test]
    fn sender_faults_are_kept_per_entry() {
        let outcome = batch_outcome(
            3,
            ["2"],
            &[
                refused("0", "InvalidParameterValue", true),
                refused("1", "RequestThrottled", false),
            ],
        );
        let faults: Vec<(usize, bool)> = outcome
            .failed
            .iter()
            .map(|f| (f.index, f.sender_fault))
            .collect();
        assert_eq!(faults, vec![(0, true), (1, false)]);
        assert_eq!(outcome.succeeded, vec![2]);
    }

    #[test]
    fn every_entry_lands_in_exactly_one_list() {
        let outcome = batch_outcome(
            10,
            ["0", "3", "3", "7", "12"],
            &[refused("3", "A", true), refused("??", "B", false)],
        );
        let mut all: Vec<usize> = outcome.succeeded.clone();
        all.extend(failed_indices(&outcome));
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(outcome.succeeded, vec![0, 7]);
        assert!(batch_outcome(0, [], &[refused("0", "A", true)]) == BatchOutcome::default());
    }

    type DeleteError = aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchError;

    #[test]
    fn sqs_errors_show_the_aws_code_and_message_the_sdk_display_omits() {
        let answer = DeleteError::generic(
            aws_sdk_sqs::error::ErrorMetadata::builder()
                .code("AWS.SimpleQueueService.NonExistentQueue")
                .message("The specified queue does not exist.")
                .build(),
        );
        let err = SqsError::sdk("DeleteMessageBatch", SdkError::service_error(answer, ()));
        assert_eq!(
            err.to_string(),
            "SQS DeleteMessageBatch failed: AWS.SimpleQueueService.NonExistentQueue: The specified \
             queue does not exist."
        );
        assert_eq!(err.code(), Some("AWS.SimpleQueueService.NonExistentQueue"));
        // The SDK error survives as the source, so callers can still inspect it.
        let source = std::error::Error::source(&err).expect("the SDK error is the source");
        assert!(
            source
                .downcast_ref::<SdkError<DeleteError, ()>>()
                .is_some_and(|e| matches!(e, SdkError::ServiceError(_))),
            "{source:?}"
        );
    }

    #[test]
    fn sqs_errors_without_an_answer_walk_the_source_chain() {
        let err = SqsError::sdk(
            "ChangeMessageVisibility",
            SdkError::<DeleteError, ()>::timeout_error(std::io::Error::other(
                "operation attempt timeout reached",
            )),
        );
        assert_eq!(
            err.to_string(),
            "SQS ChangeMessageVisibility failed: request has timed out: operation attempt timeout \
             reached"
        );
        assert_eq!(err.code(), None);
        // Printing the whole chain adds nothing the top line already said.
        assert_eq!(crate::errors::chain(&err), err.to_string());
    }

    /// A queue whose endpoint accepts connections and never answers, on a client configured exactly as
    /// [`client`] configures its timeouts for a 20 s long poll.
    fn silent_queue(listener: &std::net::TcpListener) -> Queue {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .endpoint_url(format!("http://{}", listener.local_addr().expect("bound")))
            .timeout_config(long_poll_timeouts(20))
            .build();
        Queue::new(
            Client::from_conf(config),
            "http://127.0.0.1/123456789012/failwatch",
        )
    }

    /// Finding 6 of the review: every call inherited the 35 s long-poll attempt timeout, retried, so a
    /// hung delete could outlast the message's visibility timeout.
    #[tokio::test]
    async fn a_delete_on_a_silent_sqs_gives_up_within_the_short_call_bound() {
        // The kernel completes the handshake for the backlog, so the request is sent and never answered.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind on loopback");
        let queue = silent_queue(&listener);
        let started = std::time::Instant::now();
        let err = queue
            .delete_batch(&["handle"])
            .await
            .expect_err("nothing answers");
        let took = started.elapsed();
        assert!(
            took >= SHORT_ATTEMPT_TIMEOUT
                && took < SHORT_OPERATION_TIMEOUT + Duration::from_secs(3),
            "gave up after {took:?}: {err}"
        );
        assert!(err.to_string().contains("timed out"), "{err}");
        assert_eq!(err.operation, "DeleteMessageBatch");
    }
}
