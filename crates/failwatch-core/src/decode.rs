//! Decoding an SQS message body into an [`Event`].
//!
//! Six body shapes reach the queue in practice, and all decode to the same event types:
//! 1. an EventBridge event, as EventBridge delivers it (`account` may be missing: emulators drop it);
//! 2. an SNS notification (`Type: Notification`) whose `Message` string holds any of the other shapes;
//! 3. a bare `{"detail": {...}}` with ECS task fields, the Google Chat seed's test message, or with
//!    Step Functions execution fields;
//! 4. a Step Functions execution `detail` on its own (`executionArn`, `status`, ...), as a rule with
//!    input path `$.detail` sends it;
//! 5. a Step Functions `Catch` output, `{"Error": ..., "Cause": ...}`, as the Slack seed's state machine
//!    sends it;
//! 6. an Amazon Q Developer in chat applications (AWS Chatbot) custom notification (`source: "custom"`,
//!    `content`, `metadata`), what the Slack seed's state machine publishes for Chatbot.
//!
//! Decoding never panics and never guesses: a body that is none of these is a [`DecodeError`] naming what
//! was wrong, and the shape it came closest to. A well-formed EventBridge event of a kind failwatch does
//! not handle is *not* an error; it decodes to [`Event::Unhandled`], which classification keeps silent.
//!
//! This module owns the shapes; each event kind owns its `detail` (see [`crate::kind`]). A body is read
//! once into a struct holding the top-level keys of every shape; which keys were present decides the
//! shape, and `(source, detail-type)` the kind. An EventBridge `detail` is read into the kind's wire type
//! as the body is read, since EventBridge writes those two keys first; in any other order it is kept as
//! raw JSON text and read once the kind is known. Only a body that fails the first read is looked at
//! again, to name its shape in the error. An SNS `Message` is a second document and is read as one.

mod arn;
mod error;
mod model;
mod open_enum;
mod wire;

use time::OffsetDateTime;

pub(crate) use arn::{
    ecs_cluster_name, ecs_service_parts, ecs_task_definition, ecs_task_parts, partition_of_region,
    sfn_state_machine_name,
};
pub(crate) use error::{BARE_DETAIL, CATCH_OUTPUT, CUSTOM_NOTIFICATION};
use error::{CUSTOM_SOURCE, EVENT, SNS};
pub use error::{DecodeError, JsonError};
pub use model::{EventMeta, Shape, UnhandledEvent};
pub(crate) use open_enum::open_enum;
pub(crate) use wire::{DetailValue, timestamp};

use crate::kind::{self, Event, EventBridgeKind};
pub(crate) use arn::Arn;
use serde_json::value::RawValue;
use wire::{Body, DetailProbe, EventProbe, SnsProbe, UnhandledBody};

/// What the caller knows about a message beyond its body. Bodies with no envelope (a bare `detail`, a
/// Step Functions `Catch` output) take their id and time from here.
#[derive(Debug, Clone)]
pub struct DecodeContext {
    /// The SQS message id, when the body came from SQS.
    pub message_id: Option<String>,
    /// When the message was sent to or received from the queue; the fallback event time.
    pub received_at: OffsetDateTime,
}

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
    let mut parsed: Body<'_> = match wire::read_body(body).or_else(|_| serde_json::from_str(body)) {
        Ok(parsed) => parsed,
        Err(e) if e.is_syntax() || e.is_eof() => return Err(DecodeError::NotJson(e.into())),
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
    if is_custom_notification(&parsed) {
        return kind::custom_notification::decode(
            parsed.id,
            parsed.content,
            parsed.metadata,
            &fallback,
        )
        .map(Event::CustomNotification);
    }
    let envelope = Envelope::take(&mut parsed);
    if parsed.detail_type.is_some() || parsed.source.is_some() {
        return decode_eventbridge(parsed, envelope, &fallback);
    }
    // Without `source` and `detail-type` the body reader cannot know a kind, so a bare detail is raw.
    let bare = |envelope| Detail {
        envelope,
        resources: Vec::new(),
        fallback: &fallback,
        bare: true,
    };
    if let Some(DetailValue::Raw(raw)) = parsed.detail {
        return decode_bare_detail(raw, bare(envelope));
    }
    if parsed.error.is_some() || parsed.cause.is_some() {
        return kind::sfn_execution::decode_catch(parsed.error, parsed.cause, &fallback)
            .map(Event::SfnExecution);
    }
    if parsed.execution_arn.is_some() || parsed.state_machine_arn.is_some() {
        // The body is the detail itself. It was read as JSON already, so it reads as raw JSON too.
        let raw =
            serde_json::from_str::<&RawValue>(body).map_err(|source| DecodeError::Malformed {
                what: "body",
                source: source.into(),
            })?;
        return kind::decode(
            EventBridgeKind::SfnExecution,
            DetailValue::Raw(raw),
            bare(envelope),
        );
    }
    Err(near_miss(&parsed))
}

/// Whether a body is a custom notification: `source` is `custom` and it is no EventBridge event (no
/// `detail-type`, no `detail`).
fn is_custom_notification(parsed: &Body<'_>) -> bool {
    parsed.source.as_deref() == Some(CUSTOM_SOURCE)
        && parsed.detail_type.is_none()
        && parsed.detail.is_none()
}

/// Decodes an EventBridge event: of a kind failwatch handles, or [`Event::Unhandled`].
fn decode_eventbridge(
    parsed: Body<'_>,
    envelope: Envelope,
    fallback: &Fallback<'_>,
) -> Result<Event, DecodeError> {
    let handled =
        EventBridgeKind::of_event(parsed.source.as_deref(), parsed.detail_type.as_deref());
    let Some(detail) = parsed.detail else {
        // A `source` with `content` and nothing else of an event is a custom notification whose source
        // is not `custom`.
        if let (None, Some(_), Some(source)) = (&parsed.detail_type, parsed.content, &parsed.source)
        {
            return Err(DecodeError::InvalidField {
                what: CUSTOM_NOTIFICATION,
                field: "source",
                expected: "\"custom\"",
                value: excerpt(source),
            });
        }
        return Err(DecodeError::MissingField {
            what: handled.map_or(EVENT, EventBridgeKind::detail_type),
            field: "detail",
        });
    };
    let resources = parsed.resources.unwrap_or_default();
    Ok(match handled {
        Some(kind) => kind::decode(
            kind,
            detail,
            Detail {
                envelope,
                resources,
                fallback,
                bare: false,
            },
        )?,
        None => unhandled_event(
            envelope,
            &resources,
            parsed.source,
            parsed.detail_type,
            fallback,
        ),
    })
}

/// Decodes a bare `{"detail": {...}}`: a Step Functions execution's when it names one and no task,
/// else an ECS task's (the Google Chat seed's test message).
fn decode_bare_detail(raw: &RawValue, input: Detail<'_>) -> Result<Event, DecodeError> {
    let sfn = serde_json::from_str::<DetailProbe>(raw.get()).is_ok_and(|p| p.is_sfn_execution());
    if sfn {
        kind::decode(EventBridgeKind::SfnExecution, DetailValue::Raw(raw), input)
    } else {
        kind::ecs_task::decode_bare(raw, input).map(Event::EcsTask)
    }
}

/// The error for an object of no accepted shape: what it lacks of the shape whose keys it has, or
/// [`DecodeError::UnknownShape`] when it has none.
fn near_miss(parsed: &Body<'_>) -> DecodeError {
    let missing = |what, field| DecodeError::MissingField { what, field };
    match parsed {
        Body {
            sns_type: Some(_), ..
        } => missing(SNS, "Message"),
        Body {
            sns_message: Some(_),
            ..
        } => missing(SNS, "Type"),
        Body {
            content: Some(_), ..
        }
        | Body {
            metadata: Some(_), ..
        } => missing(CUSTOM_NOTIFICATION, "source"),
        _ => DecodeError::UnknownShape,
    }
}

/// Decodes the `Message` of an SNS notification, which may hold any other shape.
fn decode_sns(
    kind: &str,
    message: &str,
    parsed: &Body<'_>,
    ctx: &DecodeContext,
) -> Result<Event, DecodeError> {
    if kind != "Notification" {
        return Err(DecodeError::SnsNotNotification(excerpt(kind)));
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
            source: error.into(),
        });
    };
    if probe.detail_type.is_none() && probe.detail.is_none() {
        if probe.source.as_deref() == Some(CUSTOM_SOURCE) {
            return Err(DecodeError::Malformed {
                what: CUSTOM_NOTIFICATION,
                source: error.into(),
            });
        }
        if probe.source.is_none() {
            return Err(shapeless_type_error(body, &probe, error));
        }
    }
    if probe.detail_type.is_none() && probe.source.is_none() {
        return Err(DecodeError::Malformed {
            what: BARE_DETAIL,
            source: error.into(),
        });
    }
    if let Some(kind) =
        EventBridgeKind::of_event(probe.source.as_deref(), probe.detail_type.as_deref())
    {
        return Err(DecodeError::Malformed {
            what: kind.detail_type(),
            source: error.into(),
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
            source: source.into(),
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

/// The type error of a body with neither `source`, `detail-type` nor `detail`: named after the SNS
/// envelope key that is not a string, or the custom notification it looks like, else the body's.
fn shapeless_type_error(body: &str, probe: &EventProbe, error: serde_json::Error) -> DecodeError {
    if probe.sns_type.is_some() || probe.sns_message.is_some() {
        let field = serde_json::from_str::<SnsProbe>(body)
            .ok()
            .and_then(|p| p.not_a_string());
        if let Some(field) = field {
            return DecodeError::SnsFieldNotString {
                field,
                source: error.into(),
            };
        }
    }
    let what = if probe.content.is_some() || probe.metadata.is_some() {
        CUSTOM_NOTIFICATION
    } else {
        "body"
    };
    DecodeError::Malformed {
        what,
        source: error.into(),
    }
}

/// The envelope fields every event shares, as written (each may be absent).
pub(crate) struct Envelope {
    id: Option<String>,
    time: Option<String>,
    account: Option<String>,
    region: Option<String>,
}

impl Envelope {
    /// Moves the envelope fields out of a read body.
    fn take(parsed: &mut Body<'_>) -> Self {
        Envelope {
            id: parsed.id.take(),
            time: parsed.time.take(),
            account: parsed.account.take(),
            region: parsed.region.take(),
        }
    }
}

/// What a kind's decoder gets besides its read `detail`: the envelope and `resources` of one event, and
/// what fills the envelope's gaps.
pub(crate) struct Detail<'a> {
    envelope: Envelope,
    /// The envelope's `resources` (empty for a bare detail).
    pub(crate) resources: Vec<String>,
    fallback: &'a Fallback<'a>,
    /// The detail came without its envelope: its event is a [`Shape::BareDetail`] whatever its kind's
    /// decoder says.
    bare: bool,
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
            envelope,
            fallback,
            bare,
            ..
        } = self;
        let time = fallback.time(envelope.time.as_deref(), carried);
        meta(
            if bare { Shape::BareDetail } else { shape },
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

    /// The facts of a body with an id of its own but no envelope (a custom notification): the id
    /// (else the fallbacks'), the fallback time, account, region and partition from `arns`.
    pub(crate) fn meta_with_id(
        &self,
        id: Option<String>,
        shape: Shape,
        arns: &[Option<&str>],
    ) -> EventMeta {
        meta(
            shape,
            self,
            self.id(id),
            self.time(None, None),
            None,
            None,
            arns,
        )
    }
}

/// FNV-1a, 64 bit: a tiny, stable, dependency-free hash for synthetic event ids and keys. Not for
/// security.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
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
