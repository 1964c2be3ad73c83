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
//! A body is read once, straight into typed structs that hold the fields of every shape (the shapes do
//! not share key names); which keys were present then decides the shape. Only a body that fails that
//! read is looked at again, to name its shape in the error. An SNS `Message` is a second document and is
//! read as one.

mod arn;
mod model;
mod open_enum;
mod wire;

use serde::Deserialize;
use time::OffsetDateTime;

pub(crate) use arn::{ecs_service_parts, partition_of_region, sfn_state_machine_name};
pub use model::{
    Container, ContainerStatus, DeploymentEventName, EcsDeploymentEvent, EcsEventType,
    EcsServiceEvent, EcsTask, EcsTaskEvent, Event, EventMeta, ExecutionStatus, LaunchType,
    ServiceEventName, SfnExecutionEvent, SfnOrigin, Shape, StopCode, TaskStatus, UnhandledEvent,
};

use arn::Arn;
use wire::{Body, Detail, EventProbe, UnhandledBody};

/// What the caller knows about a message beyond its body. Bodies with no envelope (a bare `detail`, a
/// Step Functions `Catch` output) take their id and time from here.
#[derive(Debug, Clone)]
pub struct DecodeContext {
    /// The SQS message id, when the body came from SQS.
    pub message_id: Option<String>,
    /// When the message was sent to or received from the queue; the fallback event time.
    pub received_at: OffsetDateTime,
}

/// Why a body could not be decoded. Every message names the shape and, where there is one, the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("body is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("body is JSON but not an object")]
    NotAnObject,
    #[error(
        "body is not a known message shape: expected an EventBridge event (\"detail-type\", \"detail\"), \
         an SNS notification (\"Type\", \"Message\"), a bare {{\"detail\": {{...}}}} or a Step Functions \
         Catch output (\"Error\", \"Cause\")"
    )]
    UnknownShape,
    /// The body has the keys of a shape but a value of the wrong type.
    #[error("{what}: {source}")]
    Malformed {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what}: {field} missing")]
    MissingField {
        what: &'static str,
        field: &'static str,
    },
    #[error("{what}: {field} is not {expected}: {value:?}")]
    InvalidField {
        what: &'static str,
        field: &'static str,
        expected: &'static str,
        /// The offending value, cut to a short prefix so a huge field cannot flood a log line.
        value: String,
    },
    #[error("SNS envelope: Type is {0:?}, expected \"Notification\"")]
    SnsNotNotification(String),
    #[error("SNS envelope: Message is not JSON: {0}")]
    SnsMessageNotJson(#[source] serde_json::Error),
    #[error("SNS envelope: Message is itself an SNS envelope")]
    SnsNested,
    #[error("SNS envelope: Message: {0}")]
    SnsMessage(#[source] Box<DecodeError>),
}

const ECS_TASK: &str = "ECS Task State Change";
const ECS_DEPLOYMENT: &str = "ECS Deployment State Change";
const ECS_SERVICE: &str = "ECS Service Action";
const SFN_EXECUTION: &str = "Step Functions Execution Status Change";
const BARE_DETAIL: &str = "bare detail";
const CATCH_OUTPUT: &str = "Step Functions Catch output";
const EVENT: &str = "EventBridge event";

/// The event types failwatch handles, by `(source, detail-type)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handled {
    EcsTask,
    EcsDeployment,
    EcsService,
    SfnExecution,
}

impl Handled {
    fn of(source: Option<&str>, detail_type: Option<&str>) -> Option<Self> {
        match (source?, detail_type?) {
            ("aws.ecs", ECS_TASK) => Some(Handled::EcsTask),
            ("aws.ecs", ECS_DEPLOYMENT) => Some(Handled::EcsDeployment),
            ("aws.ecs", ECS_SERVICE) => Some(Handled::EcsService),
            ("aws.states", SFN_EXECUTION) => Some(Handled::SfnExecution),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Handled::EcsTask => ECS_TASK,
            Handled::EcsDeployment => ECS_DEPLOYMENT,
            Handled::EcsService => ECS_SERVICE,
            Handled::SfnExecution => SFN_EXECUTION,
        }
    }
}

/// What an SNS envelope contributes to the message it wraps.
struct SnsInfo {
    message_id: Option<String>,
    timestamp: Option<OffsetDateTime>,
}

/// Decodes one SQS message body.
pub fn decode(body: &str, ctx: &DecodeContext) -> Result<Event, DecodeError> {
    decode_with(body, ctx, None)
}

fn decode_with(
    body: &str,
    ctx: &DecodeContext,
    sns: Option<&SnsInfo>,
) -> Result<Event, DecodeError> {
    let parsed: Body = match serde_json::from_str(body) {
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
        if kind != "Notification" {
            return Err(DecodeError::SnsNotNotification(kind.clone()));
        }
        let info = SnsInfo {
            message_id: parsed.sns_message_id.filter(|id| !id.is_empty()),
            timestamp: parsed
                .sns_timestamp
                .as_deref()
                .and_then(wire::parse_rfc3339),
        };
        return decode_with(message, ctx, Some(&info)).map_err(|e| match e {
            DecodeError::NotJson(e) => DecodeError::SnsMessageNotJson(e),
            DecodeError::SnsNested => DecodeError::SnsNested,
            other => DecodeError::SnsMessage(Box::new(other)),
        });
    }
    if parsed.detail_type.is_some() || parsed.source.is_some() {
        let handled = Handled::of(parsed.source.as_deref(), parsed.detail_type.as_deref());
        let what = handled.map_or(EVENT, Handled::name);
        let Some(detail) = parsed.detail else {
            return Err(DecodeError::MissingField {
                what,
                field: "detail",
            });
        };
        let envelope = Envelope::from_body(parsed.id, parsed.time, parsed.account, parsed.region);
        let resources = parsed.resources.unwrap_or_default();
        return match handled {
            Some(Handled::EcsTask) => {
                task_event(envelope, detail, ECS_TASK, Shape::EventBridge, &fallback)
            }
            Some(Handled::EcsDeployment) => {
                deployment_event(envelope, resources, detail, &fallback)
            }
            Some(Handled::EcsService) => service_event(envelope, resources, detail, &fallback),
            Some(Handled::SfnExecution) => sfn_event(envelope, detail, &fallback),
            None => Ok(unhandled_event(
                envelope,
                &resources,
                parsed.source,
                parsed.detail_type,
                &fallback,
            )),
        };
    }
    if let Some(detail) = parsed.detail {
        let envelope = Envelope::from_body(parsed.id, parsed.time, parsed.account, parsed.region);
        return task_event(envelope, detail, BARE_DETAIL, Shape::BareDetail, &fallback);
    }
    if parsed.error.is_some() || parsed.cause.is_some() {
        return catch_event(parsed.error, parsed.cause, &fallback);
    }
    Err(DecodeError::UnknownShape)
}

/// Handles a type error in an object body. The one-pass read does not know the shape yet when it fails,
/// so a cheap probe of the top-level keys names it in the error. An EventBridge event failwatch does not
/// handle is not an error at all, whatever its detail holds (its fields may clash with the ones read
/// here): it decodes to [`Event::Unhandled`].
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
    if let Some(handled) = Handled::of(probe.source.as_deref(), probe.detail_type.as_deref()) {
        return Err(DecodeError::Malformed {
            what: handled.name(),
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
    let envelope = Envelope::from_body(parsed.id, parsed.time, parsed.account, parsed.region);
    let fallback = Fallback { body, ctx, sns };
    Ok(unhandled_event(
        envelope,
        &parsed.resources.unwrap_or_default(),
        parsed.source,
        parsed.detail_type,
        &fallback,
    ))
}

/// The envelope fields every event shares.
struct Envelope {
    id: Option<String>,
    time: Option<String>,
    account: Option<String>,
    region: Option<String>,
}

impl Envelope {
    fn from_body(
        id: Option<String>,
        time: Option<String>,
        account: Option<String>,
        region: Option<String>,
    ) -> Self {
        Envelope {
            id,
            time,
            account,
            region,
        }
    }
}

/// What fills the gaps an envelope leaves: the SNS wrapper, the SQS context, the body itself.
struct Fallback<'a> {
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

fn task_event(
    envelope: Envelope,
    detail: Detail,
    what: &'static str,
    shape: Shape,
    fallback: &Fallback<'_>,
) -> Result<Event, DecodeError> {
    let task = task_from_wire(detail).map_err(|field| match field {
        TaskFieldError::Missing => DecodeError::MissingField {
            what,
            field: "detail.taskArn",
        },
        TaskFieldError::NotTaskArn(value) => DecodeError::InvalidField {
            what,
            field: "detail.taskArn",
            expected: "an ECS task ARN",
            value,
        },
    })?;
    let time = fallback.time(
        envelope.time.as_deref(),
        task.stopped_at.or(task.execution_stopped_at),
    );
    let meta = meta(
        shape,
        fallback,
        fallback.id(envelope.id),
        time,
        envelope.account,
        envelope.region,
        &[Some(task.arn.as_str())],
    );
    Ok(Event::EcsTask(EcsTaskEvent { meta, task }))
}

enum TaskFieldError {
    Missing,
    NotTaskArn(String),
}

/// Cuts a wire value for an error message, on a character boundary.
fn excerpt(value: &str) -> String {
    const MAX_CHARS: usize = 120;
    match value.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

fn task_from_wire(detail: Detail) -> Result<EcsTask, TaskFieldError> {
    let arn = detail.task_arn.ok_or(TaskFieldError::Missing)?;
    let (arn_cluster, id) =
        arn::ecs_task_parts(&arn).ok_or_else(|| TaskFieldError::NotTaskArn(excerpt(&arn)))?;
    let cluster = detail
        .cluster_arn
        .as_deref()
        .and_then(arn::ecs_cluster_name)
        .or(arn_cluster)
        .map(str::to_owned);
    let id = id.to_owned();
    let containers = detail
        .containers
        .unwrap_or_default()
        .into_iter()
        .map(|c| Container {
            name: c.name.unwrap_or_default(),
            exit_code: c.exit_code,
            reason: c.reason.filter(|r| !r.is_empty()),
            last_status: c.last_status,
        })
        .collect();
    Ok(EcsTask {
        id,
        cluster,
        last_status: detail.last_status,
        desired_status: detail.desired_status,
        stop_code: detail.stop_code,
        stopped_reason: detail.stopped_reason.filter(|r| !r.is_empty()),
        group: detail.group,
        launch_type: detail.launch_type,
        capacity_provider: detail.capacity_provider_name,
        definition: detail
            .task_definition_arn
            .as_deref()
            .and_then(arn::ecs_task_definition)
            .map(str::to_owned),
        started_by: detail.started_by,
        containers,
        version: detail.version,
        stopped_at: detail.stopped_at,
        execution_stopped_at: detail.execution_stopped_at,
        arn,
    })
}

fn deployment_event(
    envelope: Envelope,
    resources: Vec<String>,
    detail: Detail,
    fallback: &Fallback<'_>,
) -> Result<Event, DecodeError> {
    const WHAT: &str = ECS_DEPLOYMENT;
    let service_arn = resources
        .into_iter()
        .next()
        .ok_or(DecodeError::MissingField {
            what: WHAT,
            field: "resources[0] (the service ARN)",
        })?;
    let (cluster, service) = ecs_service_parts(&service_arn)
        .map(|(c, s)| (c.map(str::to_owned), s.to_owned()))
        .ok_or_else(|| DecodeError::InvalidField {
            what: WHAT,
            field: "resources[0]",
            expected: "an ECS service ARN",
            value: excerpt(&service_arn),
        })?;
    let event_name = detail
        .event_name
        .as_deref()
        .map(DeploymentEventName::from)
        .ok_or(DecodeError::MissingField {
            what: WHAT,
            field: "detail.eventName",
        })?;
    let time = fallback.time(envelope.time.as_deref(), None);
    let meta = meta(
        Shape::EventBridge,
        fallback,
        fallback.id(envelope.id),
        time,
        envelope.account,
        envelope.region,
        &[Some(service_arn.as_str())],
    );
    Ok(Event::EcsDeployment(EcsDeploymentEvent {
        meta,
        cluster,
        service,
        service_arn,
        event_type: detail.event_type,
        event_name,
        deployment_id: detail.deployment_id,
        reason: detail.reason.filter(|r| !r.is_empty()),
    }))
}

fn service_event(
    envelope: Envelope,
    resources: Vec<String>,
    detail: Detail,
    fallback: &Fallback<'_>,
) -> Result<Event, DecodeError> {
    const WHAT: &str = ECS_SERVICE;
    let event_type = detail.event_type.ok_or(DecodeError::MissingField {
        what: WHAT,
        field: "detail.eventType",
    })?;
    let service_arn = resources
        .into_iter()
        .find(|r| ecs_service_parts(r).is_some());
    let (arn_cluster, service) = match service_arn.as_deref().and_then(ecs_service_parts) {
        Some((c, s)) => (c.map(str::to_owned), Some(s.to_owned())),
        None => (None, None),
    };
    let cluster = detail
        .cluster_arn
        .as_deref()
        .and_then(arn::ecs_cluster_name)
        .map(str::to_owned)
        .or(arn_cluster);
    let time = fallback.time(envelope.time.as_deref(), None);
    let meta = meta(
        Shape::EventBridge,
        fallback,
        fallback.id(envelope.id),
        time,
        envelope.account,
        envelope.region,
        &[service_arn.as_deref(), detail.cluster_arn.as_deref()],
    );
    Ok(Event::EcsService(EcsServiceEvent {
        meta,
        service_arn,
        cluster,
        service,
        event_type,
        event_name: detail.event_name.as_deref().map(ServiceEventName::from),
        reason: detail.reason.filter(|r| !r.is_empty()),
        capacity_providers: detail.capacity_provider_arns.unwrap_or_default(),
    }))
}

/// The ECS task in an `ecs:runTask.sync` failure cause: Step Functions puts the whole `DescribeTasks`
/// task, PascalCase, into the cause string. Anything else (a Lambda stack trace, plain text) is not a
/// task and yields `None`.
fn task_from_cause_str(cause: &str) -> Option<EcsTask> {
    // Cheap pre-check so ordinary text causes are not run through the JSON parser.
    if !cause.trim_start().starts_with('{') || !cause.contains("TaskArn") {
        return None;
    }
    serde_json::from_str::<Detail>(cause)
        .ok()
        .and_then(|d| task_from_wire(d).ok())
}

fn sfn_event(
    envelope: Envelope,
    detail: Detail,
    fallback: &Fallback<'_>,
) -> Result<Event, DecodeError> {
    const WHAT: &str = SFN_EXECUTION;
    let status = detail.status.ok_or(DecodeError::MissingField {
        what: WHAT,
        field: "detail.status",
    })?;
    let execution_arn = detail.execution_arn.filter(|a| !a.is_empty());
    let task = detail.cause.as_deref().and_then(task_from_cause_str);
    let time = fallback.time(envelope.time.as_deref(), detail.stop_date);
    let meta = meta(
        Shape::EventBridge,
        fallback,
        fallback.id(envelope.id),
        time,
        envelope.account,
        envelope.region,
        &[
            execution_arn.as_deref(),
            detail.state_machine_arn.as_deref(),
        ],
    );
    let name = detail.name.filter(|n| !n.is_empty()).or_else(|| {
        execution_arn
            .as_deref()
            .and_then(|a| a.rsplit(':').next())
            .map(str::to_owned)
    });
    Ok(Event::SfnExecution(SfnExecutionEvent {
        meta,
        origin: SfnOrigin::StatusChange,
        state_machine_arn: detail.state_machine_arn.filter(|a| !a.is_empty()),
        execution_arn,
        name,
        status: Some(status),
        error: detail.error.filter(|e| !e.is_empty()),
        cause: detail.cause.filter(|c| !c.is_empty()),
        redrive_count: detail.redrive_count,
        task,
    }))
}

fn catch_event(
    error: Option<serde_json::Value>,
    cause: Option<serde_json::Value>,
    fallback: &Fallback<'_>,
) -> Result<Event, DecodeError> {
    use serde_json::Value;
    let error = match error {
        None | Some(Value::Null) => None,
        Some(Value::String(error)) => Some(error),
        Some(other) => {
            return Err(DecodeError::InvalidField {
                what: CATCH_OUTPUT,
                field: "Error",
                expected: "a string",
                value: excerpt(&other.to_string()),
            });
        }
    };
    let (cause, task) = match cause {
        None | Some(Value::Null) => (None, None),
        Some(Value::String(text)) => {
            let task = task_from_cause_str(&text);
            (Some(text), task)
        }
        Some(value) => {
            // `States.StringToJson` already turned the cause into an object.
            let task = Detail::deserialize(&value)
                .ok()
                .and_then(|d| task_from_wire(d).ok());
            (Some(value.to_string()), task)
        }
    };
    let task_arn = task.as_ref().map(|t| t.arn.as_str());
    let carried = task
        .as_ref()
        .and_then(|t| t.stopped_at.or(t.execution_stopped_at));
    let meta = meta(
        Shape::CatchOutput,
        fallback,
        fallback.id(None),
        fallback.time(None, carried),
        None,
        None,
        &[task_arn],
    );
    Ok(Event::SfnExecution(SfnExecutionEvent {
        meta,
        origin: SfnOrigin::CatchOutput,
        execution_arn: None,
        state_machine_arn: None,
        name: None,
        status: None,
        error: error.filter(|e| !e.is_empty()),
        cause: cause.filter(|c| !c.is_empty()),
        redrive_count: None,
        task,
    }))
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
