//! Step Functions executions: `aws.states` / `Step Functions Execution Status Change`, and the
//! `{"Error", "Cause"}` output of a `Catch` that a state machine sends on itself (the Slack seed's
//! shape), in which `Cause` may be a string or, after `States.StringToJson`, an object.
//!
//! Classification: `FAILED` and `TIMED_OUT` are critical, `ABORTED` a warning, the rest silent; a
//! `Catch` output is always a failure. When the failed state was `ecs:runTask.sync`, the cause is the
//! whole ECS task description: it is read as an [`EcsTask`], and the alert shows that task's facts.

use serde::Deserialize;

use super::ecs_task::{self, EcsTask, TaskDetail};
use crate::classify::{Decision, SilentReason, base_alert, rfc3339};
use crate::decode::{
    CATCH_OUTPUT, DecodeError, Detail, EventMeta, Fallback, Shape, excerpt, open_enum,
    sfn_state_machine_name, timestamp,
};
use crate::hint::{self, FailureClass};
use crate::links;
use crate::summary::{Role, Summary};
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

/// The ECS task in an `ecs:runTask.sync` failure cause: Step Functions puts the whole `DescribeTasks`
/// task, PascalCase, into the cause string. Anything else (a Lambda stack trace, plain text) is not a
/// task and yields `None`.
fn task_from_cause_str(cause: &str) -> Option<EcsTask> {
    // Cheap pre-check so ordinary text causes are not run through the JSON parser.
    if !cause.trim_start().starts_with('{') || !cause.contains("TaskArn") {
        return None;
    }
    serde_json::from_str::<TaskDetail>(cause)
        .ok()
        .and_then(|d| ecs_task::task_from_wire(d).ok())
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
    let task = detail.cause.as_deref().and_then(task_from_cause_str);
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
        task,
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
    let (cause, task) = match cause {
        None | Some(Value::Null) => (None, None),
        Some(Value::String(text)) => {
            let task = task_from_cause_str(&text);
            (Some(text), task)
        }
        Some(value) => {
            // `States.StringToJson` already turned the cause into an object.
            let task = TaskDetail::deserialize(&value)
                .ok()
                .and_then(|d| ecs_task::task_from_wire(d).ok());
            (Some(value.to_string()), task)
        }
    };
    let task_arn = task.as_ref().map(|t| t.arn.as_str());
    let carried = task
        .as_ref()
        .and_then(|t| t.stopped_at.or(t.execution_stopped_at));
    let meta = fallback.meta(Shape::CatchOutput, carried, &[task_arn]);
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
        task,
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
        _ => hint::sfn_class(e.error.as_deref(), e.cause.as_deref(), e.task.as_ref()),
    };
    let time = rfc3339(&e.meta);
    let state_machine = e
        .state_machine_arn
        .as_deref()
        .or(e.execution_arn.as_deref())
        .and_then(sfn_state_machine_name);

    let summary = summary(e, state_machine, &time);
    let title = title(e, state_machine, class, what);
    let cluster = e.task.as_ref().and_then(|t| t.cluster.clone());
    Decision::Alert(Box::new(Alert {
        cluster,
        task: e.task.as_ref().map(ecs_task::task_info),
        execution: Some(ExecutionInfo {
            arn: e.execution_arn.clone(),
            name: e.name.clone(),
            state_machine: e.state_machine_arn.clone(),
            status: e.status.as_ref().map(|s| s.as_str().to_owned()),
            error: e.error.clone(),
            cause: e.cause.clone(),
        }),
        links: execution_links(e),
        dedup_key: dedup_key(e),
        group_key: format!(
            "sfn_execution:{}:{}",
            state_machine.unwrap_or("catch"),
            class.code()
        ),
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

/// The summary facts: the execution's, then the failed task's or the cause.
fn summary(e: &SfnExecutionEvent, state_machine: Option<&str>, time: &str) -> Summary {
    let mut summary = Summary::new();
    summary.push(Role::StateMachine, state_machine);
    summary.push(Role::Execution, e.name.as_deref());
    summary.push(Role::Status, e.status.as_ref().map(|s| s.as_str()));
    summary.push(Role::Error, e.error.as_deref());
    match &e.task {
        // The cause is the whole task description; its facts say more than the JSON would.
        Some(task) => ecs_task::task_summary(&mut summary, &e.meta, task, time),
        None => {
            summary.push(Role::Cause, e.cause.as_deref());
            summary.push(Role::Time, Some(time));
            summary.push(Role::Region, e.meta.region.as_deref());
        }
    }

    summary
}

/// The title: the state machine and what happened to it, or for a `Catch` output the failed task
/// or state.
fn title(
    e: &SfnExecutionEvent,
    state_machine: Option<&str>,
    class: FailureClass,
    what: &str,
) -> String {
    match (e.origin, state_machine, &e.task) {
        (SfnOrigin::StatusChange, sm, task) => {
            let detail = match (task, class) {
                (Some(task), _) => format!(" ({})", ecs_task::task_headline(task, class)),
                (
                    None,
                    FailureClass::SfnFailed | FailureClass::SfnTimeout | FailureClass::SfnAborted,
                ) => e
                    .error
                    .as_deref()
                    .map(|err| format!(" ({err})"))
                    .unwrap_or_default(),
                (None, class) => format!(" ({})", class.phrase()),
            };
            format!(
                "Step Functions execution {what}: {}{detail}",
                sm.unwrap_or("unknown state machine")
            )
        }
        (SfnOrigin::CatchOutput, _, Some(task)) => format!(
            "Step Functions task failed: {} ({})",
            task.workload().unwrap_or(&task.id),
            ecs_task::task_headline(task, class)
        ),
        (SfnOrigin::CatchOutput, _, None) => {
            let verb = if class == FailureClass::SfnTimeout {
                "timed out"
            } else {
                "failed"
            };
            match e.error.as_deref() {
                Some(error) => format!("Step Functions state {verb}: {error}"),
                None => format!("Step Functions state {verb}"),
            }
        }
    }
}

/// The failed task's links (but not its service's: a task run by Step Functions is not a service
/// task) and the execution's.
fn execution_links(e: &SfnExecutionEvent) -> Links {
    let mut out_links = e
        .task
        .as_ref()
        .map(|t| ecs_task::task_links(&e.meta, t))
        .unwrap_or_default();
    out_links.service = None;
    out_links.execution = match (e.meta.region.as_deref(), e.execution_arn.as_deref()) {
        (Some(region), Some(arn)) => links::sfn_execution(&e.meta.partition, region, arn),
        _ => None,
    };

    out_links
}

/// One key per failed execution (and per redrive of it); a `Catch` output has no execution ARN and
/// is keyed on its task or its event.
fn dedup_key(e: &SfnExecutionEvent) -> String {
    match (&e.execution_arn, &e.task) {
        (Some(arn), _) => match e.redrive_count {
            // A redriven execution that fails again is a new failure.
            Some(n) if n > 0 => format!("sfn_execution:{arn}:redrive:{n}"),
            _ => format!("sfn_execution:{arn}"),
        },
        (None, Some(task)) => format!("sfn_execution:task:{}", task.arn),
        (None, None) => format!("sfn_execution:event:{}", e.meta.id),
    }
}
