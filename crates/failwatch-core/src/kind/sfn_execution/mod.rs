//! Step Functions executions: `aws.states` / `Step Functions Execution Status Change`, and the
//! `{"Error", "Cause"}` output of a `Catch` that a state machine sends on itself (the Slack seed's
//! shape), in which `Cause` may be a string or, after `States.StringToJson`, an object.
//!
//! Classification: `FAILED` and `TIMED_OUT` are critical, `ABORTED` a warning, the rest silent; a
//! `Catch` output is always a failure. What failed is read from the error and cause by the integration
//! that wrote them, one module each: [`ecs`] (`runTask.sync`: the alert shows the task's facts),
//! [`lambda`], [`batch`] (`submitJob.sync`), [`nested`] (`startExecution.sync`), [`glue`]
//! (`startJobRun.sync`), and Step Functions' own `States.*` errors ([`states`]); [`cause`] recognises
//! which. The failure class, and so the hint and the group key, comes from that integration alone.
//!
//! To add an integration: a module with `read` (recognise its cause by shape), `class`, `headline`,
//! `facts` and `links`, a [`cause::Failure`] variant, and its arms in this module's `failure_*`
//! functions; fixtures `tests/fixtures/events/sfn_execution-*.json` with their expected class.

mod batch;
mod cause;
mod ecs;
mod glue;
mod lambda;
mod nested;
mod states;

use serde::Deserialize;

use cause::{CauseRef, Failure};

use super::ecs_task::{self, EcsTask};
use crate::classify::{Decision, SilentReason, base_alert, rfc3339};
use crate::decode::{
    CATCH_OUTPUT, DecodeError, Detail, EventMeta, Fallback, Shape, excerpt, open_enum,
    sfn_state_machine_name, timestamp,
};
use crate::hint::{self, FailureClass};
use crate::links;
use crate::summary::{Role, Summary};
use crate::text::concat;
use crate::{Alert, AlertKind, ExecutionInfo, Links, Severity};

/// What failed, in words.
pub(crate) const LABEL: &str = "Step Functions execution";
/// The EventBridge source of execution status changes.
pub(crate) const SOURCE: &str = "aws.states";
/// The EventBridge detail-type of execution status changes.
pub(crate) const DETAIL_TYPE: &str = "Step Functions Execution Status Change";

open_enum! {
    /// `detail.status` of a Step Functions execution.
    pub enum ExecutionStatus {
        Running = "RUNNING",
        Succeeded = "SUCCEEDED",
        Failed = "FAILED",
        TimedOut = "TIMED_OUT",
        Aborted = "ABORTED",
        PendingRedrive = "PENDING_REDRIVE",
    }
}

/// Where a Step Functions failure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SfnOrigin {
    /// An `Execution Status Change` event.
    StatusChange,
    /// The `{"Error", "Cause"}` output of a `Catch`, sent on by the state machine itself.
    CatchOutput,
}

/// A Step Functions execution status change or `Catch` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfnExecutionEvent {
    /// Where and when it happened.
    pub meta: EventMeta,
    /// A status change event or a `Catch` output.
    pub origin: SfnOrigin,
    /// `detail.executionArn`.
    pub execution_arn: Option<String>,
    /// `detail.stateMachineArn`.
    pub state_machine_arn: Option<String>,
    /// `detail.name`, else the last segment of the execution ARN.
    pub name: Option<String>,
    /// `None` for a `Catch` output, which only exists because a state failed.
    pub status: Option<ExecutionStatus>,
    /// `detail.error` or the `Catch` output's `Error`; `None` when empty.
    pub error: Option<String>,
    /// `detail.cause` or the `Catch` output's `Cause` (an object as JSON text); `None` when empty.
    pub cause: Option<String>,
    /// `detail.redriveCount`: how often the execution was redriven.
    pub redrive_count: Option<i64>,
    /// The ECS task described by `cause`, when the failed state was `ecs:runTask.sync`.
    pub task: Option<EcsTask>,
    /// What the failed integration says, read from `error` and `cause`.
    pub(crate) failure: Failure,
    /// Step Functions had cut `cause` at 32,768 characters; it was read up to the cut.
    pub(crate) cause_truncated: bool,
}

/// The `detail` of a Step Functions Execution Status Change; the registry reads it
/// ([`super::WireDetail`]).
pub(crate) type Wire = ExecutionDetail;

/// The `detail` of a Step Functions Execution Status Change.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExecutionDetail {
    execution_arn: Option<String>,
    state_machine_arn: Option<String>,
    name: Option<String>,
    status: Option<ExecutionStatus>,
    #[serde(default, deserialize_with = "timestamp")]
    stop_date: Option<time::OffsetDateTime>,
    error: Option<String>,
    cause: Option<String>,
    redrive_count: Option<i64>,
}

/// Decodes the detail of an execution status change.
pub(crate) fn decode(
    detail: ExecutionDetail,
    input: Detail<'_>,
) -> Result<SfnExecutionEvent, DecodeError> {
    const WHAT: &str = DETAIL_TYPE;
    let status = detail.status.ok_or(DecodeError::MissingField {
        what: WHAT,
        field: "detail.status",
    })?;
    let execution_arn = detail.execution_arn.filter(|a| !a.is_empty());
    let read = cause::read(
        detail.error.as_deref(),
        detail.cause.as_deref().map(CauseRef::Text),
    );
    let meta = input.meta(
        Shape::EventBridge,
        detail.stop_date,
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
    Ok(SfnExecutionEvent {
        meta,
        origin: SfnOrigin::StatusChange,
        state_machine_arn: detail.state_machine_arn.filter(|a| !a.is_empty()),
        execution_arn,
        name,
        status: Some(status),
        error: detail.error.filter(|e| !e.is_empty()),
        cause: detail.cause.filter(|c| !c.is_empty()),
        redrive_count: detail.redrive_count,
        task: read.task,
        failure: read.failure,
        cause_truncated: read.truncated,
    })
}

/// Decodes a Step Functions `Catch` output from its `Error` and `Cause` values.
pub(crate) fn decode_catch(
    error: Option<serde_json::Value>,
    cause: Option<serde_json::Value>,
    fallback: &Fallback<'_>,
) -> Result<SfnExecutionEvent, DecodeError> {
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
    let read = cause::read(
        error.as_deref(),
        cause.as_ref().filter(|c| !c.is_null()).map(CauseRef::of),
    );
    let cause = match cause {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text),
        Some(value) => Some(value.to_string()),
    };
    let carried = failure_time(&read.failure, read.task.as_ref());
    let meta = fallback.meta(
        Shape::CatchOutput,
        carried,
        &failure_arns(&read.failure, read.task.as_ref()),
    );
    Ok(SfnExecutionEvent {
        meta,
        origin: SfnOrigin::CatchOutput,
        execution_arn: None,
        state_machine_arn: None,
        name: None,
        status: None,
        error: error.filter(|e| !e.is_empty()),
        cause: cause.filter(|c| !c.is_empty()),
        redrive_count: None,
        task: read.task,
        failure: read.failure,
        cause_truncated: read.truncated,
    })
}

/// Classifies an execution status change or `Catch` output.
pub(crate) fn classify(e: &SfnExecutionEvent) -> Decision {
    let (severity, what) = match (e.origin, &e.status) {
        (SfnOrigin::CatchOutput, _) => (Severity::Critical, "failed"),
        (_, Some(ExecutionStatus::Failed)) => (Severity::Critical, "failed"),
        (_, Some(ExecutionStatus::TimedOut)) => (Severity::Critical, "timed out"),
        (_, Some(ExecutionStatus::Aborted)) => (Severity::Warning, "aborted"),
        (_, status) => {
            return Decision::Silent(SilentReason::ExecutionOk {
                status: status
                    .as_ref()
                    .map_or_else(String::new, |s| s.as_str().to_owned()),
            });
        }
    };
    let class = match &e.status {
        Some(ExecutionStatus::TimedOut) => FailureClass::SfnTimeout,
        Some(ExecutionStatus::Aborted) => FailureClass::SfnAborted,
        _ => failure_class(e.error.as_deref(), &e.failure, e.task.as_ref()),
    };
    let time = rfc3339(&e.meta);
    let state_machine = e
        .state_machine_arn
        .as_deref()
        .or(e.execution_arn.as_deref())
        .and_then(sfn_state_machine_name);

    let summary = summary(e, state_machine, &time);
    let title = title(e, state_machine, class, what);
    let failed_task = failed_task(&e.failure, e.task.as_ref());
    let cluster = failed_task.and_then(|t| t.cluster.clone());
    let group = state_machine
        .or_else(|| failure_workload(&e.failure, e.task.as_ref()))
        .unwrap_or("catch");
    Decision::Alert(Box::new(Alert {
        cluster,
        task: failed_task.map(ecs_task::task_info),
        execution: Some(ExecutionInfo {
            arn: e.execution_arn.clone(),
            name: e.name.clone(),
            state_machine: e.state_machine_arn.clone(),
            status: e.status.as_ref().map(|s| s.as_str().to_owned()),
            error: e.error.clone(),
            // As the summary shows it: a `States.*` cause without the state input it quotes.
            cause: e
                .cause
                .as_deref()
                .map(|cause| states::shown_cause(e.error.as_deref(), cause).into_owned()),
            failed_state: None,
            log_tail: None,
            log_link: None,
            log_source: None,
        }),
        links: execution_links(e),
        dedup_key: dedup_key(e),
        group_key: concat(&["sfn_execution:", group, ":", class.code()]),
        ..base_alert(
            AlertKind::SfnExecution,
            severity,
            class,
            &e.meta,
            title,
            summary,
            time,
        )
    }))
}

/// The class of a failure: Step Functions' own `States.*` error when it names one, else what the
/// integration's cause says, else "failed". Each source classifies only its own text.
fn failure_class(error: Option<&str>, failure: &Failure, task: Option<&EcsTask>) -> FailureClass {
    states::class(error)
        .or_else(|| match failure {
            Failure::EcsTask => task
                .map(hint::task_class)
                .filter(|c| *c != FailureClass::Other),
            Failure::Child(child) => child.class().or_else(|| {
                child
                    .read
                    .task
                    .as_ref()
                    .map(hint::task_class)
                    .filter(|c| *c != FailureClass::Other)
            }),
            other => other.class(),
        })
        .unwrap_or(FailureClass::SfnFailed)
}

/// The ECS task that failed: the cause's, or a child execution's (at any depth).
fn failed_task<'a>(failure: &'a Failure, task: Option<&'a EcsTask>) -> Option<&'a EcsTask> {
    match (task, failure) {
        (Some(task), _) => Some(task),
        (None, Failure::Child(child)) => failed_task(&child.read.failure, child.read.task.as_ref()),
        (None, _) => None,
    }
}

/// What the failed work is called, for grouping a `Catch` output that names no state machine.
fn failure_workload<'a>(failure: &'a Failure, task: Option<&'a EcsTask>) -> Option<&'a str> {
    match failure {
        Failure::EcsTask => task.map(|t| t.workload().unwrap_or(&t.id)),
        Failure::Batch(job) => Some(job.workload()),
        Failure::Child(child) => Some(child.workload()),
        Failure::Glue(run) => Some(run.workload()),
        Failure::Lambda(_) | Failure::Json(_) | Failure::Text => None,
    }
}

/// When the failed work stopped, for a body without an envelope: the task's, the job's or the child
/// execution's stop time.
fn failure_time(failure: &Failure, task: Option<&EcsTask>) -> Option<time::OffsetDateTime> {
    match failure {
        Failure::EcsTask => task.and_then(|t| t.stopped_at.or(t.execution_stopped_at)),
        Failure::Batch(job) => job.stopped_at(),
        Failure::Child(child) => child.stopped_at(),
        Failure::Glue(_) | Failure::Lambda(_) | Failure::Json(_) | Failure::Text => None,
    }
}

/// The ARNs a failure names, for the account and region of a body without an envelope.
fn failure_arns<'a>(failure: &'a Failure, task: Option<&'a EcsTask>) -> Vec<Option<&'a str>> {
    match failure {
        Failure::EcsTask => vec![task.map(|t| t.arn.as_str())],
        Failure::Batch(job) => job.arns().to_vec(),
        Failure::Child(child) => child.arns().to_vec(),
        Failure::Glue(_) | Failure::Lambda(_) | Failure::Json(_) | Failure::Text => Vec::new(),
    }
}

/// The summary facts: the execution's, then what failed, then when and where.
fn summary(e: &SfnExecutionEvent, state_machine: Option<&str>, time: &str) -> Summary {
    let mut summary = Summary::new();
    summary.push(Role::StateMachine, state_machine);
    summary.push(Role::Execution, e.name.as_deref());
    summary.push(Role::Status, e.status.as_ref().map(|s| s.as_str()));
    summary.push(Role::Error, e.error.as_deref());
    failure_facts(
        &mut summary,
        e.error.as_deref(),
        e.cause.as_deref(),
        &e.failure,
        e.task.as_ref(),
    );
    if e.cause_truncated {
        summary.push_labelled(Role::Detail, "Note", Some(TRUNCATED_NOTE));
    }
    summary.push(Role::Time, Some(time));
    summary.push(Role::Region, e.meta.region.as_deref());
    summary
}

/// Said of a cause Step Functions cut: what the alert shows came before the cut.
const TRUNCATED_NOTE: &str =
    "cause truncated by Step Functions at 32,768 characters; facts after the cut are unknown";

/// What the failed integration says, as facts. A cause is quoted only as text, never as JSON.
fn failure_facts(
    summary: &mut Summary,
    error: Option<&str>,
    cause: Option<&str>,
    failure: &Failure,
    task: Option<&EcsTask>,
) {
    match failure {
        Failure::EcsTask => {
            if let Some(task) = task {
                ecs_task::task_facts(summary, task);
            }
        }
        Failure::Lambda(lambda) => lambda.facts(summary, error),
        Failure::Batch(job) => job.facts(summary),
        Failure::Glue(run) => run.facts(summary),
        Failure::Child(child) => {
            summary.push_labelled(Role::Detail, "Child execution", Some(&child.label()));
            summary.push_labelled(Role::Detail, "Child status", child.status.as_deref());
            summary.push_labelled(Role::Detail, "Child error", child.error.as_deref());
            failure_facts(
                summary,
                child.error.as_deref(),
                child.cause.as_deref(),
                &child.read.failure,
                child.read.task.as_ref(),
            );
        }
        Failure::Json(fields) => summary.push(Role::Cause, Some(fields)),
        Failure::Text => {
            let cause = cause.map(|cause| states::shown_cause(error, cause));
            summary.push(Role::Cause, cause.as_deref());
        }
    }
}

/// What failed, in a few words, for the title: the integration's headline, else the error.
fn headline(
    error: Option<&str>,
    failure: &Failure,
    task: Option<&EcsTask>,
    class: FailureClass,
) -> Option<String> {
    match failure {
        Failure::EcsTask => task.map(|t| ecs_task::task_headline(t, class)),
        Failure::Lambda(lambda) => Some(lambda.headline()),
        Failure::Batch(job) => Some(job.headline()),
        Failure::Glue(run) => Some(run.headline()),
        Failure::Child(child) => {
            let inner = headline(
                child.error.as_deref(),
                &child.read.failure,
                child.read.task.as_ref(),
                class,
            );
            Some(match inner {
                Some(inner) => format!("child {} failed: {inner}", child.workload()),
                None => format!("child {} failed", child.workload()),
            })
        }
        Failure::Json(_) | Failure::Text => match class {
            FailureClass::SfnFailed | FailureClass::SfnTimeout | FailureClass::SfnAborted => {
                error.map(str::to_owned)
            }
            class => Some(match error {
                Some(error) => format!("{error}: {}", class.phrase()),
                None => class.phrase().to_owned(),
            }),
        },
    }
}

/// The title: the state machine and what happened to it, or for a `Catch` output what failed.
fn title(
    e: &SfnExecutionEvent,
    state_machine: Option<&str>,
    class: FailureClass,
    what: &str,
) -> String {
    let detail = headline(e.error.as_deref(), &e.failure, e.task.as_ref(), class);
    match (e.origin, &e.task) {
        (SfnOrigin::StatusChange, _) => {
            let detail = detail.map(|d| format!(" ({d})")).unwrap_or_default();
            format!(
                "Step Functions execution {what}: {}{detail}",
                state_machine.unwrap_or("unknown state machine")
            )
        }
        (SfnOrigin::CatchOutput, Some(task)) if e.failure == Failure::EcsTask => format!(
            "Step Functions task failed: {} ({})",
            task.workload().unwrap_or(&task.id),
            ecs_task::task_headline(task, class)
        ),
        (SfnOrigin::CatchOutput, _) => {
            let verb = if class == FailureClass::SfnTimeout {
                "timed out"
            } else {
                "failed"
            };
            match detail {
                Some(detail) => format!("Step Functions state {verb}: {detail}"),
                None => format!("Step Functions state {verb}"),
            }
        }
    }
}

/// The execution's link and the failed work's: the task (but not its service's: a task run by Step
/// Functions is not a service task), the Batch job and its logs, the child execution, the Glue run.
fn execution_links(e: &SfnExecutionEvent) -> Links {
    let mut out_links = failed_task(&e.failure, e.task.as_ref())
        .map(|t| ecs_task::task_links(&e.meta, t))
        .unwrap_or_default();
    out_links.service = None;
    // Only a real Step Functions ARN becomes a link: a body without an envelope can put anything there.
    out_links.execution = match (e.meta.region.as_deref(), e.execution_arn.as_deref()) {
        (Some(region), Some(arn)) if sfn_state_machine_name(arn).is_some() => {
            links::sfn_execution(&e.meta.partition, region, arn)
        }
        _ => None,
    };
    failure_links(&e.meta, &e.failure, &mut out_links);
    out_links
}

fn failure_links(meta: &EventMeta, failure: &Failure, out: &mut Links) {
    match failure {
        Failure::Batch(job) => job.links(meta, out),
        Failure::Glue(run) => run.links(meta, out),
        Failure::Child(child) => {
            child.links(meta, out);
            failure_links(meta, &child.read.failure, out);
        }
        Failure::EcsTask | Failure::Lambda(_) | Failure::Json(_) | Failure::Text => {}
    }
}

/// Where the failed integration's own log lines are, for the worker's lookups (`Alert::lookups`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CauseLogs {
    /// A Batch job's container: its log group and stream.
    Batch { group: String, stream: String },
    /// A Lambda invocation, by its request id.
    Lambda { request_id: String },
}

/// What an execution's error and cause (as the alert keeps them) say about where its log lines are:
/// the failed Batch job's stream (also of a failed child execution's job) or the failed Lambda
/// invocation's request id.
pub(crate) fn cause_logs(error: Option<&str>, cause: &str) -> Option<CauseLogs> {
    fn of(failure: &Failure) -> Option<CauseLogs> {
        match failure {
            Failure::Batch(job) => job.log_stream().map(|(group, stream)| CauseLogs::Batch {
                group: group.to_owned(),
                stream: stream.to_owned(),
            }),
            Failure::Lambda(lambda) => lambda.request_id().map(|id| CauseLogs::Lambda {
                request_id: id.to_owned(),
            }),
            Failure::Child(child) => of(&child.read.failure),
            Failure::EcsTask | Failure::Glue(_) | Failure::Json(_) | Failure::Text => None,
        }
    }
    of(&cause::read(error, Some(CauseRef::Text(cause))).failure)
}

/// One key per failed execution (and per redrive of it); a `Catch` output has no execution ARN and
/// is keyed on the work that failed (task, Batch job, child execution, Glue run) or on its event.
fn dedup_key(e: &SfnExecutionEvent) -> String {
    if let Some(arn) = &e.execution_arn {
        return match e.redrive_count {
            // A redriven execution that fails again is a new failure.
            Some(n) if n > 0 => format!("sfn_execution:{arn}:redrive:{n}"),
            _ => format!("sfn_execution:{arn}"),
        };
    }
    match (&e.failure, &e.task) {
        (_, Some(task)) => format!("sfn_execution:task:{}", task.arn),
        (Failure::Batch(job), _) => format!("sfn_execution:batch_job:{}", job.id()),
        (Failure::Child(child), _) => format!("sfn_execution:child:{}", child.arn),
        _ => format!("sfn_execution:event:{}", e.meta.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_truncation_note_names_the_limit() {
        assert!(TRUNCATED_NOTE.contains("32,768"));
        assert_eq!(cause::CAUSE_LIMIT, 32_768);
    }
}
