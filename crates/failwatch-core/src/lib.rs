//! The pure heart of failwatch: turn one SQS message body into at most one alert, and an alert into
//! the exact payload each chat service accepts.
//!
//! This crate performs no I/O. It reads no clock, environment or file and opens no socket: everything
//! time-dependent is passed in (see [`DecodeContext`] and [`Deduper`]). That keeps `failwatch render`, the
//! worker and the tests on exactly the same code path, and lets the worker decide every retry itself.
//!
//! The pipeline, as the worker and `failwatch render` run it:
//! [`decode`] a body into an [`Event`], [`classify`] it into a [`Decision`] (an [`Alert`] or a silent
//! reason), drop repeats with a [`Deduper`] keyed on [`Alert::dedup_key`], then [`render`] the alert for a
//! [`Target`].

mod alert;
mod classify;
mod decode;
mod dedup;
mod hint;
mod links;
mod render;
mod text;

pub use alert::{
    Alert, AlertKind, ContainerInfo, ExecutionInfo, Links, SCHEMA, Schema, Severity, TaskInfo,
};
pub use classify::{Decision, SilentReason, classify};
pub use decode::{
    Container, ContainerStatus, DecodeContext, DecodeError, DeploymentEventName,
    EcsDeploymentEvent, EcsEventType, EcsServiceEvent, EcsTask, EcsTaskEvent, Event, EventMeta,
    ExecutionStatus, LaunchType, ServiceEventName, SfnExecutionEvent, SfnOrigin, Shape, StopCode,
    TaskStatus, UnhandledEvent, decode,
};
pub use dedup::Deduper;
pub use hint::FailureClass;
pub use render::{RenderOptions, Target, UnknownTarget, render};

/// Decodes and classifies one SQS message body: the whole per-message decision the worker makes before
/// de-duplication and delivery.
pub fn process(body: &str, ctx: &DecodeContext) -> Result<Decision, DecodeError> {
    decode(body, ctx).map(|event| classify(&event))
}
