//! The normalised alert, `failwatch.alert.v1`: the one document every renderer starts from, the generic
//! webhook's payload and the output of `failwatch render --to json`.
//!
//! Field names and meanings are a public contract from the first release on: add fields, never rename or
//! repurpose one. Every field is always present in the JSON (absent values are `null`), so consumers can
//! rely on the shape.

use serde::{Deserialize, Serialize};

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

/// What kind of AWS resource failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    EcsTask,
    EcsDeployment,
    EcsService,
    SfnExecution,
}

impl AlertKind {
    /// The stable snake_case name, as used in the JSON document, routes and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::EcsTask => "ecs_task",
            AlertKind::EcsDeployment => "ecs_deployment",
            AlertKind::EcsService => "ecs_service",
            AlertKind::SfnExecution => "sfn_execution",
        }
    }
}

/// How urgently a human should look. Only two levels: anything less than a warning is silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
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
    pub schema: Schema,
    pub kind: AlertKind,
    pub severity: Severity,
    /// One line a human reads first, e.g. "ECS task failed: payments-api exited 137".
    pub title: String,
    /// A few sentences: what stopped and why, in the workload's own words where AWS gives them.
    pub summary: String,
    /// Plain-language advice for a recognised failure class, or `None` when nothing specific is known.
    pub hint: Option<String>,
    /// The EventBridge event id, or a stable id derived from the message when the body had no envelope.
    pub event_id: String,
    /// When the failure happened, RFC 3339 in UTC.
    pub time: String,
    pub account: Option<String>,
    pub region: Option<String>,
    /// `aws`, `aws-cn` or `aws-us-gov`, from the ARNs; decides the console host of every link.
    pub partition: String,
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub task: Option<TaskInfo>,
    pub execution: Option<ExecutionInfo>,
    pub links: Links,
    /// Two alerts with the same key describe the same failure (one stopped task, one failed execution).
    pub dedup_key: String,
    /// Alerts with the same key are repeats of one problem (same service, same failure class) and are
    /// threaded together where the chat service can.
    pub group_key: String,
}

/// The stopped ECS task behind an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub arn: String,
    pub id: String,
    /// The task definition as `family:revision`.
    pub definition: Option<String>,
    /// `service:NAME` or `family:NAME`, as ECS reports it.
    pub group: Option<String>,
    pub launch_type: Option<String>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<ContainerInfo>,
}

/// One container of a stopped task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    pub name: String,
    /// `None` when the container never started, which is itself a failure signal.
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
}

/// The Step Functions execution behind an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionInfo {
    pub arn: Option<String>,
    pub name: Option<String>,
    pub state_machine: Option<String>,
    pub status: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// One-click console links, each `None` when the event does not carry enough to build it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    pub task: Option<String>,
    pub task_logs: Option<String>,
    pub service: Option<String>,
    pub execution: Option<String>,
}

impl Alert {
    /// The alert document as compact JSON, exactly as the generic webhook receives it.
    pub fn to_json(&self) -> String {
        // Serialising plain strings, options and vectors cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
