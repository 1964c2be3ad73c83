//! What a failed SQS call says: one line naming the call and the queue, then the one thing a reader
//! needs — the AWS error code and message when SQS answered, a plain sentence when no credentials were
//! found, the text of the error chain otherwise. Never the SDK's `Debug` dumps (raw responses, bodies,
//! headers), which are long and say nothing an operator can act on.

use std::error::Error as StdError;

use aws_config::imds::client::error::ImdsError;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sqs::error::{BuildError, ProvideErrorMetadata, SdkError};

/// What to do when the default credential chain found nothing, in one line.
pub(crate) const NO_CREDENTIALS: &str = "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and \
     AWS_SECRET_ACCESS_KEY, or run with a role (ECS task role, EKS pod identity or IRSA, EC2 instance \
     profile)";

/// The longest detail kept from an error chain: one screen line or two. A chain is plain `Display` text,
/// but a dependency may put a whole response in its message; an operator needs the start of it.
const MAX_DETAIL_CHARS: usize = 300;

/// An SQS call that failed. The SDK error, when there is one, is kept as the source.
#[derive(Debug, thiserror::Error)]
#[error("SQS {operation} on {queue}: {detail}")]
pub(crate) struct SqsError {
    /// The SQS action: `ReceiveMessage`, `DeleteMessageBatch`, ...
    pub(crate) operation: &'static str,
    /// The queue URL (or, for calls that name a queue by ARN, the ARN).
    queue: String,
    /// The AWS error code, when SQS answered with an error.
    code: Option<String>,
    detail: String,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl SqsError {
    /// Maps an SDK error. Only an error answer carries metadata worth showing; for the other kinds the
    /// error chain says more.
    pub(crate) fn sdk<E, R>(operation: &'static str, queue: &str, err: SdkError<E, R>) -> Self
    where
        E: StdError + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let (code, detail) = match (&err, err.code()) {
            (SdkError::ServiceError(_), Some(code)) => (
                Some(code.to_owned()),
                match err.message() {
                    Some(message) => format!("{code}: {message}"),
                    None => code.to_owned(),
                },
            ),
            _ if lacks_credentials(&err) => (None, NO_CREDENTIALS.to_owned()),
            _ => (None, concise_chain(&err)),
        };
        SqsError {
            operation,
            queue: queue.to_owned(),
            code,
            detail,
            source: Some(Box::new(err)),
        }
    }

    /// A request that could not be built (an entry missing a required field).
    pub(crate) fn build(operation: &'static str, queue: &str, err: BuildError) -> Self {
        SqsError {
            operation,
            queue: queue.to_owned(),
            code: None,
            detail: format!("cannot build the request: {err}"),
            source: Some(Box::new(err)),
        }
    }

    /// A call that worked, with an answer that cannot be used (an invalid RedrivePolicy, a missing URL).
    pub(crate) fn unusable(operation: &'static str, queue: &str, why: impl Into<String>) -> Self {
        SqsError {
            operation,
            queue: queue.to_owned(),
            code: None,
            detail: why.into(),
            source: None,
        }
    }

    /// The AWS error code (`AWS.SimpleQueueService.NonExistentQueue`, `RequestThrottled`, ...), when SQS
    /// answered with an error. Only the tests read it back; in production it shows only in `Debug` output.
    #[cfg(test)]
    pub(crate) fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }
}

/// Whether the default credential chain came up empty: a `CredentialsNotLoaded` (every provider had
/// nothing), or a failure of the EC2 instance metadata service, which the chain only asks once the
/// environment, profiles, web identity and container providers had nothing (off EC2 it is often
/// unreachable, or a proxy refuses it). A provider that was configured and failed (an expired SSO
/// session, STS refusing) is not "missing": its own message says more.
fn lacks_credentials(err: &(dyn StdError + 'static)) -> bool {
    let mut current = Some(err);
    let mut in_credentials = false;
    while let Some(level) = current {
        match level.downcast_ref::<CredentialsError>() {
            Some(CredentialsError::CredentialsNotLoaded(_)) => return true,
            Some(_) => in_credentials = true,
            None if in_credentials && level.is::<ImdsError>() => return true,
            None => {}
        }
        current = level.source();
    }
    false
}

/// The error chain's text, each level once, cut at [`MAX_DETAIL_CHARS`].
fn concise_chain(err: &(dyn StdError + 'static)) -> String {
    let text = crate::errors::chain(err);
    match text.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((cut, _)) => format!("{} ...", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type DeleteError = aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchError;
    const QUEUE: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/failwatch";

    #[test]
    fn sqs_errors_show_the_aws_code_and_message_the_sdk_display_omits() {
        let answer = DeleteError::generic(
            aws_sdk_sqs::error::ErrorMetadata::builder()
                .code("AWS.SimpleQueueService.NonExistentQueue")
                .message("The specified queue does not exist.")
                .build(),
        );
        let err = SqsError::sdk(
            "DeleteMessageBatch",
            QUEUE,
            SdkError::service_error(answer, ()),
        );
        assert_eq!(
            err.to_string(),
            format!(
                "SQS DeleteMessageBatch on {QUEUE}: AWS.SimpleQueueService.NonExistentQueue: The \
                 specified queue does not exist."
            )
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
            QUEUE,
            SdkError::<DeleteError, ()>::timeout_error(std::io::Error::other(
                "operation attempt timeout reached",
            )),
        );
        assert_eq!(
            err.to_string(),
            format!(
                "SQS ChangeMessageVisibility on {QUEUE}: request has timed out: operation attempt \
                 timeout reached"
            )
        );
        assert_eq!(err.code(), None);
        // Printing the whole chain adds nothing the top line already said.
        assert_eq!(crate::errors::chain(&err), err.to_string());
    }

    /// Rough edge 6 of issue 9: without credentials, every poll logged the SDK's whole error.
    #[test]
    fn missing_credentials_are_one_plain_sentence() {
        let no_credentials = SdkError::<DeleteError, ()>::dispatch_failure(
            aws_sdk_sqs::error::ConnectorError::other(
                Box::new(CredentialsError::not_loaded_no_source()),
                None,
            ),
        );
        let err = SqsError::sdk("ReceiveMessage", QUEUE, no_credentials);
        assert_eq!(err.code(), None);
        assert_eq!(
            err.to_string(),
            format!("SQS ReceiveMessage on {QUEUE}: {NO_CREDENTIALS}")
        );
    }

    #[test]
    fn a_long_chain_is_cut() {
        let err = SqsError::sdk(
            "ReceiveMessage",
            QUEUE,
            SdkError::<DeleteError, ()>::timeout_error(std::io::Error::other("x".repeat(5000))),
        );
        let text = err.to_string();
        assert!(text.len() < QUEUE.len() + MAX_DETAIL_CHARS + 50, "{text}");
        assert!(text.ends_with(" ..."), "{text}");
    }
}
