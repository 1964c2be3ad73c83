//! What the worker may look up about an alert's resources ([`Lookups`], derived from the alert alone)
//! and how what it found is added to the alert ([`Alert::enrich`]). The lookups themselves (ECS, CloudWatch
//! Logs, Step Functions, tagging) are I/O and live in the worker; this module keeps the alert document's
//! rules in the core: which containers get a log tail, which Batch stream or Lambda invocation a Step
//! Functions cause points at, how long a tail may be, and that every line is cut safely before any
//! renderer sees it.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use time::format_description::well_known::Rfc3339;

use crate::alert::{FailedState, LogSource};
use crate::kind::sfn_execution::{CauseLogs, cause_logs};
use crate::redact;
use crate::text::{Unit, cut_plain};
use crate::{Alert, AlertKind};

/// The most log lines kept per container, whatever the worker was configured to read.
pub const MAX_LOG_LINES: usize = 100;

/// The longest log line kept, in characters (UTF-16 units); a longer one is cut with a marker.
pub const MAX_LOG_LINE_CHARS: usize = 1_000;

/// How long before the alert's time a Lambda invocation's lines are searched for: a function runs for
/// at most 15 minutes, so its first line is no older than that.
pub const LAMBDA_LOOKBACK: time::Duration = time::Duration::minutes(15);
/// How long after the alert's time they are searched for: the event's time and the function's clock
/// may differ by a little, and a runtime's last lines (`END`, `REPORT`) follow the failure.
pub const LAMBDA_LOOKAHEAD: time::Duration = time::Duration::minutes(1);

/// A Lambda function ARN anywhere in a text (a cause that names the function it could not invoke).
static FUNCTION_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,140}")
        .unwrap_or_else(|err| panic!("the function ARN pattern is valid: {err}"))
});

/// What can be looked up for one alert. ARNs are built from the alert's account, region and
/// partition; each is `None` when the alert does not carry enough to build it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookups {
    /// The AWS region of the failed resources.
    pub region: Option<String>,
    /// The account that owns them (for a cross-account role).
    pub account: Option<String>,
    /// The failed ECS task's definition, `family:revision` (what `DescribeTaskDefinition` takes).
    pub task_definition: Option<String>,
    /// The failed task's id: the last part of an `awslogs` stream name.
    pub task_id: Option<String>,
    /// The containers whose logs are worth reading: those that exited non-zero or have no exit code.
    pub failed_containers: Vec<String>,
    /// The Step Functions execution ARN (for `GetExecutionHistory`).
    pub execution_arn: Option<String>,
    /// The resource whose tags describe the alert: the ECS service, else the task definition, else the
    /// state machine.
    pub tagged_resource: Option<String>,
    /// The failed Batch job's log stream (a `batch:submitJob.sync` cause), for `GetLogEvents`.
    pub batch_log: Option<BatchLogStream>,
    /// The failed Lambda invocation (a Lambda cause naming its request id), for `FilterLogEvents`.
    pub lambda_invocation: Option<LambdaInvocation>,
}

/// A Batch job container's log stream: `Container.LogStreamName` of the cause, in the job definition's
/// `awslogs-group` when its `LogConfiguration` names one, else `/aws/batch/job`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchLogStream {
    /// The log group.
    pub group: String,
    /// The log stream, e.g. `my-job-definition/default/0f1e2d3c...`.
    pub stream: String,
}

/// A failed Lambda invocation whose lines the worker searches its function's log group for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaInvocation {
    /// The request id, a UUID: every line the runtime writes for the invocation carries it.
    pub request_id: String,
    /// The function, when the cause names its ARN; otherwise the worker takes it from the failed
    /// state's resource (and without one there is no lookup).
    pub function: Option<LambdaFunction>,
    /// The search window, in milliseconds since the epoch: [`LAMBDA_LOOKBACK`] before the alert's
    /// time to [`LAMBDA_LOOKAHEAD`] after it.
    pub start_ms: i64,
    /// The window's end, in milliseconds since the epoch.
    pub end_ms: i64,
}

/// A Lambda function as a Step Functions resource or `FunctionName` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaFunction {
    /// The function's name, without a version or alias: its log group is `/aws/lambda/{name}`.
    pub name: String,
    /// The function's region, when an ARN names it (otherwise the alert's).
    pub region: Option<String>,
    /// The function's account, when an ARN names it (otherwise the alert's).
    pub account: Option<String>,
}

impl LambdaFunction {
    /// Reads a function name in any form `Invoke` accepts — `name`, `name:alias`,
    /// `123456789012:function:name` or a function ARN, with or without a version or alias — or a
    /// Step Functions Lambda resource ARN. `None` for anything else (`arn:aws:states:::lambda:invoke`).
    pub fn parse(text: &str) -> Option<LambdaFunction> {
        let parts: Vec<&str> = text.split(':').collect();
        let (name, region, account) = match parts.as_slice() {
            ["arn", _, "lambda", region, account, "function", name, ..] => {
                (*name, Some(*region), Some(*account))
            }
            [account, "function", name, ..] => (*name, None, Some(*account)),
            [name] | [name, _] => (*name, None, None),
            _ => return None,
        };
        let valid = !name.is_empty()
            && name.len() <= 140
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| LambdaFunction {
            name: name.to_owned(),
            region: region.filter(|r| !r.is_empty()).map(str::to_owned),
            account: account.filter(|a| !a.is_empty()).map(str::to_owned),
        })
    }

    /// The function's log group, `/aws/lambda/{name}` (where Lambda writes unless the function's
    /// logging configuration names another group; failwatch reads the default).
    pub fn log_group(&self) -> String {
        format!("/aws/lambda/{}", self.name)
    }
}

impl Alert {
    /// What the worker may look up for this alert.
    pub fn lookups(&self) -> Lookups {
        let task = self.task.as_ref();
        let arn_prefix = |service: &str| match (&self.region, &self.account) {
            (Some(region), Some(account)) => Some(format!(
                "arn:{}:{service}:{region}:{account}:",
                self.partition
            )),
            _ => None,
        };
        let service_arn = match (&self.cluster, &self.service) {
            (Some(cluster), Some(service)) => {
                arn_prefix("ecs").map(|p| format!("{p}service/{cluster}/{service}"))
            }
            _ => None,
        };
        let definition_arn = task
            .and_then(|t| t.definition.as_deref())
            .and_then(|d| arn_prefix("ecs").map(|p| format!("{p}task-definition/{d}")));
        let state_machine = self
            .execution
            .as_ref()
            .and_then(|e| e.state_machine.clone())
            .filter(|_| self.kind == AlertKind::SfnExecution);
        Lookups {
            region: self.region.clone(),
            account: self.account.clone(),
            task_definition: task.and_then(|t| t.definition.clone()),
            task_id: task.map(|t| t.id.clone()),
            failed_containers: task
                .map(|t| {
                    t.containers
                        .iter()
                        .filter(|c| c.exit_code != Some(0))
                        .map(|c| c.name.clone())
                        .collect()
                })
                .unwrap_or_default(),
            execution_arn: self.execution.as_ref().and_then(|e| e.arn.clone()),
            tagged_resource: service_arn.or(definition_arn).or(state_machine),
            batch_log: None,
            lambda_invocation: None,
        }
        .with_cause_logs(self)
    }

    /// Adds what the worker found, redacted like every event text (`crate::redact`): log lines are the
    /// workload's own output and print secrets as readily as its environment holds them. Log lines are
    /// kept oldest first, at most [`MAX_LOG_LINES`] (the newest), each cut to [`MAX_LOG_LINE_CHARS`]; a
    /// tail for a container the alert does not list is dropped.
    pub fn enrich(&mut self, enrichment: Enrichment) {
        if let Some(task) = self.task.as_mut() {
            for tail in enrichment.log_tails {
                let Some(container) = task
                    .containers
                    .iter_mut()
                    .find(|c| c.name == tail.container)
                else {
                    continue;
                };
                container.log_tail = tail.driver.is_none().then(|| kept_lines(&tail.lines));
                container.log_link = tail.link.map(redacted);
                container.log_driver = tail.driver.map(redacted);
            }
        }
        if let Some(execution) = self.execution.as_mut() {
            if let Some(state) = enrichment.failed_state {
                execution.failed_state = Some(FailedState {
                    name: redacted(state.name),
                    state_type: redacted(state.state_type),
                    resource: state.resource.map(redacted),
                });
            }
            if let Some(log) = enrichment.execution_log {
                execution.log_tail = Some(kept_lines(&log.lines));
                execution.log_link = log.link.map(redacted);
                execution.log_source = Some(log.source);
            }
        }
        if let Some(tags) = enrichment.tags {
            self.tags = Some(
                tags.into_iter()
                    .map(|(key, value)| {
                        // A tag named like a secret (`db_password`) hides its value whatever it
                        // looks like, as a `KEY=value` pair in any event text would.
                        let pair = format!("{key}={value}");
                        let value = match redact::text(&pair) {
                            std::borrow::Cow::Owned(_)
                                if redact::text(&value) == value.as_str() =>
                            {
                                redact::MARKER.to_owned()
                            }
                            _ => redacted(value),
                        };
                        (redacted(key), value)
                    })
                    .collect(),
            );
        }
    }
}

impl Lookups {
    /// Adds the Batch stream or Lambda invocation a Step Functions cause points at.
    fn with_cause_logs(mut self, alert: &Alert) -> Lookups {
        let Some(execution) = alert
            .execution
            .as_ref()
            .filter(|_| alert.kind == AlertKind::SfnExecution)
        else {
            return self;
        };
        let Some(cause) = execution.cause.as_deref() else {
            return self;
        };
        match cause_logs(execution.error.as_deref(), cause) {
            Some(CauseLogs::Batch { group, stream }) => {
                self.batch_log = Some(BatchLogStream { group, stream });
            }
            Some(CauseLogs::Lambda { request_id }) => {
                let Ok(at) = time::OffsetDateTime::parse(&alert.time, &Rfc3339) else {
                    return self;
                };
                let millis =
                    |t: time::OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000) as i64;
                self.lambda_invocation = Some(LambdaInvocation {
                    request_id,
                    function: FUNCTION_ARN
                        .find(cause)
                        .and_then(|arn| LambdaFunction::parse(arn.as_str())),
                    start_ms: millis(at - LAMBDA_LOOKBACK),
                    end_ms: millis(at + LAMBDA_LOOKAHEAD),
                });
            }
            None => {}
        }
        self
    }
}

/// The newest [`MAX_LOG_LINES`] of `lines`, oldest first, each redacted and cut to
/// [`MAX_LOG_LINE_CHARS`]. Redacted before the cut, so a cut cannot leave a secret's head
/// unrecognised.
fn kept_lines(lines: &[String]) -> Vec<String> {
    let skip = lines.len().saturating_sub(MAX_LOG_LINES);
    lines
        .iter()
        .skip(skip)
        .map(|line| cut_plain(&redact::text(line), MAX_LOG_LINE_CHARS, Unit::Chars).to_owned())
        .collect()
}

/// `text` with its secrets replaced, reusing the string when there were none.
fn redacted(text: String) -> String {
    match redact::text(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(clean) => clean,
    }
}

/// What the worker found out about an alert's resources; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enrichment {
    /// The log tails of failed containers, by container name.
    pub log_tails: Vec<LogTail>,
    /// The state that failed, from the execution's history.
    pub failed_state: Option<FailedState>,
    /// The failed resource's tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// The last log lines of the failed Batch job or Lambda invocation of a Step Functions execution.
    pub execution_log: Option<ExecutionLog>,
}

/// The last log lines of what failed inside a Step Functions execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionLog {
    /// Whether they are a Batch job's or a Lambda invocation's.
    pub source: LogSource,
    /// The lines, oldest first (empty when there were none).
    pub lines: Vec<String>,
    /// The console page of the log stream they came from.
    pub link: Option<String>,
}

/// The last log lines of one container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogTail {
    /// The container's name, as the alert lists it.
    pub container: String,
    /// The lines, oldest first (empty when the stream had none or could not be read).
    pub lines: Vec<String>,
    /// The log stream's console page.
    pub link: Option<String>,
    /// The log driver when it is not `awslogs`; then `lines` is ignored and the alert names the driver.
    pub driver: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decision, DecodeContext, process};

    fn alert(body: &str) -> Alert {
        let ctx = DecodeContext {
            message_id: None,
            received_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        match process(body, &ctx) {
            Ok(Decision::Alert(a)) => *a,
            other => panic!("expected an alert, got {other:?}"),
        }
    }

    const TASK: &str = r#"{"version":"0","id":"e1","detail-type":"ECS Task State Change","source":"aws.ecs",
        "account":"123456789012","time":"2026-01-01T00:00:00Z","region":"eu-west-1","resources":[],
        "detail":{"taskArn":"arn:aws:ecs:eu-west-1:123456789012:task/prod/abc123","lastStatus":"STOPPED",
        "clusterArn":"arn:aws:ecs:eu-west-1:123456789012:cluster/prod","group":"service:api",
        "taskDefinitionArn":"arn:aws:ecs:eu-west-1:123456789012:task-definition/api:7",
        "stopCode":"EssentialContainerExited","containers":[{"name":"app","exitCode":1},{"name":"envoy","exitCode":0}]}}"#;

    #[test]
    fn lookups_name_the_failed_containers_and_the_service() {
        let l = alert(TASK).lookups();
        assert_eq!(l.task_definition.as_deref(), Some("api:7"));
        assert_eq!(l.task_id.as_deref(), Some("abc123"));
        assert_eq!(l.failed_containers, ["app"]);
        assert_eq!(
            l.tagged_resource.as_deref(),
            Some("arn:aws:ecs:eu-west-1:123456789012:service/prod/api")
        );
    }

    #[test]
    fn enrich_keeps_the_newest_lines_cut_to_size() {
        let mut a = alert(TASK);
        let mut lines: Vec<String> = (0..MAX_LOG_LINES + 5)
            .map(|i| format!("line {i}"))
            .collect();
        lines.push("x".repeat(MAX_LOG_LINE_CHARS * 2));
        a.enrich(Enrichment {
            log_tails: vec![
                LogTail {
                    container: "app".into(),
                    lines,
                    link: Some("https://example.invalid/l".into()),
                    driver: None,
                },
                LogTail {
                    container: "not-listed".into(),
                    lines: vec!["dropped".into()],
                    ..LogTail::default()
                },
            ],
            ..Enrichment::default()
        });
        let app = &a.task.as_ref().expect("task").containers[0];
        let tail = app.log_tail.as_ref().expect("tail");
        assert_eq!(tail.len(), MAX_LOG_LINES);
        assert_eq!(tail[0], "line 6");
        assert!(tail.last().expect("last").chars().count() <= MAX_LOG_LINE_CHARS);
        assert!(!a.to_json().contains("dropped"));
    }

    #[test]
    fn log_lines_tags_and_the_failed_state_are_redacted() {
        let mut a = alert(TASK);
        a.enrich(Enrichment {
            log_tails: vec![LogTail {
                container: "app".into(),
                lines: vec![
                    "connecting with password=hunter2-EXAMPLE".into(),
                    "key AKIAIOSFODNN7EXAMPLE loaded".into(),
                ],
                link: None,
                driver: None,
            }],
            failed_state: None,
            tags: Some([("db_password".to_owned(), "s3cr3t-EXAMPLE".to_owned())].into()),
            execution_log: None,
        });
        let json = a.to_json();
        for secret in ["hunter2-EXAMPLE", "AKIAIOSFODNN7EXAMPLE", "s3cr3t-EXAMPLE"] {
            assert!(!json.contains(secret), "{secret} in {json}");
        }
        assert!(json.contains("[redacted]"));
    }

    fn fixture(name: &str) -> Alert {
        let path = format!(
            "{}/../../tests/fixtures/events/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        alert(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
    }

    #[test]
    fn a_batch_cause_names_its_jobs_log_stream() {
        for name in [
            "sfn_execution-batch-out-of-memory",
            "sfn_execution-catch-batch-timeout",
        ] {
            let l = fixture(name).lookups();
            assert_eq!(
                l.batch_log,
                Some(BatchLogStream {
                    group: "/aws/batch/job".into(),
                    stream: "etl-job/default/0123456789abcdef0123456789abcdef".into(),
                }),
                "{name}"
            );
            assert_eq!(l.lambda_invocation, None, "{name}");
        }
    }

    #[test]
    fn a_batch_job_definitions_own_log_group_is_read() {
        let body = r#"{"Error":"States.TaskFailed","Cause":"{\"JobId\":\"8a2b3c4d\",\"JobQueue\":\"arn:aws:batch:eu-west-1:123456789012:job-queue/q\",\"Container\":{\"LogConfiguration\":{\"LogDriver\":\"awslogs\",\"Options\":{\"awslogs-group\":\"/batch/etl\"}},\"LogStreamName\":\"etl/default/abc\"}}"}"#;
        let l = alert(body).lookups();
        assert_eq!(
            l.batch_log.map(|b| (b.group, b.stream)),
            Some(("/batch/etl".into(), "etl/default/abc".into()))
        );
    }

    #[test]
    fn a_lambda_cause_with_a_request_id_names_the_invocation() {
        for (name, id) in [
            (
                "sfn_execution-lambda-out-of-memory",
                "4d5e6f70-8192-4a3b-9c4d-5e6f70819202",
            ),
            (
                "sfn_execution-rw11-failed-lambda-timeout-redriven",
                "5b1c368c-fa4f-448d-8d37-595d2633cc9b",
            ),
            (
                "sfn_execution-rw20-failed-lambda-log-group-missing",
                "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a",
            ),
        ] {
            let a = fixture(name);
            let invocation = a.lookups().lambda_invocation.expect(name);
            assert_eq!(invocation.request_id, id, "{name}");
            // No fixture's cause names its function: the worker takes it from the failed state.
            assert_eq!(invocation.function, None, "{name}");
            let at = time::OffsetDateTime::parse(&a.time, &Rfc3339).expect("time");
            let at_ms = (at.unix_timestamp_nanos() / 1_000_000) as i64;
            assert_eq!(invocation.start_ms, at_ms - 15 * 60_000, "{name}");
            assert_eq!(invocation.end_ms, at_ms + 60_000, "{name}");
            assert_eq!(a.lookups().batch_log, None, "{name}");
        }
    }

    #[test]
    fn a_lambda_cause_without_a_request_id_names_nothing() {
        for name in [
            "sfn_execution-lambda-throttled",
            "sfn_execution-lambda-service-exception",
            "sfn_execution-catch-lambda-java-oom",
            "sfn_execution-failed-runtask-sync",
        ] {
            let l = fixture(name).lookups();
            assert_eq!((l.lambda_invocation, l.batch_log), (None, None), "{name}");
        }
    }

    #[test]
    fn a_function_is_read_from_every_form_invoke_accepts() {
        let arn = "arn:aws:lambda:eu-west-1:123456789012:function:convert";
        let full = LambdaFunction {
            name: "convert".into(),
            region: Some("eu-west-1".into()),
            account: Some("123456789012".into()),
        };
        assert_eq!(LambdaFunction::parse(arn), Some(full.clone()));
        assert_eq!(LambdaFunction::parse(&format!("{arn}:live")), Some(full));
        let partial = LambdaFunction::parse("123456789012:function:convert:3").expect("partial");
        assert_eq!(
            (partial.name.as_str(), partial.account.as_deref()),
            ("convert", Some("123456789012"))
        );
        for name in ["convert", "convert:live"] {
            let f = LambdaFunction::parse(name).expect(name);
            assert_eq!((f.name.as_str(), f.region.as_deref()), ("convert", None));
            assert_eq!(f.log_group(), "/aws/lambda/convert");
        }
        for other in ["arn:aws:states:::lambda:invoke", "", "a b", "x:y:z:w"] {
            assert_eq!(LambdaFunction::parse(other), None, "{other}");
        }
    }

    #[test]
    fn execution_lines_are_kept_redacted_with_their_source() {
        let mut a = fixture("sfn_execution-batch-out-of-memory");
        let mut lines: Vec<String> = (0..MAX_LOG_LINES + 3).map(|i| format!("l{i}")).collect();
        lines.push("export DB_PASSWORD=hunter2-EXAMPLE".into());
        a.enrich(Enrichment {
            execution_log: Some(ExecutionLog {
                source: LogSource::Batch,
                lines,
                link: Some("https://example.invalid/l".into()),
            }),
            ..Enrichment::default()
        });
        let execution = a.execution.as_ref().expect("execution");
        let tail = execution.log_tail.as_ref().expect("tail");
        assert_eq!(tail.len(), MAX_LOG_LINES);
        assert_eq!(tail[0], "l4");
        assert_eq!(execution.log_source, Some(LogSource::Batch));
        let json = a.to_json();
        assert!(!json.contains("hunter2-EXAMPLE"), "{json}");
        assert!(json.contains(r#""log_source":"batch""#), "{json}");
    }

    #[test]
    fn another_driver_is_named_without_lines() {
        let mut a = alert(TASK);
        a.enrich(Enrichment {
            log_tails: vec![LogTail {
                container: "app".into(),
                lines: vec!["ignored".into()],
                link: None,
                driver: Some("awsfirelens".into()),
            }],
            ..Enrichment::default()
        });
        let app = &a.task.as_ref().expect("task").containers[0];
        assert_eq!(app.log_tail, None);
        assert_eq!(app.log_driver.as_deref(), Some("awsfirelens"));
    }
}
