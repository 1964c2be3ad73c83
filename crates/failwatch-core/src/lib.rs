//! The pure heart of failwatch: turn one SQS message body into at most one alert, and an alert into
//! the exact payload each chat service accepts.
//!
//! This crate performs no I/O. It reads no clock, environment or file and opens no socket: everything
//! time-dependent is passed in (see [`DecodeContext`] and [`Deduper`]). That keeps `failwatch render`, the
//! worker and the tests on exactly the same code path, and lets the worker decide every retry itself.
//!
//! The pipeline, as the worker and `failwatch render` run it:
//! [`decode()`] a body into an [`Event`], [`classify()`] it into a [`Decision`] (an [`Alert`] or a silent
//! reason), drop repeats with a [`Deduper`] keyed on [`Alert::dedup_key`], then [`render()`] the alert for a
//! [`Target`].

#![warn(missing_docs)]

mod alert;
mod classify;
mod decode;
mod dedup;
mod enrich;
mod group;
mod hint;
mod kind;
mod links;
mod redact;
mod render;
mod summary;
mod text;

pub use alert::{
    Alert, ContainerInfo, ExecutionInfo, FailedState, Links, LogSource, SCHEMA, Schema, Severity,
    TaskInfo,
};
pub use classify::{Decision, SilentReason, classify};
pub use decode::{DecodeContext, DecodeError, EventMeta, JsonError, Shape, UnhandledEvent, decode};
pub use dedup::Deduper;
pub use enrich::{
    BatchLogStream, Enrichment, ExecutionLog, LAMBDA_LOOKAHEAD, LAMBDA_LOOKBACK, LambdaFunction,
    LambdaInvocation, LogTail, Lookups, MAX_LOG_LINE_CHARS, MAX_LOG_LINES,
};
pub use group::{
    CrashLoop, DIGEST_SCHEMA, Digest, FoldedAlert, Group, GroupPolicy, Observed, RECOVERY_SCHEMA,
    Recovery, RecoverySignal, Tally, mark_crash_loop, recovery_scope, recovery_signal,
};
pub use hint::FailureClass;
pub use kind::custom_notification::CustomNotificationEvent;
pub use kind::ecs_deployment::{DeploymentEventName, EcsDeploymentEvent};
pub use kind::ecs_service::{EcsEventType, EcsServiceEvent, ServiceEventName};
pub use kind::ecs_task::{
    Container, ContainerStatus, EcsTask, EcsTaskEvent, LaunchType, StopCode, TaskStatus,
};
pub use kind::sfn_execution::{ExecutionStatus, SfnExecutionEvent, SfnOrigin};
pub use kind::{AlertKind, Event};
pub use links::cloudwatch_log_stream as log_stream_link;
pub use redact::text as redact_text;
pub use render::{RenderOptions, Target, UnknownTarget, render, render_digest, render_recovery};
pub use summary::{Fact, Part, Role, Summary};

/// Decodes and classifies one SQS message body: [`decode()`] then [`classify()`], as `failwatch render`
/// and the operator commands run it (the worker calls the two itself, to count decoded kinds).
///
/// # Errors
///
/// The [`DecodeError`] of [`decode()`].
pub fn process(body: &str, ctx: &DecodeContext) -> Result<Decision, DecodeError> {
    decode(body, ctx).map(|event| classify(&event))
}
