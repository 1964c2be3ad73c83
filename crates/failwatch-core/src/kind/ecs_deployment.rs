//! ECS deployments: `aws.ecs` / `ECS Deployment State Change`.
//!
//! Classification: `SERVICE_DEPLOYMENT_FAILED` is critical; a circuit-breaker rollback (an in-progress
//! deployment whose reason says the circuit breaker is rolling back) a warning; everything else silent.
//! Cluster and service come from `resources[0]`, the service ARN.

use serde::Deserialize;

use super::ecs_service::EcsEventType;
use crate::classify::{Decision, SilentReason, base_alert, rfc3339};
use crate::decode::{DecodeError, Detail, EventMeta, Shape, ecs_service_parts, excerpt, open_enum};
use crate::hint::{self, FailureClass};
use crate::links::{self, ServicePage};
use crate::summary::{Role, Summary};
use crate::{Alert, AlertKind, Links, Severity};

/// What failed, in words.
pub(crate) const LABEL: &str = "ECS deployment";
/// The EventBridge source of deployment events.
pub(crate) const SOURCE: &str = "aws.ecs";
/// The EventBridge detail-type of deployment events.
pub(crate) const DETAIL_TYPE: &str = "ECS Deployment State Change";

open_enum! {
    /// `detail.eventName` of an ECS Deployment State Change.
    pub enum DeploymentEventName {
        InProgress = "SERVICE_DEPLOYMENT_IN_PROGRESS",
        Completed = "SERVICE_DEPLOYMENT_COMPLETED",
        Failed = "SERVICE_DEPLOYMENT_FAILED",
    }
}

/// An ECS Deployment State Change. Cluster and service come from `resources[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsDeploymentEvent {
    /// Where and when it happened.
    pub meta: EventMeta,
    /// The service ARN, from `resources[0]`.
    pub service_arn: String,
    /// The cluster name, from the cluster or service ARN.
    pub cluster: Option<String>,
    /// The service name.
    pub service: String,
    /// `detail.eventType`.
    pub event_type: Option<EcsEventType>,
    /// `detail.eventName`.
    pub event_name: DeploymentEventName,
    /// `detail.deploymentId`, e.g. `ecs-svc/1234567890123456789`.
    pub deployment_id: Option<String>,
    /// `detail.reason`, verbatim.
    pub reason: Option<String>,
}

/// The `detail` of an ECS Deployment State Change; the registry reads it ([`super::WireDetail`]).
pub(crate) type Wire = DeploymentDetail;

/// The `detail` of an ECS Deployment State Change.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeploymentDetail {
    event_type: Option<EcsEventType>,
    /// Kept as text, to name a missing one in the error.
    event_name: Option<String>,
    deployment_id: Option<String>,
    reason: Option<String>,
}

/// Decodes the detail of an ECS Deployment State Change.
pub(crate) fn decode(
    detail: DeploymentDetail,
    mut input: Detail<'_>,
) -> Result<EcsDeploymentEvent, DecodeError> {
    const WHAT: &str = DETAIL_TYPE;
    let service_arn = std::mem::take(&mut input.resources)
        .into_iter()
        .next()
        .ok_or(DecodeError::MissingField {
            what: WHAT,
            field: "resources[0] (the service ARN)",
        })?;
    let (cluster, service) = ecs_service_parts(&service_arn)
        .map(|(c, s)| (c.map(str::to_owned), s.to_owned()))
        .ok_or_else(|| DecodeError::InvalidField {
            what: WHAT,
            field: "resources[0]",
            expected: "an ECS service ARN",
            value: excerpt(&service_arn),
        })?;
    let event_name = detail
        .event_name
        .as_deref()
        .map(DeploymentEventName::from)
        .ok_or(DecodeError::MissingField {
            what: WHAT,
            field: "detail.eventName",
        })?;
    let meta = input.meta(Shape::EventBridge, None, &[Some(service_arn.as_str())]);
    Ok(EcsDeploymentEvent {
        meta,
        cluster,
        service,
        service_arn,
        event_type: detail.event_type,
        event_name,
        deployment_id: detail.deployment_id,
        reason: detail.reason.filter(|r| !r.is_empty()),
    })
}

/// Classifies a deployment event.
pub(crate) fn classify(e: &EcsDeploymentEvent) -> Decision {
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
    let mut summary = Summary::new();
    summary.push(Role::Cluster, e.cluster.as_deref());
    summary.push(Role::Service, Some(&e.service));
    summary.push(Role::Deployment, e.deployment_id.as_deref());
    summary.push(Role::Event, Some(e.event_name.as_str()));
    summary.push(Role::Reason, e.reason.as_deref());
    summary.push(Role::Time, Some(&time));
    summary.push(Role::Region, e.meta.region.as_deref());
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
    let title = format!("ECS deployment {what}: {}", e.service);
    Decision::Alert(Box::new(Alert {
        cluster: e.cluster.clone(),
        service: Some(e.service.clone()),
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
        ..base_alert(
            AlertKind::EcsDeployment,
            severity,
            class,
            &e.meta,
            title,
            summary,
            time,
        )
    }))
}
