//! The body shapes' top-level keys, exactly as AWS writes them: serde renames matching the JSON, `Option`
//! for anything AWS may omit or send as `null`, unknown fields ignored (no `deny_unknown_fields`
//! anywhere). Each event kind's `detail` fields are its own module's (see [`crate::kind`]); here the
//! detail is kept as raw JSON text. The timestamp reader every kind shares lives here too.

use serde::de::{self, IgnoredAny, Visitor};
use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use serde_json::value::RawValue;

/// Every top-level key of every accepted body shape, read in one pass; which keys are present decides
/// the shape afterwards. The shapes do not share key names (EventBridge is lowercase, SNS and `Catch`
/// outputs are PascalCase), so one struct reads them all.
#[derive(Debug, Deserialize)]
pub(super) struct Body<'a> {
    // EventBridge envelope (also the bare `{"detail": ...}`, with every other field absent).
    pub(super) id: Option<String>,
    #[serde(rename = "detail-type")]
    pub(super) detail_type: Option<String>,
    pub(super) source: Option<String>,
    pub(super) account: Option<String>,
    pub(super) time: Option<String>,
    pub(super) region: Option<String>,
    pub(super) resources: Option<Vec<String>>,
    /// Read by the event kind's module, once `(source, detail-type)` says which kind it is.
    #[serde(borrow)]
    pub(super) detail: Option<&'a RawValue>,
    // SNS notification, as SQS receives it when raw message delivery is off.
    #[serde(rename = "Type")]
    pub(super) sns_type: Option<String>,
    #[serde(rename = "MessageId")]
    pub(super) sns_message_id: Option<String>,
    #[serde(rename = "Message")]
    pub(super) sns_message: Option<String>,
    #[serde(rename = "Timestamp")]
    pub(super) sns_timestamp: Option<String>,
    // Step Functions `Catch` output. Both are read as any JSON value and checked afterwards: `Cause` is
    // normally a string, but after `States.StringToJson` (the Slack seed's first Pass state) it is the
    // task description object itself.
    #[serde(rename = "Error")]
    pub(super) error: Option<serde_json::Value>,
    #[serde(rename = "Cause")]
    pub(super) cause: Option<serde_json::Value>,
}

/// The top-level keys that name an EventBridge event; read only when [`Body`] failed, to word the error
/// (or to let an event failwatch does not handle through whatever its detail holds).
#[derive(Debug, Deserialize)]
pub(super) struct EventProbe {
    #[serde(rename = "detail-type")]
    pub(super) detail_type: Option<String>,
    pub(super) source: Option<String>,
    pub(super) detail: Option<IgnoredAny>,
}

/// The envelope of an EventBridge event failwatch does not handle: everything but its detail.
#[derive(Debug, Deserialize)]
pub(super) struct UnhandledBody {
    pub(super) id: Option<String>,
    #[serde(rename = "detail-type")]
    pub(super) detail_type: Option<String>,
    pub(super) source: Option<String>,
    pub(super) account: Option<String>,
    pub(super) time: Option<String>,
    pub(super) region: Option<String>,
    pub(super) resources: Option<Vec<String>>,
}

/// Reads a timestamp written either as RFC 3339 text (EventBridge, `describe-tasks`) or as epoch
/// milliseconds (Step Functions, and the task descriptions it embeds). A value that is neither a valid
/// time nor `null` reads as `None`: a garbled timestamp should cost the alert its time, not the alert.
pub(crate) fn timestamp<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<OffsetDateTime>, D::Error> {
    struct TimestampVisitor;

    impl<'de> Visitor<'de> for TimestampVisitor {
        type Value = Option<OffsetDateTime>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an RFC 3339 timestamp or epoch milliseconds")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(parse_rfc3339(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(from_epoch_millis(i128::from(v)))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(from_epoch_millis(i128::from(v)))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // Saturating float-to-int conversion; absurd values fall out in `from_epoch_millis`.
            #[allow(clippy::cast_possible_truncation)]
            let millis = v as i128;
            Ok(v.is_finite().then(|| from_epoch_millis(millis)).flatten())
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    deserializer.deserialize_option(TimestampVisitor)
}

/// Parses RFC 3339 text, `None` when it is not.
pub(super) fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

fn from_epoch_millis(millis: i128) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(millis.checked_mul(1_000_000)?).ok()
}
