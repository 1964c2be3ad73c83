//! Decoding: every body shape, the facts recovered from ARNs, open enums, and errors that name what is
//! wrong.

use failwatch_core::{
    DecodeContext, DecodeError, DeploymentEventName, EcsEventType, Event, ExecutionStatus,
    LaunchType, ServiceEventName, SfnOrigin, Shape, StopCode, TaskStatus, decode,
};
use serde_json::{Value, json};
use time::macros::datetime;

use crate::fixtures;

fn task_event(name: &str) -> failwatch_core::EcsTaskEvent {
    match fixtures::event(name) {
        Event::EcsTask(e) => e,
        other => panic!("{name}: expected an ECS task event, got {other:?}"),
    }
}

fn sfn_event(name: &str) -> failwatch_core::SfnExecutionEvent {
    match fixtures::event(name) {
        Event::SfnExecution(e) => e,
        other => panic!("{name}: expected a Step Functions event, got {other:?}"),
    }
}

fn decode_value(v: &Value) -> Result<Event, DecodeError> {
    decode(&v.to_string(), &fixtures::ctx())
}

fn fixture_value(name: &str) -> Value {
    serde_json::from_str(&fixtures::load(name)).expect("fixture is JSON")
}

#[test]
fn every_event_fixture_decodes() {
    let ctx = fixtures::ctx();
    let events = fixtures::events();
    assert!(events.len() >= 50, "only {} fixtures", events.len());
    for (name, body) in events {
        let event = decode(&body, &ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
        let kind = event.kind().map_or("unhandled", |k| k.as_str());
        assert!(
            name.starts_with(kind),
            "{name}: file name should start with its kind {kind}"
        );
    }
}

#[test]
fn eventbridge_ecs_task_state_change() {
    let e = task_event("ecs_task-essential-container-exit254");
    assert_eq!(e.meta.shape, Shape::EventBridge);
    assert!(!e.meta.via_sns);
    assert_eq!(e.meta.id, "1b6942a6-cd98-6448-c038-0c22636e3d53");
    assert_eq!(e.meta.time, datetime!(2023-05-21 15:37:04 UTC));
    assert_eq!(e.meta.account.as_deref(), Some("012345678900"));
    assert_eq!(e.meta.region.as_deref(), Some("eu-central-1"));
    assert_eq!(e.meta.partition, "aws");
    let t = &e.task;
    assert_eq!(t.id, "4ca7a4f90c6342e286b4e8bec7d9e4b6");
    assert_eq!(t.cluster.as_deref(), Some("scc-events-cluster"));
    assert_eq!(t.last_status, Some(TaskStatus::Deprovisioning));
    assert_eq!(t.desired_status, Some(TaskStatus::Stopped));
    assert_eq!(t.stop_code, Some(StopCode::EssentialContainerExited));
    assert_eq!(
        t.stopped_reason.as_deref(),
        Some("Essential container in task exited")
    );
    assert_eq!(t.service(), Some("scc-cloud-connector"));
    assert_eq!(t.definition.as_deref(), Some("scc:9"));
    assert_eq!(t.launch_type, Some(LaunchType::Fargate));
    assert_eq!(t.version, Some(4));
    assert_eq!(
        t.execution_stopped_at,
        Some(datetime!(2023-05-21 15:36:54.807 UTC))
    );
    assert_eq!(t.containers.len(), 1);
    assert_eq!(t.containers[0].name, "CloudConnector");
    assert_eq!(t.containers[0].exit_code, Some(254));
}

#[test]
fn the_sqs_body_the_sns_wrapped_and_the_pretty_event_decode_alike() {
    let direct = task_event("ecs_task-essential-container-exit254");
    let compact = task_event("ecs_task-sqs-body-compact");
    let via_sns = task_event("ecs_task-sns-wrapped-eventbridge");
    assert_eq!(compact, direct);
    assert!(via_sns.meta.via_sns);
    assert_eq!(via_sns.task, direct.task);
    assert_eq!(
        via_sns.meta.id, direct.meta.id,
        "the EventBridge id wins over the SNS MessageId"
    );
    assert_eq!(via_sns.meta.time, direct.meta.time);
}

#[test]
fn short_task_arns_take_the_cluster_from_cluster_arn() {
    let e = task_event("ecs_task-exit0-finished-job");
    assert_eq!(e.task.id, "e9511a82-9247-4239-89e9-ffd548ed9ee4");
    assert_eq!(e.task.cluster.as_deref(), Some("primary-cluster"));
    assert_eq!(e.task.workload(), Some("voterintake"));
    assert_eq!(e.task.service(), None);
}

#[test]
fn the_seed_test_message_without_envelope_takes_everything_from_the_arns() {
    let e = task_event("ecs_task-seed000-test-message");
    assert_eq!(e.meta.shape, Shape::BareDetail);
    assert_eq!(e.meta.region.as_deref(), Some("ap-northeast-2"));
    assert_eq!(e.meta.account.as_deref(), Some("123456789012"));
    assert_eq!(e.meta.partition, "aws");
    assert_eq!(e.task.cluster.as_deref(), Some("dev-an2d-ecs"));
    assert_eq!(e.task.id, "test123");
    assert_eq!(e.task.service(), Some("test-service"));
    assert_eq!(
        e.task.stop_code,
        Some(StopCode::Other("TaskFailed".to_owned()))
    );
    assert_eq!(e.task.last_status, None);
    // No time anywhere in the body: the time the message was received.
    assert_eq!(e.meta.time, fixtures::ctx().received_at);
}

#[test]
fn envelope_less_ids_are_the_message_id_else_a_stable_hash_of_the_body() {
    let body = fixtures::load("ecs_task-seed000-test-message");
    let a = decode(&body, &fixtures::ctx()).expect("decodes");
    let b = decode(&body, &fixtures::ctx()).expect("decodes");
    assert_eq!(a.meta().id, b.meta().id, "replays get the same id");
    assert_eq!(a.meta().id.len(), 16);
    assert!(a.meta().id.bytes().all(|c| c.is_ascii_hexdigit()));
    let other = decode(&body.replace("test123", "test124"), &fixtures::ctx()).expect("decodes");
    assert_ne!(a.meta().id, other.meta().id);

    let ctx = DecodeContext {
        message_id: Some("sqs-message-1".to_owned()),
        ..fixtures::ctx()
    };
    assert_eq!(
        decode(&body, &ctx).expect("decodes").meta().id,
        "sqs-message-1"
    );
    // An EventBridge id always wins.
    let eb = decode(
        &fixtures::load("ecs_task-essential-container-exit254"),
        &ctx,
    )
    .expect("decodes");
    assert_eq!(eb.meta().id, "1b6942a6-cd98-6448-c038-0c22636e3d53");
}

#[test]
fn the_seed_test_message_through_sns_takes_id_and_time_from_the_notification() {
    let e = task_event("ecs_task-sns-seed000-test-message");
    assert!(e.meta.via_sns);
    assert_eq!(e.meta.shape, Shape::BareDetail);
    assert_eq!(e.meta.id, "7a1e5c3b-2d4f-5e6a-8b9c-0d1e2f3a4b5c");
    assert_eq!(e.meta.time, datetime!(2025-01-20 10:31:02.114 UTC));
    assert_eq!(e.task, task_event("ecs_task-seed000-test-message").task);
}

#[test]
fn a_missing_account_comes_from_the_task_arn() {
    let e = task_event("ecs_task-missing-account");
    assert_eq!(e.meta.account.as_deref(), Some("012345678900"));
    assert_eq!(e.meta.region.as_deref(), Some("eu-central-1"));
}

#[test]
fn a_missing_region_and_time_come_from_the_arn_and_the_context() {
    // The AWS docs' Spot notice has neither `region` nor `time`.
    let e = task_event("ecs_task-spot-interruption");
    assert_eq!(e.meta.region.as_deref(), Some("us-east-1"));
    assert_eq!(e.meta.time, fixtures::ctx().received_at);
    assert_eq!(e.task.stop_code, Some(StopCode::SpotInterruption));
    assert_eq!(e.task.last_status, Some(TaskStatus::Running));
}

#[test]
fn partitions_come_from_the_arns() {
    assert_eq!(task_event("ecs_task-aws-cn").meta.partition, "aws-cn");
    assert_eq!(
        task_event("ecs_task-aws-us-gov").meta.partition,
        "aws-us-gov"
    );
    assert_eq!(
        sfn_event("sfn_execution-failed-aws-us-gov").meta.partition,
        "aws-us-gov"
    );
    // A body whose only hint is the region still gets its partition.
    let body = json!({"detail-type": "Something Else", "source": "x", "region": "cn-northwest-1", "detail": {}});
    assert_eq!(
        decode_value(&body).expect("decodes").meta().partition,
        "aws-cn"
    );
}

#[test]
fn times_are_normalised_to_utc_and_fall_back_in_order() {
    let mut v = fixture_value("ecs_task-seed000-test-message");
    v["detail"]["stoppedAt"] = json!("2025-01-20T19:30:45+09:00");
    let e = decode_value(&v).expect("decodes");
    assert_eq!(e.meta().time, datetime!(2025-01-20 10:30:45 UTC));
    assert!(e.meta().time.offset().is_utc());

    let mut v = fixture_value("ecs_task-essential-container-exit254");
    v["time"] = json!("2023-05-21T17:37:04+02:00");
    assert_eq!(
        decode_value(&v).expect("decodes").meta().time,
        datetime!(2023-05-21 15:37:04 UTC)
    );
    // An unreadable envelope time falls back to when the task stopped.
    v["time"] = json!("yesterday");
    assert_eq!(
        decode_value(&v).expect("decodes").meta().time,
        datetime!(2023-05-21 15:36:54.807 UTC)
    );
    // Unreadable timestamps inside the detail cost the time, not the event.
    v["detail"]["executionStoppedAt"] = json!("not a time");
    assert_eq!(
        decode_value(&v).expect("decodes").meta().time,
        fixtures::ctx().received_at
    );
}

#[test]
fn a_catch_output_with_an_ecs_task_cause_yields_the_task() {
    let e = sfn_event("sfn_execution-catch-seed003");
    assert_eq!(e.origin, SfnOrigin::CatchOutput);
    assert_eq!(e.meta.shape, Shape::CatchOutput);
    assert_eq!(e.error.as_deref(), Some("States.TaskFailed"));
    assert_eq!(e.status, None);
    assert_eq!(e.meta.region.as_deref(), Some("ap-northeast-1"));
    assert_eq!(e.meta.account.as_deref(), Some("000000000000"));
    // StoppedAt is epoch milliseconds in PascalCase task descriptions.
    assert_eq!(e.meta.time, datetime!(2024-05-08 06:52:24.686 UTC));
    let task = e.task.expect("the cause is a task description");
    assert_eq!(task.cluster.as_deref(), Some("sample"));
    assert_eq!(task.id, "7446f4e4ff8441eabc8919fe51d8cac5");
    assert_eq!(task.stop_code, Some(StopCode::EssentialContainerExited));
    assert_eq!(task.definition.as_deref(), Some("sample:6"));
    assert_eq!(task.group.as_deref(), Some("family:sample"));
    assert_eq!(task.started_by.as_deref(), Some("AWS Step Functions"));
    assert_eq!(task.containers[0].name, "sample");
    assert_eq!(task.containers[0].exit_code, Some(1));
}

#[test]
fn a_catch_output_whose_cause_was_already_parsed_yields_the_same_task() {
    let parsed = sfn_event("sfn_execution-catch-seed003-parsed-cause");
    let string = sfn_event("sfn_execution-catch-seed003");
    assert_eq!(parsed.task, string.task);
    assert!(
        parsed
            .cause
            .as_deref()
            .is_some_and(|c| c.contains("\"TaskArn\""))
    );
}

#[test]
fn a_catch_output_with_a_text_cause_has_no_task() {
    let e = sfn_event("sfn_execution-catch-lambda-error");
    assert_eq!(e.task, None);
    assert_eq!(e.error.as_deref(), Some("Lambda.Unknown"));
    assert!(
        e.cause
            .as_deref()
            .is_some_and(|c| c.starts_with("The cause could not be determined"))
    );
    assert_eq!(e.meta.region, None);
    assert_eq!(e.meta.partition, "aws");
}

#[test]
fn a_failed_execution_with_a_run_task_cause_yields_the_task() {
    let e = sfn_event("sfn_execution-failed-runtask-sync");
    assert_eq!(e.origin, SfnOrigin::StatusChange);
    assert_eq!(e.status, Some(ExecutionStatus::Failed));
    assert_eq!(e.name.as_deref(), Some("run-2019-09-17T13-42"));
    let task = e.task.expect("task in cause");
    assert_eq!(
        task.cluster.as_deref(),
        Some("marble-app-infrastructure-Cluster")
    );
    assert_eq!(task.id, "5c704c7e4f1348f3969072b112bdaaf0");
    assert_eq!(task.containers[0].exit_code, Some(2));
    assert_eq!(task.launch_type, Some(LaunchType::Fargate));
}

#[test]
fn sfn_events_without_error_or_cause_decode() {
    let e = sfn_event("sfn_execution-failed-no-error");
    assert_eq!(e.error, None);
    assert_eq!(e.cause, None);
    assert_eq!(e.task, None);
    let e = sfn_event("sfn_execution-failed-error-cause");
    assert_eq!(e.redrive_count, Some(0));
    assert_eq!(e.cause.as_deref(), Some("An error occurred."));
}

#[test]
fn deployment_and_service_events_take_cluster_and_service_from_resources() {
    let Event::EcsDeployment(d) = fixtures::event("ecs_deployment-failed-circuit-breaker") else {
        panic!("deployment event");
    };
    assert_eq!(d.cluster.as_deref(), Some("default"));
    assert_eq!(d.service, "servicetest");
    assert_eq!(d.event_name, DeploymentEventName::Failed);
    assert_eq!(d.event_type, Some(EcsEventType::Error));
    assert_eq!(d.deployment_id.as_deref(), Some("ecs-svc/123"));

    let Event::EcsService(s) = fixtures::event("ecs_service-placement-failure-fargate-spot") else {
        panic!("service event");
    };
    assert_eq!(s.cluster.as_deref(), Some("default"));
    assert_eq!(s.service.as_deref(), Some("servicetest"));
    assert_eq!(s.event_type, EcsEventType::Error);
    assert_eq!(
        s.event_name,
        Some(ServiceEventName::ServiceTaskPlacementFailure)
    );
    assert_eq!(s.reason.as_deref(), Some("RESOURCE:FARGATE"));
    assert_eq!(s.capacity_providers.len(), 1);
}

#[test]
fn unknown_fields_are_ignored() {
    let mut v = fixture_value("ecs_task-essential-container-exit254");
    v["brandNewEnvelopeField"] = json!({"nested": [1, 2, 3]});
    v["detail"]["someFutureField"] = json!("x");
    v["detail"]["containers"][0]["gpuIds"] = json!(["a"]);
    assert_eq!(
        decode_value(&v).expect("decodes"),
        fixtures::event("ecs_task-essential-container-exit254")
    );
}

#[test]
fn open_enums_keep_values_aws_adds_later() {
    let mut v = fixture_value("ecs_task-essential-container-exit254");
    v["detail"]["stopCode"] = json!("QuantumDecoherence");
    v["detail"]["lastStatus"] = json!("EVAPORATED");
    v["detail"]["launchType"] = json!("ORBITAL");
    v["detail"]["containers"][0]["lastStatus"] = json!("HIBERNATING");
    let Event::EcsTask(e) = decode_value(&v).expect("decodes") else {
        panic!("task")
    };
    assert_eq!(
        e.task.stop_code,
        Some(StopCode::Other("QuantumDecoherence".to_owned()))
    );
    assert_eq!(
        e.task.stop_code.as_ref().map(StopCode::as_str),
        Some("QuantumDecoherence")
    );
    assert_eq!(
        e.task.last_status,
        Some(TaskStatus::Other("EVAPORATED".to_owned()))
    );
    assert_eq!(
        e.task.launch_type,
        Some(LaunchType::Other("ORBITAL".to_owned()))
    );
    assert_eq!(
        e.task.containers[0]
            .last_status
            .as_ref()
            .map(|s| s.as_str()),
        Some("HIBERNATING")
    );

    let mut v = fixture_value("ecs_service-task-start-impaired");
    v["detail"]["eventName"] = json!("SERVICE_SOMETHING_NEW");
    v["detail"]["eventType"] = json!("CRITICAL");
    let Event::EcsService(s) = decode_value(&v).expect("decodes") else {
        panic!("service")
    };
    assert_eq!(
        s.event_name,
        Some(ServiceEventName::Other("SERVICE_SOMETHING_NEW".to_owned()))
    );
    assert_eq!(s.event_type, EcsEventType::Other("CRITICAL".to_owned()));

    let mut v = fixture_value("ecs_deployment-failed-circuit-breaker");
    v["detail"]["eventName"] = json!("SERVICE_DEPLOYMENT_PAUSED");
    let Event::EcsDeployment(d) = decode_value(&v).expect("decodes") else {
        panic!("deployment")
    };
    assert_eq!(d.event_name.as_str(), "SERVICE_DEPLOYMENT_PAUSED");

    let mut v = fixture_value("sfn_execution-running");
    v["detail"]["status"] = json!("PENDING_REDRIVE");
    let Event::SfnExecution(s) = decode_value(&v).expect("decodes") else {
        panic!("sfn")
    };
    assert_eq!(s.status, Some(ExecutionStatus::PendingRedrive));
    v["detail"]["status"] = json!("PAUSED");
    let Event::SfnExecution(s) = decode_value(&v).expect("decodes") else {
        panic!("sfn")
    };
    assert_eq!(s.status, Some(ExecutionStatus::Other("PAUSED".to_owned())));
}

#[test]
fn known_enum_values_round_trip_through_their_wire_strings() {
    for code in [
        "TaskFailedToStart",
        "EssentialContainerExited",
        "UserInitiated",
        "ServiceSchedulerInitiated",
        "SpotInterruption",
        "TerminationNotice",
    ] {
        let parsed = StopCode::from(code);
        assert!(!matches!(parsed, StopCode::Other(_)), "{code} is known");
        assert_eq!(parsed.as_str(), code);
        assert_eq!(parsed.to_string(), code);
    }
    for status in [
        "PROVISIONING",
        "PENDING",
        "ACTIVATING",
        "RUNNING",
        "DEACTIVATING",
        "STOPPING",
        "DEPROVISIONING",
        "STOPPED",
        "DELETED",
    ] {
        let parsed = TaskStatus::from(status);
        assert!(!matches!(parsed, TaskStatus::Other(_)), "{status} is known");
        assert_eq!(parsed.as_str(), status);
    }
}

#[test]
fn an_unhandled_detail_type_is_an_event_not_an_error() {
    let event = fixtures::event("unhandled-ecs-container-instance-state-change");
    assert_eq!(event.kind(), None);
    let Event::Unhandled(u) = event else {
        panic!("unhandled")
    };
    assert_eq!(
        u.detail_type.as_deref(),
        Some("ECS Container Instance State Change")
    );
    assert_eq!(u.source.as_deref(), Some("aws.ecs"));
    assert_eq!(u.meta.id, "f7a8b9c0-d1e2-4f3a-8b4c-5d6e7f809102");
    // A known detail-type from an unexpected source is not mistaken for the real thing.
    let mut v = fixture_value("ecs_task-essential-container-exit254");
    v["source"] = json!("custom.app");
    assert!(matches!(
        decode_value(&v).expect("decodes"),
        Event::Unhandled(_)
    ));
}

/// Each malformed fixture and a fragment its error must contain.
const MALFORMED: &[(&str, &str)] = &[
    ("array.json", "body is JSON but not an object"),
    (
        "bare-detail-missing-task-arn.json",
        "bare detail: detail.taskArn missing",
    ),
    (
        "catch-output-error-not-string.json",
        "Step Functions Catch output: Error is not a string: \"{\\\"nested\\\":true}\"",
    ),
    (
        "custom-notification-missing-content.json",
        "custom notification: content missing",
    ),
    (
        "custom-notification-missing-description.json",
        "custom notification: content.description missing",
    ),
    (
        "custom-notification-missing-source.json",
        "custom notification: source missing",
    ),
    (
        "custom-notification-title-not-string.json",
        "custom notification: invalid type: an integer, expected a string",
    ),
    (
        "custom-notification-wrong-source.json",
        "custom notification: source is not \"custom\": \"chatbot\"",
    ),
    (
        "ecs-deployment-missing-resources.json",
        "ECS Deployment State Change: resources[0] (the service ARN) missing",
    ),
    (
        "ecs-task-exit-code-not-a-number.json",
        "ECS Task State Change: invalid type: a string",
    ),
    (
        "ecs-task-invalid-task-arn.json",
        "ECS Task State Change: detail.taskArn is not an ECS task ARN: \"not-an-arn\"",
    ),
    (
        "ecs-task-missing-task-arn.json",
        "ECS Task State Change: detail.taskArn missing",
    ),
    ("empty.json", "body is not JSON"),
    (
        "eventbridge-missing-detail.json",
        "ECS Task State Change: detail missing",
    ),
    (
        "sfn-detail-missing-status.json",
        "Step Functions Execution Status Change: detail.status missing",
    ),
    (
        "sfn-execution-missing-status.json",
        "Step Functions Execution Status Change: detail.status missing",
    ),
    (
        "sns-message-not-a-string.json",
        "(SNS envelope: Message is not a string)",
    ),
    (
        "sns-message-not-json.json",
        "SNS envelope: Message is not JSON",
    ),
    ("sns-missing-message.json", "SNS envelope: Message missing"),
    (
        "sns-nested.json",
        "SNS envelope: Message is itself an SNS envelope",
    ),
    (
        "sns-subscription-confirmation.json",
        "SNS envelope: Type is \"SubscriptionConfirmation\", expected \"Notification\"",
    ),
    (
        "sns-wrapped-custom-notification-missing-description.json",
        "SNS envelope: Message: custom notification: content.description missing",
    ),
    (
        "sns-wrapped-missing-task-arn.json",
        "SNS envelope: Message: bare detail: detail.taskArn missing",
    ),
    ("string.json", "body is JSON but not an object"),
    ("truncated.json", "body is not JSON: EOF while parsing"),
    ("unknown-shape.json", "body is not a known message shape"),
];

#[test]
fn every_malformed_fixture_fails_with_an_error_naming_what_is_wrong() {
    let files = fixtures::malformed();
    assert_eq!(
        files.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        MALFORMED.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        "every malformed fixture has an expected error here"
    );
    for ((name, body), (_, expected)) in files.iter().zip(MALFORMED) {
        let err = decode(body, &fixtures::ctx()).expect_err(name);
        let message = err.to_string();
        assert!(
            message.contains(expected),
            "{name}: {message:?} should contain {expected:?}"
        );
    }
}

#[test]
fn error_sources_are_kept() {
    use std::error::Error as _;
    let err = decode("{", &fixtures::ctx()).expect_err("not JSON");
    assert!(matches!(err, DecodeError::NotJson(_)));
    assert!(err.source().is_some());
    let err = decode(
        &fixtures::load_malformed("sns-wrapped-missing-task-arn"),
        &fixtures::ctx(),
    )
    .expect_err("bad");
    let inner = err.source().expect("the inner error is the source");
    assert_eq!(inner.to_string(), "bare detail: detail.taskArn missing");
}

#[test]
fn a_huge_invalid_arn_is_cut_in_the_error_message() {
    let arn = "x".repeat(10_000);
    let body = json!({"detail": {"taskArn": arn}});
    let err = decode_value(&body).expect_err("invalid").to_string();
    assert!(err.len() < 400, "error is {} bytes", err.len());
}

#[test]
fn truncated_and_garbled_fixtures_never_panic() {
    let ctx = fixtures::ctx();
    for (name, body) in fixtures::events() {
        let bytes = body.as_bytes();
        // Every prefix on a char boundary (in steps, to keep the test fast) and a few corruptions.
        for end in (0..bytes.len().min(4096)).step_by(13) {
            if body.is_char_boundary(end) {
                let _ = decode(&body[..end], &ctx);
            }
        }
        for (from, to) in [
            ("\"", "'"),
            ("{", "["),
            (":", ","),
            ("\"detail\"", "\"Message\""),
            ("null", "{}"),
        ] {
            let _ = decode(&body.replace(from, to), &ctx);
        }
        let _ = name;
    }
}

#[test]
fn an_unhandled_event_decodes_whatever_its_detail_holds() {
    // Field names failwatch reads, with types of another event's meaning: must not become an error.
    let body = json!({
        "version": "0", "id": "x-1", "detail-type": "Some Future Event", "source": "aws.ecs",
        "region": "us-east-1", "resources": ["arn:aws:ecs:us-east-1:111122223333:cluster/c"],
        "detail": {"containers": {"count": 3}, "version": "v2", "status": 7, "stopCode": ["a"]}
    });
    let Event::Unhandled(u) = decode_value(&body).expect("decodes") else {
        panic!("unhandled")
    };
    assert_eq!(u.detail_type.as_deref(), Some("Some Future Event"));
    assert_eq!(u.meta.id, "x-1");
    assert_eq!(u.meta.account.as_deref(), Some("111122223333"));
}

#[test]
fn a_type_error_names_the_shape_it_happened_in() {
    let cases = [
        (
            json!({"detail-type": "ECS Service Action", "source": "aws.ecs", "detail": {"eventType": 5}}),
            "ECS Service Action: invalid type: an integer",
        ),
        (
            json!({"detail-type": "Step Functions Execution Status Change", "source": "aws.states", "detail": {"redriveCount": "one"}}),
            "Step Functions Execution Status Change: invalid type: a string",
        ),
        (
            json!({"detail": {"taskArn": 42}}),
            "bare detail: invalid type: an integer",
        ),
        (
            json!({"Type": "Notification", "Message": {"not": "a string"}}),
            "body: invalid type: a map",
        ),
    ];
    for (body, expected) in cases {
        let err = decode_value(&body).expect_err("type error").to_string();
        assert!(
            err.starts_with(expected),
            "{err:?} should start with {expected:?}"
        );
    }
}

#[test]
fn any_shape_can_arrive_inside_an_sns_notification() {
    let catch = fixtures::load("sfn_execution-catch-seed003");
    let body = json!({
        "Type": "Notification",
        "MessageId": "5e0c3b1a-1111-2222-3333-444455556666",
        "TopicArn": "arn:aws:sns:ap-northeast-1:000000000000:sfn-failures",
        "Message": catch,
        "Timestamp": "2024-05-08T06:53:00.000Z"
    });
    let Event::SfnExecution(e) = decode_value(&body).expect("decodes") else {
        panic!("sfn")
    };
    assert!(e.meta.via_sns);
    assert_eq!(e.meta.shape, Shape::CatchOutput);
    assert_eq!(e.meta.id, "5e0c3b1a-1111-2222-3333-444455556666");
    assert_eq!(e.task, sfn_event("sfn_execution-catch-seed003").task);
    // The task's own stop time beats the SNS publish time.
    assert_eq!(e.meta.time, datetime!(2024-05-08 06:52:24.686 UTC));
}

#[test]
fn an_event_decodes_alike_whatever_order_its_keys_come_in() {
    // The fixtures are written as EventBridge writes them (`detail-type` and `source` before `detail`,
    // so the detail is read as the body is); serde_json writes an object's keys sorted, which puts
    // `detail` first (so the detail is kept raw and read afterwards). With a message id, no id is a
    // hash of the body text.
    let ctx = DecodeContext {
        message_id: Some("sqs-message-1".to_owned()),
        ..fixtures::ctx()
    };
    for (name, body) in fixtures::events() {
        let sorted = serde_json::from_str::<Value>(&body)
            .expect("fixture is JSON")
            .to_string();
        if let (Some(detail), Some(detail_type)) =
            (sorted.find("\"detail\""), sorted.find("\"detail-type\""))
        {
            assert!(
                detail < detail_type,
                "{name}: serde_json no longer sorts keys"
            );
        }
        assert_eq!(
            decode(&body, &ctx).expect("as written"),
            decode(&sorted, &ctx).expect("sorted"),
            "{name}"
        );
    }
}

#[test]
fn a_malformed_detail_is_worded_alike_whatever_order_its_keys_come_in() {
    let ctx = fixtures::ctx();
    let detail = r#"{"eventType":5}"#;
    let envelope = r#""detail-type":"ECS Service Action","source":"aws.ecs""#;
    let first = decode(&format!("{{{envelope},\"detail\":{detail}}}"), &ctx);
    let last = decode(&format!("{{\"detail\":{detail},{envelope}}}"), &ctx);
    let (first, last) = (
        first.expect_err("type error").to_string(),
        last.expect_err("type error").to_string(),
    );
    assert!(
        first.starts_with("ECS Service Action: invalid type: an integer"),
        "{first:?}"
    );
    assert!(first.ends_with("at line 1 column 14"), "{first:?}");
    assert_eq!(first, last);
}

#[test]
fn a_step_functions_detail_decodes_alike_bare_on_its_own_and_through_sns() {
    let via_sns = sfn_event("sfn_execution-sns-detail-only");
    let alone = sfn_event("sfn_execution-detail-only");
    let bare = sfn_event("sfn_execution-bare-detail");
    for e in [&via_sns, &alone, &bare] {
        assert_eq!(e.meta.shape, Shape::BareDetail);
        assert_eq!(e.origin, SfnOrigin::StatusChange);
        assert_eq!(e.status, Some(ExecutionStatus::Failed));
        assert_eq!(e.error.as_deref(), Some("States.Timeout"));
        assert_eq!(e.name.as_deref(), Some("run-7"));
        assert_eq!(e.meta.region.as_deref(), Some("us-east-1"));
        assert_eq!(e.meta.account.as_deref(), Some("123456789012"));
        // stopDate, epoch milliseconds.
        assert_eq!(e.meta.time, datetime!(2026-03-14 09:55:00 UTC));
    }
    assert!(via_sns.meta.via_sns && !alone.meta.via_sns);
    assert_eq!(via_sns.meta.id, "0c2b6e2f-8d3a-5f7e-9a1b-2c3d4e5f6a7b");
    assert_eq!(via_sns.execution_arn, alone.execution_arn);
    assert_eq!(alone.execution_arn, bare.execution_arn);
}

#[test]
fn a_bare_detail_naming_a_task_stays_an_ecs_task() {
    let body = json!({"detail": {
        "taskArn": "arn:aws:ecs:ap-northeast-2:123456789012:task/dev/test123",
        "executionArn": "arn:aws:states:ap-northeast-2:123456789012:execution:sm:run-1",
        "stopCode": "TaskFailed"
    }});
    let Event::EcsTask(e) = decode_value(&body).expect("decodes") else {
        panic!("a task ARN makes it a task")
    };
    assert_eq!(e.task.id, "test123");
    assert_eq!(e.meta.shape, Shape::BareDetail);
}

#[test]
fn a_custom_notification_decodes_raw_and_through_sns() {
    let Event::CustomNotification(raw) =
        fixtures::event("custom_notification-chatbot-step-functions-failure")
    else {
        panic!("custom notification")
    };
    assert_eq!(raw.meta.shape, Shape::CustomNotification);
    assert!(!raw.meta.via_sns);
    assert_eq!(raw.meta.id, "c-0001");
    assert_eq!(raw.id.as_deref(), Some("c-0001"));
    assert_eq!(raw.text_type.as_deref(), Some("client-markdown"));
    assert_eq!(
        raw.title.as_deref(),
        Some(":x: Step Functions execution failed")
    );
    assert_eq!(raw.next_steps, ["Open the execution in the console"]);
    assert_eq!(raw.keywords, ["sfn", "orders"]);
    assert_eq!(raw.thread_id.as_deref(), Some("orders-run-42"));
    assert_eq!(raw.event_type.as_deref(), Some("StepFunctionsFailure"));
    assert_eq!(raw.meta.region.as_deref(), Some("us-east-1"));
    assert_eq!(raw.meta.account.as_deref(), Some("123456789012"));

    let body = json!({
        "Type": "Notification",
        "MessageId": "5e0c3b1a-1111-2222-3333-444455556666",
        "Message": fixtures::load("custom_notification-chatbot-step-functions-failure"),
        "Timestamp": "2026-03-14T10:15:00.000Z"
    });
    let Event::CustomNotification(via_sns) = decode_value(&body).expect("decodes") else {
        panic!("custom notification")
    };
    assert!(via_sns.meta.via_sns);
    assert_eq!(via_sns.meta.id, "c-0001", "the notification's own id wins");
    assert_eq!(via_sns.meta.time, datetime!(2026-03-14 10:15:00 UTC));
    assert_eq!(
        (
            via_sns.title,
            via_sns.description,
            via_sns.related_resources
        ),
        (raw.title, raw.description, raw.related_resources)
    );
}

#[test]
fn an_eventbridge_event_from_a_custom_source_is_not_a_custom_notification() {
    let body = json!({"detail-type": "Deploy", "source": "custom", "detail": {}});
    assert!(matches!(
        decode_value(&body).expect("decodes"),
        Event::Unhandled(_)
    ));
}

#[test]
fn a_type_error_names_the_shape_it_looked_most_like() {
    let cases = [
        (
            json!({"version": "1.0", "source": "custom", "id": 5, "content": {"description": "d"}}),
            "custom notification: invalid type: an integer",
        ),
        (
            json!({"Type": 5, "Message": "{}"}),
            "(SNS envelope: Type is not a string)",
        ),
        (
            json!({"Type": "Notification", "Message": {"not": "a string"}}),
            "(SNS envelope: Message is not a string)",
        ),
        (
            json!({"id": 5, "content": {"description": "d"}}),
            "custom notification: invalid type: an integer",
        ),
        (
            json!({"source": "aws.ecs", "content": {"description": "d"}}),
            "custom notification: source is not \"custom\": \"aws.ecs\"",
        ),
    ];
    for (body, expected) in cases {
        let err = decode_value(&body).expect_err("refused").to_string();
        assert!(
            err.contains(expected),
            "{err:?} should contain {expected:?}"
        );
    }
}

/// An error's message with every source's, as the worker's logs and `failwatch render` print it.
fn message_chain(err: &DecodeError) -> String {
    use std::error::Error as _;
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        out.push_str(" / ");
        out.push_str(&inner.to_string());
        source = inner.source();
    }
    out
}

#[test]
fn decode_errors_never_quote_event_values() {
    const SECRET: &str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
    let oom = fixture_value("ecs_task-oom");
    let mut exit_code = oom.clone();
    exit_code["detail"]["containers"][0]["exitCode"] = json!(SECRET);
    let mut containers = oom.clone();
    containers["detail"]["containers"] = json!(SECRET);
    let mut version = oom.clone();
    version["detail"]["version"] = json!(format!("postgres://admin:{SECRET}@db/x"));
    let mut number = oom;
    number["detail"]["containers"][0]["name"] = json!(4_111_111_111_111_111_u64);
    let sns_type = json!({"Type": SECRET, "Message": "{}"});
    let sns_wrapped = json!({"Type": "Notification", "Message": exit_code.to_string()});
    let not_an_arn = json!({"detail": {"taskArn": format!("task/{SECRET}")}});
    for body in [
        exit_code,
        containers,
        version,
        number,
        sns_type,
        sns_wrapped,
        not_an_arn,
    ] {
        let err = decode_value(&body).expect_err("malformed");
        let message = message_chain(&err);
        assert!(!message.contains(SECRET), "{message}");
        assert!(!message.contains("4111111111111111"), "{message}");
    }
}

#[test]
fn decode_errors_keep_the_type_the_expectation_and_the_position() {
    let mut body = fixture_value("ecs_task-oom");
    body["detail"]["containers"][0]["exitCode"] = json!("sk_live_4eC39HqLyjWDarjtT1zdp7dc");
    let err = decode_value(&body).expect_err("malformed").to_string();
    assert!(
        err.starts_with(
            "ECS Task State Change: invalid type: a string, expected i64 at line 1 column "
        ),
        "{err}"
    );
}
