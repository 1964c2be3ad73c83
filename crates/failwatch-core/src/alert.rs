//! The normalised alert, `failwatch.alert.v1`: the one document every renderer starts from, the generic
//! webhook's payload and the output of `failwatch render --to json`.
//!
//! Field names and meanings are a public contract from the first release on: add fields, never rename or
//! repurpose one. Every field is always present in the JSON (absent values are `null`), so consumers can
//! rely on the shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::group::CrashLoop;
use crate::kind::AlertKind;
use crate::summary::Summary;

/// The schema identifier carried in every alert document.
pub const SCHEMA: &str = "failwatch.alert.v1";

/// A zero-sized marker that always serialises as [`SCHEMA`] and refuses any other value on the way in,
/// so a document of another schema can never be mistaken for this one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schema;

impl Serialize for Schema {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(SCHEMA)
    }
}

impl<'de> Deserialize<'de> for Schema {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        if value == SCHEMA {
            Ok(Schema)
        } else {
            Err(serde::de::Error::custom(format_args!(
                "unsupported schema {value:?}, expected {SCHEMA:?}"
            )))
        }
    }
}

/// How urgently a human should look. Only two levels: anything less than a warning is silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look soon: the workload recovered or AWS reclaimed capacity (Spot, rollbacks, aborted runs).
    Warning,
    /// Something failed and needs a human now.
    Critical,
}

impl Severity {
    /// The stable lowercase name, as used in the JSON document, routes and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One alert, ready to be routed and rendered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Always `failwatch.alert.v1`.
    pub schema: Schema,
    /// What kind of AWS resource failed, e.g. `ecs_task`.
    pub kind: AlertKind,
    /// How urgently a human should look.
    pub severity: Severity,
    /// One line a human reads first, e.g. "ECS task failed: payments-api exited 137".
    pub title: String,
    /// What stopped and why, one `Label: value` fact per line, in the workload's own words where AWS
    /// gives them. Serialised as that text; in memory each fact also has a [`crate::Role`].
    pub summary: Summary,
    /// Plain-language advice for a recognised failure class, or `None` when nothing specific is known.
    pub hint: Option<String>,
    /// The EventBridge event id, or a stable id derived from the message when the body had no envelope.
    pub event_id: String,
    /// When the failure happened, RFC 3339 in UTC.
    pub time: String,
    /// The AWS account id (12 digits), when the event or its ARNs name it.
    pub account: Option<String>,
    /// The AWS region, e.g. `eu-west-1`, when the event or its ARNs name it.
    pub region: Option<String>,
    /// `aws`, `aws-cn` or `aws-us-gov`, from the ARNs; decides the console host of every link.
    pub partition: String,
    /// The ECS cluster name (for Step Functions, the cluster of the failed `runTask.sync` task).
    pub cluster: Option<String>,
    /// The service's health (or, for deployments, deployments) page.
    pub service: Option<String>,
    /// The stopped ECS task, for task alerts and `runTask.sync` failures.
    pub task: Option<TaskInfo>,
    /// The Step Functions execution, for Step Functions alerts.
    pub execution: Option<ExecutionInfo>,
    /// AWS console links for the resources above.
    pub links: Links,
    /// Two alerts with the same key describe the same failure (one stopped task, one failed execution).
    pub dedup_key: String,
    /// Alerts with the same key are repeats of one problem (same service, same failure class) and are
    /// threaded together where the chat service can.
    pub group_key: String,
    /// The tags of the failed resource (service, task definition or state machine), when the worker
    /// looked them up (`[enrichment] tags`); `null` when it did not or could not.
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
    /// Set when this alert's group reached its crash-loop threshold (the worker's `[grouping]`), and
    /// then the alert is critical and its title says so; `null` otherwise.
    #[serde(default)]
    pub crash_loop: Option<CrashLoop>,
}

/// The stopped ECS task behind an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// The task ARN.
    pub arn: String,
    /// The task id: the last segment of its ARN.
    pub id: String,
    /// The task definition as `family:revision`.
    pub definition: Option<String>,
    /// `service:NAME` or `family:NAME`, as ECS reports it.
    pub group: Option<String>,
    /// `FARGATE`, `EC2`, `EXTERNAL` or `MANAGED_INSTANCES`, as ECS reports it.
    pub launch_type: Option<String>,
    /// The ECS `stopCode`, e.g. `EssentialContainerExited`.
    pub stop_code: Option<String>,
    /// The ECS `stoppedReason`, verbatim.
    pub stopped_reason: Option<String>,
    /// Every container of the task, in the order ECS lists them.
    pub containers: Vec<ContainerInfo>,
}

/// One container of a stopped task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// The container name from the task definition.
    pub name: String,
    /// `None` when the container never started, which is itself a failure signal.
    pub exit_code: Option<i64>,
    /// The container's `reason`, e.g. `OutOfMemoryError: Container killed due to memory usage`.
    pub reason: Option<String>,
    /// The container's last log lines, oldest first, redacted, when the worker read them
    /// (`[enrichment] log_lines`); `null` when it did not or could not.
    #[serde(default)]
    pub log_tail: Option<Vec<String>>,
    /// The CloudWatch Logs console page of the container's log stream, when known.
    #[serde(default)]
    pub log_link: Option<String>,
    /// The container's log driver when it is not `awslogs` (`awsfirelens`, `splunk`, ...): failwatch
    /// reads no lines from those, and says which driver it was.
    #[serde(default)]
    pub log_driver: Option<String>,
}

/// The Step Functions execution behind an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionInfo {
    /// The execution ARN (absent for a `Catch` output).
    pub arn: Option<String>,
    /// The execution name (absent for a `Catch` output).
    pub name: Option<String>,
    /// The state machine ARN.
    pub state_machine: Option<String>,
    /// `FAILED`, `TIMED_OUT` or `ABORTED` (absent for a `Catch` output).
    pub status: Option<String>,
    /// The Step Functions error name, e.g. `States.TaskFailed`.
    pub error: Option<String>,
    /// The Step Functions cause, redacted (for `runTask.sync`, the task description as JSON); a
    /// `States.*` error's cause without the state input it quotes, as the summary shows it.
    pub cause: Option<String>,
    /// The state that failed, when the worker read the execution's history
    /// (`[enrichment] failed_state`); `null` when it did not or could not.
    #[serde(default)]
    pub failed_state: Option<FailedState>,
    /// The last log lines of what failed inside the execution — the Batch job's container
    /// (`batch:submitJob.sync`) or the Lambda invocation whose request id the cause names — oldest
    /// first, redacted, when the worker read them (`[enrichment] log_lines`); `null` when it did not or
    /// could not.
    #[serde(default)]
    pub log_tail: Option<Vec<String>>,
    /// The CloudWatch Logs console page of the log stream those lines came from, when known.
    #[serde(default)]
    pub log_link: Option<String>,
    /// Where [`ExecutionInfo::log_tail`] came from: `batch` or `lambda`; `null` when the worker read
    /// no lines.
    #[serde(default)]
    pub log_source: Option<LogSource>,
}

/// What an execution's log lines were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSource {
    /// The failed AWS Batch job's container log stream (`Container.LogStreamName` of the cause).
    Batch,
    /// The Lambda function's log group, the lines naming the failed invocation's request id.
    Lambda,
}

impl LogSource {
    /// The stable lowercase name, as used in the JSON document.
    pub fn as_str(self) -> &'static str {
        match self {
            LogSource::Batch => "batch",
            LogSource::Lambda => "lambda",
        }
    }
}

/// The state of a Step Functions execution that failed, from its history (`GetExecutionHistory`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedState {
    /// The state's name in the definition, e.g. `RunReport`.
    pub name: String,
    /// The state's type as the history names it, e.g. `Task`, `Map`, `Parallel`.
    #[serde(rename = "type")]
    pub state_type: String,
    /// The task's resource, e.g. `arn:aws:states:::ecs:runTask.sync`, when it has one.
    pub resource: Option<String>,
}

/// One-click console links, each `None` when the event does not carry enough to build it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    /// The task's configuration page.
    pub task: Option<String>,
    /// The task's logs page.
    pub task_logs: Option<String>,
    /// The service's health (or, for deployments, deployments) page.
    pub service: Option<String>,
    /// The Step Functions execution's page.
    pub execution: Option<String>,
    /// The AWS Batch job's page (a Step Functions `batch:submitJob.sync` failure).
    #[serde(default)]
    pub batch_job: Option<String>,
    /// The CloudWatch Logs page of the Batch job's log stream, in the log group `/aws/batch/job`.
    #[serde(default)]
    pub batch_job_logs: Option<String>,
    /// The child execution's page (a Step Functions `states:startExecution.sync` failure).
    #[serde(default)]
    pub child_execution: Option<String>,
    /// The AWS Glue job run's page (a Step Functions `glue:startJobRun.sync` failure).
    #[serde(default)]
    pub glue_job_run: Option<String>,
    /// Console links the event names itself (a custom notification's related resources), https only,
    /// at most [`Links::MAX_RELATED`].
    #[serde(default)]
    pub related: Vec<String>,
}

impl Links {
    /// The most links kept in [`Links::related`]: chat services show a handful of buttons at most.
    pub const MAX_RELATED: usize = 3;
}

impl Alert {
    /// The alert document as compact JSON, exactly as the generic webhook receives it.
    pub fn to_json(&self) -> String {
        // Serialising plain strings, options and vectors cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
