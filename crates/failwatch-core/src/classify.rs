//! Deciding whether an event alerts, how urgently, and what the alert says.
//!
//! Each event kind's rules live in its module under [`crate::kind`] (the module docs say which events
//! alert); this module holds what they share: the [`Decision`], the [`SilentReason`]s, and the parts of
//! an [`Alert`] every kind fills the same way.

use std::fmt;

use time::format_description::well_known::Rfc3339;

use crate::decode::EventMeta;
use crate::hint::FailureClass;
use crate::kind::Event;
use crate::summary::Summary;
use crate::{Alert, AlertKind, Links, Schema, Severity};

/// The outcome of classifying one event.
#[derive(Debug, Clone)]
pub enum Decision {
    /// The event is a failure worth telling a human about.
    Alert(Box<Alert>),
    /// The event is deliberately not alerted on, for this reason.
    Silent(SilentReason),
}

/// Why an event deliberately produced no alert.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SilentReason {
    /// The task has not reached its stop phase yet (or is still `STOPPING`).
    TaskNotStopped {
        /// The task's `lastStatus` (empty when absent).
        last_status: String,
    },
    /// Every container exited 0: a job that finished.
    ExitedCleanly,
    /// The service scheduler stopped the task for scale-in or to replace it in a deployment.
    ServiceScaling {
        /// The `stoppedReason`, `Scaling activity initiated by ...`.
        reason: String,
    },
    /// The service scheduler stopped the task for a reason that is not a failure.
    SchedulerStop {
        /// The `stoppedReason`, when there is one.
        reason: Option<String>,
    },
    /// A user or an API call stopped the task.
    UserInitiated,
    /// The task stopped without any sign of failure (no stop code, no failing container).
    NoFailure,
    /// A deployment event that is not a failure or a rollback.
    DeploymentOk {
        /// `detail.eventName`.
        event_name: String,
    },
    /// An ECS service action that is neither ERROR nor WARN.
    ServiceInfo {
        /// `detail.eventType`, e.g. `INFO`.
        event_type: String,
        /// `detail.eventName`.
        event_name: Option<String>,
    },
    /// A Step Functions execution that did not fail (running, succeeded, ...).
    ExecutionOk {
        /// `detail.status` (empty when absent).
        status: String,
    },
    /// An EventBridge event of a source or detail-type failwatch does not handle.
    Unhandled {
        /// The envelope's `source`.
        source: Option<String>,
        /// The envelope's `detail-type`.
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

/// A status-like word of the event (`SUCCEEDED`, `SERVICE_DEPLOYMENT_COMPLETED`, `INFO`) as a reason
/// shows it: only when it looks like one, since the value comes from the event and could be anything,
/// a secret included.
struct Status<'a>(&'a str);

impl fmt::Display for Status<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = self.0;
        if word.is_empty() {
            f.write_str("(none)")
        } else if word.len() <= 40 && word.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
            f.write_str(word)
        } else {
            f.write_str("(not a known status; not shown)")
        }
    }
}

/// A free text of the event (a stop reason, a detail-type) as a reason shows it: redacted and cut
/// short, like the values decode errors quote.
fn shown(text: &str) -> String {
    crate::decode::excerpt(text)
}

impl fmt::Display for SilentReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SilentReason::TaskNotStopped { last_status } => {
                write!(
                    f,
                    "ECS task not stopped yet (lastStatus {})",
                    Status(last_status)
                )
            }
            SilentReason::ExitedCleanly => {
                f.write_str("ECS task stopped and every container exited 0")
            }
            SilentReason::ServiceScaling { reason } => {
                write!(
                    f,
                    "ECS task stopped by the service scheduler for scale-in or deployment: {}",
                    shown(reason)
                )
            }
            SilentReason::SchedulerStop { reason } => match reason {
                Some(reason) => write!(
                    f,
                    "ECS task stopped by the service scheduler: {}",
                    shown(reason)
                ),
                None => f.write_str("ECS task stopped by the service scheduler"),
            },
            SilentReason::UserInitiated => f.write_str("ECS task stopped by a user or an API call"),
            SilentReason::NoFailure => f.write_str("ECS task stopped without any sign of failure"),
            SilentReason::DeploymentOk { event_name } => {
                write!(
                    f,
                    "ECS deployment event {} is not a failure",
                    Status(event_name)
                )
            }
            SilentReason::ServiceInfo {
                event_type,
                event_name,
            } => match event_name {
                Some(name) => write!(
                    f,
                    "ECS service action {} is {}, not ERROR or WARN",
                    Status(name),
                    Status(event_type)
                ),
                None => write!(
                    f,
                    "ECS service action (unnamed) is {}, not ERROR or WARN",
                    Status(event_type)
                ),
            },
            SilentReason::ExecutionOk { status } => {
                write!(
                    f,
                    "Step Functions execution is {}, not a failure",
                    Status(status)
                )
            }
            SilentReason::Unhandled {
                source,
                detail_type,
            } => write!(
                f,
                "unhandled event: detail-type {:?} from source {:?}",
                shown(detail_type.as_deref().unwrap_or("")),
                shown(source.as_deref().unwrap_or(""))
            ),
        }
    }
}

/// Classifies one event: an alert, or the reason it stays silent. Every text of the alert that comes
/// from the event is redacted here, the one place every destination's alert passes through.
pub fn classify(event: &Event) -> Decision {
    let mut decision = crate::kind::classify(event);
    if let Decision::Alert(alert) = &mut decision {
        crate::redact::alert(alert);
    }
    decision
}

/// RFC 3339 in UTC. Times come from `OffsetDateTime`s within year 0..=9999, which always format.
pub(crate) fn rfc3339(meta: &EventMeta) -> String {
    meta.time
        .format(&Rfc3339)
        .unwrap_or_else(|_| meta.time.unix_timestamp().to_string())
}

/// An alert with the fields every kind fills the same way (schema, hint from the class, event id,
/// time, account, region, partition) and nothing about the resource; a kind's module fills in the
/// rest with struct update syntax.
pub(crate) fn base_alert(
    kind: AlertKind,
    severity: Severity,
    class: FailureClass,
    meta: &EventMeta,
    title: String,
    summary: Summary,
    time: String,
) -> Alert {
    Alert {
        schema: Schema,
        kind,
        severity,
        title,
        summary,
        hint: class.hint().map(str::to_owned),
        event_id: meta.id.clone(),
        time,
        account: meta.account.clone(),
        region: meta.region.clone(),
        partition: meta.partition.clone(),
        cluster: None,
        service: None,
        task: None,
        execution: None,
        links: Links::default(),
        dedup_key: String::new(),
        group_key: String::new(),
        tags: None,
        crash_loop: None,
    }
}
