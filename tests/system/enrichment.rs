//! Enrichment end to end: the worker looks up a failed container's log tail, a failed execution's state
//! and the resource's tags in the emulator (moto serves ECS task definitions and services, CloudWatch
//! Logs, Step Functions histories and STS for a cross-account role), routes by tag, and delivers on time
//! without what it could not find: a missing stream, an access-denied answer, an endpoint slower than
//! the budget. `render --enrich` makes the same lookups. A failed Batch job's stream and a failed
//! Lambda invocation's lines come from moto's CloudWatch Logs too: moto's FilterLogEvents matches a
//! quoted filter pattern as a substring, as CloudWatch does, but ignores `startFromHead=false` (it
//! answers oldest first), so the Lambda case has fewer matching lines than the limit; the execution
//! history naming the function comes from a stand-in, since moto's is canned.

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{ContainerDefinition, LogConfiguration, LogDriver, Tag};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::support::emulator::{ACCOUNT, Emulator, REGION};
use crate::support::events::{failed_execution, failed_task, task_id};
use crate::support::{Scenario, failwatch, metric};

const LIMIT: Duration = Duration::from_secs(45);
const CLUSTER: &str = "prod-payments";
const SERVICE: &str = "payments-api";
const GROUP: &str = "/ecs/payments-api";

fn aws_config(emulator: &Emulator) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(emulator.endpoint())
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("test", "test", None, None, "system-tests"),
            ),
        )
        .build()
}

/// Registers task definition `family` (revision 1) with container `api` logging through `driver`.
async fn register(ecs: &aws_sdk_ecs::Client, family: &str, driver: LogDriver) {
    let logging = LogConfiguration::builder()
        .log_driver(driver)
        .options("awslogs-group", GROUP)
        .options("awslogs-region", REGION)
        .options("awslogs-stream-prefix", "ecs")
        .build()
        .expect("log configuration");
    ecs.register_task_definition()
        .family(family)
        .container_definitions(
            ContainerDefinition::builder()
                .name("api")
                .image("payments-api:1.4.2")
                .memory(512)
                .log_configuration(logging)
                .build(),
        )
        .send()
        .await
        .expect("RegisterTaskDefinition");
}

/// The cluster, the service tagged `team=payments`, and task definitions `payments-api` (awslogs) and
/// `payments-firelens` (FireLens).
async fn ecs_resources(emulator: &Emulator) {
    let ecs = aws_sdk_ecs::Client::new(&aws_config(emulator));
    ecs.create_cluster()
        .cluster_name(CLUSTER)
        .send()
        .await
        .expect("CreateCluster");
    register(&ecs, SERVICE, LogDriver::Awslogs).await;
    register(&ecs, "payments-firelens", LogDriver::Awsfirelens).await;
    ecs.create_service()
        .cluster(CLUSTER)
        .service_name(SERVICE)
        .task_definition(format!("{SERVICE}:1"))
        .desired_count(0)
        .tags(Tag::builder().key("team").value("payments").build())
        .send()
        .await
        .expect("CreateService");
}

/// The stream of task `task`'s container `api`, holding `count` lines, oldest first.
async fn log_lines(emulator: &Emulator, task: &str, count: usize) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&aws_config(emulator));
    let _ = logs.create_log_group().log_group_name(GROUP).send().await;
    let stream = format!("ecs/api/{task}");
    logs.create_log_stream()
        .log_group_name(GROUP)
        .log_stream_name(&stream)
        .send()
        .await
        .expect("CreateLogStream");
    // CloudWatch Logs refuses events older than 14 days; these are from the last minute.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    let start = i64::try_from(now.as_millis()).expect("ms fit") - 60_000;
    let events: Vec<_> = (1..=count)
        .map(|n| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(start + i64::try_from(n).expect("small"))
                .message(format!("line {n:02}: ünïcode ✓"))
                .build()
                .expect("log event")
        })
        .collect();
    logs.put_log_events()
        .log_group_name(GROUP)
        .log_stream_name(&stream)
        .set_log_events(Some(events))
        .send()
        .await
        .expect("PutLogEvents");
}

/// A failed task event of task definition `family:1`.
fn task_body(task: &str, family: &str) -> String {
    let mut event = failed_task(task);
    event.detail["taskDefinitionArn"] = json!(format!(
        "arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:1"
    ));
    event.sqs_body(&format!("event-{task}"))
}

/// `failwatch_enrichment_total{source,result}` in an exposition.
fn enrichments(metrics: &str, source: &str, result: &str) -> f64 {
    metric(
        metrics,
        "failwatch_enrichment_total",
        &[("source", source), ("result", result)],
    )
}

/// The alert document about `task` (or execution `name`) among the webhook posts.
fn document(scenario: &Scenario, subject: &str) -> Value {
    scenario
        .receiver
        .accepted("webhook")
        .into_iter()
        .map(|r| r.body)
        .find(|body| {
            body["task"]["id"].as_str() == Some(subject)
                || body["execution"]["name"].as_str() == Some(subject)
        })
        .unwrap_or_else(|| panic!("no webhook alert about {subject}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_task_carries_its_last_20_log_lines_and_its_services_tags() {
    let mut scenario = Scenario::new("enrich-logs", 3).await;
    ecs_resources(&scenario.emulator).await;
    let (logged, missing, firelens) = (task_id(40, 1), task_id(40, 2), task_id(40, 3));
    log_lines(&scenario.emulator, &logged, 50).await;
    let mut config = scenario.config(&["webhook"]);
    config.enrichment = true;
    scenario.start(&config).await;

    let bodies = [
        task_body(&logged, SERVICE),
        task_body(&missing, SERVICE),
        task_body(&firelens, "payments-firelens"),
    ];
    scenario
        .emulator
        .send_bodies(&scenario.pipeline.queue_url, &bodies)
        .await;
    scenario.receiver.wait_requests(3, LIMIT).await;
    scenario.receiver.assert_payloads_valid();

    let alert = document(&scenario, &logged);
    let api = &alert["task"]["containers"][0];
    let want: Vec<String> = (31..=50)
        .map(|n| format!("line {n:02}: ünïcode ✓"))
        .collect();
    assert_eq!(api["log_tail"], json!(want), "the newest 20, oldest first");
    let link = api["log_link"].as_str().expect("a log stream link");
    assert!(
        link.contains("$252Fecs$252Fpayments-api/log-events/ecs$252Fapi$252F"),
        "{link}"
    );
    assert_eq!(api["log_driver"], Value::Null);
    assert_eq!(alert["tags"], json!({"team": "payments"}));

    let alert = document(&scenario, &missing);
    assert_eq!(alert["task"]["containers"][0]["log_tail"], Value::Null);
    assert_eq!(
        alert["tags"],
        json!({"team": "payments"}),
        "tags still found"
    );

    let alert = document(&scenario, &firelens);
    let api = &alert["task"]["containers"][0];
    assert_eq!(api["log_tail"], Value::Null);
    assert_eq!(api["log_driver"], "awsfirelens");

    let finished = scenario.stop_worker().await;
    let count = |source: &str, result: &str| enrichments(&finished.metrics, source, result);
    assert_eq!(
        count("log_tail", "ok"),
        2.0,
        "the stream and the FireLens driver"
    );
    assert_eq!(count("log_tail", "error"), 1.0, "the missing stream");
    assert_eq!(count("tags", "ok"), 3.0);
    assert!(
        finished
            .logs
            .iter()
            .any(|l| l.contains("enrichment lookup failed") && l.contains("GetLogEvents")),
        "the missing stream is logged"
    );

    // `render --enrich` makes the same lookups; without the flag it stays offline.
    let endpoint = scenario.emulator.endpoint().to_owned();
    let body = bodies[0].clone();
    let (offline, enriched) = tokio::task::spawn_blocking(move || {
        let env = [
            ("AWS_ENDPOINT_URL_ECS", endpoint.as_str()),
            ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", endpoint.as_str()),
            ("AWS_ENDPOINT_URL_SFN", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", REGION),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ];
        (
            failwatch(&["render"], &body, &env),
            failwatch(&["render", "--enrich"], &body, &env),
        )
    })
    .await
    .expect("render");
    let document = |output: &std::process::Output| -> Value {
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice(&output.stdout).expect("one JSON document")
    };
    let offline = document(&offline);
    assert_eq!(offline["task"]["containers"][0]["log_tail"], Value::Null);
    assert_eq!(offline["tags"], Value::Null);
    let enriched = document(&enriched);
    assert_eq!(enriched["task"]["containers"][0]["log_tail"], json!(want));
    assert_eq!(enriched["tags"], json!({"team": "payments"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_execution_names_its_failed_state_and_routes_by_tag_with_an_assumed_role() {
    // moto answers GetExecutionHistory with a canned failed history: a Fail state "A State".
    let mut scenario =
        Scenario::new_with_env("enrich-sfn", 3, &[("SF_EXECUTION_HISTORY_TYPE", "FAILURE")]).await;
    ecs_resources(&scenario.emulator).await;
    let sfn = aws_sdk_sfn::Client::new(&aws_config(&scenario.emulator));
    let machine = sfn
        .create_state_machine()
        .name("nightly-etl")
        .definition(r#"{"StartAt":"A State","States":{"A State":{"Type":"Fail"}}}"#)
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/sfn"))
        .tags(
            aws_sdk_sfn::types::Tag::builder()
                .key("team")
                .value("data")
                .build(),
        )
        .send()
        .await
        .expect("CreateStateMachine");
    sfn.start_execution()
        .state_machine_arn(machine.state_machine_arn())
        .name("nightly-41")
        .send()
        .await
        .expect("StartExecution");

    let mut config = scenario.config(&["webhook", "slack"]);
    config.enrichment = true;
    config.extra = "[[routes]]\nname = \"payments\"\ndestinations = [\"slack\"]\n\
                    [routes.match]\ntags.team = \"pay*\"\n\n\
                    [default_route]\ndestinations = [\"webhook\"]\n\n\
                    [[enrichment.accounts]]\naccount = \"123456789012\"\n\
                    role_arn = \"arn:aws:iam::123456789012:role/failwatch-read\"\n"
        .to_owned();
    scenario.start(&config).await;
    let task = task_id(41, 1);
    scenario
        .emulator
        .send_bodies(
            &scenario.pipeline.queue_url,
            &[
                task_body(&task, SERVICE),
                failed_execution("nightly-41").sqs_body("event-nightly-41"),
            ],
        )
        .await;
    scenario.receiver.wait_requests(2, LIMIT).await;
    scenario.receiver.assert_payloads_valid();

    let slack = scenario.receiver.accepted("slack");
    assert_eq!(
        slack.len(),
        1,
        "the payments task goes to the payments route"
    );
    assert!(slack[0].body.to_string().contains(&task));
    let alert = document(&scenario, "nightly-41");
    assert_eq!(
        alert["execution"]["failed_state"],
        json!({"name": "A State", "type": "Fail", "resource": null})
    );
    assert_eq!(alert["tags"], json!({"team": "data"}), "the default route");
    assert_eq!(scenario.receiver.accepted("webhook").len(), 1);
    let finished = scenario.stop_worker().await;
    assert_eq!(enrichments(&finished.metrics, "failed_state", "ok"), 1.0);
    // The lookups ran with the account's role: moto remembers the session failwatch assumed it as.
    let state = reqwest::get(format!(
        "{}/moto-api/data.json",
        scenario.emulator.endpoint()
    ))
    .await
    .expect("moto state")
    .text()
    .await
    .expect("moto state text");
    assert!(
        state.contains("failwatch-enrichment"),
        "no AssumeRole session"
    );
}

/// Serves `router` on a loopback port; its base URL.
async fn stand_in(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the stand-in");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// An AWS API stand-in: `DescribeTaskDefinition` never answers in time, every other call is denied.
async fn unhelpful_aws() -> String {
    async fn answer(headers: HeaderMap) -> (StatusCode, HeaderMap, String) {
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if target.ends_with("DescribeTaskDefinition") {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        let mut reply = HeaderMap::new();
        reply.insert(
            "x-amzn-errortype",
            "AccessDeniedException".parse().expect("header"),
        );
        reply.insert(
            "content-type",
            "application/x-amz-json-1.1".parse().expect("header"),
        );
        let body = json!({"__type": "AccessDeniedException", "message": "not authorized"});
        (StatusCode::BAD_REQUEST, reply, body.to_string())
    }
    stand_in(axum::Router::new().fallback(answer)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_or_denied_lookup_never_delays_the_alert_past_the_budget() {
    let mut scenario = Scenario::new("enrich-slow", 3).await;
    let aws = unhelpful_aws().await;
    let mut config = scenario.config(&["webhook"]);
    config.enrichment = true;
    config.extra = "[enrichment]\nbudget = \"1s\"\n".to_owned();
    let worker = crate::support::worker::Worker::spawn_with_env(
        &scenario.emulator,
        &config,
        &[
            ("AWS_ENDPOINT_URL_ECS", Some(&aws)),
            ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", Some(&aws)),
            ("AWS_ENDPOINT_URL_SFN", Some(&aws)),
        ],
    );
    let mut worker = worker;
    worker.wait_ready(Duration::from_secs(20)).await;
    scenario.worker = Some(worker);

    let task = task_id(42, 1);
    let sent = Instant::now();
    scenario
        .emulator
        .send_bodies(
            &scenario.pipeline.queue_url,
            &[
                task_body(&task, SERVICE),
                failed_execution("nightly-42").sqs_body("event-nightly-42"),
            ],
        )
        .await;
    scenario.receiver.wait_requests(2, LIMIT).await;
    let took = scenario
        .receiver
        .requests()
        .iter()
        .map(|r| r.at.duration_since(sent))
        .max()
        .expect("two requests");
    // The budget (1 s) plus a poll and a delivery; the slow call alone would take 30 s.
    assert!(took < Duration::from_secs(6), "alerts took {took:?}");
    let alert = document(&scenario, &task);
    assert_eq!(alert["task"]["containers"][0]["log_tail"], Value::Null);
    assert_eq!(alert["tags"], Value::Null);
    let alert = document(&scenario, "nightly-42");
    assert_eq!(alert["execution"]["failed_state"], Value::Null);

    let finished = scenario.stop_worker().await;
    let count = |source: &str, result: &str| enrichments(&finished.metrics, source, result);
    assert_eq!(count("log_tail", "timeout"), 1.0);
    assert_eq!(count("failed_state", "error"), 1.0, "access denied");
    assert_eq!(count("tags", "error"), 2.0, "access denied");
    assert!(
        finished
            .logs
            .iter()
            .any(|l| l.contains("AccessDeniedException: not authorized")),
        "the denial is logged with AWS's code and message"
    );
}

/// Puts `lines` (timestamp offset in ms from a minute ago, message) in `stream` of `group`.
async fn put_lines(emulator: &Emulator, group: &str, stream: &str, lines: &[(i64, String)]) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&aws_config(emulator));
    let _ = logs.create_log_group().log_group_name(group).send().await;
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await
        .expect("CreateLogStream");
    let start = now_ms() - 60_000;
    let events: Vec<_> = lines
        .iter()
        .map(|(offset, message)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(start + offset)
                .message(message)
                .build()
                .expect("log event")
        })
        .collect();
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .expect("PutLogEvents");
}

fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(now.as_millis()).expect("ms fit")
}

/// A failed execution `name` of state machine `etl` with `cause`, at the current time (a Lambda
/// invocation's lines are searched for around it).
fn execution_body(name: &str, cause: &str) -> String {
    let arn = format!("arn:aws:states:{REGION}:{ACCOUNT}:execution:etl:{name}");
    let time = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a time");
    json!({
        "version": "0", "id": format!("event-{name}"), "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change", "account": ACCOUNT,
        "time": time, "region": REGION, "resources": [arn],
        "detail": {
            "executionArn": arn, "name": name, "status": "FAILED",
            "stateMachineArn": format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:etl"),
            "error": "States.TaskFailed", "cause": cause,
        },
    })
    .to_string()
}

/// A Step Functions stand-in whose every execution failed in a Lambda task of function
/// `extract-{execution name}` (moto serves only a canned history naming no function).
async fn lambda_history() -> String {
    async fn answer(body: String) -> ([(&'static str, &'static str); 1], String) {
        let request: Value = serde_json::from_str(&body).unwrap_or_default();
        let execution = request["executionArn"].as_str().unwrap_or_default();
        let name = execution.rsplit(':').next().unwrap_or_default();
        let function = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:extract-{name}");
        let events = json!([
            {"timestamp": 1.0, "type": "ExecutionFailed", "id": 6, "previousEventId": 5},
            {"timestamp": 1.0, "type": "LambdaFunctionFailed", "id": 5, "previousEventId": 4},
            {"timestamp": 1.0, "type": "LambdaFunctionStarted", "id": 4, "previousEventId": 3},
            {"timestamp": 1.0, "type": "LambdaFunctionScheduled", "id": 3, "previousEventId": 2,
             "lambdaFunctionScheduledEventDetails": {"resource": function}},
            {"timestamp": 1.0, "type": "TaskStateEntered", "id": 2, "previousEventId": 1,
             "stateEnteredEventDetails": {"name": "Extract"}},
            {"timestamp": 1.0, "type": "ExecutionStarted", "id": 1, "previousEventId": 0},
        ]);
        (
            [("content-type", "application/x-amz-json-1.0")],
            json!({"events": events}).to_string(),
        )
    }
    stand_in(axum::Router::new().fallback(answer)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_and_lambda_failures_carry_their_last_log_lines() {
    let mut scenario = Scenario::new("enrich-jobs", 3).await;
    let emulator = &scenario.emulator;
    // A Batch job that logged 30 lines, one with a secret.
    let stream = "etl-job/default/0123456789abcdef0123456789abcdef";
    let mut batch_lines: Vec<(i64, String)> = (1..=30)
        .map(|n| (n, format!("batch line {n:02} ✓")))
        .collect();
    batch_lines[25].1 = "connecting with password=hunter2-EXAMPLE".to_owned();
    put_lines(emulator, "/aws/batch/job", stream, &batch_lines).await;
    // A Lambda function's log group with the lines of two requests, interleaved.
    let (failed, other) = (
        "4d5e6f70-8192-4a3b-9c4d-5e6f70819202",
        "9a8b7c6d-0000-4a3b-9c4d-5e6f70819203",
    );
    let lambda_lines: Vec<(i64, String)> = (1..=6)
        .map(|n| {
            let id = if n % 2 == 0 { other } else { failed };
            (n, format!("2026-12-03T10:00:0{n}Z\t{id}\tINFO step {n}"))
        })
        .collect();
    put_lines(
        emulator,
        "/aws/lambda/extract-run-1",
        "2026/12/03/[$LATEST]0a1b2c3d",
        &lambda_lines,
    )
    .await;

    let history = lambda_history().await;
    let mut config = scenario.config(&["webhook"]);
    config.enrichment = true;
    let mut worker = crate::support::worker::Worker::spawn_with_env(
        &scenario.emulator,
        &config,
        &[("AWS_ENDPOINT_URL_SFN", Some(&history))],
    );
    worker.wait_ready(Duration::from_secs(20)).await;
    scenario.worker = Some(worker);

    let batch = |job_stream: &str| {
        json!({"JobId": "8a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "JobName": "nightly-etl",
               "JobQueue": format!("arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/etl"),
               "Status": "FAILED", "StatusReason": "Essential container in task exited",
               "Container": {"ExitCode": 1, "LogStreamName": job_stream}})
        .to_string()
    };
    let lambda = json!({"errorType": "Runtime.ExitError",
        "errorMessage": format!("RequestId: {failed} Error: Runtime exited with error: signal: killed")})
    .to_string();
    let bodies = [
        execution_body("batch-1", &batch(stream)),
        execution_body("batch-missing", &batch("etl-job/default/missing")),
        execution_body("run-1", &lambda),
        // Its function's log group does not exist.
        execution_body("run-2", &lambda),
    ];
    scenario
        .emulator
        .send_bodies(&scenario.pipeline.queue_url, &bodies)
        .await;
    scenario.receiver.wait_requests(4, LIMIT).await;
    scenario.receiver.assert_payloads_valid();

    let execution = |name: &str| document(&scenario, name)["execution"].clone();
    let batch = execution("batch-1");
    let tail: Vec<String> = serde_json::from_value(batch["log_tail"].clone()).expect("lines");
    assert_eq!(tail.len(), 20, "{tail:?}");
    assert_eq!(tail[0], "batch line 11 ✓", "the newest 20, oldest first");
    assert_eq!(tail[19], "batch line 30 ✓");
    assert!(tail[15].contains("[redacted]") && !tail[15].contains("hunter2"));
    assert_eq!(batch["log_source"], "batch");
    let link = batch["log_link"].as_str().expect("a stream link");
    assert!(
        link.contains("$252Faws$252Fbatch$252Fjob/log-events/etl-job$252Fdefault$252F"),
        "{link}"
    );

    let lambda = execution("run-1");
    let want: Vec<&str> = lambda_lines
        .iter()
        .filter(|(_, l)| l.contains(failed))
        .map(|(_, l)| l.as_str())
        .collect();
    assert_eq!(lambda["log_tail"], json!(want), "only the failed request's");
    assert_eq!(lambda["log_source"], "lambda");
    assert!(
        lambda["log_link"]
            .as_str()
            .is_some_and(|l| l.contains("$252Faws$252Flambda$252Fextract-run-1")),
        "{lambda}"
    );
    assert_eq!(
        lambda["failed_state"]["resource"],
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:extract-run-1")
    );

    for name in ["batch-missing", "run-2"] {
        let execution = execution(name);
        assert_eq!(execution["log_tail"], Value::Null, "{name}");
        assert_eq!(execution["log_source"], Value::Null, "{name}");
    }
    let finished = scenario.stop_worker().await;
    let count = |source: &str, result: &str| enrichments(&finished.metrics, source, result);
    assert_eq!(count("batch_logs", "ok"), 1.0);
    assert_eq!(count("batch_logs", "error"), 1.0, "the missing stream");
    assert_eq!(count("lambda_logs", "ok"), 1.0);
    assert_eq!(count("lambda_logs", "error"), 1.0, "the missing log group");
    assert_eq!(
        count("failed_state", "ok"),
        4.0,
        "every execution's history"
    );
}
