//! The decoded events: what failwatch knows about one message once the wire format is gone.
//!
//! These types are shape-independent: an ECS task arriving in an EventBridge envelope, wrapped in SNS, or
//! as a bare `detail` decodes to the same [`EcsTaskEvent`]; [`EventMeta::shape`] records which it was.

use time::OffsetDateTime;

use super::open_enum::open_enum;
use crate::AlertKind;

/// A decoded AWS event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// `aws.ecs` / `ECS Task State Change`, or a bare `{"detail": {...}}` with task fields.
    EcsTask(EcsTaskEvent),
    /// `aws.ecs` / `ECS Deployment State Change`.
    EcsDeployment(EcsDeploymentEvent),
    /// `aws.ecs` / `ECS Service Action`.
    EcsService(EcsServiceEvent),
    /// `aws.states` / `Step Functions Execution Status Change`, or a Step Functions `Catch` output.
    SfnExecution(SfnExecutionEvent),
    /// A well-formed EventBridge event of a source or detail-type failwatch does not handle.
    Unhandled(UnhandledEvent),
}

impl Event {
    /// The alert kind this event would produce, also for silent events (metric labels); `None` for
    /// events failwatch does not handle.
    pub fn kind(&self) -> Option<AlertKind> {
        match self {
            Event::EcsTask(_) => Some(AlertKind::EcsTask),
            Event::EcsDeployment(_) => Some(AlertKind::EcsDeployment),
            Event::EcsService(_) => Some(AlertKind::EcsService),
            Event::SfnExecution(_) => Some(AlertKind::SfnExecution),
            Event::Unhandled(_) => None,
        }
    }

    /// Where and when the event happened.
    pub fn meta(&self) -> &EventMeta {
        match self {
            Event::EcsTask(e) => &e.meta,
            Event::EcsDeployment(e) => &e.meta,
            Event::EcsService(e) => &e.meta,
            Event::SfnExecution(e) => &e.meta,
            Event::Unhandled(e) => &e.meta,
        }
    }
}

/// Which of the accepted body shapes a message had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An EventBridge event, as EventBridge delivers it to SQS.
    EventBridge,
    /// A bare `{"detail": {...}}` without an envelope, like the Google Chat seed's test message.
    BareDetail,
    /// A Step Functions `Catch` output, `{"Error": ..., "Cause": ...}`.
    CatchOutput,
}

/// Envelope facts, filled from the ARNs when the envelope lacks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    /// The EventBridge event id; for envelope-less bodies the SNS or SQS message id, else a stable hash
    /// of the body.
    pub id: String,
    /// The event time; else when the task stopped; else when the message was received.
    pub time: OffsetDateTime,
    pub account: Option<String>,
    pub region: Option<String>,
    /// `aws`, `aws-cn`, `aws-us-gov`, ... (from the ARNs or the region; `aws` when nothing says).
    pub partition: String,
    pub shape: Shape,
    /// The body was an SNS notification whose `Message` held the event.
    pub via_sns: bool,
}

open_enum! {
    /// `detail.stopCode` of a stopped ECS task.
    pub enum StopCode {
        TaskFailedToStart = "TaskFailedToStart",
        EssentialContainerExited = "EssentialContainerExited",
        UserInitiated = "UserInitiated",
        ServiceSchedulerInitiated = "ServiceSchedulerInitiated",
        SpotInterruption = "SpotInterruption",
        TerminationNotice = "TerminationNotice",
    }
}

open_enum! {
    /// `lastStatus` / `desiredStatus` of an ECS task, in lifecycle order.
    pub enum TaskStatus {
        Provisioning = "PROVISIONING",
        Pending = "PENDING",
        Activating = "ACTIVATING",
        Running = "RUNNING",
        Deactivating = "DEACTIVATING",
        Stopping = "STOPPING",
        Deprovisioning = "DEPROVISIONING",
        Stopped = "STOPPED",
        Deleted = "DELETED",
    }
}

open_enum! {
    /// `lastStatus` of one container.
    pub enum ContainerStatus {
        Pending = "PENDING",
        Running = "RUNNING",
        Stopped = "STOPPED",
    }
}

open_enum! {
    /// `launchType` of an ECS task.
    pub enum LaunchType {
        Ec2 = "EC2",
        Fargate = "FARGATE",
        External = "EXTERNAL",
        ManagedInstances = "MANAGED_INSTANCES",
    }
}

open_enum! {
    /// `detail.eventType` of ECS service and deployment events.
    pub enum EcsEventType {
        Info = "INFO",
        Warn = "WARN",
        Error = "ERROR",
    }
}

open_enum! {
    /// `detail.eventName` of an ECS Deployment State Change.
    pub enum DeploymentEventName {
        InProgress = "SERVICE_DEPLOYMENT_IN_PROGRESS",
        Completed = "SERVICE_DEPLOYMENT_COMPLETED",
        Failed = "SERVICE_DEPLOYMENT_FAILED",
    }
}

open_enum! {
    /// `detail.eventName` of an ECS Service Action.
    pub enum ServiceEventName {
        ServiceSteadyState = "SERVICE_STEADY_STATE",
        TaskSetSteadyState = "TASKSET_STEADY_STATE",
        CapacityProviderSteadyState = "CAPACITY_PROVIDER_STEADY_STATE",
        ServiceDesiredCountUpdated = "SERVICE_DESIRED_COUNT_UPDATED",
        ServiceTaskStartImpaired = "SERVICE_TASK_START_IMPAIRED",
        ServiceDiscoveryInstanceUnhealthy = "SERVICE_DISCOVERY_INSTANCE_UNHEALTHY",
        ServiceDaemonPlacementConstraintViolated = "SERVICE_DAEMON_PLACEMENT_CONSTRAINT_VIOLATED",
        EcsOperationThrottled = "ECS_OPERATION_THROTTLED",
        ServiceDiscoveryOperationThrottled = "SERVICE_DISCOVERY_OPERATION_THROTTLED",
        ServiceTaskPlacementFailure = "SERVICE_TASK_PLACEMENT_FAILURE",
        ServiceTaskConfigurationFailure = "SERVICE_TASK_CONFIGURATION_FAILURE",
    }
}

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

/// One ECS task, from a task state change or from an `ecs:runTask.sync` failure cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsTask {
    pub arn: String,
    /// The last path segment of the task ARN.
    pub id: String,
    pub cluster: Option<String>,
    pub last_status: Option<TaskStatus>,
    pub desired_status: Option<TaskStatus>,
    pub stop_code: Option<StopCode>,
    pub stopped_reason: Option<String>,
    /// `service:NAME` or `family:NAME`.
    pub group: Option<String>,
    pub launch_type: Option<LaunchType>,
    pub capacity_provider: Option<String>,
    /// `family:revision`.
    pub definition: Option<String>,
    pub started_by: Option<String>,
    pub containers: Vec<Container>,
    /// `detail.version`: increases with every change of the task; duplicates repeat it.
    pub version: Option<i64>,
    pub stopped_at: Option<OffsetDateTime>,
    pub execution_stopped_at: Option<OffsetDateTime>,
}

impl EcsTask {
    /// The service name, when the task belongs to a service (`group` is `service:NAME`).
    pub fn service(&self) -> Option<&str> {
        self.group.as_deref()?.strip_prefix("service:")
    }

    /// The service name or else the task family: what a human calls this workload.
    pub fn workload(&self) -> Option<&str> {
        let group = self.group.as_deref()?;
        Some(
            group
                .strip_prefix("service:")
                .or_else(|| group.strip_prefix("family:"))
                .unwrap_or(group),
        )
    }
}

/// One container of an ECS task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    /// `None` when the container never started (or is still running).
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
    pub last_status: Option<ContainerStatus>,
}

/// An ECS Task State Change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsTaskEvent {
    pub meta: EventMeta,
    pub task: EcsTask,
}

/// An ECS Deployment State Change. Cluster and service come from `resources[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsDeploymentEvent {
    pub meta: EventMeta,
    pub service_arn: String,
    pub cluster: Option<String>,
    pub service: String,
    pub event_type: Option<EcsEventType>,
    pub event_name: DeploymentEventName,
    pub deployment_id: Option<String>,
    pub reason: Option<String>,
}

/// An ECS Service Action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsServiceEvent {
    pub meta: EventMeta,
    pub service_arn: Option<String>,
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub event_type: EcsEventType,
    pub event_name: Option<ServiceEventName>,
    pub reason: Option<String>,
    pub capacity_providers: Vec<String>,
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
    pub meta: EventMeta,
    pub origin: SfnOrigin,
    pub execution_arn: Option<String>,
    pub state_machine_arn: Option<String>,
    pub name: Option<String>,
    /// `None` for a `Catch` output, which only exists because a state failed.
    pub status: Option<ExecutionStatus>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub redrive_count: Option<i64>,
    /// The ECS task described by `cause`, when the failed state was `ecs:runTask.sync`.
    pub task: Option<EcsTask>,
}

/// A well-formed EventBridge event failwatch does not handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnhandledEvent {
    pub meta: EventMeta,
    pub source: Option<String>,
    pub detail_type: Option<String>,
}
