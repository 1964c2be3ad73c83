//! Classification: which events alert, how urgently, which stay silent and why, the failure class (and
//! hint) of each alert, the links, and the keys that de-duplicate and group alerts.

use failwatch_core::{Alert, AlertKind, Decision, Event, Severity, SilentReason, classify, decode};
use serde_json::{Value, json};

use crate::fixtures;

/// What every event fixture must produce: an alert of a severity and failure class (the last segment of
/// the group key), or silence with a reason code.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Alert(Severity, &'static str),
    Silent(&'static str),
}
use Expect::{Alert as A, Silent as S};
use Severity::{Critical as C, Warning as W};

const EXPECTED: &[(&str, Expect)] = &[
    (
        "custom_notification-chatbot-step-functions-failure.json",
        A(C, "orders-run-42"),
    ),
    (
        "custom_notification-markdown-mentions.json",
        A(C, "d7846f4732133c8a"),
    ),
    ("custom_notification-minimal.json", A(C, "02f2a25761e60cc6")),
    (
        "custom_notification-recovered.json",
        A(W, "orders-api-errors"),
    ),
    (
        "custom_notification-related-resources.json",
        A(C, "orders-nightly"),
    ),
    (
        "custom_notification-sns-seed003.json",
        A(C, "374f58542f7caf46"),
    ),
    ("ecs_deployment-completed.json", S("deployment_ok")),
    (
        "ecs_deployment-failed-circuit-breaker.json",
        A(C, "circuit_breaker"),
    ),
    ("ecs_deployment-in-progress.json", S("deployment_ok")),
    ("ecs_deployment-rollback.json", A(W, "circuit_breaker")),
    (
        "ecs_service-capacity-provider-steady-state.json",
        S("service_info"),
    ),
    (
        "ecs_service-placement-failure-fargate-spot.json",
        A(C, "placement_capacity"),
    ),
    (
        "ecs_service-placement-failure-resource-cpu.json",
        A(C, "placement_capacity"),
    ),
    ("ecs_service-steady-state.json", S("service_info")),
    (
        "ecs_service-task-start-impaired.json",
        A(W, "task_start_impaired"),
    ),
    ("ecs_task-aws-cn.json", A(C, "exit_nonzero")),
    ("ecs_task-aws-us-gov.json", A(C, "exit_nonzero")),
    (
        "ecs_task-batch-job-sidecar-sigterm.json",
        S("exited_cleanly"),
    ),
    (
        "ecs_task-container-health-check.json",
        A(C, "container_health_check"),
    ),
    ("ecs_task-deployment-replacement.json", S("service_scaling")),
    ("ecs_task-elb-health-check.json", A(C, "elb_health_check")),
    (
        "ecs_task-essential-container-exit254.json",
        A(C, "exit_nonzero"),
    ),
    ("ecs_task-exit0-finished-job.json", S("exited_cleanly")),
    ("ecs_task-exit137-killed.json", A(C, "killed")),
    ("ecs_task-exit139-segfault.json", A(C, "segfault")),
    (
        "ecs_task-failed-to-start-eni-exhaustion.json",
        A(C, "task_failed_to_start"),
    ),
    (
        "ecs_task-huge-reason-20kb.json",
        A(C, "cannot_start_container"),
    ),
    (
        "ecs_task-image-ecr-access-denied.json",
        A(C, "image_access_denied"),
    ),
    (
        "ecs_task-image-ecr-timeout.json",
        A(C, "registry_unreachable"),
    ),
    ("ecs_task-image-tag-not-found.json", A(C, "image_not_found")),
    ("ecs_task-logging-driver.json", A(C, "logging_driver")),
    ("ecs_task-mention-injection.json", A(C, "exit_nonzero")),
    ("ecs_task-missing-account.json", A(C, "exit_nonzero")),
    ("ecs_task-oom.json", A(C, "out_of_memory")),
    ("ecs_task-pair-1-deprovisioning.json", A(C, "exit_nonzero")),
    ("ecs_task-pair-2-stopped.json", A(C, "exit_nonzero")),
    ("ecs_task-running.json", S("task_not_stopped")),
    ("ecs_task-rw02-scale-in-exit137.json", S("service_scaling")),
    (
        "ecs_task-rw04-pull-dockerhub-ratelimit.json",
        A(C, "image_pull_rate_limited"),
    ),
    (
        "ecs_task-rw06-cannotinspect-no-exitcode.json",
        A(C, "cannot_inspect_container"),
    ),
    (
        "ecs_task-rw07-gpu-fast-job-taskfailedtostart-exit0.json",
        A(W, "finished_before_start_reported"),
    ),
    (
        "ecs_task-rw08-env-overrides-secrets-exit3.json",
        A(C, "exit_nonzero"),
    ),
    ("ecs_task-scale-in.json", S("service_scaling")),
    ("ecs_task-secrets-retrieval.json", A(C, "secrets_retrieval")),
    ("ecs_task-seed000-example-exit1.json", A(C, "exit_nonzero")),
    ("ecs_task-seed000-test-message.json", A(C, "other")),
    (
        "ecs_task-sidecar-never-started.json",
        A(C, "cannot_start_container"),
    ),
    ("ecs_task-sns-seed000-test-message.json", A(C, "other")),
    (
        "ecs_task-sns-wrapped-eventbridge.json",
        A(C, "exit_nonzero"),
    ),
    ("ecs_task-spot-interruption.json", A(W, "spot_interruption")),
    (
        "ecs_task-spot-termination-notice.json",
        A(W, "spot_interruption"),
    ),
    ("ecs_task-sqs-body-compact.json", A(C, "exit_nonzero")),
    (
        "ecs_task-stopping-not-yet-stopped.json",
        S("task_not_stopped"),
    ),
    (
        "ecs_task-termination-notice-on-demand.json",
        A(W, "infrastructure"),
    ),
    ("ecs_task-unicode.json", A(C, "exit_nonzero")),
    ("ecs_task-user-initiated.json", S("user_initiated")),
    ("sfn_execution-aborted.json", A(W, "sfn_aborted")),
    ("sfn_execution-bare-detail.json", A(C, "sfn_timeout")),
    (
        "sfn_execution-batch-out-of-memory.json",
        A(C, "batch_out_of_memory"),
    ),
    (
        "sfn_execution-catch-batch-timeout.json",
        A(C, "batch_timeout"),
    ),
    (
        "sfn_execution-catch-fargate-spot.json",
        A(C, "spot_interruption"),
    ),
    (
        "sfn_execution-catch-glue-timeout.json",
        A(C, "glue_timeout"),
    ),
    (
        "sfn_execution-catch-lambda-error.json",
        A(C, "lambda_timeout"),
    ),
    (
        "sfn_execution-catch-lambda-java-oom.json",
        A(C, "lambda_out_of_memory"),
    ),
    (
        "sfn_execution-catch-seed003-parsed-cause.json",
        A(C, "exit_nonzero"),
    ),
    ("sfn_execution-catch-seed003.json", A(C, "exit_nonzero")),
    ("sfn_execution-catch-timeout.json", A(C, "sfn_timeout")),
    ("sfn_execution-detail-only.json", A(C, "sfn_timeout")),
    ("sfn_execution-failed-aws-us-gov.json", A(C, "sfn_failed")),
    ("sfn_execution-failed-error-cause.json", A(C, "sfn_failed")),
    ("sfn_execution-failed-no-error.json", A(C, "sfn_failed")),
    (
        "sfn_execution-failed-runtask-sync.json",
        A(C, "exit_nonzero"),
    ),
    ("sfn_execution-glue-failed.json", A(C, "glue_job_failed")),
    (
        "sfn_execution-lambda-out-of-memory.json",
        A(C, "lambda_out_of_memory"),
    ),
    (
        "sfn_execution-lambda-service-exception.json",
        A(C, "lambda_service_error"),
    ),
    (
        "sfn_execution-lambda-throttled.json",
        A(C, "lambda_throttled"),
    ),
    ("sfn_execution-mention-injection.json", A(C, "sfn_failed")),
    (
        "sfn_execution-nested-child-runtask.json",
        A(C, "exit_nonzero"),
    ),
    ("sfn_execution-running-redriven.json", S("execution_ok")),
    ("sfn_execution-running.json", S("execution_ok")),
    (
        "sfn_execution-rw09-catch-batch-submitjob-exit1.json",
        A(C, "batch_exit_nonzero"),
    ),
    (
        "sfn_execution-rw11-failed-lambda-timeout-redriven.json",
        A(C, "lambda_timeout"),
    ),
    (
        "sfn_execution-rw12-catch-nested-startexecution.json",
        A(C, "lambda_timeout"),
    ),
    (
        "sfn_execution-rw14-failed-runtask-cause-truncated-32k.json",
        A(C, "exit_nonzero"),
    ),
    (
        "sfn_execution-rw20-failed-lambda-log-group-missing.json",
        A(C, "lambda_function_error"),
    ),
    ("sfn_execution-sns-detail-only.json", A(C, "sfn_timeout")),
    ("sfn_execution-sns-wrapped-failed.json", A(C, "sfn_failed")),
    (
        "sfn_execution-states-branch-failed.json",
        A(C, "states_branch_failed"),
    ),
    (
        "sfn_execution-states-data-limit-exceeded.json",
        A(C, "states_data_limit_exceeded"),
    ),
    (
        "sfn_execution-states-heartbeat-timeout.json",
        A(C, "states_heartbeat_timeout"),
    ),
    (
        "sfn_execution-states-permissions.json",
        A(C, "states_permissions"),
    ),
    ("sfn_execution-states-runtime.json", A(C, "states_runtime")),
    (
        "sfn_execution-states-tolerated-failure-exceeded.json",
        A(C, "states_tolerated_failure_exceeded"),
    ),
    ("sfn_execution-succeeded.json", S("execution_ok")),
    ("sfn_execution-timed-out.json", A(C, "sfn_timeout")),
    ("sfn_execution-unknown-json-cause.json", A(C, "sfn_failed")),
    (
        "unhandled-ecs-container-instance-state-change.json",
        S("unhandled_event"),
    ),
];

fn alert_of(name: &str) -> Alert {
    match fixtures::decision(name) {
        Decision::Alert(a) => *a,
        Decision::Silent(r) => panic!("{name}: expected an alert, got silence: {r}"),
    }
}

fn silent_of(name: &str) -> SilentReason {
    match fixtures::decision(name) {
        Decision::Silent(r) => r,
        Decision::Alert(a) => panic!("{name}: expected silence, got {}", a.title),
    }
}

fn classify_value(v: &Value) -> Decision {
    classify(&decode(&v.to_string(), &fixtures::ctx()).expect("decodes"))
}

fn fixture_value(name: &str) -> Value {
    serde_json::from_str(&fixtures::load(name)).expect("fixture is JSON")
}

/// The exit254 event with its stop code, reason and containers replaced.
fn stopped_task(stop_code: Option<&str>, reason: &str, containers: Value) -> Value {
    let mut v = fixture_value("ecs_task-essential-container-exit254");
    v["detail"]["lastStatus"] = json!("STOPPED");
    match stop_code {
        Some(code) => v["detail"]["stopCode"] = json!(code),
        None => {
            v["detail"]
                .as_object_mut()
                .expect("object")
                .remove("stopCode");
        }
    }
    v["detail"]["stoppedReason"] = json!(reason);
    v["detail"]["containers"] = containers;
    v
}

fn class_code(alert: &Alert) -> &str {
    alert.group_key.rsplit(':').next().unwrap_or_default()
}

#[test]
fn every_fixture_has_the_expected_decision() {
    let events = fixtures::events();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let expected: Vec<&str> = EXPECTED.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names, expected,
        "every fixture needs an expected decision in EXPECTED"
    );
    for (name, expect) in EXPECTED {
        match (fixtures::decision(name), expect) {
            (Decision::Alert(a), Expect::Alert(severity, class)) => {
                assert_eq!(a.severity, *severity, "{name}: severity");
                assert_eq!(
                    class_code(&a),
                    *class,
                    "{name}: failure class (group key {})",
                    a.group_key
                );
            }
            (Decision::Silent(r), Expect::Silent(code)) => {
                assert_eq!(r.code(), *code, "{name}: {r}")
            }
            (Decision::Alert(a), Expect::Silent(code)) => {
                panic!("{name}: expected silence ({code}), got {}", a.title)
            }
            (Decision::Silent(r), Expect::Alert(..)) => {
                panic!("{name}: expected an alert, got silence: {r}")
            }
        }
    }
}

#[test]
fn invariants_hold_for_every_alert() {
    for (name, body) in fixtures::events() {
        let event = decode(&body, &fixtures::ctx()).expect("decodes");
        let Decision::Alert(a) = classify(&event) else {
            continue;
        };
        assert_eq!(
            event.kind(),
            Some(a.kind),
            "{name}: Event::kind matches the alert"
        );
        assert!(
            a.dedup_key.starts_with(&format!("{}:", a.kind.as_str())),
            "{name}: {}",
            a.dedup_key
        );
        assert!(
            a.group_key.starts_with(&format!("{}:", a.kind.as_str())),
            "{name}: {}",
            a.group_key
        );
        assert!(
            !a.title.is_empty() && !a.title.contains('\n'),
            "{name}: title {:?}",
            a.title
        );
        assert!(!a.summary.is_empty(), "{name}: summary");
        assert!(
            a.summary.contains(&format!("Time: {}", a.time)),
            "{name}: summary names the time"
        );
        if let Some(region) = &a.region {
            assert!(
                a.summary.contains(&format!("Region: {region}")),
                "{name}: summary names the region"
            );
        }
        // RFC 3339 in UTC.
        let t =
            time::OffsetDateTime::parse(&a.time, &time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|e| panic!("{name}: time {:?}: {e}", a.time));
        assert!(
            t.offset().is_utc() && a.time.ends_with('Z'),
            "{name}: {}",
            a.time
        );
        for link in [
            &a.links.task,
            &a.links.task_logs,
            &a.links.service,
            &a.links.execution,
        ]
        .into_iter()
        .flatten()
        {
            assert!(link.starts_with("https://"), "{name}: {link}");
            assert!(
                link.is_ascii() && !link.contains(char::is_whitespace),
                "{name}: {link}"
            );
            assert!(
                !link.contains('<') && !link.contains('>') && !link.contains('"'),
                "{name}: {link}"
            );
        }
        // The document round-trips through its own schema.
        let back: Alert = serde_json::from_str(&a.to_json()).expect("alert JSON parses back");
        assert_eq!(back, *a, "{name}");
    }
}

#[test]
fn silent_events_still_have_a_kind_for_metrics() {
    assert_eq!(
        fixtures::event("ecs_task-running.json").kind(),
        Some(AlertKind::EcsTask)
    );
    assert_eq!(
        fixtures::event("sfn_execution-succeeded.json").kind(),
        Some(AlertKind::SfnExecution)
    );
    assert_eq!(
        fixtures::event("ecs_service-steady-state.json").kind(),
        Some(AlertKind::EcsService)
    );
    assert_eq!(
        fixtures::event("ecs_deployment-completed.json").kind(),
        Some(AlertKind::EcsDeployment)
    );
}

#[test]
fn the_seed_test_message_alerts_critical_with_every_fact_it_carries() {
    let a = alert_of("ecs_task-seed000-test-message");
    assert_eq!(a.kind, AlertKind::EcsTask);
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!(a.title, "ECS task failed: test-service (TaskFailed)");
    for fact in [
        "Cluster: dev-an2d-ecs",
        "Service: test-service",
        "Task: test123",
        "Stop code: TaskFailed",
        "Reason: Test failure",
        "Time: 2026-11-20T09:00:00Z",
        "Region: ap-northeast-2",
    ] {
        assert!(
            a.summary.contains(fact),
            "summary lacks {fact:?}:\n{}",
            a.summary
        );
    }
    assert_eq!(a.cluster.as_deref(), Some("dev-an2d-ecs"));
    assert_eq!(a.service.as_deref(), Some("test-service"));
    assert_eq!(a.account.as_deref(), Some("123456789012"));
    assert_eq!(
        a.dedup_key,
        "ecs_task:arn:aws:ecs:ap-northeast-2:123456789012:task/dev-an2d-ecs/test123"
    );
    assert_eq!(
        a.links.task.as_deref(),
        Some(
            "https://ap-northeast-2.console.aws.amazon.com/ecs/v2/clusters/dev-an2d-ecs/tasks/test123/configuration?region=ap-northeast-2"
        )
    );
    assert_eq!(
        a.links.service.as_deref(),
        Some(
            "https://ap-northeast-2.console.aws.amazon.com/ecs/v2/clusters/dev-an2d-ecs/services/test-service/health?region=ap-northeast-2"
        )
    );
    let task = a.task.expect("task");
    assert_eq!(task.stop_code.as_deref(), Some("TaskFailed"));
    assert!(task.containers.is_empty());
}

#[test]
fn the_seed_example_alert_carries_the_facts_the_seed_shows() {
    let a = alert_of("ecs_task-seed000-example-exit1");
    assert_eq!(a.title, "ECS task failed: my-api-service (app exited 1)");
    assert_eq!(
        a.summary,
        "Cluster: dev-an2d-ecs\n\
         Service: my-api-service\n\
         Task: a1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d (my-api-service:7)\n\
         Stop code: EssentialContainerExited\n\
         Reason: Essential container in task exited\n\
         Failed containers: app (exit 1)\n\
         Time: 2025-01-20T10:30:45Z\n\
         Region: ap-northeast-2"
    );
    assert_eq!(a.time, "2025-01-20T10:30:45Z");
    assert_eq!(a.hint.as_deref().map(|h| h.contains("logs")), Some(true));
}

#[test]
fn hints_name_the_fix_for_each_failure_class() {
    for (name, words) in [
        ("ecs_task-oom", "memory"),
        ("ecs_task-image-tag-not-found", "tag"),
        ("ecs_task-image-ecr-access-denied", "ecr:BatchGetImage"),
        ("ecs_task-image-ecr-timeout", "VPC endpoints"),
        (
            "ecs_task-secrets-retrieval",
            "secretsmanager:GetSecretValue",
        ),
        ("ecs_task-logging-driver", "log group"),
        ("ecs_task-elb-health-check", "health-check path"),
        ("ecs_task-container-health-check", "health-check command"),
        ("ecs_task-exit137-killed", "stopTimeout"),
        ("ecs_task-exit139-segfault", "segmentation fault"),
        ("ecs_task-spot-interruption", "Spot"),
        ("ecs_task-failed-to-start-eni-exhaustion", "ENI"),
        ("ecs_service-placement-failure-resource-cpu", "capacity"),
        ("ecs_deployment-failed-circuit-breaker", "circuit breaker"),
        ("sfn_execution-timed-out", "TimeoutSeconds"),
        ("sfn_execution-catch-timeout", "TimeoutSeconds"),
        ("sfn_execution-aborted", "StopExecution"),
    ] {
        let a = alert_of(name);
        let hint = a.hint.unwrap_or_else(|| panic!("{name}: no hint"));
        assert!(
            hint.contains(words),
            "{name}: hint {hint:?} should mention {words:?}"
        );
    }
    // A failure nothing specific is known about gets no invented advice.
    assert_eq!(alert_of("sfn_execution-failed-error-cause").hint, None);
    assert_eq!(alert_of("ecs_task-seed000-test-message").hint, None);
}

#[test]
fn exit_137_is_out_of_memory_only_with_an_oom_reason() {
    let oom = alert_of("ecs_task-oom");
    assert_eq!(oom.title, "ECS task failed: payments-api (out of memory)");
    assert!(
        oom.summary
            .contains("app (exit 137: OutOfMemoryError: Container killed due to memory usage)")
    );
    // The log router that exited 0 is not listed as failed.
    assert!(!oom.summary.contains("log-router"));
    let killed = alert_of("ecs_task-exit137-killed");
    assert_eq!(
        killed.title,
        "ECS task failed: nightly-report (report exited 137)"
    );
    assert!(killed.summary.contains("Group: family:nightly-report"));
    assert_eq!(killed.service, None);
    assert_eq!(
        killed.links.service, None,
        "a standalone task has no service page"
    );
}

#[test]
fn image_pull_failures_are_told_apart() {
    let tag = alert_of("ecs_task-image-tag-not-found");
    assert_eq!(tag.title, "ECS task failed: payments-api (image not found)");
    // The container reason repeats the stopped reason, so the container line does not repeat it.
    assert!(
        tag.summary
            .contains("Failed containers: app (did not start)"),
        "{}",
        tag.summary
    );
    assert_eq!(
        class_code(&alert_of("ecs_task-image-ecr-access-denied")),
        "image_access_denied"
    );
    assert_eq!(
        class_code(&alert_of("ecs_task-image-ecr-timeout")),
        "registry_unreachable"
    );
}

#[test]
fn a_container_that_never_started_is_a_failure_even_when_another_exited_0() {
    let a = alert_of("ecs_task-sidecar-never-started");
    assert!(
        a.summary
            .contains("envoy (did not start: CannotStartContainerError"),
        "{}",
        a.summary
    );
    assert!(!a.summary.contains("app (exit 0"));
    let task = a.task.expect("task");
    assert_eq!(
        task.containers.len(),
        2,
        "the document lists every container"
    );
    assert_eq!(task.containers[1].exit_code, None);
}

#[test]
fn stop_phase_rules() {
    let failing = json!([{"name": "app", "exitCode": 1}]);
    for (status, alerts) in [
        ("PROVISIONING", false),
        ("PENDING", false),
        ("RUNNING", false),
        ("DEACTIVATING", false),
        ("STOPPING", false),
        ("DEPROVISIONING", true),
        ("STOPPED", true),
    ] {
        let mut v = stopped_task(
            Some("EssentialContainerExited"),
            "Essential container in task exited",
            failing.clone(),
        );
        v["detail"]["lastStatus"] = json!(status);
        match classify_value(&v) {
            Decision::Alert(_) if alerts => {}
            Decision::Silent(SilentReason::TaskNotStopped { last_status }) if !alerts => {
                assert_eq!(last_status, status);
            }
            other => panic!("{status}: unexpected {other:?}"),
        }
    }
}

#[test]
fn exit_0_everywhere_is_silent_and_any_non_zero_essential_exit_alerts() {
    let clean = stopped_task(
        Some("EssentialContainerExited"),
        "Essential container in task exited",
        json!([{"name": "job", "exitCode": 0}, {"name": "sidecar", "exitCode": 0}]),
    );
    assert!(matches!(
        classify_value(&clean),
        Decision::Silent(SilentReason::ExitedCleanly)
    ));
    let mixed = stopped_task(
        Some("EssentialContainerExited"),
        "Essential container in task exited",
        json!([{"name": "job", "exitCode": 0}, {"name": "sidecar", "exitCode": 3}]),
    );
    let Decision::Alert(a) = classify_value(&mixed) else {
        panic!("alert")
    };
    assert!(a.summary.contains("Failed containers: sidecar (exit 3)"));
    assert_eq!(
        a.title,
        "ECS task failed: scc-cloud-connector (sidecar exited 3)"
    );
}

#[test]
fn without_a_stop_code_the_containers_decide() {
    let clean = stopped_task(None, "", json!([{"name": "job", "exitCode": 0}]));
    assert!(matches!(
        classify_value(&clean),
        Decision::Silent(SilentReason::ExitedCleanly)
    ));
    let nothing = stopped_task(None, "", json!([]));
    assert!(matches!(
        classify_value(&nothing),
        Decision::Silent(SilentReason::NoFailure)
    ));
    let failed = stopped_task(None, "", json!([{"name": "job", "exitCode": 2}]));
    assert!(
        matches!(classify_value(&failed), Decision::Alert(a) if a.severity == Severity::Critical)
    );
}

#[test]
fn unknown_stop_codes_alert() {
    let v = stopped_task(Some("SomeFutureStopCode"), "Something new", json!([]));
    let Decision::Alert(a) = classify_value(&v) else {
        panic!("alert")
    };
    assert_eq!(a.severity, Severity::Critical);
    assert!(a.title.contains("SomeFutureStopCode"), "{}", a.title);
}

#[test]
fn scheduler_stops_alert_only_for_health_checks_and_infrastructure() {
    let exit143 = json!([{"name": "app", "exitCode": 143}]);
    for (reason, expect) in [
        (
            "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:eu-central-1:1:targetgroup/x/1)",
            Some(Severity::Critical),
        ),
        (
            "Task failed container health checks",
            Some(Severity::Critical),
        ),
        (
            "ECS is performing maintenance on the underlying infrastructure hosting the task",
            Some(Severity::Warning),
        ),
        (
            "Host EC2 (instance i-0123456789abcdef0) stopped/terminated",
            Some(Severity::Warning),
        ),
        (
            "Container instance deregistration forced by user",
            Some(Severity::Warning),
        ),
        (
            "Scaling activity initiated by (deployment ecs-svc/1637086347952626779)",
            None,
        ),
        ("Service payments-api was deleted", None),
    ] {
        let v = stopped_task(Some("ServiceSchedulerInitiated"), reason, exit143.clone());
        match (classify_value(&v), expect) {
            (Decision::Alert(a), Some(severity)) => assert_eq!(a.severity, severity, "{reason}"),
            (Decision::Silent(r), None) => {
                assert!(
                    matches!(
                        r,
                        SilentReason::ServiceScaling { .. } | SilentReason::SchedulerStop { .. }
                    ),
                    "{reason}: {r}"
                );
                assert!(
                    r.to_string().contains(reason),
                    "the silent reason quotes AWS: {r}"
                );
            }
            (other, _) => panic!("{reason}: unexpected {other:?}"),
        }
    }
}

#[test]
fn spot_and_termination_stops_are_warnings_in_every_phase() {
    for code in ["SpotInterruption", "TerminationNotice"] {
        for status in ["RUNNING", "STOPPED"] {
            let mut v = stopped_task(
                Some(code),
                "Your Spot Task was interrupted.",
                json!([{"name": "app", "exitCode": 143}]),
            );
            v["detail"]["lastStatus"] = json!(status);
            let Decision::Alert(a) = classify_value(&v) else {
                panic!("{code}/{status}: alert")
            };
            assert_eq!(a.severity, Severity::Warning, "{code}/{status}");
            assert_eq!(class_code(&a), "spot_interruption");
            assert!(a.title.starts_with("ECS task stopped: "), "{}", a.title);
        }
    }
}

#[test]
fn one_stopped_task_has_one_dedup_key_whatever_the_event_version() {
    let first = alert_of("ecs_task-pair-1-deprovisioning");
    let second = alert_of("ecs_task-pair-2-stopped");
    assert_ne!(first.event_id, second.event_id);
    assert_eq!(first.dedup_key, second.dedup_key);
    assert!(
        !first.dedup_key.contains(":4") && !second.dedup_key.ends_with(":5"),
        "no version in {}",
        first.dedup_key
    );
    assert_eq!(first.group_key, second.group_key);
    // Repeats of one problem in one service group together; another class does not.
    let oom = alert_of("ecs_task-oom");
    assert_eq!(
        oom.group_key,
        "ecs_task:payments:service:payments-api:out_of_memory"
    );
    assert_ne!(oom.group_key, first.group_key);
    assert_ne!(oom.dedup_key, first.dedup_key);
}

#[test]
fn deployment_rules() {
    let failed = alert_of("ecs_deployment-failed-circuit-breaker");
    assert_eq!(failed.kind, AlertKind::EcsDeployment);
    assert_eq!(failed.severity, Severity::Critical);
    assert_eq!(failed.title, "ECS deployment failed: servicetest");
    assert_eq!(failed.cluster.as_deref(), Some("default"));
    assert_eq!(failed.service.as_deref(), Some("servicetest"));
    assert_eq!(
        failed.links.service.as_deref(),
        Some(
            "https://us-west-2.console.aws.amazon.com/ecs/v2/clusters/default/services/servicetest/deployments?region=us-west-2"
        )
    );
    let rollback = alert_of("ecs_deployment-rollback");
    assert_eq!(rollback.severity, Severity::Warning);
    assert_ne!(rollback.dedup_key, failed.dedup_key);
    assert_eq!(rollback.group_key, failed.group_key);
    let mut v = fixture_value("ecs_deployment-failed-circuit-breaker");
    v["detail"]["reason"] = json!("ECS deployment ecs-svc/123 failed: tasks failed to start.");
    let Decision::Alert(other) = classify_value(&v) else {
        panic!("alert")
    };
    assert_eq!(class_code(&other), "deployment_failed");
}

#[test]
fn service_action_rules() {
    let a = alert_of("ecs_service-placement-failure-resource-cpu");
    assert_eq!(a.kind, AlertKind::EcsService);
    assert_eq!(
        a.title,
        "ECS service problem: servicetest (no capacity to place tasks)"
    );
    assert!(a.summary.contains("Reason: RESOURCE:CPU"));
    let spot = alert_of("ecs_service-placement-failure-fargate-spot");
    assert!(spot.summary.contains("Capacity providers: FARGATE_SPOT"));
    assert_ne!(
        spot.dedup_key, a.dedup_key,
        "different reasons are different problems"
    );
    assert_eq!(spot.group_key, a.group_key);
    let mut v = fixture_value("ecs_service-task-start-impaired");
    v["detail"]["eventType"] = json!("NOTICE");
    assert!(matches!(
        classify_value(&v),
        Decision::Silent(SilentReason::ServiceInfo { .. })
    ));
}

#[test]
fn step_functions_status_rules() {
    for (status, expect) in [
        ("FAILED", Some(Severity::Critical)),
        ("TIMED_OUT", Some(Severity::Critical)),
        ("ABORTED", Some(Severity::Warning)),
        ("SUCCEEDED", None),
        ("RUNNING", None),
        ("PENDING_REDRIVE", None),
        ("SOME_NEW_STATUS", None),
    ] {
        let mut v = fixture_value("sfn_execution-failed-error-cause");
        v["detail"]["status"] = json!(status);
        match (classify_value(&v), expect) {
            (Decision::Alert(a), Some(severity)) => assert_eq!(a.severity, severity, "{status}"),
            (Decision::Silent(SilentReason::ExecutionOk { status: s }), None) => {
                assert_eq!(s, status)
            }
            (other, _) => panic!("{status}: unexpected {other:?}"),
        }
    }
}

#[test]
fn a_run_task_failure_is_linked_to_its_task_and_execution() {
    let a = alert_of("sfn_execution-failed-runtask-sync");
    assert_eq!(a.kind, AlertKind::SfnExecution);
    assert_eq!(
        a.title,
        "Step Functions execution failed: manifest-pipeline (manifest-pipeline-v3-Manifest exited 2)"
    );
    assert_eq!(
        a.cluster.as_deref(),
        Some("marble-app-infrastructure-Cluster")
    );
    let task = a.task.as_ref().expect("task");
    assert_eq!(task.id, "5c704c7e4f1348f3969072b112bdaaf0");
    assert_eq!(task.stop_code.as_deref(), Some("EssentialContainerExited"));
    assert_eq!(task.containers[0].exit_code, Some(2));
    assert_eq!(
        a.links.task_logs.as_deref(),
        Some(
            "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/marble-app-infrastructure-Cluster/tasks/5c704c7e4f1348f3969072b112bdaaf0/logs?region=us-east-1"
        )
    );
    assert_eq!(
        a.links.execution.as_deref(),
        Some(
            "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn:aws:states:us-east-1:333680067100:execution:manifest-pipeline:run-2019-09-17T13-42"
        )
    );
    assert_eq!(a.links.service, None);
    let execution = a.execution.as_ref().expect("execution");
    assert_eq!(execution.status.as_deref(), Some("FAILED"));
    assert_eq!(execution.error.as_deref(), Some("States.TaskFailed"));
    // The summary shows the task's facts instead of the raw JSON cause.
    assert!(!a.summary.contains("{\""), "{}", a.summary);
    assert!(
        a.summary
            .contains("Failed containers: manifest-pipeline-v3-Manifest (exit 2)")
    );
}

#[test]
fn the_seed_catch_output_links_the_page_the_blog_post_built_by_hand() {
    let a = alert_of("sfn_execution-catch-seed003");
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!(
        a.title,
        "Step Functions task failed: sample (sample exited 1)"
    );
    assert_eq!(
        a.links.task_logs.as_deref(),
        Some(
            "https://ap-northeast-1.console.aws.amazon.com/ecs/v2/clusters/sample/tasks/7446f4e4ff8441eabc8919fe51d8cac5/logs?region=ap-northeast-1"
        )
    );
    assert_eq!(
        a.links.execution, None,
        "a Catch output does not name its execution"
    );
    assert_eq!(
        a.dedup_key,
        "sfn_execution:task:arn:aws:ecs:ap-northeast-1:000000000000:task/sample/7446f4e4ff8441eabc8919fe51d8cac5"
    );
    assert_eq!(a.time, "2024-05-08T06:52:24.686Z");
    assert_eq!(
        alert_of("sfn_execution-catch-seed003-parsed-cause").dedup_key,
        a.dedup_key
    );
}

#[test]
fn catch_outputs_without_a_task() {
    let timeout = alert_of("sfn_execution-catch-timeout");
    assert_eq!(
        timeout.title,
        "Step Functions state timed out: States.Timeout"
    );
    let lambda = alert_of("sfn_execution-catch-lambda-error");
    // The Lambda service's "Returned payload" is read: the function timed out.
    assert_eq!(
        lambda.title,
        "Step Functions state failed: Lambda function timed out after 3.00 s"
    );
    assert!(
        lambda.summary.contains("Timed out after: 3.00 s"),
        "{}",
        lambda.summary
    );
    assert!(!lambda.summary.contains("Returned payload"));
    assert!(lambda.dedup_key.starts_with("sfn_execution:event:"));
    assert_eq!(lambda.links, failwatch_core::Links::default());
}

#[test]
fn a_redriven_execution_that_fails_again_is_a_new_failure() {
    let first = alert_of("sfn_execution-failed-error-cause");
    let mut v = fixture_value("sfn_execution-failed-error-cause");
    v["detail"]["redriveCount"] = json!(1);
    let Decision::Alert(again) = classify_value(&v) else {
        panic!("alert")
    };
    assert_ne!(first.dedup_key, again.dedup_key);
    assert_eq!(first.group_key, again.group_key);
}

#[test]
fn links_use_the_console_of_each_partition() {
    let cn = alert_of("ecs_task-aws-cn");
    assert_eq!(cn.partition, "aws-cn");
    for link in [&cn.links.task, &cn.links.task_logs, &cn.links.service] {
        let link = link.as_deref().expect("link");
        assert!(
            link.starts_with("https://cn-north-1.console.amazonaws.cn/ecs/v2/clusters/payments/"),
            "{link}"
        );
        assert!(link.ends_with("?region=cn-north-1"), "{link}");
    }
    let gov = alert_of("ecs_task-aws-us-gov");
    assert!(gov.links.task.as_deref().expect("link").starts_with(
        "https://us-gov-west-1.console.amazonaws-us-gov.com/ecs/v2/clusters/payments/tasks/"
    ));
    let sfn = alert_of("sfn_execution-failed-aws-us-gov");
    assert_eq!(
        sfn.links.execution.as_deref(),
        Some(
            "https://us-gov-west-1.console.amazonaws-us-gov.com/states/home?region=us-gov-west-1#/v2/executions/details/arn:aws-us-gov:states:us-gov-west-1:310987654321:execution:billing-close:close-2026-11"
        )
    );
    let aws = alert_of("ecs_task-essential-container-exit254");
    assert_eq!(
        aws.links.task.as_deref(),
        Some(
            "https://eu-central-1.console.aws.amazon.com/ecs/v2/clusters/scc-events-cluster/tasks/4ca7a4f90c6342e286b4e8bec7d9e4b6/configuration?region=eu-central-1"
        )
    );
    assert_eq!(
        aws.links.service.as_deref(),
        Some(
            "https://eu-central-1.console.aws.amazon.com/ecs/v2/clusters/scc-events-cluster/services/scc-cloud-connector/health?region=eu-central-1"
        )
    );
}

#[test]
fn odd_names_are_percent_encoded_in_links() {
    let a = alert_of("ecs_task-unicode");
    assert_eq!(
        a.links.service.as_deref(),
        Some(
            "https://eu-central-1.console.aws.amazon.com/ecs/v2/clusters/%ED%94%84%EB%A1%9C%EB%8D%95%EC%85%98/services/%E6%B1%BA%E6%B8%88-api/health?region=eu-central-1"
        )
    );
    let injected = alert_of("ecs_task-mention-injection");
    let service = injected.links.service.expect("link");
    assert!(
        service.contains("/services/payments-api%3C%21channel%3E/health"),
        "{service}"
    );
}

#[test]
fn a_region_that_is_not_a_region_gets_no_links() {
    let mut v = fixture_value("ecs_task-essential-container-exit254");
    v["region"] = json!("evil.example/x?");
    let Decision::Alert(a) = classify_value(&v) else {
        panic!("alert")
    };
    assert_eq!(a.links, failwatch_core::Links::default());
    let mut v = fixture_value("ecs_task-essential-container-exit254");
    v["detail"]["taskArn"] = json!("arn:aws-iso:ecs:us-iso-east-1:1:task/c/abc");
    v.as_object_mut().expect("object").remove("region");
    let Decision::Alert(a) = classify_value(&v) else {
        panic!("alert")
    };
    assert_eq!(a.partition, "aws-iso");
    assert_eq!(
        a.links.task, None,
        "no guessed console for partitions without a public one"
    );
}

#[test]
fn workload_text_is_passed_through_unescaped_for_the_renderers() {
    // Escaping is the renderers' job; the alert keeps AWS's words exactly.
    let a = alert_of("ecs_task-mention-injection");
    assert!(
        a.summary
            .contains("<!channel> <!here> <users/all> @everyone")
    );
    assert!(
        a.task
            .expect("task")
            .stopped_reason
            .expect("reason")
            .contains("[click me](https://evil.example/login)")
    );
    let huge = alert_of("ecs_task-huge-reason-20kb");
    assert!(
        huge.task
            .expect("task")
            .stopped_reason
            .expect("reason")
            .len()
            > 20_000
    );
}

#[test]
fn silent_reasons_have_distinct_codes_and_say_why() {
    let reasons = [
        silent_of("ecs_task-running"),
        silent_of("ecs_task-exit0-finished-job"),
        silent_of("ecs_task-scale-in"),
        silent_of("ecs_task-user-initiated"),
        silent_of("ecs_deployment-completed"),
        silent_of("ecs_service-steady-state"),
        silent_of("sfn_execution-succeeded"),
        silent_of("unhandled-ecs-container-instance-state-change"),
    ];
    let mut codes: Vec<&str> = reasons.iter().map(SilentReason::code).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), reasons.len());
    assert_eq!(
        reasons[0].to_string(),
        "ECS task not stopped yet (lastStatus RUNNING)"
    );
    assert_eq!(
        reasons[1].to_string(),
        "ECS task stopped and every container exited 0"
    );
    assert_eq!(
        reasons[4].to_string(),
        "ECS deployment event SERVICE_DEPLOYMENT_COMPLETED is not a failure"
    );
    assert_eq!(
        reasons[6].to_string(),
        "Step Functions execution is SUCCEEDED, not a failure"
    );
    assert!(
        reasons[7]
            .to_string()
            .contains("ECS Container Instance State Change"),
        "{}",
        reasons[7]
    );
}

#[test]
fn unhandled_events_are_silent_and_kindless() {
    let event = fixtures::event("unhandled-ecs-container-instance-state-change");
    assert!(matches!(event, Event::Unhandled(_)));
    assert_eq!(event.kind(), None);
    assert!(matches!(
        classify(&event),
        Decision::Silent(SilentReason::Unhandled { .. })
    ));
}

/// (stop code, stoppedReason, container reason, exit code, expected class)
type WordingCase = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<i64>,
    &'static str,
);

#[test]
fn failure_classes_are_recognised_from_the_wording_aws_uses() {
    let cases: &[WordingCase] = &[
        (
            "EssentialContainerExited",
            "Essential container in task exited",
            Some("OutOfMemoryError: Container killed due to memory usage"),
            Some(137),
            "out_of_memory",
        ),
        (
            "EssentialContainerExited",
            "OutOfMemoryError: Container killed due to memory usage",
            None,
            None,
            "out_of_memory",
        ),
        (
            "TaskFailedToStart",
            "CannotPullContainerError: Error response from daemon: pull access denied for private/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
            None,
            None,
            "image_access_denied",
        ),
        (
            "TaskFailedToStart",
            "CannotPullContainerError: ref pull has been retried 1 time(s): failed to copy: httpReadSeeker: failed open: unexpected status code https://1.dkr.ecr.us-east-1.amazonaws.com/v2/app/manifests/sha256:abc: 403 Forbidden",
            None,
            None,
            "image_access_denied",
        ),
        (
            "TaskFailedToStart",
            "CannotPullContainerError: Error response from daemon: manifest for 1.dkr.ecr.us-east-1.amazonaws.com/app:v9 not found: manifest unknown: Requested image not found",
            None,
            None,
            "image_not_found",
        ),
        (
            "TaskFailedToStart",
            "CannotPullContainerError: Error response from daemon: Get https://1.dkr.ecr.us-east-1.amazonaws.com/v2/: net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)",
            None,
            None,
            "registry_unreachable",
        ),
        (
            "TaskFailedToStart",
            "CannotPullContainerError: failed to extract layer: no space left on device",
            None,
            None,
            "image_pull",
        ),
        (
            "TaskFailedToStart",
            "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: service call has been retried 5 time(s): InvalidParameters: invalid parameter",
            None,
            None,
            "secrets_retrieval",
        ),
        (
            "TaskFailedToStart",
            "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 5 time(s): failed to fetch secret arn:aws:secretsmanager:us-east-1:1:secret:db from secrets manager: RequestCanceled: request context canceled caused by: context deadline exceeded",
            None,
            None,
            "secrets_retrieval",
        ),
        (
            "TaskFailedToStart",
            "ResourceInitializationError: failed to validate logger args: The task cannot find the Amazon CloudWatch log group defined in the task definition. There is a connection issue between the task and Amazon CloudWatch.",
            None,
            None,
            "logging_driver",
        ),
        (
            "TaskFailedToStart",
            "CannotStartContainerError: Error response from daemon: failed to initialize logging driver: failed to create Cloudwatch log stream: AccessDeniedException",
            None,
            None,
            "logging_driver",
        ),
        (
            "TaskFailedToStart",
            "Task failed to start",
            Some(
                "CannotStartContainerError: Error response from daemon: OCI runtime create failed",
            ),
            None,
            "cannot_start_container",
        ),
        (
            "EssentialContainerExited",
            "Essential container in task exited",
            None,
            Some(139),
            "segfault",
        ),
        (
            "EssentialContainerExited",
            "Essential container in task exited",
            None,
            Some(137),
            "killed",
        ),
        (
            "EssentialContainerExited",
            "Essential container in task exited",
            None,
            Some(1),
            "exit_nonzero",
        ),
        (
            "TaskFailedToStart",
            "Task failed to start",
            None,
            None,
            "task_failed_to_start",
        ),
    ];
    for (code, reason, container_reason, exit, class) in cases {
        let mut container = json!({"name": "app"});
        if let Some(r) = container_reason {
            container["reason"] = json!(r);
        }
        if let Some(e) = exit {
            container["exitCode"] = json!(e);
        }
        let v = stopped_task(Some(code), reason, json!([container]));
        let Decision::Alert(a) = classify_value(&v) else {
            panic!("{reason}: alert")
        };
        assert_eq!(class_code(&a), *class, "{reason}");
        assert_eq!(a.severity, Severity::Critical, "{reason}");
    }
}

#[test]
fn step_functions_errors_and_causes_pick_the_class() {
    let mut v = fixture_value("sfn_execution-failed-error-cause");
    v["detail"]["error"] = json!("States.Timeout");
    v["detail"]["cause"] = json!("State 'RunTask' has timed out");
    let Decision::Alert(a) = classify_value(&v) else {
        panic!("alert")
    };
    assert_eq!(
        class_code(&a),
        "sfn_timeout",
        "a FAILED execution whose state timed out"
    );
    v["detail"]["error"] = json!("States.TaskFailed");
    v["detail"]["cause"] = json!(
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref x/y:z: not found"
    );
    let Decision::Alert(a) = classify_value(&v) else {
        panic!("alert")
    };
    // ECS classes come only from ECS texts (a task description, stopped and container reasons): a
    // free-text cause may be any service's, so it gets no ECS hint.
    assert_eq!(
        class_code(&a),
        "sfn_failed",
        "a text cause is not read like an ECS stopped reason"
    );
    assert_eq!(a.hint, None);
}

#[test]
fn error_names_sent_as_stop_codes_are_recognised() {
    // The Google Chat seed lists these as "stop codes"; its users write test messages with them.
    for (code, class) in [
        ("OutOfMemoryError", "out_of_memory"),
        ("CannotPullContainerError", "image_pull"),
        ("CannotStartContainerError", "cannot_start_container"),
        ("InternalError", "other"),
    ] {
        let mut v: Value =
            serde_json::from_str(&fixtures::load("ecs_task-seed000-test-message")).expect("JSON");
        v["detail"]["stopCode"] = json!(code);
        let Decision::Alert(a) = classify_value(&v) else {
            panic!("{code}: alert")
        };
        assert_eq!(a.severity, Severity::Critical, "{code}");
        assert_eq!(class_code(&a), class, "{code}");
    }
}

#[test]
fn sidecars_stopped_by_ecs_after_the_essential_container_exited_are_not_failures() {
    let exited = "Essential container in task exited";
    // A batch job that finished, with a log router ECS then stopped with SIGTERM.
    let job = stopped_task(
        Some("EssentialContainerExited"),
        exited,
        json!([{"name": "job", "exitCode": 0}, {"name": "log-router", "exitCode": 143}]),
    );
    assert!(matches!(
        classify_value(&job),
        Decision::Silent(SilentReason::ExitedCleanly)
    ));
    // The app failed; the sidecar's 143 is a consequence and is not listed.
    let failed = stopped_task(
        Some("EssentialContainerExited"),
        exited,
        json!([{"name": "app", "exitCode": 1}, {"name": "log-router", "exitCode": 143}]),
    );
    let Decision::Alert(a) = classify_value(&failed) else {
        panic!("alert")
    };
    assert!(
        a.summary.contains("Failed containers: app (exit 1)\n"),
        "{}",
        a.summary
    );
    assert_eq!(
        a.task.expect("task").containers.len(),
        2,
        "the document still lists both"
    );
    // Everything got SIGTERM: something stopped the essential container too.
    let all = stopped_task(
        Some("EssentialContainerExited"),
        exited,
        json!([{"name": "app", "exitCode": 143}, {"name": "log-router", "exitCode": 143}]),
    );
    assert!(matches!(classify_value(&all), Decision::Alert(_)));
}

#[test]
fn a_custom_notification_is_a_pass_through_alert() {
    let a = alert_of("custom_notification-chatbot-step-functions-failure.json");
    assert_eq!(a.kind, AlertKind::CustomNotification);
    assert_eq!(a.title, ":x: Step Functions execution failed");
    assert!(
        a.summary
            .starts_with("Execution `run-42` of `orders` failed: States.TaskFailed\n"),
        "{}",
        a.summary.as_str()
    );
    assert!(
        a.summary
            .contains("Next steps: Open the execution in the console")
    );
    assert!(a.summary.contains("Keywords: sfn, orders"));
    assert_eq!(a.hint, None);
    assert_eq!(a.dedup_key, "custom_notification:c-0001");
    assert_eq!(a.group_key, "custom_notification:orders-run-42");
    assert_eq!(
        a.links.related,
        [
            "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn:aws:states:us-east-1:123456789012:execution:orders:run-42"
        ]
    );
    // At most three links, related resources first; nothing failwatch cannot link.
    let many = alert_of("custom_notification-related-resources.json");
    assert_eq!(many.links.related.len(), failwatch_core::Links::MAX_RELATED);
    assert!(many.links.related[0].contains("/tasks/0f1e2d3c4b5a69788796a5b4c3d2e1f0/"));
    assert!(many.links.related[1].contains("/services/orders-api/"));
    assert!(many.links.related[2].contains("#/v2/executions/details/"));
    // Markup and foreign links stay text; only the console URL becomes a link.
    let marked = alert_of("custom_notification-markdown-mentions.json");
    assert_eq!(
        marked.links.related,
        ["https://us-east-1.console.aws.amazon.com/ecs/v2/clusters?region=us-east-1"]
    );
    assert!(marked.summary.contains("<!here> @everyone"));
}

#[test]
fn custom_notifications_are_critical_unless_their_words_say_otherwise() {
    let body = |title: &str, event_type: &str| {
        json!({"version": "1.0", "source": "custom", "id": "x",
               "content": {"title": title, "description": "d"},
               "metadata": {"eventType": event_type}})
    };
    let severity = |v: Value| match classify_value(&v) {
        Decision::Alert(a) => a.severity,
        Decision::Silent(r) => panic!("silent: {r}"),
    };
    for (title, event_type, expected) in [
        ("Deploy finished", "Deploy", Severity::Critical),
        ("Deploy succeeded", "Deploy", Severity::Warning),
        ("✅ orders", "", Severity::Warning),
        ("orders", "OrdersRecovered", Severity::Warning),
        ("Recovered after an error", "", Severity::Critical),
        ("orders ok", "OrdersFailure", Severity::Critical),
        ("Disk warning", "", Severity::Warning),
    ] {
        assert_eq!(
            severity(body(title, event_type)),
            expected,
            "{title:?} / {event_type:?}"
        );
    }
}

#[test]
fn a_custom_notification_without_an_id_is_keyed_on_its_content() {
    let v = json!({"version": "1.0", "source": "custom", "content": {"description": "disk full"}});
    let key = |v: &Value| match classify_value(v) {
        Decision::Alert(a) => a.dedup_key,
        Decision::Silent(r) => panic!("silent: {r}"),
    };
    let first = key(&v);
    assert!(first.starts_with("custom_notification:content:"), "{first}");
    // Another delivery of the same notification (here through SNS) is the same alert ...
    let wrapped = json!({"Type": "Notification", "MessageId": "m-2", "Message": v.to_string()});
    assert_eq!(key(&wrapped), first);
    // ... and another notification is not.
    let mut other = v.clone();
    other["content"]["description"] = json!("disk almost full");
    assert_ne!(key(&other), first);
}

/// The faults issue 10 found in real-world inputs, each pinned to its right value.
mod real_world {
    use super::*;

    #[test]
    fn a_lambda_error_never_gets_an_ecs_hint() {
        for name in [
            "sfn_execution-rw20-failed-lambda-log-group-missing",
            "sfn_execution-catch-lambda-java-oom",
            "sfn_execution-batch-out-of-memory",
        ] {
            let a = alert_of(name);
            let hint = a.hint.as_deref().unwrap_or_default();
            assert!(
                !hint.contains("task definition") && !hint.contains("awslogs"),
                "{name}: {hint}"
            );
            assert!(!a.title.contains("logging setup"), "{name}: {}", a.title);
        }
        let java = alert_of("sfn_execution-catch-lambda-java-oom");
        assert!(
            java.hint
                .as_deref()
                .unwrap_or_default()
                .contains("MemorySize")
        );
    }

    #[test]
    fn batch_jobs_are_read_and_linked_with_the_region_from_their_arns() {
        let a = alert_of("sfn_execution-rw09-catch-batch-submitjob-exit1");
        assert_eq!(
            a.title,
            "Step Functions state failed: Batch job LandsatAcJob exited 1"
        );
        assert_eq!(a.region.as_deref(), Some("us-west-2"));
        assert!(
            a.summary.contains("Job queue: landsat-queue"),
            "{}",
            a.summary
        );
        assert!(a.summary.contains("Exit code: 1"), "{}", a.summary);
        assert!(a.summary.contains("Attempts: 1 of 1"), "{}", a.summary);
        assert!(!a.summary.contains("hunter2"), "{}", a.summary);
        assert_eq!(
            a.links.batch_job.as_deref(),
            Some(
                "https://us-west-2.console.aws.amazon.com/batch/home?region=us-west-2#jobs/detail/5ce9a71e-2f18-4dd1-b9ac-9d3618774d3f"
            )
        );
        assert!(
            a.links
                .batch_job_logs
                .as_deref()
                .is_some_and(|l| l.contains(
                    "$252Faws$252Fbatch$252Fjob/log-events/landsat-ac-job$252Fdefault$252F7c7c"
                ))
        );
    }

    #[test]
    fn a_nested_execution_links_the_child_and_says_what_failed_in_it() {
        let a = alert_of("sfn_execution-rw12-catch-nested-startexecution");
        assert!(
            a.title.contains("child ExtractLoad-child failed"),
            "{}",
            a.title
        );
        assert!(a.title.contains("timed out after 600.15 s"), "{}", a.title);
        assert!(a.links.child_execution.as_deref().is_some_and(|l| {
            l.ends_with("execution:ExtractLoad-child:3f0e9d8c-7b6a-4c5d-9e8f-0a1b2c3d4e5f")
        }));
        assert!(
            !a.summary.contains("\\\""),
            "no escaped JSON: {}",
            a.summary
        );
    }

    #[test]
    fn a_cause_cut_at_32k_is_salvaged_and_marked() {
        let a = alert_of("sfn_execution-rw14-failed-runtask-cause-truncated-32k");
        assert!(a.title.contains("report exited 2"), "{}", a.title);
        assert!(a.summary.contains("Cluster: reports"), "{}", a.summary);
        assert!(
            a.summary.contains("cause truncated by Step Functions"),
            "{}",
            a.summary
        );
        assert!(a.links.task_logs.is_some());
        // No payload, the generic webhook's document included, carries the secret.
        for target in failwatch_core::Target::ALL {
            let payload = failwatch_core::render(&a, target, &Default::default());
            assert!(!payload.contains("sk_live_"), "{target}");
        }
        // Chat payloads show the salvaged facts, never the cause itself.
        for target in failwatch_core::Target::ALL.into_iter().skip(1) {
            let payload = failwatch_core::render(&a, target, &Default::default());
            assert!(!payload.contains("STRIPE_SECRET_KEY"), "{target}");
            assert!(
                !payload.contains("FEATURE_FLAG_"),
                "{target}: raw cause posted"
            );
        }
    }

    #[test]
    fn ecs_wording_fits_what_happened() {
        let inspect = alert_of("ecs_task-rw06-cannotinspect-no-exitcode");
        assert!(
            inspect
                .summary
                .contains("tiler (no exit code: CannotInspectContainerError"),
            "{}",
            inspect.summary
        );
        let on_demand = alert_of("ecs_task-termination-notice-on-demand");
        assert!(!on_demand.title.contains("Spot"), "{}", on_demand.title);
        let rate = alert_of("ecs_task-rw04-pull-dockerhub-ratelimit");
        assert!(
            rate.hint
                .as_deref()
                .is_some_and(|h| h.contains("pull-through cache"))
        );
        let short = alert_of("ecs_task-rw07-gpu-fast-job-taskfailedtostart-exit0");
        assert_eq!(short.severity, Severity::Warning);
        assert!(
            short
                .hint
                .as_deref()
                .is_some_and(|h| h.contains("exited 0"))
        );
    }

    #[test]
    fn a_states_runtime_cause_does_not_quote_the_state_input() {
        let a = alert_of("sfn_execution-states-runtime");
        assert!(
            a.summary.contains("in the input (not shown)"),
            "{}",
            a.summary
        );
        for target in failwatch_core::Target::ALL.into_iter().skip(1) {
            let payload = failwatch_core::render(&a, target, &Default::default());
            assert!(!payload.contains("jane@example.com"), "{target}");
        }
    }

    #[test]
    fn unknown_json_causes_are_readable_fields() {
        let a = alert_of("sfn_execution-unknown-json-cause");
        assert!(
            a.summary
                .contains("Cause: code: SYNC_409; message: Upstream refused the batch"),
            "{}",
            a.summary
        );
        assert!(!a.summary.contains('{'), "{}", a.summary);
    }
}

#[test]
fn ignored_reasons_never_quote_values_that_are_not_statuses() {
    const SECRET: &str = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789";
    let reasons = [
        SilentReason::ExecutionOk {
            status: SECRET.into(),
        },
        SilentReason::TaskNotStopped {
            last_status: SECRET.into(),
        },
        SilentReason::DeploymentOk {
            event_name: SECRET.into(),
        },
        SilentReason::ServiceInfo {
            event_type: SECRET.into(),
            event_name: Some(SECRET.into()),
        },
        SilentReason::ServiceScaling {
            reason: format!("Scaling activity initiated by {SECRET}"),
        },
        SilentReason::SchedulerStop {
            reason: Some(format!("token={SECRET}")),
        },
        SilentReason::Unhandled {
            source: Some(SECRET.into()),
            detail_type: Some(SECRET.into()),
        },
    ];
    for reason in reasons {
        let text = reason.to_string();
        assert!(!text.contains("ghp_"), "{text}");
    }
    assert_eq!(
        SilentReason::ExecutionOk {
            status: "lower case".into()
        }
        .to_string(),
        "Step Functions execution is (not a known status; not shown), not a failure"
    );
    assert_eq!(
        SilentReason::ExecutionOk {
            status: "PENDING_REDRIVE".into()
        }
        .to_string(),
        "Step Functions execution is PENDING_REDRIVE, not a failure"
    );
}
