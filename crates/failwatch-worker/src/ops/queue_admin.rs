//! The SQS calls of the operator commands, and only those: queue attributes and the RedrivePolicy that
//! names the dead-letter queue, receiving without consuming, visibility changes, batched sends and
//! deletes, and the native DLQ redrive API (StartMessageMoveTask, ListMessageMoveTasks).
//!
//! The long-running consumer has its own SQS module; this one exists so that operator-only calls never
//! leak into the worker's hot path, and so that everything the `dlq`, `send-test` and `replay` commands
//! ask of SQS can be read in one file. The client itself is the worker's ([`crate::sqs::client`]): the
//! default credential chain, the queue URL's region, and `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL` for
//! emulators.
//!
//! Every call but ReceiveMessage runs with the worker's short per-call timeouts
//! ([`crate::sqs::short_call`]) instead of the long-poll ones.
//!
//! Every error names the call and the queue, and carries the SDK error as its source; the AWS error code
//! and message are pulled out of the SDK error because its `Display` alone says only "service error".

use std::collections::HashMap;
use std::error::Error as StdError;
use std::time::Duration;

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, MessageSystemAttributeNameForSends,
    MessageSystemAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry,
};
use serde::Deserialize;
use time::OffsetDateTime;

/// The most entries one SQS batch call takes.
pub const MAX_BATCH: usize = 10;
/// The most bytes of bodies and attributes one SendMessageBatch call may carry, for every queue and
/// emulator (SQS has since raised its own limit; the old one is always safe).
pub const MAX_BATCH_BYTES: usize = 256 * 1024;
/// The longest long-poll wait any operator command asks for; the client's call timeout allows for it.
pub const MAX_RECEIVE_WAIT: Duration = Duration::from_secs(1);
/// StartMessageMoveTask's documented ceiling for `MaxNumberOfMessagesPerSecond`.
pub const MAX_NATIVE_RATE: u32 = 500;

/// Error codes with which an SQS endpoint says it does not implement an action at all, as opposed to
/// refusing this particular request.
const UNAVAILABLE_CODES: &[&str] = &[
    "InvalidAction",
    "UnsupportedOperation",
    "AWS.SimpleQueueService.UnsupportedOperation",
    "UnknownOperationException",
    "NotImplemented",
    "InternalFailure",
    "InternalError",
];

/// A failed SQS call.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The call itself failed.
    #[error("SQS {action} on {queue}: {message}")]
    Call {
        action: &'static str,
        queue: String,
        /// The AWS error code, when the endpoint sent one.
        code: Option<String>,
        message: String,
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The call worked but the answer cannot be used.
    #[error("{queue}: {message}")]
    Queue { queue: String, message: String },
}

impl AdminError {
    fn call<E, R>(action: &'static str, queue: &str, err: SdkError<E, R>) -> AdminError
    where
        E: StdError + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_owned);
        let message = match (&code, err.message()) {
            (Some(code), Some(text)) => format!("{code}: {text}"),
            (Some(code), None) => code.clone(),
            _ => crate::errors::chain(&err),
        };
        AdminError::Call {
            action,
            queue: queue.to_owned(),
            code,
            message,
            source: Box::new(err),
        }
    }
}

/// Message counts of one queue, as SQS approximates them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

impl QueueCounts {
    pub fn total(&self) -> u64 {
        self.visible + self.in_flight + self.delayed
    }
}

/// A queue's `RedrivePolicy` attribute.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: String,
    /// SQS writes it as a string, CloudFormation and some emulators as a number.
    #[serde(default, deserialize_with = "number_or_string")]
    pub max_receive_count: Option<u32>,
}

fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        N(u32),
        S(String),
    }
    Ok(match Option::<Either>::deserialize(d)? {
        Some(Either::N(n)) => Some(n),
        Some(Either::S(s)) => s.trim().parse().ok(),
        None => None,
    })
}

/// What `GetQueueAttributes` says about a queue.
#[derive(Debug, Clone)]
pub struct QueueInfo {
    pub url: String,
    pub arn: Option<String>,
    pub counts: QueueCounts,
    pub redrive_policy: Option<RedrivePolicy>,
    pub fifo: bool,
}

/// One received message, with what a redrive must carry over unchanged.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub receipt_handle: String,
    pub body: String,
    pub receive_count: Option<u32>,
    pub sent_at: Option<OffsetDateTime>,
    pub attributes: HashMap<String, MessageAttributeValue>,
    /// X-Ray's trace header, the one system attribute a sender may set.
    pub trace_header: Option<String>,
    /// FIFO queues only.
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
}

/// One message to send.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub body: String,
    pub attributes: HashMap<String, MessageAttributeValue>,
    pub trace_header: Option<String>,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
}

impl Outgoing {
    /// The same message again, body and attributes unchanged.
    pub fn from_received(message: &Received) -> Outgoing {
        Outgoing {
            body: message.body.clone(),
            attributes: message.attributes.clone(),
            trace_header: message.trace_header.clone(),
            group_id: message.group_id.clone(),
            deduplication_id: message.deduplication_id.clone(),
        }
    }

    /// Approximately what the message counts against the batch size limit.
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(name, value)| {
                    name.len()
                        + value.data_type().len()
                        + value.string_value().map_or(0, str::len)
                        + value.binary_value().map_or(0, |b| b.as_ref().len())
                })
                .sum::<usize>()
    }
}

/// Batch outcomes are the worker's own types, mapped by the one function that decides what SQS's
/// per-entry answer means ([`crate::sqs::batch_outcome`]).
pub use crate::sqs::{BatchOutcome as BatchResult, EntryFailure};

/// The outcome of asking for a native redrive.
#[derive(Debug)]
pub enum MoveTaskStart {
    Started {
        handle: String,
    },
    /// The endpoint does not implement the API (some emulators, some partitions).
    Unavailable {
        reason: String,
    },
}

/// The state of a native redrive, from ListMessageMoveTasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveTask {
    pub handle: Option<String>,
    /// RUNNING, FAILED, CANCELLING, CANCELLED or COMPLETED.
    pub status: String,
    pub moved: u64,
    pub to_move: Option<u64>,
    pub failure_reason: Option<String>,
}

/// The SQS client of the operator commands.
#[derive(Debug, Clone)]
pub struct QueueAdmin {
    sqs: aws_sdk_sqs::Client,
}

impl QueueAdmin {
    /// A client built exactly as the worker builds its own ([`crate::sqs::client`]): the default
    /// credential chain, the region named in `queue_url` (else the default region), and
    /// `AWS_ENDPOINT_URL_SQS` for emulators. Call timeouts allow the longest receive wait used here.
    pub async fn for_queue(queue_url: &str) -> QueueAdmin {
        let longest_wait = u32::try_from(MAX_RECEIVE_WAIT.as_secs()).unwrap_or(20);
        QueueAdmin::new(crate::sqs::client(queue_url, longest_wait).await)
    }

    pub fn new(sqs: aws_sdk_sqs::Client) -> QueueAdmin {
        QueueAdmin { sqs }
    }

    /// Counts, ARN and redrive policy of a queue.
    pub async fn info(&self, url: &str) -> Result<QueueInfo, AdminError> {
        let answer = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .customize()
            .config_override(crate::sqs::short_call())
            .send()
            .await
            .map_err(|e| AdminError::call("GetQueueAttributes", url, e))?;
        let attributes = answer.attributes.unwrap_or_default();
        let count = |name: QueueAttributeName| {
            attributes
                .get(&name)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let redrive_policy = match attributes.get(&QueueAttributeName::RedrivePolicy) {
            Some(text) if !text.trim().is_empty() => {
                Some(serde_json::from_str::<RedrivePolicy>(text).map_err(|err| {
                    AdminError::Queue {
                        queue: url.to_owned(),
                        message: format!("RedrivePolicy is not valid: {err}"),
                    }
                })?)
            }
            _ => None,
        };
        Ok(QueueInfo {
            url: url.to_owned(),
            arn: attributes.get(&QueueAttributeName::QueueArn).cloned(),
            counts: QueueCounts {
                visible: count(QueueAttributeName::ApproximateNumberOfMessages),
                in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
                delayed: count(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
            },
            redrive_policy,
            fifo: attributes
                .get(&QueueAttributeName::FifoQueue)
                .is_some_and(|v| v == "true"),
        })
    }

    /// The URL of the queue an ARN names (`arn:PARTITION:sqs:REGION:ACCOUNT:NAME`).
    pub async fn url_of(&self, arn: &str) -> Result<String, AdminError> {
        let (account, name) = split_queue_arn(arn).ok_or_else(|| AdminError::Queue {
            queue: arn.to_owned(),
            message: "not an SQS queue ARN".to_owned(),
        })?;
        let answer = self
            .sqs
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .customize()
            .config_override(crate::sqs::short_call())
            .send()
            .await
            .map_err(|e| AdminError::call("GetQueueUrl", arn, e))?;
        answer.queue_url.ok_or_else(|| AdminError::Queue {
            queue: arn.to_owned(),
            message: "GetQueueUrl answered without a URL".to_owned(),
        })
    }

    /// Receives up to `max` (at most 10) messages with every attribute, hiding them for `visibility`.
    /// `wait` is the long-poll time; a long poll asks every SQS server, so an empty answer means empty.
    pub async fn receive(
        &self,
        url: &str,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Received>, AdminError> {
        let answer = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(clamp_i32(max.clamp(1, MAX_BATCH)))
            .visibility_timeout(clamp_i32(visibility.as_secs()))
            .wait_time_seconds(clamp_i32(wait.min(MAX_RECEIVE_WAIT).as_secs()))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| AdminError::call("ReceiveMessage", url, e))?;
        Ok(answer
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let system = m.attributes.unwrap_or_default();
                let get = |name: MessageSystemAttributeName| system.get(&name).cloned();
                Some(Received {
                    id: m.message_id?,
                    receipt_handle: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                    receive_count: get(MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|v| v.parse().ok()),
                    sent_at: get(MessageSystemAttributeName::SentTimestamp)
                        .and_then(|v| v.parse::<i64>().ok())
                        .and_then(|ms| {
                            OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                                .ok()
                        }),
                    attributes: m.message_attributes.unwrap_or_default(),
                    trace_header: get(MessageSystemAttributeName::AwsTraceHeader),
                    group_id: get(MessageSystemAttributeName::MessageGroupId),
                    deduplication_id: get(MessageSystemAttributeName::MessageDeduplicationId),
                })
            })
            .collect())
    }

    /// Sets the visibility timeout of up to 10 received messages (0 makes them visible again at once).
    pub async fn change_visibility(
        &self,
        url: &str,
        receipt_handles: &[&str],
        visibility: Duration,
    ) -> Result<BatchResult, AdminError> {
        if receipt_handles.is_empty() {
            return Ok(BatchResult::default());
        }
        let entries =
            crate::sqs::visibility_entries(receipt_handles.iter().map(|h| (*h, visibility)))
                .map_err(|err| build_error("ChangeMessageVisibilityBatch", url, err))?;
        let answer = self
            .sqs
            .change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .customize()
            .config_override(crate::sqs::short_call())
            .send()
            .await
            .map_err(|e| AdminError::call("ChangeMessageVisibilityBatch", url, e))?;
        Ok(crate::sqs::batch_outcome(
            receipt_handles.len(),
            answer.successful.iter().map(|e| e.id.as_str()),
            &answer.failed,
        ))
    }

    /// Sends up to 10 messages in one call; the result says which entries SQS accepted.
    pub async fn send_batch(
        &self,
        url: &str,
        messages: &[Outgoing],
    ) -> Result<BatchResult, AdminError> {
        if messages.is_empty() {
            return Ok(BatchResult::default());
        }
        let entries = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let trace = m
                    .trace_header
                    .as_ref()
                    .map(|header| {
                        MessageSystemAttributeValue::builder()
                            .data_type("String")
                            .string_value(header)
                            .build()
                    })
                    .transpose()?;
                let mut entry = SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(&m.body)
                    .set_message_attributes(
                        (!m.attributes.is_empty()).then(|| m.attributes.clone()),
                    )
                    .set_message_group_id(m.group_id.clone())
                    .set_message_deduplication_id(m.deduplication_id.clone());
                if let Some(trace) = trace {
                    entry = entry.message_system_attributes(
                        MessageSystemAttributeNameForSends::AwsTraceHeader,
                        trace,
                    );
                }
                entry.build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| build_error("SendMessageBatch", url, err))?;
        let answer = self
            .sqs
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .customize()
            .config_override(crate::sqs::short_call())
            .send()
            .await
            .map_err(|e| AdminError::call("SendMessageBatch", url, e))?;
        Ok(crate::sqs::batch_outcome(
            messages.len(),
            answer.successful.iter().map(|e| e.id.as_str()),
            &answer.failed,
        ))
    }

    /// Deletes up to 10 received messages in one call.
    pub async fn delete_batch(
        &self,
        url: &str,
        receipt_handles: &[&str],
    ) -> Result<BatchResult, AdminError> {
        if receipt_handles.is_empty() {
            return Ok(BatchResult::default());
        }
        let entries = crate::sqs::delete_entries(receipt_handles)
            .map_err(|err| build_error("DeleteMessageBatch", url, err))?;
        let answer = self
            .sqs
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .customize()
            .config_override(crate::sqs::short_call())
            .send()
            .await
            .map_err(|e| AdminError::call("DeleteMessageBatch", url, e))?;
        Ok(crate::sqs::batch_outcome(
            receipt_handles.len(),
            answer.successful.iter().map(|e| e.id.as_str()),
            &answer.failed,
        ))
    }

    /// Starts SQS's own redrive from the dead-letter queue `source_arn` to `destination_arn` (or, when
    /// `None`, back to each message's original source queue).
    pub async fn start_move_task(
        &self,
        source_arn: &str,
        destination_arn: Option<&str>,
        max_per_second: Option<u32>,
    ) -> Result<MoveTaskStart, AdminError> {
        let sent = self
            .sqs
            .start_message_move_task()
            .source_arn(source_arn)
            .set_destination_arn(destination_arn.map(str::to_owned))
            .set_max_number_of_messages_per_second(
                max_per_second.map(|n| clamp_i32(n.min(MAX_NATIVE_RATE))),
            )
            .customize()
            .config_override(crate::sqs::short_call())
            .send()
            .await;
        match sent {
            Ok(answer) => match answer.task_handle {
                Some(handle) => Ok(MoveTaskStart::Started { handle }),
                None => Ok(MoveTaskStart::Unavailable {
                    reason: "StartMessageMoveTask answered without a task handle".to_owned(),
                }),
            },
            Err(err) => match unavailable(&err) {
                Some(reason) => Ok(MoveTaskStart::Unavailable { reason }),
                None => Err(AdminError::call("StartMessageMoveTask", source_arn, err)),
            },
        }
    }

    /// The redrive task `handle` on `source_arn` (or the most recent one when the handle is not listed).
    pub async fn move_task(&self, source_arn: &str, handle: &str) -> Result<MoveTask, AdminError> {
        let answer = self
            .sqs
            .list_message_move_tasks()
            .source_arn(source_arn)
            .max_results(10)
            .customize()
            .config_override(crate::sqs::short_call())
            .send()
            .await
            .map_err(|e| AdminError::call("ListMessageMoveTasks", source_arn, e))?;
        let results = answer.results.unwrap_or_default();
        // Only the running task has a handle in the listing; finished ones are told apart by being the
        // most recent, which is listed first.
        let entry = results
            .iter()
            .find(|r| r.task_handle() == Some(handle))
            .or_else(|| results.first())
            .ok_or_else(|| AdminError::Queue {
                queue: source_arn.to_owned(),
                message: "ListMessageMoveTasks lists no task for this queue".to_owned(),
            })?;
        Ok(MoveTask {
            handle: entry.task_handle().map(str::to_owned),
            status: entry.status().unwrap_or("UNKNOWN").to_owned(),
            moved: u64::try_from(entry.approximate_number_of_messages_moved()).unwrap_or(0),
            to_move: entry
                .approximate_number_of_messages_to_move()
                .and_then(|n| u64::try_from(n).ok()),
            failure_reason: entry.failure_reason().map(str::to_owned),
        })
    }
}

/// Whether an error means the endpoint does not implement the action: a known "no such action" code,
/// or an answer that is not an AWS error at all (moto answers StartMessageMoveTask with HTTP 500 and an
/// HTML page).
fn unavailable<E, R>(err: &SdkError<E, R>) -> Option<String>
where
    E: StdError + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(_) => match err.code() {
            Some(code) if UNAVAILABLE_CODES.contains(&code) => Some(format!(
                "the endpoint does not implement it ({code}{})",
                err.message().map(|m| format!(": {m}")).unwrap_or_default()
            )),
            Some(_) => None,
            None => {
                Some("the endpoint answered with something that is not an AWS error".to_owned())
            }
        },
        SdkError::ResponseError(_) => {
            Some("the endpoint's answer could not be read as an SQS response".to_owned())
        }
        _ => None,
    }
}

fn build_error(
    action: &'static str,
    queue: &str,
    err: aws_sdk_sqs::error::BuildError,
) -> AdminError {
    AdminError::Call {
        action,
        queue: queue.to_owned(),
        code: None,
        message: format!("cannot build the request: {err}"),
        source: Box::new(err),
    }
}

fn clamp_i32<T: TryInto<i32>>(n: T) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

/// The account and name of `arn:PARTITION:sqs:REGION:ACCOUNT:NAME`.
pub fn split_queue_arn(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("sqs"), Some(_region), Some(account), Some(name)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    (!account.is_empty() && !name.is_empty()).then_some((account, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_arns_split_into_account_and_name() {
        assert_eq!(
            split_queue_arn("arn:aws:sqs:eu-west-1:123456789012:failwatch-dlq"),
            Some(("123456789012", "failwatch-dlq"))
        );
        assert_eq!(
            split_queue_arn("arn:aws-cn:sqs:cn-north-1:123456789012:q.fifo"),
            Some(("123456789012", "q.fifo"))
        );
        assert_eq!(split_queue_arn("arn:aws:sns:eu-west-1:1:topic"), None);
        assert_eq!(split_queue_arn("arn:aws:sqs:eu-west-1::name"), None);
        assert_eq!(split_queue_arn("failwatch-dlq"), None);
    }

    #[test]
    fn redrive_policy_count_is_a_string_or_a_number() {
        let p: RedrivePolicy = serde_json::from_str(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:d","maxReceiveCount":"5"}"#,
        )
        .unwrap();
        assert_eq!(p.max_receive_count, Some(5));
        let p: RedrivePolicy = serde_json::from_str(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:d","maxReceiveCount":3}"#,
        )
        .unwrap();
        assert_eq!(p.max_receive_count, Some(3));
        assert_eq!(p.dead_letter_target_arn, "arn:aws:sqs:us-east-1:1:d");
    }

    #[test]
    fn outgoing_size_counts_body_and_attributes() {
        let mut m = Outgoing {
            body: "x".repeat(100),
            ..Outgoing::default()
        };
        m.attributes.insert(
            "k".to_owned(),
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("vvvv")
                .build()
                .unwrap(),
        );
        assert_eq!(m.size(), 100 + 1 + "String".len() + 4);
    }
}
