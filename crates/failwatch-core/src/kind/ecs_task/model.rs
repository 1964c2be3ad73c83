//! The decoded ECS task: what failwatch knows about one task once the wire format is gone, the same
//! whether it came from a task state change or from an `ecs:runTask.sync` failure cause.

use time::OffsetDateTime;

use crate::decode::{EventMeta, open_enum};

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

/// One ECS task, from a task state change or from an `ecs:runTask.sync` failure cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsTask {
    /// The task ARN.
    pub arn: String,
    /// The last path segment of the task ARN.
    pub id: String,
    /// The cluster name, from `clusterArn` or else the task ARN.
    pub cluster: Option<String>,
    /// `lastStatus`.
    pub last_status: Option<TaskStatus>,
    /// `desiredStatus`.
    pub desired_status: Option<TaskStatus>,
    /// `stopCode`.
    pub stop_code: Option<StopCode>,
    /// `stoppedReason`, verbatim; `None` when empty.
    pub stopped_reason: Option<String>,
    /// `service:NAME` or `family:NAME`.
    pub group: Option<String>,
    /// `launchType`.
    pub launch_type: Option<LaunchType>,
    /// `capacityProviderName`, e.g. `FARGATE_SPOT`.
    pub capacity_provider: Option<String>,
    /// `family:revision`.
    pub definition: Option<String>,
    /// `startedBy`, e.g. `ecs-svc/...` for a service or an execution ARN.
    pub started_by: Option<String>,
    /// `containers`, in the order ECS lists them.
    pub containers: Vec<Container>,
    /// `detail.version`: increases with every change of the task; duplicates repeat it.
    pub version: Option<i64>,
    /// `startedAt`: when the task started running; absent when it never did.
    pub started_at: Option<OffsetDateTime>,
    /// `stoppedAt`.
    pub stopped_at: Option<OffsetDateTime>,
    /// `executionStoppedAt`.
    pub execution_stopped_at: Option<OffsetDateTime>,
}

impl EcsTask {
    /// The service name, when the task belongs to a service (`group` is `service:NAME`).
    pub fn service(&self) -> Option<&str> {
        self.group.as_deref()?.strip_prefix("service:")
    }

    /// The service name or else the task family: what a human calls this workload.
    pub fn workload(&self) -> Option<&str> {
        self.group.as_deref().map(workload_of_group)
    }
}

/// The workload a task group names: `NAME` of `service:NAME` or `family:NAME`, else the group itself.
pub(crate) fn workload_of_group(group: &str) -> &str {
    group
        .strip_prefix("service:")
        .or_else(|| group.strip_prefix("family:"))
        .unwrap_or(group)
}

/// One container of an ECS task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// The container name (empty when the event omits it).
    pub name: String,
    /// `None` when the container never started (or is still running).
    pub exit_code: Option<i64>,
    /// The container `reason`; `None` when empty.
    pub reason: Option<String>,
    /// The container `lastStatus`.
    pub last_status: Option<ContainerStatus>,
}

/// An ECS Task State Change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsTaskEvent {
    /// Where and when it happened.
    pub meta: EventMeta,
    /// The task.
    pub task: EcsTask,
}
