//! What a group keeps of a folded alert, read from the alert (already redacted): its reason, the
//! exit codes of its failed containers, the id and link a digest lists it by; and the links the
//! whole group shares, from its first alert.

use crate::links;
use crate::summary::Role;
use crate::{Alert, AlertKind, Links};

/// The links a group shares: the service page of an ECS group; the state machine's page of a Step
/// Functions group (as a related link: an alert has no field for it), from its recovery scope, which
/// is the state machine's ARN.
pub(super) fn group_links(alert: &Alert, scope: Option<&str>) -> Links {
    let state_machine = match (alert.kind, alert.region.as_deref(), scope) {
        (AlertKind::SfnExecution, Some(region), Some(arn)) => {
            links::sfn_state_machine(&alert.partition, region, arn)
        }
        _ => None,
    };
    Links {
        service: alert.links.service.clone(),
        related: state_machine.into_iter().collect(),
        ..Links::default()
    }
}

/// ECS's stopped reason whenever an essential container exits: it says nothing a digest's exit
/// codes do not, so a container's own reason (`OutOfMemoryError: ...`) is tallied instead when there
/// is one.
const ESSENTIAL_EXITED: &str = "Essential container in task exited";

/// The reason a folded alert states: the task's stopped reason (a container's reason instead of
/// [`ESSENTIAL_EXITED`]), else a container's reason, else the Step Functions error, else the reason
/// fact of its summary.
pub(super) fn reason(alert: &Alert) -> Option<&str> {
    let task = alert.task.as_ref().and_then(|t| {
        let container = t.containers.iter().find_map(|c| c.reason.as_deref());
        match t.stopped_reason.as_deref() {
            Some(ESSENTIAL_EXITED) => container.or(Some(ESSENTIAL_EXITED)),
            Some(stopped) => Some(stopped),
            None => container,
        }
    });
    let error = alert.execution.as_ref().and_then(|e| e.error.as_deref());
    match alert.kind {
        AlertKind::SfnExecution => error.or(task),
        _ => task.or(error),
    }
    .or_else(|| alert.summary.get(Role::Reason))
    .filter(|r| !r.is_empty())
}

/// The exit codes of a task's failed containers: non-zero ones, without the 143 (SIGTERM) of
/// containers ECS stopped after an essential container exited.
pub(super) fn exit_codes(alert: &Alert) -> Vec<i64> {
    const EXIT_SIGTERM: i64 = 143;
    let Some(task) = &alert.task else {
        return Vec::new();
    };
    let essential_exited = task.stop_code.as_deref() == Some("EssentialContainerExited")
        && task
            .containers
            .iter()
            .any(|c| c.exit_code.is_some_and(|code| code != EXIT_SIGTERM));
    task.containers
        .iter()
        .filter_map(|c| c.exit_code)
        .filter(|&code| code != 0 && !(essential_exited && code == EXIT_SIGTERM))
        .collect()
}

/// The task id or execution name a folded alert is about, else its title.
pub(super) fn id(alert: &Alert) -> String {
    let execution = alert.execution.as_ref().and_then(|e| e.name.as_deref());
    let task = alert.task.as_ref().map(|t| t.id.as_str());
    match alert.kind {
        AlertKind::SfnExecution => execution.or(task),
        _ => task.or(execution),
    }
    .unwrap_or(&alert.title)
    .to_owned()
}

/// The most specific console link of a folded alert.
pub(super) fn link(alert: &Alert) -> Option<String> {
    let links = &alert.links;
    match alert.kind {
        AlertKind::SfnExecution => links.execution.as_ref().or(links.task.as_ref()),
        _ => links.task.as_ref().or(links.execution.as_ref()),
    }
    .or(links.service.as_ref())
    .or(links.related.first())
    .cloned()
}
