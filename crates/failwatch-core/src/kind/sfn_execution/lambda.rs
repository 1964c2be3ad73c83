//! AWS Lambda, as Step Functions reports a failed Lambda task (`lambda:invoke` or a Lambda ARN).
//!
//! Two sources: the function's own error payload (`{"errorType", "errorMessage", "stackTrace"}`), which
//! becomes the cause and whose `errorType` becomes the error; and the Lambda service's errors
//! (`Lambda.ServiceException`, `Lambda.TooManyRequestsException`, `Lambda.Unknown`, ...), whose cause is
//! text, for `Lambda.Unknown` ending in "Returned payload: {...}". A timeout and running out of memory
//! are recognised from the runtime's own wording.

use serde_json::{Map, Value};

use super::cause::text;
use crate::hint::FailureClass;
use crate::summary::{Role, Summary};

/// Lambda service errors Step Functions recommends retrying: the function did not fail, the call did.
const SERVICE_ERRORS: &[&str] = &[
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
];

/// Error types and wording of a function that ran out of memory, per runtime.
const OUT_OF_MEMORY: &[&str] = &[
    "Runtime.OutOfMemory",
    "OutOfMemoryError",
    "MemoryError",
    "JavaScript heap out of memory",
    "signal: killed",
];

/// How many stack frames are shown.
const STACK_FRAMES: usize = 3;

/// A failed Lambda invocation, as the error and cause describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LambdaError {
    /// The function's `errorType`, or the Lambda service error.
    error_type: Option<String>,
    /// The function's `errorMessage`, or the service's text.
    message: Option<String>,
    /// The first frames of the stack trace, `|`-separated.
    stack: Option<String>,
    /// "600.15" from "Task timed out after 600.15 seconds".
    timed_out_after: Option<String>,
    /// The failed invocation's request id, when the payload or the runtime's wording names it: what
    /// the worker searches the function's log group for.
    request_id: Option<String>,
    class: FailureClass,
}

/// A function's error payload as the cause: it has an `errorMessage` or an `errorType`.
pub(crate) fn from_payload(
    error: Option<&str>,
    object: &Map<String, Value>,
) -> Option<LambdaError> {
    let message = text(object, "errorMessage");
    let error_type = text(object, "errorType");
    if message.is_none() && error_type.is_none() {
        return None;
    }
    let stack = object
        .get("stackTrace")
        .or_else(|| object.get("trace"))
        .and_then(Value::as_array)
        .map(|frames| {
            frames
                .iter()
                .filter_map(Value::as_str)
                // A Python frame spans two lines (file and code): one line per frame.
                .map(|f| f.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|f| !f.is_empty())
                .take(STACK_FRAMES)
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .filter(|s| !s.is_empty());
    let mut lambda = build(
        error,
        error_type.or(error).map(str::to_owned),
        message.map(str::to_owned),
        stack,
    );
    // Python's and Java's error payloads name the request; every runtime's log lines carry it.
    if let Some(id) = ["requestId", "awsRequestId"]
        .into_iter()
        .find_map(|field| text(object, field).filter(|id| is_request_id(id)))
    {
        lambda.request_id = Some(id.to_owned());
    }
    Some(lambda)
}

/// A text cause of a Lambda service error (`Lambda.*`), reading the payload a `Lambda.Unknown` cause
/// quotes after "Returned payload:".
pub(crate) fn from_text(error: Option<&str>, cause: Option<&str>) -> Option<LambdaError> {
    if !error.is_some_and(|e| e.starts_with("Lambda.")) {
        return None;
    }
    const PAYLOAD: &str = "Returned payload:";
    let payload = cause
        .and_then(|c| c.find(PAYLOAD).map(|at| c[at + PAYLOAD.len()..].trim()))
        .and_then(|p| serde_json::from_str::<Map<String, Value>>(p).ok());
    if let Some(lambda) = payload.and_then(|p| from_payload(error, &p)) {
        return Some(lambda);
    }
    Some(build(
        error,
        error.map(str::to_owned),
        cause.map(str::to_owned),
        None,
    ))
}

fn build(
    error: Option<&str>,
    error_type: Option<String>,
    message: Option<String>,
    stack: Option<String>,
) -> LambdaError {
    let timed_out_after = message.as_deref().and_then(timeout_seconds);
    let request_id = message.as_deref().and_then(request_id_in);
    let said = |needle: &str| {
        error_type.as_deref().is_some_and(|t| t.contains(needle))
            || message.as_deref().is_some_and(|m| m.contains(needle))
    };
    let class = if error == Some("Lambda.TooManyRequestsException") {
        FailureClass::LambdaThrottled
    } else if timed_out_after.is_some() || said("Sandbox.Timedout") {
        FailureClass::LambdaTimeout
    } else if OUT_OF_MEMORY.iter().any(|n| said(n)) {
        FailureClass::LambdaOutOfMemory
    } else if error.is_some_and(|e| SERVICE_ERRORS.contains(&e)) {
        FailureClass::LambdaServiceError
    } else {
        FailureClass::LambdaFunctionError
    };
    LambdaError {
        error_type,
        message,
        stack,
        timed_out_after,
        request_id,
        class,
    }
}

/// The request id a function's error message names: "RequestId: 4d5e... Error: Runtime exited ..."
/// (the runtime's own errors), or the second word of "2026-03-14T09:36:39.604Z 5b1c... Task timed out
/// after 600.15 seconds". The Lambda service's "(... Request ID: ...)" of a throttled or failed
/// `Invoke` call is not one: no invocation ran, so there are no lines to read.
fn request_id_in(message: &str) -> Option<String> {
    const LABEL: &str = "RequestId: ";
    let id = match message.find(LABEL) {
        Some(at) => message[at + LABEL.len()..].split_whitespace().next()?,
        None => {
            let mut words = message.split_whitespace().skip(1);
            let id = words.next()?;
            let rest: Vec<_> = words.take(3).collect();
            (rest == ["Task", "timed", "out"]).then_some(id)?
        }
    };
    is_request_id(id).then(|| id.to_owned())
}

/// Whether `id` is shaped like a Lambda request id, a UUID (`8-4-4-4-12` hex digits).
fn is_request_id(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The seconds of the runtime's "Task timed out after 600.15 seconds".
fn timeout_seconds(message: &str) -> Option<String> {
    const PREFIX: &str = "Task timed out after ";
    let rest = &message[message.find(PREFIX)? + PREFIX.len()..];
    let seconds = &rest[..rest.find(" seconds")?];
    seconds
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.')
        .then(|| seconds.to_owned())
        .filter(|s| !s.is_empty())
}

impl LambdaError {
    pub(crate) fn class(&self) -> FailureClass {
        self.class
    }

    /// The failed invocation's request id, when the cause names it.
    pub(crate) fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// What failed, for a title: "Lambda function timed out after 600.15 s",
    /// "ResourceNotFoundException in the Lambda function".
    pub(crate) fn headline(&self) -> String {
        match (self.class, &self.timed_out_after, &self.error_type) {
            (FailureClass::LambdaTimeout, Some(seconds), _) => {
                format!("Lambda function timed out after {seconds} s")
            }
            (FailureClass::LambdaFunctionError, _, Some(error_type))
                if !error_type.starts_with("Lambda.") =>
            {
                format!("{error_type} in the Lambda function")
            }
            (FailureClass::LambdaServiceError, _, Some(error_type)) => {
                format!("Lambda service error {error_type}")
            }
            (class, _, _) => class.phrase().to_owned(),
        }
    }

    /// The function's error type (unless it is the Step Functions `error` already shown), message,
    /// stack and timeout.
    pub(crate) fn facts(&self, summary: &mut Summary, error: Option<&str>) {
        let error_type = self.error_type.as_deref().filter(|t| Some(*t) != error);
        summary.push_labelled(Role::Detail, "Function error", error_type);
        summary.push(Role::Reason, self.message.as_deref());
        summary.push_labelled(Role::Detail, "Stack trace", self.stack.as_deref());
        if let Some(seconds) = &self.timed_out_after {
            summary.push_labelled(
                Role::Detail,
                "Timed out after",
                Some(&format!("{seconds} s")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_read_from_the_runtimes_wording() {
        assert_eq!(
            timeout_seconds("2026-03-14T09:36:39.604Z 5b1c Task timed out after 600.15 seconds")
                .as_deref(),
            Some("600.15")
        );
        assert_eq!(timeout_seconds("Task timed out after  seconds"), None);
        assert_eq!(timeout_seconds("no timeout here"), None);
    }

    #[test]
    fn request_ids_are_read_from_the_runtimes_wording_only() {
        let id = "5b1c368c-fa4f-448d-8d37-595d2633cc9b";
        for message in [
            format!("2026-03-14T09:36:39.604Z {id} Task timed out after 600.15 seconds"),
            format!("RequestId: {id} Error: Runtime exited with error: signal: killed"),
        ] {
            assert_eq!(request_id_in(&message).as_deref(), Some(id), "{message}");
        }
        for message in [
            format!("Rate Exceeded. (Service: AWSLambda; Request ID: {id}; Proxy: null)"),
            "RequestId: not-a-uuid Error: x".to_owned(),
            "2026-03-14T09:36:39.604Z Task timed out after 3.00 seconds".to_owned(),
        ] {
            assert_eq!(request_id_in(&message), None, "{message}");
        }
    }

    #[test]
    fn service_errors_and_throttling_are_not_the_functions_fault() {
        let throttled = from_text(
            Some("Lambda.TooManyRequestsException"),
            Some("Rate Exceeded."),
        )
        .expect("lambda");
        assert_eq!(throttled.class(), FailureClass::LambdaThrottled);
        let service = from_text(Some("Lambda.ServiceException"), Some("x")).expect("lambda");
        assert_eq!(service.class(), FailureClass::LambdaServiceError);
        assert!(from_text(Some("States.TaskFailed"), Some("Rate Exceeded.")).is_none());
    }
}
