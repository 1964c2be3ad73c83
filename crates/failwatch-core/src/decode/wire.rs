//! The body shapes' top-level keys, exactly as AWS (or the user's own publisher) writes them: serde renames matching the JSON, `Option`
//! for anything AWS may omit or send as `null`, unknown fields ignored (no `deny_unknown_fields`
//! anywhere). Each event kind's `detail` fields are its own module's (see [`crate::kind`]); the body
//! reader here reads the detail into them as it reaches it, or keeps it as raw JSON text when it cannot
//! tell the kind yet. The timestamp reader every kind shares lives here too.

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use serde_json::value::RawValue;

use crate::kind::{EventBridgeKind, WireDetail};

/// An EventBridge `detail`: read into its kind's wire type, or kept as raw JSON text for later.
#[allow(
    clippy::large_enum_variant,
    reason = "one per decode, moved once into the kind's decoder; a box would cost an allocation"
)]
pub(crate) enum DetailValue<'a> {
    /// Read while the body was read, because `source` and `detail-type` came first and name a kind.
    Read(WireDetail),
    /// Kept as written: the kind was not known yet (other key order, bare detail, unhandled kind).
    Raw(&'a RawValue),
}

/// Deserialises as [`DetailValue::Raw`]: how the derived [`Body`] reader keeps the detail.
impl<'de: 'a, 'a> Deserialize<'de> for DetailValue<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(deserializer).map(DetailValue::Raw)
    }
}

/// Every top-level key of every accepted body shape, read in one pass; which keys are present decides
/// the shape afterwards. The shapes share no key names but `id` and `source`, which mean the same in
/// an EventBridge event and a custom notification (EventBridge is lowercase, SNS and `Catch` outputs
/// are PascalCase, a Step Functions detail is camelCase), so one struct reads them all.
#[derive(Deserialize)]
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
    /// Read into the kind's wire type by [`read_body`] when `(source, detail-type)` came first; kept raw
    /// otherwise (and always by the derived reader), for the kind's wire type to be read from later.
    #[serde(borrow)]
    pub(super) detail: Option<DetailValue<'a>>,
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
    // Amazon Q Developer in chat applications (AWS Chatbot) custom notification: `version`, `id`,
    // `source: "custom"`, `content` and `metadata`; the two objects are read by the kind's module.
    #[serde(borrow)]
    pub(super) content: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) metadata: Option<&'a RawValue>,
    // A Step Functions execution `detail` without its envelope (a rule's input path `$.detail`): only
    // whether its ARN keys are present; the body is read as the detail once that shape is chosen.
    #[serde(rename = "executionArn")]
    pub(super) execution_arn: Option<IgnoredAny>,
    #[serde(rename = "stateMachineArn")]
    pub(super) state_machine_arn: Option<IgnoredAny>,
}

/// Reads a [`Body`] in one pass. EventBridge writes `detail-type` and `source` before `detail`, so when
/// they name a handled kind the detail is read straight into that kind's wire type, and the 2.5 KB
/// detail is scanned once instead of once as raw text and again by the kind. Any other order keeps the
/// detail raw. Only a successful read is used: on any error the caller reads the body again with the
/// derived `Body` reader, whose errors (and acceptance) are the reference, so no message changes.
pub(super) fn read_body(body: &str) -> Result<Body<'_>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(body);
    let parsed = deserializer.deserialize_map(BodyVisitor)?;
    deserializer.end()?;
    Ok(parsed)
}

/// The top-level keys [`Body`] reads, for [`read_body`]; the renames are [`Body`]'s.
#[derive(Clone, Copy, Deserialize)]
enum Key {
    #[serde(rename = "id")]
    Id,
    #[serde(rename = "detail-type")]
    DetailType,
    #[serde(rename = "source")]
    Source,
    #[serde(rename = "account")]
    Account,
    #[serde(rename = "time")]
    Time,
    #[serde(rename = "region")]
    Region,
    #[serde(rename = "resources")]
    Resources,
    #[serde(rename = "detail")]
    Detail,
    Type,
    MessageId,
    Message,
    Timestamp,
    Error,
    Cause,
    #[serde(rename = "content")]
    Content,
    #[serde(rename = "metadata")]
    Metadata,
    #[serde(rename = "executionArn")]
    ExecutionArn,
    #[serde(rename = "stateMachineArn")]
    StateMachineArn,
    #[serde(other)]
    Other,
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Body<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut body = Body {
            id: None,
            detail_type: None,
            source: None,
            account: None,
            time: None,
            region: None,
            resources: None,
            detail: None,
            sns_type: None,
            sns_message_id: None,
            sns_message: None,
            sns_timestamp: None,
            error: None,
            cause: None,
            content: None,
            metadata: None,
            execution_arn: None,
            state_machine_arn: None,
        };
        // One bit per key: a repeated key is an error for the derived reader, so it is one here too.
        let mut seen = 0_u32;
        while let Some(key) = map.next_key::<Key>()? {
            if !matches!(key, Key::Other) {
                let bit = 1 << key as u32;
                if seen & bit != 0 {
                    return Err(de::Error::custom("duplicate key"));
                }
                seen |= bit;
            }
            match key {
                Key::Id => body.id = map.next_value()?,
                Key::DetailType => body.detail_type = map.next_value()?,
                Key::Source => body.source = map.next_value()?,
                Key::Account => body.account = map.next_value()?,
                Key::Time => body.time = map.next_value()?,
                Key::Region => body.region = map.next_value()?,
                Key::Resources => body.resources = map.next_value()?,
                Key::Detail => {
                    let kind = EventBridgeKind::of_event(
                        body.source.as_deref(),
                        body.detail_type.as_deref(),
                    );
                    body.detail = match kind {
                        Some(kind) => map.next_value_seed(KindDetail(kind))?,
                        None => map.next_value()?,
                    };
                }
                Key::Type => body.sns_type = map.next_value()?,
                Key::MessageId => body.sns_message_id = map.next_value()?,
                Key::Message => body.sns_message = map.next_value()?,
                Key::Timestamp => body.sns_timestamp = map.next_value()?,
                Key::Error => body.error = map.next_value()?,
                Key::Cause => body.cause = map.next_value()?,
                Key::Content => body.content = map.next_value()?,
                Key::Metadata => body.metadata = map.next_value()?,
                Key::ExecutionArn => body.execution_arn = map.next_value()?,
                Key::StateMachineArn => body.state_machine_arn = map.next_value()?,
                Key::Other => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(body)
    }
}

/// Reads the `detail` of an event of a known kind into that kind's wire type.
struct KindDetail(EventBridgeKind);

impl<'de> DeserializeSeed<'de> for KindDetail {
    type Value = Option<DetailValue<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        Ok(WireDetail::deserialize(self.0, deserializer)?.map(DetailValue::Read))
    }
}

/// The top-level keys that name a shape; read only when [`Body`] failed, to word the error (or to let
/// an event failwatch does not handle through whatever its detail holds). Only `source` and
/// `detail-type` are read; the other keys only count as present.
#[derive(Debug, Deserialize)]
pub(super) struct EventProbe {
    #[serde(rename = "detail-type")]
    pub(super) detail_type: Option<String>,
    pub(super) source: Option<String>,
    pub(super) detail: Option<IgnoredAny>,
    #[serde(rename = "Type")]
    pub(super) sns_type: Option<IgnoredAny>,
    #[serde(rename = "Message")]
    pub(super) sns_message: Option<IgnoredAny>,
    pub(super) content: Option<IgnoredAny>,
    pub(super) metadata: Option<IgnoredAny>,
}

/// The SNS envelope keys the body reader reads as strings, as any JSON value: read only to name the
/// one that is not a string.
#[derive(Debug, Deserialize)]
pub(super) struct SnsProbe {
    #[serde(rename = "Type")]
    sns_type: Option<serde_json::Value>,
    #[serde(rename = "MessageId")]
    message_id: Option<serde_json::Value>,
    #[serde(rename = "Message")]
    message: Option<serde_json::Value>,
    #[serde(rename = "Timestamp")]
    timestamp: Option<serde_json::Value>,
}

impl SnsProbe {
    /// The first key (in the envelope's own order) whose value is neither a string nor `null`.
    pub(super) fn not_a_string(&self) -> Option<&'static str> {
        [
            ("Type", &self.sns_type),
            ("MessageId", &self.message_id),
            ("Message", &self.message),
            ("Timestamp", &self.timestamp),
        ]
        .into_iter()
        .find(|(_, value)| value.as_ref().is_some_and(|v| !v.is_string()))
        .map(|(key, _)| key)
    }
}

/// The keys of a bare `detail` that tell a Step Functions execution from an ECS task (whose
/// `taskArn` wins): read only for a body without an envelope.
#[derive(Debug, Deserialize)]
pub(super) struct DetailProbe {
    #[serde(rename = "taskArn")]
    pub(super) task_arn: Option<IgnoredAny>,
    #[serde(rename = "executionArn")]
    pub(super) execution_arn: Option<IgnoredAny>,
    #[serde(rename = "stateMachineArn")]
    pub(super) state_machine_arn: Option<IgnoredAny>,
}

impl DetailProbe {
    /// Whether the detail is a Step Functions execution's: it names one and no task.
    pub(super) fn is_sfn_execution(&self) -> bool {
        self.task_arn.is_none()
            && (self.execution_arn.is_some() || self.state_machine_arn.is_some())
    }
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
