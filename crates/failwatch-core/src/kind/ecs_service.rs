//! ECS service actions: `aws.ecs` / `ECS Service Action`.
//!
//! Classification: `ERROR` is critical, `WARN` a warning, `INFO` and anything else silent. Repeats of
//! one service problem (placement failures recur every few minutes) share a dedup key, so the deduper
//! reports them once per TTL.

use serde::Deserialize;

use crate::classify::{Decision, SilentReason, base_alert, rfc3339};
use crate::decode::{
    DecodeError, Detail, EventMeta, Shape, ecs_cluster_name, ecs_service_parts, open_enum,
};
use crate::hint::{self, FailureClass};
use crate::links::{self, ServicePage};
use crate::summary::{Role, Summary};
use crate::{Alert, AlertKind, Links, Severity};

/// What failed, in words.
pub(crate) const LABEL: &str = "ECS service";
/// The EventBridge source of service actions.
pub(crate) const SOURCE: &str = "aws.ecs";
/// The EventBridge detail-type of service actions.
pub(crate) const DETAIL_TYPE: &str = "ECS Service Action";

open_enum! {
    /// `detail.eventType` of ECS service and deployment events.
    pub enum EcsEventType {
        Info = "INFO",
        Warn = "WARN",
        Error = "ERROR",
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

/// An ECS Service Action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsServiceEvent {
    /// Where and when it happened.
    pub meta: EventMeta,
    /// The service ARN, from `resources`.
    pub service_arn: Option<String>,
    /// The cluster name, from the cluster or service ARN.
    pub cluster: Option<String>,
    /// The service name, when a service ARN is present.
    pub service: Option<String>,
    /// `detail.eventType`: `ERROR` and `WARN` alert.
    pub event_type: EcsEventType,
    /// `detail.eventName`.
    pub event_name: Option<ServiceEventName>,
    /// `detail.reason`, verbatim.
    pub reason: Option<String>,
    /// `detail.capacityProviderArns`.
    pub capacity_providers: Vec<String>,
}

/// The `detail` of an ECS Service Action; the registry reads it ([`super::WireDetail`]).
pub(crate) type Wire = ServiceDetail;

/// The `detail` of an ECS Service Action.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceDetail {
    cluster_arn: Option<String>,
    event_type: Option<EcsEventType>,
    event_name: Option<ServiceEventName>,
    reason: Option<String>,
    capacity_provider_arns: Option<Vec<String>>,
}

/// Decodes the detail of an ECS Service Action.
pub(crate) fn decode(
    detail: ServiceDetail,
    mut input: Detail<'_>,
) -> Result<EcsServiceEvent, DecodeError> {
    const WHAT: &str = DETAIL_TYPE;
    let event_type = detail.event_type.ok_or(DecodeError::MissingField {
        what: WHAT,
        field: "detail.eventType",
    })?;
    let service_arn = std::mem::take(&mut input.resources)
        .into_iter()
        .find(|r| ecs_service_parts(r).is_some());
    let (arn_cluster, service) = match service_arn.as_deref().and_then(ecs_service_parts) {
        Some((c, s)) => (c.map(str::to_owned), Some(s.to_owned())),
        None => (None, None),
    };
    let cluster = detail
        .cluster_arn
        .as_deref()
        .and_then(ecs_cluster_name)
        .map(str::to_owned)
        .or(arn_cluster);
    let meta = input.meta(
        Shape::EventBridge,
        None,
        &[service_arn.as_deref(), detail.cluster_arn.as_deref()],
    );
    Ok(EcsServiceEvent {
        meta,
        service_arn,
        cluster,
        service,
        event_type,
        event_name: detail.event_name,
        reason: detail.reason.filter(|r| !r.is_empty()),
        capacity_providers: detail.capacity_provider_arns.unwrap_or_default(),
    })
}

/// Classifies a service action.
pub(crate) fn classify(e: &EcsServiceEvent) -> Decision {
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
    let summary = summary(e, event_name, &time);
    let cluster = e.cluster.as_deref().unwrap_or("");
    let target = e
        .service
        .as_deref()
        .or(e.cluster.as_deref())
        .unwrap_or("(unknown service)");
    let what = match class {
        FailureClass::Other => event_name.to_owned(),
        _ => class.phrase().to_owned(),
    };
    let title = format!("ECS service problem: {target} ({what})");
    Decision::Alert(Box::new(Alert {
        cluster: e.cluster.clone(),
        service: e.service.clone(),
        links: Links {
            service: service_link(e),
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
        ..base_alert(
            AlertKind::EcsService,
            severity,
            class,
            &e.meta,
            title,
            summary,
            time,
        )
    }))
}

/// The summary facts of a service action.
fn summary(e: &EcsServiceEvent, event_name: &str, time: &str) -> Summary {
    let mut summary = Summary::new();
    summary.push(Role::Cluster, e.cluster.as_deref());
    summary.push(Role::Service, e.service.as_deref());
    summary.push(Role::Event, Some(event_name));
    summary.push(Role::Reason, e.reason.as_deref());
    let providers: Vec<&str> = e
        .capacity_providers
        .iter()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .collect();
    if !providers.is_empty() {
        summary.push(Role::CapacityProviders, Some(&providers.join(", ")));
    }
    summary.push(Role::Time, Some(time));
    summary.push(Role::Region, e.meta.region.as_deref());
    summary
}

/// The service's health page, when cluster, service and region are known.
fn service_link(e: &EcsServiceEvent) -> Option<String> {
    match (
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
    }
}
