//! Deciding whether an event alerts, how urgently, and what the alert says.
//!
//! The rules are the "Which events alert" section, and nothing else:
//! - **ECS task**: alert once the task is in its stop phase (`DEPROVISIONING`, `STOPPED`, or no
//!   `lastStatus` at all, as in hand-written test messages) and stopped badly: `TaskFailedToStart`; an
//!   essential container exited non-zero or never started; an out-of-memory container; load-balancer or
//!   container health checks (`ServiceSchedulerInitiated` with such a reason); an unknown stop code (such
//!   as the seed's test message `TaskFailed`). Spot, termination-notice and infrastructure stops are
//!   warnings; a Spot notice alerts as soon as it arrives, even while the task still runs, since the
//!   later STOPPED event carries the same dedup key. Silent: everything exited 0 (a sidecar's 143,
//!   from the SIGTERM ECS sends once the essential container exited, counts as 0), scale-in and
//!   deployment replacement (`Scaling activity initiated by ...`), user stops, tasks not yet stopped. `STOPPING`
//!   stays silent on purpose: its containers may still be running, and the DEPROVISIONING/STOPPED event
//!   that always follows carries the full picture.
//! - **ECS deployment**: `SERVICE_DEPLOYMENT_FAILED` is critical; a circuit-breaker rollback a warning.
//! - **ECS service action**: `ERROR` is critical, `WARN` a warning, the rest silent.
//! - **Step Functions**: `FAILED` and `TIMED_OUT` are critical, `ABORTED` a warning, the rest silent; a
//!   `Catch` output is always a failure.
//!
//! One stopped task yields several events (DEPROVISIONING, STOPPED, redeliveries); they all get the dedup
//! key `ecs_task:<task ARN>`, and the [`crate::Deduper`] lets only the first through.

use std::fmt::{self, Write as _};

use time::format_description::well_known::Rfc3339;

use crate::decode::{
    DeploymentEventName, EcsDeploymentEvent, EcsEventType, EcsServiceEvent, EcsTask, EcsTaskEvent,
    Event, EventMeta, ExecutionStatus, ServiceEventName, SfnExecutionEvent, SfnOrigin, StopCode,
    TaskStatus, UnhandledEvent,
};
use crate::hint::{self, FailureClass};
use crate::links::{self, ServicePage, TaskPage};
use crate::text::concat;
use crate::{Alert, AlertKind, ContainerInfo, ExecutionInfo, Links, Schema, Severity, TaskInfo};

/// The outcome of classifying one event.
#[derive(Debug, Clone)]
pub enum Decision {
    Alert(Box<Alert>),
    Silent(SilentReason),
}

/// Why an event deliberately produced no alert.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SilentReason {
    /// The task has not reached its stop phase yet (or is still `STOPPING`).
    TaskNotStopped { last_status: String },
    /// Every container exited 0: a job that finished.
    ExitedCleanly,
    /// The service scheduler stopped the task for scale-in or to replace it in a deployment.
    ServiceScaling { reason: String },
    /// The service scheduler stopped the task for a reason that is not a failure.
    SchedulerStop { reason: Option<String> },
    /// A user or an API call stopped the task.
    UserInitiated,
    /// The task stopped without any sign of failure (no stop code, no failing container).
    NoFailure,
    /// A deployment event that is not a failure or a rollback.
    DeploymentOk { event_name: String },
    /// An ECS service action that is neither ERROR nor WARN.
    ServiceInfo {
        event_type: String,
        event_name: Option<String>,
    },
    /// A Step Functions execution that did not fail (running, succeeded, ...).
    ExecutionOk { status: String },
    /// An EventBridge event of a source or detail-type failwatch does not handle.
    Unhandled {
        source: Option<String>,
        detail_type: Option<String>,
    },
}

impl SilentReason {
    /// A stable snake_case code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            SilentReason::TaskNotStopped { .. } => "task_not_stopped",
            SilentReason::ExitedCleanly => "exited_cleanly",
            SilentReason::ServiceScaling { .. } => "service_scaling",
            SilentReason::SchedulerStop { .. } => "scheduler_stop",
            SilentReason::UserInitiated => "user_initiated",
            SilentReason::NoFailure => "no_failure",
            SilentReason::DeploymentOk { .. } => "deployment_ok",
            SilentReason::ServiceInfo { .. } => "service_info",
            SilentReason::ExecutionOk { .. } => "execution_ok",
            SilentReason::Unhandled { .. } => "unhandled_event",
        }
    }
}

impl fmt::Display for SilentReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SilentReason::TaskNotStopped { last_status } => {
                write!(f, "ECS task not stopped yet (lastStatus {last_status})")
            }
            SilentReason::ExitedCleanly => {
                f.write_str("ECS task stopped and every container exited 0")
            }
            SilentReason::ServiceScaling { reason } => {
                write!(
                    f,
                    "ECS task stopped by the service scheduler for scale-in or deployment: {reason}"
                )
            }
            SilentReason::SchedulerStop { reason } => match reason {
                Some(reason) => write!(f, "ECS task stopped by the service scheduler: {reason}"),
                None => f.write_str("ECS task stopped by the service scheduler"),
            },
            SilentReason::UserInitiated => f.write_str("ECS task stopped by a user or an API call"),
            SilentReason::NoFailure => f.write_str("ECS task stopped without any sign of failure"),
            SilentReason::DeploymentOk { event_name } => {
                write!(f, "ECS deployment event {event_name} is not a failure")
            }
            SilentReason::ServiceInfo {
                event_type,
                event_name,
            } => write!(
                f,
                "ECS service action {} is {event_type}, not ERROR or WARN",
                event_name.as_deref().unwrap_or("(unnamed)")
            ),
            SilentReason::ExecutionOk { status } => {
                write!(f, "Step Functions execution is {status}, not a failure")
            }
            SilentReason::Unhandled {
                source,
                detail_type,
            } => write!(
                f,
                "unhandled event: detail-type {:?} from source {:?}",
                detail_type.as_deref().unwrap_or(""),
                source.as_deref().unwrap_or("")
            ),
        }
    }
}

/// Classifies one event.
pub fn classify(event: &Event) -> Decision {
    match event {
        Event::EcsTask(e) => classify_task(e),
        Event::EcsDeployment(e) => classify_deployment(e),
        Event::EcsService(e) => classify_service(e),
        Event::SfnExecution(e) => classify_sfn(e),
        Event::Unhandled(UnhandledEvent {
            source,
            detail_type,
            ..
        }) => Decision::Silent(SilentReason::Unhandled {
            source: source.clone(),
            detail_type: detail_type.clone(),
        }),
    }
}

fn alert(a: Alert) -> Decision {
    Decision::Alert(Box::new(a))
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

fn classify_task(e: &EcsTaskEvent) -> Decision {
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
        Some(StopCode::SpotInterruption | StopCode::TerminationNotice) => {
            (Severity::Warning, FailureClass::SpotInterruption)
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
    alert(task_alert(&e.meta, task, class, severity))
}

/// RFC 3339 in UTC. Times come from `OffsetDateTime`s within year 0..=9999, which always format.
fn rfc3339(meta: &EventMeta) -> String {
    meta.time
        .format(&Rfc3339)
        .unwrap_or_else(|_| meta.time.unix_timestamp().to_string())
}

/// Appends `Label: value` on its own line when there is a value.
fn line(out: &mut String, label: &str, value: Option<&str>) {
    if let Some(value) = value.filter(|v| !v.is_empty()) {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(label);
        out.push_str(": ");
        out.push_str(value);
    }
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
            (None, Some(reason)) => {
                let _ = write!(out, " (did not start: {reason})");
            }
            (None, None) => out.push_str(" (did not start)"),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// What went wrong, in a few words, for a title: "app exited 137", "out of memory", "TaskFailed".
fn task_headline(task: &EcsTask, class: FailureClass) -> String {
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

fn task_info(task: &EcsTask) -> TaskInfo {
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
            })
            .collect(),
    }
}

/// The task and task-logs links, plus the service link when the task belongs to a service.
fn task_links(meta: &EventMeta, task: &EcsTask) -> Links {
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

/// The summary lines every task alert shares, in the order of the Google Chat seed's example.
fn task_summary(out: &mut String, meta: &EventMeta, task: &EcsTask, time: &str) {
    line(out, "Cluster", task.cluster.as_deref());
    match task.service() {
        Some(service) => line(out, "Service", Some(service)),
        None => line(out, "Group", task.group.as_deref()),
    }
    let task_line = match &task.definition {
        Some(def) => concat(&[&task.id, " (", def, ")"]),
        None => task.id.clone(),
    };
    line(out, "Task", Some(&task_line));
    line(
        out,
        "Stop code",
        task.stop_code.as_ref().map(|c| c.as_str()),
    );
    line(out, "Reason", task.stopped_reason.as_deref());
    line(
        out,
        "Failed containers",
        failed_containers_text(task).as_deref(),
    );
    line(out, "Time", Some(time));
    line(out, "Region", meta.region.as_deref());
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
    let mut summary = String::with_capacity(512);
    task_summary(&mut summary, meta, task, &time);
    let cluster = task.cluster.as_deref().unwrap_or("");
    Alert {
        schema: Schema,
        kind: AlertKind::EcsTask,
        severity,
        title,
        summary,
        hint: class.hint().map(str::to_owned),
        event_id: meta.id.clone(),
        time,
        account: meta.account.clone(),
        region: meta.region.clone(),
        partition: meta.partition.clone(),
        cluster: task.cluster.clone(),
        service: task.service().map(str::to_owned),
        links: task_links(meta, task),
        task: Some(task_info(task)),
        execution: None,
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
    }
}

fn classify_deployment(e: &EcsDeploymentEvent) -> Decision {
    let reason_class = hint::reason_class(e.reason.as_deref());
    let rollback = e
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("circuit breaker") && r.contains("rolling back"));
    let (severity, class, what) = match &e.event_name {
        DeploymentEventName::Failed => (
            Severity::Critical,
            reason_class.unwrap_or(FailureClass::DeploymentFailed),
            "failed",
        ),
        _ if rollback => (
            Severity::Warning,
            FailureClass::CircuitBreaker,
            "rolled back",
        ),
        other => {
            return Decision::Silent(SilentReason::DeploymentOk {
                event_name: other.as_str().to_owned(),
            });
        }
    };
    let time = rfc3339(&e.meta);
    let mut summary = String::with_capacity(512);
    line(&mut summary, "Cluster", e.cluster.as_deref());
    line(&mut summary, "Service", Some(&e.service));
    line(&mut summary, "Deployment", e.deployment_id.as_deref());
    line(&mut summary, "Event", Some(e.event_name.as_str()));
    line(&mut summary, "Reason", e.reason.as_deref());
    line(&mut summary, "Time", Some(&time));
    line(&mut summary, "Region", e.meta.region.as_deref());
    let cluster = e.cluster.as_deref().unwrap_or("");
    let service_link = e.meta.region.as_deref().and_then(|region| {
        links::ecs_service(
            &e.meta.partition,
            region,
            e.cluster.as_deref()?,
            &e.service,
            ServicePage::Deployments,
        )
    });
    alert(Alert {
        schema: Schema,
        kind: AlertKind::EcsDeployment,
        severity,
        title: format!("ECS deployment {what}: {}", e.service),
        summary,
        hint: class.hint().map(str::to_owned),
        event_id: e.meta.id.clone(),
        time,
        account: e.meta.account.clone(),
        region: e.meta.region.clone(),
        partition: e.meta.partition.clone(),
        cluster: e.cluster.clone(),
        service: Some(e.service.clone()),
        task: None,
        execution: None,
        links: Links {
            service: service_link,
            ..Links::default()
        },
        dedup_key: format!(
            "ecs_deployment:{}:{}:{}",
            e.service_arn,
            e.deployment_id.as_deref().unwrap_or(&e.meta.id),
            e.event_name
        ),
        group_key: format!("ecs_deployment:{cluster}:{}:{}", e.service, class.code()),
    })
}

fn classify_service(e: &EcsServiceEvent) -> Decision {
    let severity = match &e.event_type {
        EcsEventType::Error => Severity::Critical,
        EcsEventType::Warn => Severity::Warning,
        other => {
            return Decision::Silent(SilentReason::ServiceInfo {
                event_type: other.as_str().to_owned(),
                event_name: e.event_name.as_ref().map(|n| n.as_str().to_owned()),
            });
        }
    };
    let class = hint::reason_class(e.reason.as_deref()).unwrap_or(match e.event_name {
        Some(ServiceEventName::ServiceTaskPlacementFailure) => FailureClass::PlacementCapacity,
        Some(ServiceEventName::ServiceTaskStartImpaired) => FailureClass::TaskStartImpaired,
        _ => FailureClass::Other,
    });
    let event_name = e
        .event_name
        .as_ref()
        .map_or("(unnamed event)", |n| n.as_str());
    let time = rfc3339(&e.meta);
    let mut summary = String::with_capacity(512);
    line(&mut summary, "Cluster", e.cluster.as_deref());
    line(&mut summary, "Service", e.service.as_deref());
    line(&mut summary, "Event", Some(event_name));
    line(&mut summary, "Reason", e.reason.as_deref());
    let providers: Vec<&str> = e
        .capacity_providers
        .iter()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .collect();
    if !providers.is_empty() {
        line(
            &mut summary,
            "Capacity providers",
            Some(&providers.join(", ")),
        );
    }
    line(&mut summary, "Time", Some(&time));
    line(&mut summary, "Region", e.meta.region.as_deref());
    let cluster = e.cluster.as_deref().unwrap_or("");
    let target = e
        .service
        .as_deref()
        .or(e.cluster.as_deref())
        .unwrap_or("(unknown service)");
    let service_link = match (
        e.meta.region.as_deref(),
        e.cluster.as_deref(),
        e.service.as_deref(),
    ) {
        (Some(region), Some(cluster), Some(service)) => links::ecs_service(
            &e.meta.partition,
            region,
            cluster,
            service,
            ServicePage::Health,
        ),
        _ => None,
    };
    let what = match class {
        FailureClass::Other => event_name.to_owned(),
        _ => class.phrase().to_owned(),
    };
    alert(Alert {
        schema: Schema,
        kind: AlertKind::EcsService,
        severity,
        title: format!("ECS service problem: {target} ({what})"),
        summary,
        hint: class.hint().map(str::to_owned),
        event_id: e.meta.id.clone(),
        time,
        account: e.meta.account.clone(),
        region: e.meta.region.clone(),
        partition: e.meta.partition.clone(),
        cluster: e.cluster.clone(),
        service: e.service.clone(),
        task: None,
        execution: None,
        links: Links {
            service: service_link,
            ..Links::default()
        },
        // Repeats of one service problem (placement failures recur every few minutes) share a key, so
        // the deduper reports them once per TTL.
        dedup_key: format!(
            "ecs_service:{}:{event_name}:{}",
            e.service_arn.as_deref().unwrap_or(cluster),
            e.reason.as_deref().unwrap_or("")
        ),
        group_key: format!(
            "ecs_service:{cluster}:{}:{}",
            e.service.as_deref().unwrap_or(""),
            class.code()
        ),
    })
}

fn classify_sfn(e: &SfnExecutionEvent) -> Decision {
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
        .and_then(crate::decode::sfn_state_machine_name);

    let mut summary = String::with_capacity(512);
    line(&mut summary, "State machine", state_machine);
    line(&mut summary, "Execution", e.name.as_deref());
    line(
        &mut summary,
        "Status",
        e.status.as_ref().map(|s| s.as_str()),
    );
    line(&mut summary, "Error", e.error.as_deref());
    match &e.task {
        // The cause is the whole task description; its facts say more than the JSON would.
        Some(task) => task_summary(&mut summary, &e.meta, task, &time),
        None => {
            line(&mut summary, "Cause", e.cause.as_deref());
            line(&mut summary, "Time", Some(&time));
            line(&mut summary, "Region", e.meta.region.as_deref());
        }
    }

    let title = match (e.origin, state_machine, &e.task) {
        (SfnOrigin::StatusChange, sm, task) => {
            let detail = match (task, class) {
                (Some(task), _) => format!(" ({})", task_headline(task, class)),
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
            task_headline(task, class)
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
    };

    let mut out_links = e
        .task
        .as_ref()
        .map(|t| task_links(&e.meta, t))
        .unwrap_or_default();
    // A task run by Step Functions is not a service task; link the execution instead.
    out_links.service = None;
    out_links.execution = match (e.meta.region.as_deref(), e.execution_arn.as_deref()) {
        (Some(region), Some(arn)) => links::sfn_execution(&e.meta.partition, region, arn),
        _ => None,
    };

    let dedup_key = match (&e.execution_arn, &e.task) {
        (Some(arn), _) => match e.redrive_count {
            // A redriven execution that fails again is a new failure.
            Some(n) if n > 0 => format!("sfn_execution:{arn}:redrive:{n}"),
            _ => format!("sfn_execution:{arn}"),
        },
        (None, Some(task)) => format!("sfn_execution:task:{}", task.arn),
        (None, None) => format!("sfn_execution:event:{}", e.meta.id),
    };
    let cluster = e.task.as_ref().and_then(|t| t.cluster.clone());
    alert(Alert {
        schema: Schema,
        kind: AlertKind::SfnExecution,
        severity,
        title,
        summary,
        hint: class.hint().map(str::to_owned),
        event_id: e.meta.id.clone(),
        time,
        account: e.meta.account.clone(),
        region: e.meta.region.clone(),
        partition: e.meta.partition.clone(),
        cluster,
        service: None,
        task: e.task.as_ref().map(task_info),
        execution: Some(ExecutionInfo {
            arn: e.execution_arn.clone(),
            name: e.name.clone(),
            state_machine: e.state_machine_arn.clone(),
            status: e.status.as_ref().map(|s| s.as_str().to_owned()),
            error: e.error.clone(),
            cause: e.cause.clone(),
        }),
        links: out_links,
        dedup_key,
        group_key: format!(
            "sfn_execution:{}:{}",
            state_machine.unwrap_or("catch"),
            class.code()
        ),
    })
}
