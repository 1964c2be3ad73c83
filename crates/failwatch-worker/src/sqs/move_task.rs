//! SQS's own redrive: StartMessageMoveTask, watched through ListMessageMoveTasks. Some endpoints (moto,
//! some partitions) do not implement it; that is an answer, [`MoveTaskStart::Unavailable`], not an
//! error, so the caller can move messages itself.

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};

use super::{Queue, SqsError, clamp_i32};

/// StartMessageMoveTask's documented ceiling for `MaxNumberOfMessagesPerSecond`.
pub(crate) const MAX_NATIVE_RATE: u32 = 500;

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

/// The outcome of asking for a native redrive.
#[derive(Debug)]
pub(crate) enum MoveTaskStart {
    /// SQS is moving the messages; the handle names the task.
    Started { handle: String },
    /// The endpoint does not implement the API (some emulators, some partitions).
    Unavailable { reason: String },
}

/// The state of a native redrive, from ListMessageMoveTasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MoveTask {
    /// RUNNING, FAILED, CANCELLING, CANCELLED or COMPLETED.
    pub(crate) status: String,
    /// Messages moved so far (approximate).
    pub(crate) moved: u64,
    /// Messages the task set out to move, when SQS says.
    pub(crate) to_move: Option<u64>,
    /// Why a FAILED task failed.
    pub(crate) failure_reason: Option<String>,
}

impl Queue {
    /// Starts SQS's own redrive from the dead-letter queue `source_arn` to `destination_arn` (or, when
    /// `None`, back to each message's original source queue), at most `max_per_second` (capped at
    /// [`MAX_NATIVE_RATE`]).
    pub(crate) async fn start_move_task(
        &self,
        source_arn: &str,
        destination_arn: Option<&str>,
        max_per_second: Option<u32>,
    ) -> Result<MoveTaskStart, SqsError> {
        let sent = self
            .client
            .start_message_move_task()
            .source_arn(source_arn)
            .set_destination_arn(destination_arn.map(str::to_owned))
            .set_max_number_of_messages_per_second(
                max_per_second.map(|n| clamp_i32(n.min(MAX_NATIVE_RATE))),
            )
            .send()
            .await;
        match sent {
            Ok(answer) => Ok(match answer.task_handle {
                Some(handle) => MoveTaskStart::Started { handle },
                None => MoveTaskStart::Unavailable {
                    reason: "StartMessageMoveTask answered without a task handle".to_owned(),
                },
            }),
            Err(err) => match unavailable(&err) {
                Some(reason) => Ok(MoveTaskStart::Unavailable { reason }),
                None => Err(SqsError::sdk("StartMessageMoveTask", source_arn, err)),
            },
        }
    }

    /// The redrive task `handle` on `source_arn` (or the most recent one when the handle is not listed).
    pub(crate) async fn move_task(
        &self,
        source_arn: &str,
        handle: &str,
    ) -> Result<MoveTask, SqsError> {
        const OPERATION: &str = "ListMessageMoveTasks";
        let answer = self
            .client
            .list_message_move_tasks()
            .source_arn(source_arn)
            .max_results(10)
            .send()
            .await
            .map_err(|e| SqsError::sdk(OPERATION, source_arn, e))?;
        let results = answer.results.unwrap_or_default();
        // Only the running task has a handle in the listing; finished ones are told apart by being the
        // most recent, which is listed first.
        let entry = results
            .iter()
            .find(|r| r.task_handle() == Some(handle))
            .or_else(|| results.first())
            .ok_or_else(|| {
                SqsError::unusable(OPERATION, source_arn, "lists no task for this queue")
            })?;
        Ok(MoveTask {
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
    E: std::error::Error + ProvideErrorMetadata + 'static,
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
