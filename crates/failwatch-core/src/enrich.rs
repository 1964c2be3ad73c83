//! What the worker may look up about an alert's resources ([`Lookups`], derived from the alert alone)
//! and how what it found is added to the alert ([`Alert::enrich`]). The lookups themselves (ECS, CloudWatch
//! Logs, Step Functions, tagging) are I/O and live in the worker; this module keeps the alert document's
//! rules in the core: which containers get a log tail, how long a tail may be, and that every line is
//! cut safely before any renderer sees it.

use std::collections::BTreeMap;

use crate::alert::FailedState;
use crate::redact;
use crate::text::{Unit, cut_plain};
use crate::{Alert, AlertKind};

/// The most log lines kept per container, whatever the worker was configured to read.
pub const MAX_LOG_LINES: usize = 100;

/// The longest log line kept, in characters (UTF-16 units); a longer one is cut with a marker.
pub const MAX_LOG_LINE_CHARS: usize = 1_000;

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
        }
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
                let skip = tail.lines.len().saturating_sub(MAX_LOG_LINES);
                // Redacted before the cut, so a cut cannot leave a secret's head unrecognised.
                container.log_tail = tail.driver.is_none().then(|| {
                    tail.lines
                        .iter()
                        .skip(skip)
                        .map(|line| {
                            cut_plain(&redact::text(line), MAX_LOG_LINE_CHARS, Unit::Chars)
                                .to_owned()
                        })
                        .collect()
                });
                container.log_link = tail.link.map(redacted);
                container.log_driver = tail.driver.map(redacted);
            }
        }
        if let (Some(execution), Some(state)) = (self.execution.as_mut(), enrichment.failed_state) {
            execution.failed_state = Some(FailedState {
                name: redacted(state.name),
                state_type: redacted(state.state_type),
                resource: state.resource.map(redacted),
            });
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
        });
        let json = a.to_json();
        for secret in ["hunter2-EXAMPLE", "AKIAIOSFODNN7EXAMPLE", "s3cr3t-EXAMPLE"] {
            assert!(!json.contains(secret), "{secret} in {json}");
        }
        assert!(json.contains("[redacted]"));
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
