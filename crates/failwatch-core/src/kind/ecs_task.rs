//! ECS tasks: `aws.ecs` / `ECS Task State Change`, also as a bare `{"detail": {...}}` (the Google Chat
//! seed's test message) and, through [`crate::kind::sfn_execution`], the task an `ecs:runTask.sync`
//! failure cause describes.
//!
//! Classification: alert once the task is in its stop phase (`DEPROVISIONING`, `STOPPED`, or no
//! `lastStatus` at all, as in hand-written test messages) and stopped badly: `TaskFailedToStart`; an
//! essential container exited non-zero or never started; an out-of-memory container; load-balancer or
//! container health checks (`ServiceSchedulerInitiated` with such a reason); an unknown stop code (such
//! as the seed's test message `TaskFailed`). Spot, termination-notice and infrastructure stops are
//! warnings; a Spot notice alerts as soon as it arrives, even while the task still runs, since the later
//! STOPPED event carries the same dedup key. Silent: everything exited 0 (a sidecar's 143, from the
//! SIGTERM ECS sends once the essential container exited, counts as 0), scale-in and deployment
//! replacement (`Scaling activity initiated by ...`), user stops, tasks not yet stopped. `STOPPING` stays
//! silent on purpose: its containers may still be running, and the DEPROVISIONING/STOPPED event that
//! always follows carries the full picture.
//!
//! One stopped task yields several events (DEPROVISIONING, STOPPED, redeliveries); they all get the dedup
//! key `ecs_task:<task ARN>`, and the [`crate::Deduper`] lets only the first through.

mod model;

use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::value::RawValue;
use time::OffsetDateTime;

pub(crate) use model::workload_of_group;
pub use model::{
    Container, ContainerStatus, EcsTask, EcsTaskEvent, LaunchType, StopCode, TaskStatus,
};

use crate::classify::{Decision, SilentReason, base_alert, rfc3339};
use crate::decode::{self, BARE_DETAIL, DecodeError, Detail, EventMeta, Shape, excerpt, timestamp};
use crate::hint::{self, FailureClass};
use crate::links::{self, ServicePage, TaskPage};
use crate::summary::{Role, Summary};
use crate::text::concat;
use crate::{Alert, AlertKind, ContainerInfo, Links, Severity, TaskInfo};

/// What failed, in words.
pub(crate) const LABEL: &str = "ECS task";
/// The EventBridge source of task events.
pub(crate) const SOURCE: &str = "aws.ecs";
/// The EventBridge detail-type of task events.
pub(crate) const DETAIL_TYPE: &str = "ECS Task State Change";

/// The `detail` of an ECS Task State Change; the registry reads it ([`super::WireDetail`]).
pub(crate) type Wire = TaskDetail;

/// The `detail` of an ECS Task State Change, as EventBridge writes it (camelCase), which is also how
/// `describe-tasks` writes a task; the aliases read the PascalCase of the task description Step Functions
/// puts into an `ecs:runTask.sync` failure cause.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskDetail {
    #[serde(alias = "TaskArn")]
    task_arn: Option<String>,
    #[serde(alias = "ClusterArn")]
    cluster_arn: Option<String>,
    #[serde(alias = "LastStatus")]
    last_status: Option<TaskStatus>,
    #[serde(alias = "DesiredStatus")]
    desired_status: Option<TaskStatus>,
    #[serde(alias = "StopCode")]
    stop_code: Option<StopCode>,
    #[serde(alias = "StoppedReason")]
    stopped_reason: Option<String>,
    #[serde(alias = "Group")]
    group: Option<String>,
    #[serde(alias = "LaunchType")]
    launch_type: Option<LaunchType>,
    #[serde(alias = "CapacityProviderName")]
    capacity_provider_name: Option<String>,
    #[serde(alias = "TaskDefinitionArn")]
    task_definition_arn: Option<String>,
    #[serde(alias = "StartedBy")]
    started_by: Option<String>,
    #[serde(alias = "Containers")]
    containers: Option<Vec<ContainerDetail>>,
    #[serde(alias = "Version")]
    version: Option<i64>,
    #[serde(alias = "StartedAt", default, deserialize_with = "timestamp")]
    started_at: Option<OffsetDateTime>,
    #[serde(alias = "StoppedAt", default, deserialize_with = "timestamp")]
    stopped_at: Option<OffsetDateTime>,
    #[serde(alias = "ExecutionStoppedAt", default, deserialize_with = "timestamp")]
    execution_stopped_at: Option<OffsetDateTime>,
}

impl TaskDetail {
    /// Sets the task ARN of a description that lost its own (a Step Functions cause cut before it).
    pub(crate) fn set_task_arn(&mut self, arn: String) {
        self.task_arn = Some(arn);
    }
}

/// One entry of a task's `containers`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerDetail {
    #[serde(alias = "Name")]
    name: Option<String>,
    #[serde(alias = "ExitCode")]
    exit_code: Option<i64>,
    #[serde(alias = "Reason")]
    reason: Option<String>,
    #[serde(alias = "LastStatus")]
    last_status: Option<ContainerStatus>,
}

/// Decodes the detail of an ECS Task State Change.
pub(crate) fn decode(wire: TaskDetail, input: Detail<'_>) -> Result<EcsTaskEvent, DecodeError> {
    task_event(wire, input, DETAIL_TYPE, Shape::EventBridge)
}

/// Decodes a bare `{"detail": {...}}` body (`raw`), read as an ECS task.
pub(crate) fn decode_bare(raw: &RawValue, input: Detail<'_>) -> Result<EcsTaskEvent, DecodeError> {
    let wire = serde_json::from_str(raw.get()).map_err(|source| DecodeError::Malformed {
        what: BARE_DETAIL,
        source: source.into(),
    })?;
    task_event(wire, input, BARE_DETAIL, Shape::BareDetail)
}

fn task_event(
    wire: TaskDetail,
    detail: Detail<'_>,
    what: &'static str,
    shape: Shape,
) -> Result<EcsTaskEvent, DecodeError> {
    let task = task_from_wire(wire).map_err(|field| match field {
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
    let meta = detail.meta(
        shape,
        task.stopped_at.or(task.execution_stopped_at),
        &[Some(task.arn.as_str())],
    );
    Ok(EcsTaskEvent { meta, task })
}

/// Why a task detail is not a task.
pub(crate) enum TaskFieldError {
    Missing,
    NotTaskArn(String),
}

/// The task a detail describes.
pub(crate) fn task_from_wire(detail: TaskDetail) -> Result<EcsTask, TaskFieldError> {
    let arn = detail.task_arn.ok_or(TaskFieldError::Missing)?;
    let (arn_cluster, id) =
        decode::ecs_task_parts(&arn).ok_or_else(|| TaskFieldError::NotTaskArn(excerpt(&arn)))?;
    let cluster = detail
        .cluster_arn
        .as_deref()
        .and_then(decode::ecs_cluster_name)
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
            .and_then(decode::ecs_task_definition)
            .map(str::to_owned),
        started_by: detail.started_by,
        containers,
        version: detail.version,
        started_at: detail.started_at,
        stopped_at: detail.stopped_at,
        execution_stopped_at: detail.execution_stopped_at,
        arn,
    })
}

/// Whether the task is in its stop phase. A body without `lastStatus` (a hand-written test message) is
/// judged on what it carries.
fn in_stop_phase(task: &EcsTask) -> bool {
    match &task.last_status {
        None => true,
        Some(TaskStatus::Deprovisioning | TaskStatus::Stopped | TaskStatus::Deleted) => true,
        Some(_) => false,
    }
}

/// Classifies a task event.
pub(crate) fn classify(e: &EcsTaskEvent) -> Decision {
    let task = &e.task;
    let spot = matches!(
        task.stop_code,
        Some(StopCode::SpotInterruption | StopCode::TerminationNotice)
    );
    if !in_stop_phase(task) && !spot {
        return Decision::Silent(SilentReason::TaskNotStopped {
            last_status: task
                .last_status
                .as_ref()
                .map_or_else(String::new, |s| s.as_str().to_owned()),
        });
    }
    let class = hint::task_class(task);
    let (severity, class) = match &task.stop_code {
        // The class says whether it was Spot capacity or an on-demand instance going away.
        Some(StopCode::SpotInterruption | StopCode::TerminationNotice) => {
            (Severity::Warning, class)
        }
        Some(StopCode::UserInitiated) => return Decision::Silent(SilentReason::UserInitiated),
        Some(StopCode::ServiceSchedulerInitiated) => match class {
            FailureClass::ElbHealthCheck
            | FailureClass::ContainerHealthCheck
            | FailureClass::OutOfMemory => (Severity::Critical, class),
            FailureClass::Infrastructure | FailureClass::SpotInterruption => {
                (Severity::Warning, class)
            }
            _ => {
                let reason = task.stopped_reason.clone();
                return Decision::Silent(match reason {
                    Some(reason) if reason.starts_with("Scaling activity initiated by") => {
                        SilentReason::ServiceScaling { reason }
                    }
                    reason => SilentReason::SchedulerStop { reason },
                });
            }
        },
        // A very short task that exited 0 is reported as failing to start: the work most likely
        // succeeded, so this is worth a look, not a page.
        Some(StopCode::TaskFailedToStart) if class == FailureClass::FinishedBeforeStartReported => {
            (Severity::Warning, class)
        }
        Some(StopCode::TaskFailedToStart) => (Severity::Critical, class),
        stop_code => {
            // EssentialContainerExited, no stop code, or a stop code this build does not know.
            let failing = hint::failed_containers(task).next().is_some();
            let unknown_code = matches!(stop_code, Some(StopCode::Other(_)));
            if class == FailureClass::Infrastructure || class == FailureClass::SpotInterruption {
                (Severity::Warning, class)
            } else if failing || unknown_code || class != FailureClass::Other {
                (Severity::Critical, class)
            } else if !task.containers.is_empty() {
                return Decision::Silent(SilentReason::ExitedCleanly);
            } else if stop_code.is_some() {
                // EssentialContainerExited without container details (a truncated event): an essential
                // container stopped and nothing says it succeeded.
                (Severity::Critical, class)
            } else {
                return Decision::Silent(SilentReason::NoFailure);
            }
        }
    };
    Decision::Alert(Box::new(task_alert(&e.meta, task, class, severity)))
}

/// `app (exit 137: OutOfMemoryError: ...), sidecar (did not start)` for the failing containers.
fn failed_containers_text(task: &EcsTask) -> Option<String> {
    let mut out = String::new();
    for c in hint::failed_containers(task) {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(if c.name.is_empty() {
            "(unnamed)"
        } else {
            &c.name
        });
        // A container reason that repeats the task's stopped reason (image pulls, secrets) says nothing new.
        let reason = c
            .reason
            .as_deref()
            .filter(|r| Some(*r) != task.stopped_reason.as_deref());
        match (c.exit_code, reason) {
            (Some(code), Some(reason)) => {
                let _ = write!(out, " (exit {code}: {reason})");
            }
            (Some(code), None) => {
                let _ = write!(out, " (exit {code})");
            }
            (None, reason) => {
                let state = no_exit_code(
                    task.stop_code == Some(StopCode::TaskFailedToStart),
                    c.reason.as_deref(),
                    started(task, c),
                );
                let _ = match reason {
                    Some(reason) => write!(out, " ({state}: {reason})"),
                    None => write!(out, " ({state})"),
                };
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Whether a container without an exit code had started, as far as the task says: see [`no_exit_code`].
fn started(task: &EcsTask, container: &Container) -> bool {
    task.started_at.is_some()
        && !matches!(container.last_status, Some(ContainerStatus::Pending) | None)
}

/// How a container without an exit code is described: "did not start" when the task failed to start
/// or the container's reason is a start failure (the image, the runtime, the task's resources), or
/// when nothing says it ran; "no exit code" when it ran (`ran`: the task has `startedAt` and the
/// container got past PENDING) and ECS then lost track of it (`CannotInspectContainerError`).
pub(crate) fn no_exit_code(
    task_failed_to_start: bool,
    reason: Option<&str>,
    ran: bool,
) -> &'static str {
    const START_FAILURES: [&str; 3] = [
        "CannotPullContainerError",
        "CannotStartContainerError",
        "ResourceInitializationError",
    ];
    let start_failure = reason.is_some_and(|r| START_FAILURES.iter().any(|e| r.starts_with(e)));
    if ran && !task_failed_to_start && !start_failure {
        "no exit code"
    } else {
        "did not start"
    }
}

/// What went wrong, in a few words, for a title: "app exited 137", "out of memory", "TaskFailed".
pub(crate) fn task_headline(task: &EcsTask, class: FailureClass) -> String {
    let first_exit =
        hint::failed_containers(task).find_map(|c| Some((c.name.as_str(), c.exit_code?)));
    match class {
        FailureClass::ExitNonZero | FailureClass::Killed | FailureClass::Segfault => {
            match first_exit {
                Some((name, code)) => format!("{name} exited {code}"),
                None => class.phrase().to_owned(),
            }
        }
        FailureClass::Other => task
            .stop_code
            .as_ref()
            .map_or_else(|| class.phrase().to_owned(), |c| c.as_str().to_owned()),
        _ => class.phrase().to_owned(),
    }
}

/// The task as the alert document describes it.
pub(crate) fn task_info(task: &EcsTask) -> TaskInfo {
    TaskInfo {
        arn: task.arn.clone(),
        id: task.id.clone(),
        definition: task.definition.clone(),
        group: task.group.clone(),
        launch_type: task.launch_type.as_ref().map(|l| l.as_str().to_owned()),
        stop_code: task.stop_code.as_ref().map(|c| c.as_str().to_owned()),
        stopped_reason: task.stopped_reason.clone(),
        containers: task
            .containers
            .iter()
            .map(|c| ContainerInfo {
                name: c.name.clone(),
                exit_code: c.exit_code,
                reason: c.reason.clone(),
                log_tail: None,
                log_link: None,
                log_driver: None,
            })
            .collect(),
    }
}

/// The task and task-logs links, plus the service link when the task belongs to a service.
pub(crate) fn task_links(meta: &EventMeta, task: &EcsTask) -> Links {
    let mut out = Links::default();
    if let (Some(region), Some(cluster)) = (meta.region.as_deref(), task.cluster.as_deref()) {
        let p = meta.partition.as_str();
        out.task = links::ecs_task(p, region, cluster, &task.id, TaskPage::Configuration);
        out.task_logs = links::ecs_task(p, region, cluster, &task.id, TaskPage::Logs);
        if let Some(service) = task.service() {
            out.service = links::ecs_service(p, region, cluster, service, ServicePage::Health);
        }
    }
    out
}

/// The summary facts every task alert shares, in the order of the Google Chat seed's example.
pub(crate) fn task_summary(out: &mut Summary, meta: &EventMeta, task: &EcsTask, time: &str) {
    task_facts(out, task);
    out.push(Role::Time, Some(time));
    out.push(Role::Region, meta.region.as_deref());
}

/// The task's own facts: cluster, service or group, task, stop code, reason, failed containers.
pub(crate) fn task_facts(out: &mut Summary, task: &EcsTask) {
    out.push(Role::Cluster, task.cluster.as_deref());
    match task.service() {
        Some(service) => out.push(Role::Service, Some(service)),
        None => out.push(Role::Group, task.group.as_deref()),
    }
    let task_line = match &task.definition {
        Some(def) => concat(&[&task.id, " (", def, ")"]),
        None => task.id.clone(),
    };
    out.push(Role::Task, Some(&task_line));
    out.push(Role::StopCode, task.stop_code.as_ref().map(|c| c.as_str()));
    out.push(Role::Reason, task.stopped_reason.as_deref());
    out.push(
        Role::FailedContainers,
        failed_containers_text(task).as_deref(),
    );
}

fn task_alert(meta: &EventMeta, task: &EcsTask, class: FailureClass, severity: Severity) -> Alert {
    let time = rfc3339(meta);
    let workload = task.workload().unwrap_or(&task.id);
    let verb = match severity {
        Severity::Critical => "failed",
        Severity::Warning => "stopped",
    };
    let title = concat(&[
        "ECS task ",
        verb,
        ": ",
        workload,
        " (",
        &task_headline(task, class),
        ")",
    ]);
    let mut summary = Summary::new();
    task_summary(&mut summary, meta, task, &time);
    let cluster = task.cluster.as_deref().unwrap_or("");
    Alert {
        cluster: task.cluster.clone(),
        service: task.service().map(str::to_owned),
        links: task_links(meta, task),
        task: Some(task_info(task)),
        // Deliberately not `detail.version`: DEPROVISIONING and STOPPED of one task differ in version
        // but are one failure.
        dedup_key: concat(&["ecs_task:", &task.arn]),
        group_key: concat(&[
            "ecs_task:",
            cluster,
            ":",
            task.group
                .as_deref()
                .or(task.definition.as_deref())
                .unwrap_or(&task.id),
            ":",
            class.code(),
        ]),
        ..base_alert(
            AlertKind::EcsTask,
            severity,
            class,
            meta,
            title,
            summary,
            time,
        )
    }
}
