//! Events the scenarios publish, built from the shapes AWS sends (the real events in
//! tests/fixtures/events show the same fields) but with unique ids, so every test knows exactly which
//! alerts to expect.

use serde_json::{Value, json};

use super::emulator::{ACCOUNT, REGION};

/// One event as EventBridge PutEvents takes it, and as the SQS body a rule delivers.
#[derive(Debug, Clone)]
pub(crate) struct EventEntry {
    pub(crate) source: &'static str,
    pub(crate) detail_type: &'static str,
    pub(crate) resources: Vec<String>,
    pub(crate) detail: Value,
}

impl EventEntry {
    /// The PutEvents request entry.
    pub(crate) fn put_events_entry(&self) -> Value {
        json!({
            "Source": self.source,
            "DetailType": self.detail_type,
            "Resources": self.resources,
            "Detail": self.detail.to_string(),
            "EventBusName": "default",
        })
    }

    /// The whole EventBridge envelope, as an SQS body delivered by a rule; `id` is the event id.
    pub(crate) fn sqs_body(&self, id: &str) -> String {
        json!({
            "version": "0",
            "id": id,
            "detail-type": self.detail_type,
            "source": self.source,
            "account": ACCOUNT,
            "time": "2026-11-21T00:00:00Z",
            "region": REGION,
            "resources": self.resources,
            "detail": self.detail,
        })
        .to_string()
    }
}

const CLUSTER: &str = "prod-payments";

fn task_arn(task_id: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/{CLUSTER}/{task_id}")
}

/// A task id in ECS's format (32 hex digits) that encodes `n`, so scenarios can name their tasks.
pub(crate) fn task_id(scenario: u32, n: u32) -> String {
    format!("{scenario:08x}{n:024x}")
}

fn task_event(task_id: &str, last_status: &str, exit_code: i64, version: u64) -> EventEntry {
    let arn = task_arn(task_id);
    let (stop_code, reason) = if last_status == "RUNNING" {
        (Value::Null, Value::Null)
    } else {
        (
            json!("EssentialContainerExited"),
            json!("Essential container in task exited"),
        )
    };
    EventEntry {
        source: "aws.ecs",
        detail_type: "ECS Task State Change",
        resources: vec![arn.clone()],
        detail: json!({
            "clusterArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"),
            "containers": [{
                "containerArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:container/{CLUSTER}/{task_id}/0c1d2e3f"),
                "exitCode": exit_code,
                "lastStatus": if last_status == "RUNNING" { "RUNNING" } else { "STOPPED" },
                "name": "api",
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/payments-api:1.4.2",
                "taskArn": arn,
            }],
            "cpu": "256",
            "createdAt": "2026-11-21T00:00:00.000Z",
            "desiredStatus": if last_status == "RUNNING" { "RUNNING" } else { "STOPPED" },
            "group": "service:payments-api",
            "launchType": "FARGATE",
            "lastStatus": last_status,
            "memory": "512",
            "platformVersion": "1.4.0",
            "startedBy": "ecs-svc/9194611662556976510",
            "stopCode": stop_code,
            "stoppedReason": reason,
            "taskArn": arn,
            "taskDefinitionArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/payments-api:7"),
            "updatedAt": "2026-11-21T00:00:01.000Z",
            "version": version,
        }),
    }
}

/// A task of service `payments-api` whose essential container exited 1: one critical alert.
pub(crate) fn failed_task(task_id: &str) -> EventEntry {
    task_event(task_id, "STOPPED", 1, 5)
}

/// The DEPROVISIONING event ECS sends for the same stopped task before STOPPED.
pub(crate) fn failed_task_deprovisioning(task_id: &str) -> EventEntry {
    task_event(task_id, "DEPROVISIONING", 1, 4)
}

/// A task that finished with exit code 0 everywhere: silent.
pub(crate) fn finished_task(task_id: &str) -> EventEntry {
    task_event(task_id, "STOPPED", 0, 5)
}

/// A task that is merely running: silent.
pub(crate) fn running_task(task_id: &str) -> EventEntry {
    let mut event = task_event(task_id, "RUNNING", 0, 2);
    event.detail["containers"][0]
        .as_object_mut()
        .expect("container object")
        .remove("exitCode");
    event
}

/// `payments-api` reached a steady state (an ECS service action): silent, and the recovery of the
/// service's failed tasks.
pub(crate) fn service_steady_state() -> EventEntry {
    EventEntry {
        source: "aws.ecs",
        detail_type: "ECS Service Action",
        resources: vec![format!(
            "arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/payments-api"
        )],
        detail: json!({
            "eventType": "INFO",
            "eventName": "SERVICE_STEADY_STATE",
            "clusterArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"),
            // After the failed tasks' own times.
            "createdAt": "2026-11-21T00:10:00.000Z",
        }),
    }
}

fn execution(name: &str, status: &str) -> EventEntry {
    let machine = format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:nightly-etl");
    let arn = format!("arn:aws:states:{REGION}:{ACCOUNT}:execution:nightly-etl:{name}");
    EventEntry {
        source: "aws.states",
        detail_type: "Step Functions Execution Status Change",
        resources: vec![arn.clone()],
        detail: json!({
            "executionArn": arn,
            "stateMachineArn": machine,
            "name": name,
            "status": status,
            "startDate": 1_763_683_200_000_u64,
            "stopDate": 1_763_683_260_000_u64,
            "input": "{}",
            "output": null,
            "error": if status == "FAILED" { json!("States.TaskFailed") } else { Value::Null },
            "cause": if status == "FAILED" { json!("The task failed: exit code 2") } else { Value::Null },
        }),
    }
}

/// A failed Step Functions execution: one critical alert.
pub(crate) fn failed_execution(name: &str) -> EventEntry {
    execution(name, "FAILED")
}

/// A successful execution: silent.
pub(crate) fn succeeded_execution(name: &str) -> EventEntry {
    execution(name, "SUCCEEDED")
}

/// Bodies no decoder accepts, each in a different way.
pub(crate) fn malformed_bodies() -> Vec<String> {
    vec![
        "this is not json".to_owned(),
        "{\"detail\": ".to_owned(),
        json!({"source": "aws.ecs", "detail-type": "ECS Task State Change", "detail": "not an object"})
            .to_string(),
    ]
}
