//! Why a body could not be decoded ([`DecodeError`]), and the names the errors give the body shapes.

/// Why a body could not be decoded. Every message names the shape (or the event's detail-type) and,
/// where there is one, the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The body is not JSON at all (a syntax error, or it ends early).
    #[error("body is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The body is JSON but not an object (an array, a string, a number).
    #[error("body is JSON but not an object")]
    NotAnObject,
    /// The body is an object with none of the keys of an accepted shape, nor enough of one to name it.
    #[error(
        "body is not a known message shape: expected an EventBridge event (\"detail-type\", \"detail\"), \
         an SNS notification (\"Type\", \"Message\"), a bare {{\"detail\": {{...}}}}, a Step Functions \
         execution detail (\"executionArn\", \"status\"), a Step Functions Catch output (\"Error\", \
         \"Cause\") or a custom notification (\"source\": \"custom\", \"content\")"
    )]
    UnknownShape,
    /// The body has the keys of a shape but a value of the wrong type; `what` names the shape or
    /// detail-type, `source` is serde_json's error (which names the type and position).
    #[error("{what}: {source}")]
    Malformed {
        /// The shape or detail-type, e.g. `ECS Task State Change`.
        what: &'static str,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// A field the shape or event needs is absent, `null` or empty.
    #[error("{what}: {field} missing")]
    MissingField {
        /// The shape or detail-type.
        what: &'static str,
        /// The field's path, e.g. `detail.taskArn`.
        field: &'static str,
    },
    /// A field has the right type but not the right form, e.g. a task ARN that is not one.
    #[error("{what}: {field} is not {expected}: {value:?}")]
    InvalidField {
        /// The shape or detail-type.
        what: &'static str,
        /// The field's path.
        field: &'static str,
        /// What the field should be, e.g. `an ECS task ARN`.
        expected: &'static str,
        /// The offending value, cut to a short prefix so a huge field cannot flood a log line.
        value: String,
    },
    /// An SNS envelope of another type than `Notification` (a subscription confirmation, say).
    #[error("SNS envelope: Type is {0:?}, expected \"Notification\"")]
    SnsNotNotification(String),
    /// An SNS envelope whose `Message` string is not JSON.
    #[error("SNS envelope: Message is not JSON: {0}")]
    SnsMessageNotJson(#[source] serde_json::Error),
    /// An SNS envelope wrapping another SNS envelope, which no real subscription produces.
    #[error("SNS envelope: Message is itself an SNS envelope")]
    SnsNested,
    /// An SNS envelope whose `Message` failed to decode; the source says why.
    #[error("SNS envelope: Message: {0}")]
    SnsMessage(#[source] Box<DecodeError>),
    /// A body with the keys of an SNS envelope, one of which (`field`) is not a string; `source` is
    /// serde_json's error, which gives the position.
    #[error("body: {source} (SNS envelope: {field} is not a string)")]
    SnsFieldNotString {
        /// The envelope key, e.g. `Message`.
        field: &'static str,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
}

/// How the errors name a bare `{"detail": ...}` body.
pub(crate) const BARE_DETAIL: &str = "bare detail";
/// How the errors name an SNS envelope.
pub(super) const SNS: &str = "SNS envelope";
/// How the errors name a custom notification.
pub(crate) const CUSTOM_NOTIFICATION: &str = "custom notification";
/// The `source` of a custom notification, which marks the shape.
pub(super) const CUSTOM_SOURCE: &str = "custom";
/// How the errors name a Step Functions `Catch` output.
pub(crate) const CATCH_OUTPUT: &str = "Step Functions Catch output";
/// How the errors name an EventBridge event of a kind failwatch does not handle.
pub(super) const EVENT: &str = "EventBridge event";
