//! Why a body could not be decoded ([`DecodeError`]), and the names the errors give the body shapes.
//!
//! No error carries a value of the event in clear: error messages reach logs, stderr and the DLQ
//! listing, and an event's values may be secrets. serde_json's messages quote the offending value
//! (`invalid type: string "sk_live_...", expected i64`), so they are kept only as a [`JsonError`],
//! which names the value's type instead; the short values other errors show pass through the
//! redactor first.

use std::fmt;

/// Why a body could not be decoded. Every message names the shape (or the event's detail-type) and,
/// where there is one, the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The body is not JSON at all (a syntax error, or it ends early).
    #[error("body is not JSON: {0}")]
    NotJson(#[source] JsonError),
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
    /// detail-type, `source` is serde_json's error (which names the type and position, not the value).
    #[error("{what}: {source}")]
    Malformed {
        /// The shape or detail-type, e.g. `ECS Task State Change`.
        what: &'static str,
        /// serde_json's error, without the value it quoted.
        #[source]
        source: JsonError,
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
        /// The offending value, redacted and cut to a short prefix so a huge field cannot flood a
        /// log line.
        value: String,
    },
    /// An SNS envelope of another type than `Notification` (a subscription confirmation, say); the
    /// value is redacted and cut to a short prefix.
    #[error("SNS envelope: Type is {0:?}, expected \"Notification\"")]
    SnsNotNotification(String),
    /// An SNS envelope whose `Message` string is not JSON.
    #[error("SNS envelope: Message is not JSON: {0}")]
    SnsMessageNotJson(#[source] JsonError),
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
        /// serde_json's error, without the value it quoted.
        #[source]
        source: JsonError,
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

/// A serde_json error as a message that names the offending value's type but never the value: `invalid
/// type: a string, expected i64 at line 1 column 1234`. serde_json's own message quotes the value (a
/// string in full, an unknown variant or field name, a number), which may be a secret. What is kept
/// comes from failwatch's types (the expected type, field and variant names) or is a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    message: String,
}

impl JsonError {
    /// The message without its values.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JsonError {}

impl From<serde_json::Error> for JsonError {
    fn from(error: serde_json::Error) -> Self {
        let full = error.to_string();
        // serde_json appends the position when it knows it; the message before it is rewritten.
        let position = format!(" at line {} column {}", error.line(), error.column());
        let (message, position) = match full.strip_suffix(&position) {
            Some(message) if error.line() != 0 => (message, position.as_str()),
            _ => (full.as_str(), ""),
        };
        let message = without_values(message);
        // The rules above know serde's wording; the redactor is the net for any other wording.
        let message = crate::redact::text(&message).into_owned();
        JsonError {
            message: format!("{message}{position}"),
        }
    }
}

/// serde's message with every value it quotes replaced by the value's type. serde writes a value
/// after `invalid type: ` or `invalid value: ` up to the last `, expected ` (the expectation comes
/// from failwatch's types, the value may contain anything), and a name between backticks after
/// `unknown variant ` or `unknown field ` up to the last `` `, expected `` or `` `, there are no ``.
fn without_values(message: &str) -> String {
    for lead in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(lead) {
            let (unexpected, expected) = match rest.rfind(", expected ") {
                Some(at) => rest.split_at(at),
                None => (rest, ""),
            };
            return format!("{lead}{}{expected}", value_type(unexpected));
        }
    }
    for (lead, what) in [
        ("unknown variant `", "unknown variant"),
        ("unknown field `", "unknown field"),
    ] {
        if let Some(rest) = message.strip_prefix(lead) {
            let end = ["`, expected ", "`, there are no "]
                .iter()
                .filter_map(|tail| rest.rfind(tail))
                .max();
            return match end {
                Some(end) => format!("{what} (not shown){}", &rest[end + 1..]),
                None => format!("{what} (not shown)"),
            };
        }
    }
    message.to_owned()
}

/// The type of a value as serde's `Unexpected` writes it (`string "..."`, ``integer `5` ``,
/// `sequence`), without the value.
fn value_type(unexpected: &str) -> &'static str {
    const TYPES: [(&str, &str); 16] = [
        ("string", "a string"),
        ("character", "a character"),
        ("boolean", "a boolean"),
        ("integer", "an integer"),
        ("floating point", "a floating point number"),
        ("byte array", "a byte array"),
        ("unit variant", "a unit variant"),
        ("newtype variant", "a newtype variant"),
        ("tuple variant", "a tuple variant"),
        ("struct variant", "a struct variant"),
        ("newtype struct", "a newtype struct"),
        ("unit", "null"),
        ("Option value", "an optional value"),
        ("sequence", "a sequence"),
        ("map", "a map"),
        ("enum", "an enum"),
    ];
    TYPES
        .iter()
        .find(|(lead, _)| {
            unexpected
                .strip_prefix(lead)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '`', '"']))
        })
        .map_or("a value", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of<T: serde::de::DeserializeOwned + fmt::Debug>(json: &str) -> String {
        let error = serde_json::from_str::<T>(json).expect_err("a type error");
        JsonError::from(error).to_string()
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    enum Colour {
        Red,
        Blue,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        name: String,
    }

    #[test]
    fn serde_messages_name_types_not_values() {
        assert_eq!(
            error_of::<i64>(r#""s3cret, expected nothing""#),
            "invalid type: a string, expected i64 at line 1 column 26"
        );
        assert_eq!(
            error_of::<String>("41111111"),
            "invalid type: an integer, expected a string at line 1 column 8"
        );
        assert_eq!(
            error_of::<u8>("-4111"),
            "invalid value: an integer, expected u8 at line 1 column 5"
        );
        assert_eq!(
            error_of::<Colour>(r#""s3cret`, expected x""#),
            "unknown variant (not shown), expected `Red` or `Blue` at line 1 column 21"
        );
        assert_eq!(
            error_of::<Strict>(r#"{"s3cret": 1}"#),
            "unknown field (not shown), expected `name` at line 1 column 9"
        );
        assert_eq!(
            error_of::<Strict>("{}"),
            "missing field `name` at line 1 column 2"
        );
        assert_eq!(
            error_of::<Vec<i64>>(r#"{"a": 1}"#),
            "invalid type: a map, expected a sequence at line 1 column 0"
        );
        assert!(error_of::<i64>(r#""ok""#).contains("a string"));
    }

    #[test]
    fn syntax_messages_are_kept() {
        assert_eq!(
            error_of::<serde_json::Value>("[1,"),
            "EOF while parsing a value at line 1 column 3"
        );
        assert_eq!(
            error_of::<serde_json::Value>("[1 2]"),
            "expected `,` or `]` at line 1 column 4"
        );
    }
}
