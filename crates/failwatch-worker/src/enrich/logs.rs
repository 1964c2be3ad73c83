//! Log tails of failed ECS containers: `DescribeTaskDefinition` (cached by ARN) gives each container's
//! `logConfiguration`; for the `awslogs` driver the container's stream is
//! `{awslogs-stream-prefix}/{container}/{task id}` in `awslogs-group`, in `awslogs-region`, and
//! `GetLogEvents` with `startFromHead=false` reads its newest lines. Any other driver (FireLens, splunk,
//! ...) gets no lines; the alert names the driver instead. `awslogs` without a stream prefix names
//! streams by container id, which the event does not carry: no lines then either.

use std::collections::BTreeMap;
use std::sync::Arc;

use failwatch_core::LogTail;

use super::EnrichError;
use super::cache::Caches;
use super::clients::{Clients, Regional};

/// The log driver whose streams failwatch can read.
const AWSLOGS: &str = "awslogs";

/// Where one container's logs go, from its task definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ContainerLogs {
    /// The `awslogs` driver: group, region (when set) and stream prefix (when set).
    Awslogs {
        group: String,
        region: Option<String>,
        prefix: Option<String>,
    },
    /// Another driver, by its name (`awsfirelens`, `splunk`, ...).
    Other(String),
    /// No `logConfiguration` at all.
    Unconfigured,
}

/// Each container of a task definition, by name, and where its logs go.
pub(crate) type TaskLogs = BTreeMap<String, ContainerLogs>;

/// The `awslogs` stream of `container` in task `task_id`, given the task definition's
/// `awslogs-stream-prefix`.
pub(crate) fn stream_name(prefix: &str, container: &str, task_id: &str) -> String {
    format!("{prefix}/{container}/{task_id}")
}

/// What the worker needs to read one failed container's tail.
#[derive(Debug, Clone)]
pub(crate) struct TailRequest {
    pub(crate) account: Option<String>,
    /// The task's region, the default for `awslogs-region`.
    pub(crate) region: String,
    pub(crate) partition: String,
    /// The task definition, `family:revision`.
    pub(crate) definition: String,
    pub(crate) task_id: String,
    pub(crate) container: String,
    /// How many lines to read (1 to `failwatch_core::MAX_LOG_LINES`).
    pub(crate) lines: i32,
}

/// One container's tail: its driver, or its stream's newest lines (oldest first) and console link.
pub(crate) async fn tail(
    clients: &Clients,
    caches: &Caches,
    request: TailRequest,
) -> Result<LogTail, EnrichError> {
    let regional = clients.regional(request.account.as_deref(), &request.region);
    let definitions = task_logs(&regional, caches, &request).await?;
    let mut tail = LogTail {
        container: request.container.clone(),
        ..LogTail::default()
    };
    let (group, region, prefix) = match definitions.get(&request.container) {
        Some(ContainerLogs::Awslogs {
            group,
            region,
            prefix,
        }) => (group, region.as_deref().unwrap_or(&request.region), prefix),
        Some(ContainerLogs::Other(driver)) => {
            tail.driver = Some(driver.clone());
            return Ok(tail);
        }
        Some(ContainerLogs::Unconfigured) | None => {
            return Err(EnrichError::Unusable(format!(
                "container {} of {} has no awslogs configuration",
                request.container, request.definition
            )));
        }
    };
    let Some(prefix) = prefix else {
        return Err(EnrichError::Unusable(format!(
            "container {} of {} has no awslogs-stream-prefix: its stream name is unknown",
            request.container, request.definition
        )));
    };
    let stream = stream_name(prefix, &request.container, &request.task_id);
    tail.link = failwatch_core::log_stream_link(&request.partition, region, group, &stream);
    let logs = if region == request.region {
        regional.logs
    } else {
        clients.regional(request.account.as_deref(), region).logs
    };
    tail.lines = newest_lines(&logs, group, &stream, request.lines).await?;
    Ok(tail)
}

/// The newest `lines` lines of a log stream, oldest first, from one `GetLogEvents` with
/// `startFromHead=false` (also used for a Batch job's stream).
pub(crate) async fn newest_lines(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    lines: i32,
) -> Result<Vec<String>, EnrichError> {
    let answer = logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .start_from_head(false)
        .limit(lines)
        .send()
        .await
        .map_err(|err| EnrichError::aws("GetLogEvents", err))?;
    // The events of one page are oldest first.
    Ok(answer
        .events()
        .iter()
        .filter_map(|e| e.message())
        .map(line)
        .collect())
}

/// A log event's message as one line: without the newline most runtimes end it with.
pub(crate) fn line(message: &str) -> String {
    message.trim_end_matches(['\n', '\r']).to_owned()
}

/// The task definition's log settings, from the cache or `DescribeTaskDefinition`.
async fn task_logs(
    regional: &Regional,
    caches: &Caches,
    request: &TailRequest,
) -> Result<Arc<TaskLogs>, EnrichError> {
    let key = format!(
        "{}/{}/{}",
        request.account.as_deref().unwrap_or(""),
        request.region,
        request.definition
    );
    if let Some(found) = caches.definitions.get(&key) {
        return Ok(found);
    }
    let answer = regional
        .ecs
        .describe_task_definition()
        .task_definition(&request.definition)
        .send()
        .await
        .map_err(|err| EnrichError::aws("DescribeTaskDefinition", err))?;
    let Some(definition) = answer.task_definition() else {
        return Err(EnrichError::Unusable(format!(
            "DescribeTaskDefinition returned no task definition for {}",
            request.definition
        )));
    };
    let logs: TaskLogs = definition
        .container_definitions()
        .iter()
        .filter_map(|c| {
            let name = c.name()?.to_owned();
            let logs = match c.log_configuration() {
                Some(config) => container_logs(
                    config.log_driver().as_str(),
                    config.options().cloned().unwrap_or_default(),
                ),
                None => ContainerLogs::Unconfigured,
            };
            Some((name, logs))
        })
        .collect();
    let logs = Arc::new(logs);
    caches.definitions.insert(key, logs.clone());
    Ok(logs)
}

/// One container's `logConfiguration`, read.
fn container_logs<S: std::hash::BuildHasher>(
    driver: &str,
    mut options: std::collections::HashMap<String, String, S>,
) -> ContainerLogs {
    if driver != AWSLOGS {
        return ContainerLogs::Other(driver.to_owned());
    }
    match options.remove("awslogs-group") {
        Some(group) => ContainerLogs::Awslogs {
            group,
            region: options.remove("awslogs-region"),
            prefix: options.remove("awslogs-stream-prefix"),
        },
        None => ContainerLogs::Unconfigured,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn the_stream_is_prefix_container_and_task_id() {
        assert_eq!(
            stream_name("ecs", "api", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
            "ecs/api/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
        );
    }

    #[test]
    fn awslogs_options_are_read_and_other_drivers_named() {
        let options: HashMap<String, String> = [
            ("awslogs-group", "/ecs/payments"),
            ("awslogs-region", "eu-west-1"),
            ("awslogs-stream-prefix", "ecs"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            container_logs("awslogs", options.clone()),
            ContainerLogs::Awslogs {
                group: "/ecs/payments".into(),
                region: Some("eu-west-1".into()),
                prefix: Some("ecs".into())
            }
        );
        assert_eq!(
            container_logs("awsfirelens", options),
            ContainerLogs::Other("awsfirelens".into())
        );
        assert_eq!(
            container_logs("awslogs", HashMap::new()),
            ContainerLogs::Unconfigured
        );
    }
}
