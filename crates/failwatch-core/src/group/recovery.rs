//! Recoveries: which resource's health closes a group ([`recovery_scope`]), which events say it is
//! healthy ([`recovery_signal`]), and the notice a group that alerted gets ([`Group::recovery`]).
//!
//! A scope is a string both sides build the same way: for an ECS service
//! `ecs-service:{account}:{region}:{cluster}:{service}`, for Step Functions the state machine's
//! unqualified ARN `arn:{partition}:states:{region}:{account}:stateMachine:{name}` (also when only an
//! execution ARN is known). Both need the account and region, so that two accounts' services of one
//! name never close each other's groups.
//! The recovery events stay silent in [`crate::classify()`]; this is a separate reading of them.

use std::time::Duration;

use time::OffsetDateTime;

use super::state::{duration_ms, rfc3339_ms, unix_ms};
use super::{Group, GroupPolicy, RECOVERY_SCHEMA, Recovery, words};
use crate::decode::{Arn, EventMeta, sfn_state_machine_name};
use crate::kind::ecs_deployment::DeploymentEventName;
use crate::kind::ecs_service::ServiceEventName;
use crate::kind::sfn_execution::{ExecutionStatus, SfnOrigin};
use crate::links::{self, ServicePage};
use crate::{Alert, AlertKind, Event, Links};

/// An event saying a resource is healthy again: an ECS service reached its steady state or completed
/// a deployment, or an execution of a state machine succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverySignal {
    /// The resource that recovered, in the format of [`recovery_scope`].
    pub scope: String,
    /// The event's EventBridge id.
    pub event_id: String,
    /// When the event happened (its own time).
    pub time: OffsetDateTime,
    /// The AWS account id, when the event names it.
    pub account: Option<String>,
    /// The AWS region, when the event names it.
    pub region: Option<String>,
    /// `aws`, `aws-cn` or `aws-us-gov`.
    pub partition: String,
    /// The service page, or the succeeded execution's page.
    pub links: Links,
}

/// The resource whose recovery closes the group of `alert`: the ECS service of a service's task
/// (task group `service:NAME`), service action or deployment; the state machine of a Step Functions
/// failure. `None` for standalone tasks, `Catch` outputs without a state machine, custom
/// notifications, and when the account, region or cluster is unknown.
pub fn recovery_scope(alert: &Alert) -> Option<String> {
    let ecs = |service: &str| {
        ecs_scope(
            alert.account.as_deref(),
            alert.region.as_deref(),
            alert.cluster.as_deref(),
            service,
        )
    };
    match alert.kind {
        AlertKind::SfnExecution => {
            let execution = alert.execution.as_ref()?;
            state_machine_scope(
                execution
                    .state_machine
                    .as_deref()
                    .or(execution.arn.as_deref())?,
            )
        }
        AlertKind::EcsTask => ecs(alert
            .task
            .as_ref()?
            .group
            .as_deref()?
            .strip_prefix("service:")?),
        AlertKind::EcsService | AlertKind::EcsDeployment => ecs(alert.service.as_deref()?),
        AlertKind::CustomNotification => None,
    }
}

/// A recovery event: an ECS `SERVICE_STEADY_STATE` service action, an ECS
/// `SERVICE_DEPLOYMENT_COMPLETED`, or a `SUCCEEDED` execution status change; `None` for every other
/// event, and when the event lacks what its scope needs.
pub fn recovery_signal(event: &Event) -> Option<RecoverySignal> {
    match event {
        Event::EcsService(e)
            if matches!(e.event_name, Some(ServiceEventName::ServiceSteadyState)) =>
        {
            ecs_signal(
                &e.meta,
                e.cluster.as_deref()?,
                e.service.as_deref()?,
                ServicePage::Health,
            )
        }
        Event::EcsDeployment(e) if matches!(e.event_name, DeploymentEventName::Completed) => {
            ecs_signal(
                &e.meta,
                e.cluster.as_deref()?,
                &e.service,
                ServicePage::Deployments,
            )
        }
        Event::SfnExecution(e)
            if e.origin == SfnOrigin::StatusChange
                && matches!(e.status, Some(ExecutionStatus::Succeeded)) =>
        {
            let scope = state_machine_scope(
                e.state_machine_arn
                    .as_deref()
                    .or(e.execution_arn.as_deref())?,
            )?;
            let execution = match (e.meta.region.as_deref(), e.execution_arn.as_deref()) {
                (Some(region), Some(arn)) => links::sfn_execution(&e.meta.partition, region, arn),
                _ => None,
            };
            Some(signal(
                &e.meta,
                scope,
                Links {
                    execution,
                    ..Links::default()
                },
            ))
        }
        _ => None,
    }
}

impl Group {
    /// How much longer the group must stay quiet before a recovery may close it, at `now` (the
    /// worker's clock): `policy.group_interval` after its latest failure arrived, zero once that has
    /// passed. One success among failures says nothing — a state machine whose concurrent executions
    /// fail and succeed in turn would otherwise post every failure alone and a recovery after it — so
    /// the worker hands a recovery event back until then, and [`Group::recovery`] refuses it if a
    /// failure came after it meanwhile.
    pub fn recovery_wait(&self, now: OffsetDateTime, policy: &GroupPolicy) -> Duration {
        let quiet_at = self
            .last_seen
            .saturating_add(duration_ms(policy.group_interval));
        Duration::from_millis(u64::try_from(quiet_at - unix_ms(now)).unwrap_or(0))
    }

    /// The recovery notice for this group, when it has alerted, `signal` is for its scope, and the
    /// signal is not older than the group's latest failure (a steady state from before a failure
    /// says nothing about it). The worker waits for [`Group::recovery_wait`], posts any pending
    /// digest first, then this, then removes the group.
    pub fn recovery(&self, signal: &RecoverySignal) -> Option<Recovery> {
        let kind = self.kind?;
        if self.failures == 0 || self.scope.as_deref() != Some(signal.scope.as_str()) {
            return None;
        }
        let first = self.first_failure?;
        let recovered = unix_ms(signal.time);
        if recovered < self.last_failure? {
            return None;
        }
        let duration_secs = u64::try_from((recovered - first) / 1000).unwrap_or(0);
        Some(Recovery {
            schema: RECOVERY_SCHEMA.to_owned(),
            kind,
            title: words::recovery_title(&self.subject, self.failures, duration_secs),
            group_key: self.key.clone(),
            subject: self.subject.clone(),
            failures: self.failures,
            first_failure_time: rfc3339_ms(first),
            recovered_time: rfc3339_ms(recovered),
            duration_secs,
            event_id: signal.event_id.clone(),
            account: signal.account.clone(),
            region: signal.region.clone(),
            partition: signal.partition.clone(),
            links: signal.links.clone(),
        })
    }
}

/// The scope of an ECS service.
fn ecs_scope(
    account: Option<&str>,
    region: Option<&str>,
    cluster: Option<&str>,
    service: &str,
) -> Option<String> {
    Some(format!(
        "ecs-service:{}:{}:{}:{service}",
        account?, region?, cluster?
    ))
}

/// The scope of the state machine of a state machine or execution ARN: its unqualified ARN.
fn state_machine_scope(arn: &str) -> Option<String> {
    let name = sfn_state_machine_name(arn)?;
    let arn = Arn::parse(arn)?;
    Some(format!(
        "arn:{}:states:{}:{}:stateMachine:{name}",
        arn.partition,
        arn.region()?,
        arn.account()?
    ))
}

/// The signal of an ECS service that recovered, with a link to its `page`.
fn ecs_signal(
    meta: &EventMeta,
    cluster: &str,
    service: &str,
    page: ServicePage,
) -> Option<RecoverySignal> {
    let scope = ecs_scope(
        meta.account.as_deref(),
        meta.region.as_deref(),
        Some(cluster),
        service,
    )?;
    let service_link = meta
        .region
        .as_deref()
        .and_then(|region| links::ecs_service(&meta.partition, region, cluster, service, page));
    Some(signal(
        meta,
        scope,
        Links {
            service: service_link,
            ..Links::default()
        },
    ))
}

/// A signal for `scope` from the event's envelope facts.
fn signal(meta: &EventMeta, scope: String, links: Links) -> RecoverySignal {
    RecoverySignal {
        scope,
        event_id: meta.id.clone(),
        time: meta.time,
        account: meta.account.clone(),
        region: meta.region.clone(),
        partition: meta.partition.clone(),
        links,
    }
}
