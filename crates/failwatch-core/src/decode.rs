//! Decoding an SQS message body into an [`Event`].
//!
//! Four body shapes reach the queue in practice, and all decode to the same event types:
//! 1. an EventBridge event, as EventBridge delivers it (`account` may be missing: emulators drop it);
//! 2. an SNS notification (`Type: Notification`) whose `Message` string holds any of the other shapes;
//! 3. a bare `{"detail": {...}}` with ECS task fields, the Google Chat seed's test message;
//! 4. a Step Functions `Catch` output, `{"Error": ..., "Cause": ...}`, as the Slack seed's state machine
//!    sends it.
//!
//! Decoding never panics and never guesses: a body that is none of these is a [`DecodeError`] naming what
//! was wrong. A well-formed EventBridge event of a kind failwatch does not handle is *not* an error; it
//! decodes to [`Event::Unhandled`], which classification keeps silent.
//!
//! This module owns the shapes; each event kind owns its `detail` (see [`crate::kind`]). A body is read
//! once into a struct holding the top-level keys of every shape (the shapes do not share key names);
//! which keys were present decides the shape, and `(source, detail-type)` the kind. An EventBridge
//! `detail` is read into the kind's wire type as the body is read, since EventBridge writes those two
//! keys first; in any other order it is kept as raw JSON text and read once the kind is known. Only a
//! body that fails the first read is looked at again, to name its shape in the error. An SNS `Message` is
//! a second document and is read as one.

mod arn;
mod model;
mod open_enum;
mod wire;

use time::OffsetDateTime;

pub(crate) use arn::{
    ecs_cluster_name, ecs_service_parts, ecs_task_definition, ecs_task_parts, partition_of_region,
    sfn_state_machine_name,
};
pub use model::{EventMeta, Shape, UnhandledEvent};
pub(crate) use open_enum::open_enum;
pub(crate) use wire::{DetailValue, timestamp};

use crate::kind::{self, AlertKind, Event};
use arn::Arn;
use wire::{Body, EventProbe, UnhandledBody};

/// What the caller knows about a message beyond its body. Bodies with no envelope (a bare `detail`, a
/// Step Functions `Catch` output) take their id and time from here.
#[derive(Debug, Clone)]
pub struct DecodeContext {
    /// The SQS message id, when the body came from SQS.
    pub message_id: Option<String>,
    /// When the message was sent to or received from the queue; the fallback event time.
    pub received_at: OffsetDateTime,
}

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
    /// The body is an object with none of the keys of an accepted shape.
    #[error(
        "body is not a known message shape: expected an EventBridge event (\"detail-type\", \"detail\"), \
         an SNS notification (\"Type\", \"Message\"), a bare {{\"detail\": {{...}}}} or a Step Functions \
         Catch output (\"Error\", \"Cause\")"
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
}

/// How the errors name a bare `{"detail": ...}` body.
pub(crate) const BARE_DETAIL: &str = "bare detail";
/// How the errors name a Step Functions `Catch` output.
pub(crate) const CATCH_OUTPUT: &str = "Step Functions Catch output";
/// How the errors name an EventBridge event of a kind failwatch does not handle.
const EVENT: &str = "EventBridge event";

/// What an SNS envelope contributes to the message it wraps.
struct SnsInfo {
    message_id: Option<String>,
    timestamp: Option<OffsetDateTime>,
}

/// Decodes one SQS message body.
///
/// # Errors
///
/// A [`DecodeError`] naming the shape and field when the body is not one of the accepted shapes, or
/// a handled event lacks what its kind needs. An EventBridge event of a kind failwatch does not
/// handle is not an error: it decodes to [`Event::Unhandled`].
pub fn decode(body: &str, ctx: &DecodeContext) -> Result<Event, DecodeError> {
    decode_with(body, ctx, None)
}

fn decode_with(
    body: &str,
    ctx: &DecodeContext,
    sns: Option<&SnsInfo>,
) -> Result<Event, DecodeError> {
    // The one-pass reader first; the derived reader decides (and words) whatever it refuses.
    let parsed: Body<'_> = match wire::read_body(body).or_else(|_| serde_json::from_str(body)) {
        Ok(parsed) => parsed,
        Err(e) if e.is_syntax() || e.is_eof() => return Err(DecodeError::NotJson(e)),
        Err(_) if !body.trim_start().starts_with('{') => return Err(DecodeError::NotAnObject),
        Err(e) => return recover(body, ctx, sns, e),
    };
    let fallback = Fallback { body, ctx, sns };

    if let (Some(kind), Some(message)) = (&parsed.sns_type, &parsed.sns_message) {
        if sns.is_some() {
            return Err(DecodeError::SnsNested);
        }
        return decode_sns(kind, message, &parsed, ctx);
    }
    let envelope = Envelope {
        id: parsed.id,
        time: parsed.time,
        account: parsed.account,
        region: parsed.region,
    };
    if parsed.detail_type.is_some() || parsed.source.is_some() {
        let handled = AlertKind::of_event(parsed.source.as_deref(), parsed.detail_type.as_deref());
        let Some(detail) = parsed.detail else {
            return Err(DecodeError::MissingField {
                what: handled.map_or(EVENT, AlertKind::detail_type),
                field: "detail",
            });
        };
        let resources = parsed.resources.unwrap_or_default();
        return Ok(match handled {
            Some(kind) => kind::decode(
                kind,
                detail,
                Detail {
                    envelope,
                    resources,
                    fallback: &fallback,
                },
            )?,
            None => unhandled_event(
                envelope,
                &resources,
                parsed.source,
                parsed.detail_type,
                &fallback,
            ),
        });
    }
    // Without `source` and `detail-type` the body reader cannot know a kind, so a bare detail is raw.
    if let Some(DetailValue::Raw(raw)) = parsed.detail {
        let input = Detail {
            envelope,
            resources: Vec::new(),
            fallback: &fallback,
        };
        return kind::ecs_task::decode_bare(raw, input).map(Event::EcsTask);
    }
    if parsed.error.is_some() || parsed.cause.is_some() {
        return kind::sfn_execution::decode_catch(parsed.error, parsed.cause, &fallback)
            .map(Event::SfnExecution);
    }
    Err(DecodeError::UnknownShape)
}

/// Decodes the `Message` of an SNS notification, which may hold any other shape.
fn decode_sns(
    kind: &str,
    message: &str,
    parsed: &Body<'_>,
    ctx: &DecodeContext,
) -> Result<Event, DecodeError> {
    if kind != "Notification" {
        return Err(DecodeError::SnsNotNotification(kind.to_owned()));
    }
    let info = SnsInfo {
        message_id: parsed.sns_message_id.clone().filter(|id| !id.is_empty()),
        timestamp: parsed
            .sns_timestamp
            .as_deref()
            .and_then(wire::parse_rfc3339),
    };
    decode_with(message, ctx, Some(&info)).map_err(|e| match e {
        DecodeError::NotJson(e) => DecodeError::SnsMessageNotJson(e),
        DecodeError::SnsNested => DecodeError::SnsNested,
        other => DecodeError::SnsMessage(Box::new(other)),
    })
}

/// Handles a type error in an object body. The one-pass read does not know the shape yet when it fails,
/// so a cheap probe of the top-level keys names it in the error. An EventBridge event failwatch does not
/// handle is not an error whenever only keys it does not use are wrong: it decodes to
/// [`Event::Unhandled`].
fn recover(
    body: &str,
    ctx: &DecodeContext,
    sns: Option<&SnsInfo>,
    error: serde_json::Error,
) -> Result<Event, DecodeError> {
    let Ok(probe) = serde_json::from_str::<EventProbe>(body) else {
        return Err(DecodeError::Malformed {
            what: "body",
            source: error,
        });
    };
    if probe.detail_type.is_none() && probe.source.is_none() {
        let what = if probe.detail.is_some() {
            BARE_DETAIL
        } else {
            "body"
        };
        return Err(DecodeError::Malformed {
            what,
            source: error,
        });
    }
    if let Some(kind) = AlertKind::of_event(probe.source.as_deref(), probe.detail_type.as_deref()) {
        return Err(DecodeError::Malformed {
            what: kind.detail_type(),
            source: error,
        });
    }
    if probe.detail.is_none() {
        return Err(DecodeError::MissingField {
            what: EVENT,
            field: "detail",
        });
    }
    let parsed: UnhandledBody =
        serde_json::from_str(body).map_err(|source| DecodeError::Malformed {
            what: EVENT,
            source,
        })?;
    let envelope = Envelope {
        id: parsed.id,
        time: parsed.time,
        account: parsed.account,
        region: parsed.region,
    };
    let fallback = Fallback { body, ctx, sns };
    Ok(unhandled_event(
        envelope,
        &parsed.resources.unwrap_or_default(),
        parsed.source,
        parsed.detail_type,
        &fallback,
    ))
}

/// The envelope fields every event shares, as written (each may be absent).
pub(crate) struct Envelope {
    id: Option<String>,
    time: Option<String>,
    account: Option<String>,
    region: Option<String>,
}

/// What a kind's decoder gets besides its read `detail`: the envelope and `resources` of one event, and
/// what fills the envelope's gaps.
pub(crate) struct Detail<'a> {
    envelope: Envelope,
    /// The envelope's `resources` (empty for a bare detail).
    pub(crate) resources: Vec<String>,
    fallback: &'a Fallback<'a>,
}

impl Detail<'_> {
    /// The event's facts: id and time from the envelope or its fallbacks (`carried` is the best time
    /// the event itself holds), account, region and partition from the envelope or else from `arns`.
    pub(crate) fn meta(
        self,
        shape: Shape,
        carried: Option<OffsetDateTime>,
        arns: &[Option<&str>],
    ) -> EventMeta {
        let Detail {
            envelope, fallback, ..
        } = self;
        let time = fallback.time(envelope.time.as_deref(), carried);
        meta(
            shape,
            fallback,
            fallback.id(envelope.id),
            time,
            envelope.account,
            envelope.region,
            arns,
        )
    }
}

/// What fills the gaps an envelope leaves: the SNS wrapper, the SQS context, the body itself.
pub(crate) struct Fallback<'a> {
    body: &'a str,
    ctx: &'a DecodeContext,
    sns: Option<&'a SnsInfo>,
}

impl Fallback<'_> {
    /// The event id when the body has none: the SNS message id, else the SQS message id, else a stable
    /// hash of the body, so that replaying the same body always yields the same id.
    fn id(&self, own: Option<String>) -> String {
        own.filter(|id| !id.is_empty())
            .or_else(|| self.sns.and_then(|s| s.message_id.clone()))
            .or_else(|| self.ctx.message_id.clone().filter(|id| !id.is_empty()))
            .unwrap_or_else(|| format!("{:016x}", fnv1a64(self.body.as_bytes())))
    }

    /// The event time: the envelope's, else the best time the event carries, else the SNS publish time,
    /// else when the message was received.
    fn time(&self, own: Option<&str>, carried: Option<OffsetDateTime>) -> OffsetDateTime {
        own.and_then(wire::parse_rfc3339)
            .or(carried)
            .or_else(|| self.sns.and_then(|s| s.timestamp))
            .unwrap_or(self.ctx.received_at)
            .to_offset(time::UtcOffset::UTC)
    }

    /// The facts of a body without an envelope (a `Catch` output): id and time from the fallbacks,
    /// account, region and partition from `arns`.
    pub(crate) fn meta(
        &self,
        shape: Shape,
        carried: Option<OffsetDateTime>,
        arns: &[Option<&str>],
    ) -> EventMeta {
        meta(
            shape,
            self,
            self.id(None),
            self.time(None, carried),
            None,
            None,
            arns,
        )
    }
}

/// FNV-1a, 64 bit: a tiny, stable, dependency-free hash for synthetic event ids. Not for security.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Builds the envelope facts, taking account, region and partition from the first ARN that has them
/// when the envelope does not.
fn meta(
    shape: Shape,
    fallback: &Fallback<'_>,
    id: String,
    time: OffsetDateTime,
    account: Option<String>,
    region: Option<String>,
    arns: &[Option<&str>],
) -> EventMeta {
    let parsed: Vec<Arn<'_>> = arns
        .iter()
        .flatten()
        .filter_map(|a| Arn::parse(a))
        .collect();
    let account = account
        .filter(|a| !a.is_empty())
        .or_else(|| parsed.iter().find_map(|a| a.account()).map(str::to_owned));
    let region = region
        .filter(|r| !r.is_empty())
        .or_else(|| parsed.iter().find_map(|a| a.region()).map(str::to_owned));
    let partition = parsed
        .first()
        .map(|a| a.partition.to_owned())
        .or_else(|| region.as_deref().map(|r| partition_of_region(r).to_owned()))
        .unwrap_or_else(|| "aws".to_owned());
    EventMeta {
        id,
        time,
        account,
        region,
        partition,
        shape,
        via_sns: fallback.sns.is_some(),
    }
}

/// Redacts a wire value for an error message (which reaches logs) and cuts it, on a character
/// boundary.
pub(crate) fn excerpt(value: &str) -> String {
    const MAX_CHARS: usize = 120;
    let value = crate::redact::text(value);
    match value.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.into_owned(),
    }
}

fn unhandled_event(
    envelope: Envelope,
    resources: &[String],
    source: Option<String>,
    detail_type: Option<String>,
    fallback: &Fallback<'_>,
) -> Event {
    let arns: Vec<Option<&str>> = resources.iter().map(|r| Some(r.as_str())).collect();
    let time = fallback.time(envelope.time.as_deref(), None);
    let meta = meta(
        Shape::EventBridge,
        fallback,
        fallback.id(envelope.id),
        time,
        envelope.account,
        envelope.region,
        &arns,
    );
    Event::Unhandled(UnhandledEvent {
        meta,
        source,
        detail_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        // From the FNV reference test suite.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn excerpt_cuts_on_a_character_boundary() {
        let long = "é".repeat(500);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), 121);
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt("short"), "short");
    }
}
