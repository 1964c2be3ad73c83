//! AWS Batch, as Step Functions reports a failed `batch:submitJob.sync`: the cause is the whole
//! `DescribeJobs` job, PascalCase (`JobId`, `JobName`, `JobQueue`, `Status`, `StatusReason`,
//! `Container`, `Attempts`). Batch runs jobs on ECS, so its reasons use ECS's words, but the advice is
//! Batch's (job definitions, retry strategies), so it has classes of its own.

use serde_json::{Map, Value};

use super::cause::{epoch_millis, text};
use crate::hint::FailureClass;
use crate::links;
use crate::summary::{Role, Summary};
use crate::{EventMeta, Links};

/// Where Batch sends a job's container logs unless the job definition names another log group.
const DEFAULT_LOG_GROUP: &str = "/aws/batch/job";

/// A failed Batch job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BatchJob {
    id: String,
    name: Option<String>,
    /// The job queue ARN.
    queue: Option<String>,
    /// The job definition ARN.
    definition: Option<String>,
    status_reason: Option<String>,
    /// The last attempt's container exit code.
    exit_code: Option<i64>,
    /// The container's `Reason`, e.g. `OutOfMemoryError: Container killed due to memory usage`.
    container_reason: Option<String>,
    log_group: String,
    log_stream: Option<String>,
    /// How many attempts ran, and how many the retry strategy allowed.
    attempts: usize,
    max_attempts: Option<i64>,
    stopped_at: Option<time::OffsetDateTime>,
}

/// A Batch job description: it has a `JobId` and a `JobQueue` or `JobDefinition`.
pub(crate) fn read(object: &Map<String, Value>) -> Option<BatchJob> {
    let id = text(object, "JobId")?;
    if !object.contains_key("JobQueue") && !object.contains_key("JobDefinition") {
        return None;
    }
    let container = object.get("Container").and_then(Value::as_object);
    let from_container = |name| container.and_then(|c| text(c, name)).map(str::to_owned);
    let log_group = container
        .and_then(|c| c.get("LogConfiguration"))
        .and_then(|l| l.get("Options"))
        .and_then(|o| o.get("awslogs-group"))
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_LOG_GROUP)
        .to_owned();
    Some(BatchJob {
        id: id.to_owned(),
        name: text(object, "JobName").map(str::to_owned),
        queue: text(object, "JobQueue").map(str::to_owned),
        definition: text(object, "JobDefinition").map(str::to_owned),
        status_reason: text(object, "StatusReason").map(str::to_owned),
        exit_code: container.and_then(|c| c.get("ExitCode")?.as_i64()),
        container_reason: from_container("Reason"),
        log_group,
        log_stream: from_container("LogStreamName"),
        attempts: object
            .get("Attempts")
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
        max_attempts: object
            .get("RetryStrategy")
            .and_then(|r| r.get("Attempts")?.as_i64()),
        stopped_at: epoch_millis(object, "StoppedAt"),
    })
}

/// The last segment of an ARN (`job-queue/NAME`, `job-definition/NAME:3`), or the text itself.
fn arn_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

impl BatchJob {
    /// When the job stopped (`StoppedAt`).
    pub(crate) fn stopped_at(&self) -> Option<time::OffsetDateTime> {
        self.stopped_at
    }

    /// The job container's log group and stream, when the job names its stream.
    pub(crate) fn log_stream(&self) -> Option<(&str, &str)> {
        Some((&self.log_group, self.log_stream.as_deref()?))
    }

    /// The job id, a UUID.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn class(&self) -> FailureClass {
        let said = |needle: &str| {
            [&self.status_reason, &self.container_reason]
                .into_iter()
                .flatten()
                .any(|r| r.to_ascii_lowercase().contains(needle))
        };
        if said("outofmemoryerror") {
            FailureClass::BatchOutOfMemory
        } else if said("cannotpullcontainererror") {
            FailureClass::BatchImagePull
        } else if said("attempt duration exceeded timeout") {
            FailureClass::BatchTimeout
        } else if said("host ec2") {
            FailureClass::BatchHostTerminated
        } else if self.exit_code.is_some_and(|c| c != 0) {
            FailureClass::BatchExitNonZero
        } else {
            FailureClass::BatchFailed
        }
    }

    /// What the job and its work are called: its name, else its id.
    pub(crate) fn workload(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// "Batch job LandsatAcJob exited 1", or the class's phrase with the job's name.
    pub(crate) fn headline(&self) -> String {
        match (self.class(), self.exit_code) {
            (FailureClass::BatchExitNonZero, Some(code)) => {
                format!("Batch job {} exited {code}", self.workload())
            }
            (class, _) => format!("{}: {}", class.phrase(), self.workload()),
        }
    }

    /// The ARNs the job names, for the alert's account and region.
    pub(crate) fn arns(&self) -> [Option<&str>; 2] {
        [self.queue.as_deref(), self.definition.as_deref()]
    }

    /// The job, queue, definition, reason, exit code, attempts and log stream.
    pub(crate) fn facts(&self, summary: &mut Summary) {
        let job = match &self.name {
            Some(name) => format!("{name} ({})", self.id),
            None => self.id.clone(),
        };
        summary.push_labelled(Role::Detail, "Batch job", Some(&job));
        summary.push_labelled(
            Role::Detail,
            "Job queue",
            self.queue.as_deref().map(arn_name),
        );
        summary.push_labelled(
            Role::Detail,
            "Job definition",
            self.definition.as_deref().map(arn_name),
        );
        summary.push(Role::Reason, self.status_reason.as_deref());
        let exit = self.exit_code.map(|code| {
            match self
                .container_reason
                .as_deref()
                .filter(|r| Some(*r) != self.status_reason.as_deref())
            {
                Some(reason) => format!("{code} ({reason})"),
                None => code.to_string(),
            }
        });
        summary.push_labelled(Role::Detail, "Exit code", exit.as_deref());
        let attempts = match (self.attempts, self.max_attempts) {
            (0, _) => None,
            (n, Some(max)) => Some(format!("{n} of {max}")),
            (n, None) => Some(n.to_string()),
        };
        summary.push_labelled(Role::Detail, "Attempts", attempts.as_deref());
        summary.push_labelled(Role::Detail, "Log stream", self.log_stream.as_deref());
    }

    /// The job's page and its log stream's.
    pub(crate) fn links(&self, meta: &EventMeta, out: &mut Links) {
        let Some(region) = meta.region.as_deref() else {
            return;
        };
        let partition = meta.partition.as_str();
        out.batch_job = links::batch_job(partition, region, &self.id);
        out.batch_job_logs = self.log_stream.as_deref().and_then(|stream| {
            links::cloudwatch_log_stream(partition, region, &self.log_group, stream)
        });
    }
}
