//! Recognising the common failure classes and saying, in plain words, what usually fixes each.
//!
//! AWS reports why a task stopped in several places: `stopCode`, `stoppedReason`, each container's
//! `reason` and exit code, and for Step Functions the `error` and `cause`. The matching below uses the
//! wording AWS actually writes (see the fixtures in `tests/fixtures/events/` and the ECS "stopped task
//! errors" documentation), case-insensitively, most specific first. A class is also part of the group key,
//! so its [`FailureClass::code`] is stable.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use crate::kind::ecs_task::{Container, EcsTask, StopCode};

/// What kind of failure an alert reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureClass {
    /// A container was killed for exceeding its memory (`OutOfMemoryError`).
    OutOfMemory,
    /// The image or tag does not exist in the registry.
    ImageNotFound,
    /// The registry refused the pull (ECR permissions, private registry credentials).
    ImageAccessDenied,
    /// The task could not reach the registry (no route to ECR, i/o timeout).
    RegistryUnreachable,
    /// Any other `CannotPullContainerError`.
    ImagePull,
    /// Secrets Manager or SSM parameters could not be retrieved at start-up.
    SecretsRetrieval,
    /// The log driver could not be set up (missing log group, permissions).
    LoggingDriver,
    /// The load balancer's target group health checks failed.
    ElbHealthCheck,
    /// The container's own `healthCheck` failed.
    ContainerHealthCheck,
    /// Exit 137 without an out-of-memory reason: SIGKILL.
    Killed,
    /// Exit 139: segmentation fault.
    Segfault,
    /// `CannotStartContainerError`: the runtime could not start the container.
    CannotStartContainer,
    /// Any other non-zero exit of a container.
    ExitNonZero,
    /// `TaskFailedToStart` without a more specific reason.
    TaskFailedToStart,
    /// Fargate Spot or EC2 Spot reclaimed the capacity.
    SpotInterruption,
    /// ECS or EC2 stopped the task for infrastructure reasons (maintenance, host stopped).
    Infrastructure,
    /// No capacity to place a task: CPU, memory, ENIs, no container instances.
    PlacementCapacity,
    /// A service keeps failing to start tasks.
    TaskStartImpaired,
    /// The deployment circuit breaker failed the deployment or rolled it back.
    CircuitBreaker,
    /// A deployment failed for another reason.
    DeploymentFailed,
    /// A Step Functions execution or state timed out.
    SfnTimeout,
    /// A Step Functions execution was aborted.
    SfnAborted,
    /// A Step Functions execution failed for a reason not recognised above.
    SfnFailed,
    /// Nothing more specific is known.
    Other,
}

impl FailureClass {
    /// A stable snake_case name, used in group keys.
    pub fn code(self) -> &'static str {
        match self {
            FailureClass::OutOfMemory => "out_of_memory",
            FailureClass::ImageNotFound => "image_not_found",
            FailureClass::ImageAccessDenied => "image_access_denied",
            FailureClass::RegistryUnreachable => "registry_unreachable",
            FailureClass::ImagePull => "image_pull",
            FailureClass::SecretsRetrieval => "secrets_retrieval",
            FailureClass::LoggingDriver => "logging_driver",
            FailureClass::ElbHealthCheck => "elb_health_check",
            FailureClass::ContainerHealthCheck => "container_health_check",
            FailureClass::Killed => "killed",
            FailureClass::Segfault => "segfault",
            FailureClass::CannotStartContainer => "cannot_start_container",
            FailureClass::ExitNonZero => "exit_nonzero",
            FailureClass::TaskFailedToStart => "task_failed_to_start",
            FailureClass::SpotInterruption => "spot_interruption",
            FailureClass::Infrastructure => "infrastructure",
            FailureClass::PlacementCapacity => "placement_capacity",
            FailureClass::TaskStartImpaired => "task_start_impaired",
            FailureClass::CircuitBreaker => "circuit_breaker",
            FailureClass::DeploymentFailed => "deployment_failed",
            FailureClass::SfnTimeout => "sfn_timeout",
            FailureClass::SfnAborted => "sfn_aborted",
            FailureClass::SfnFailed => "sfn_failed",
            FailureClass::Other => "other",
        }
    }

    /// A few words for titles, e.g. "out of memory".
    pub fn phrase(self) -> &'static str {
        match self {
            FailureClass::OutOfMemory => "out of memory",
            FailureClass::ImageNotFound => "image not found",
            FailureClass::ImageAccessDenied => "image pull denied",
            FailureClass::RegistryUnreachable => "registry unreachable",
            FailureClass::ImagePull => "image pull failed",
            FailureClass::SecretsRetrieval => "secrets could not be retrieved",
            FailureClass::LoggingDriver => "logging setup failed",
            FailureClass::ElbHealthCheck => "failed load balancer health checks",
            FailureClass::ContainerHealthCheck => "failed container health checks",
            FailureClass::Killed => "killed (SIGKILL)",
            FailureClass::Segfault => "segmentation fault",
            FailureClass::CannotStartContainer => "container could not start",
            FailureClass::ExitNonZero => "container exited with an error",
            FailureClass::TaskFailedToStart => "failed to start",
            FailureClass::SpotInterruption => "Spot capacity reclaimed",
            FailureClass::Infrastructure => "stopped by infrastructure",
            FailureClass::PlacementCapacity => "no capacity to place tasks",
            FailureClass::TaskStartImpaired => "tasks keep failing to start",
            FailureClass::CircuitBreaker => "deployment circuit breaker tripped",
            FailureClass::DeploymentFailed => "deployment failed",
            FailureClass::SfnTimeout => "timed out",
            FailureClass::SfnAborted => "aborted",
            FailureClass::SfnFailed => "failed",
            FailureClass::Other => "failed",
        }
    }

    /// Plain-language advice, or `None` when there is nothing more useful to say than the reason itself.
    pub fn hint(self) -> Option<&'static str> {
        Some(match self {
            FailureClass::OutOfMemory => {
                "A container used more memory than its limit and was killed. Raise the container's or the \
                 task's memory in the task definition, or find what grows (a leak, a large batch, an \
                 unbounded cache); the memory graph of the service shows the trend."
            }
            FailureClass::ImageNotFound => {
                "The image or tag does not exist in the registry. Check the image URI and tag in the task \
                 definition and that the push finished before the deployment; ECR lifecycle rules may have \
                 deleted an old tag."
            }
            FailureClass::ImageAccessDenied => {
                "The registry refused the pull. The task execution role needs ecr:GetAuthorizationToken, \
                 ecr:BatchGetImage and ecr:GetDownloadUrlForLayer (and kms:Decrypt for encrypted \
                 repositories); a cross-account repository also needs a repository policy; a private \
                 registry needs repositoryCredentials."
            }
            FailureClass::RegistryUnreachable => {
                "The task could not reach the registry (a network timeout). Tasks in private subnets need a \
                 NAT gateway or VPC endpoints for ecr.api, ecr.dkr and S3; tasks in public subnets need a \
                 public IP; check security groups, network ACLs and DNS."
            }
            FailureClass::ImagePull => {
                "The container image could not be pulled. Check the image URI, the registry's availability \
                 and the task execution role's permissions."
            }
            FailureClass::SecretsRetrieval => {
                "ECS could not fetch the task's secrets or registry credentials. Check that every \
                 secret/parameter ARN in the task definition exists, that the task execution role may \
                 read it (secretsmanager:GetSecretValue, ssm:GetParameters, kms:Decrypt), and that the \
                 task can reach Secrets Manager / SSM (NAT or VPC endpoints)."
            }
            FailureClass::LoggingDriver => {
                "The log driver could not be set up. For awslogs, create the log group (or set \
                 awslogs-create-group with logs:CreateLogGroup) and let the task execution role call \
                 logs:CreateLogStream and logs:PutLogEvents; the task needs a route to CloudWatch Logs."
            }
            FailureClass::ElbHealthCheck => {
                "The load balancer marked the task unhealthy and ECS replaced it. Check that the app \
                 listens on the target group's port, that the health-check path answers 200 quickly, and \
                 that the service's health-check grace period covers the start-up time."
            }
            FailureClass::ContainerHealthCheck => {
                "The container's own health check kept failing. Run the health-check command inside the \
                 container, and check its timeout, retries and startPeriod against the real start-up time."
            }
            FailureClass::Killed => {
                "The container was killed with SIGKILL (exit 137) without an out-of-memory reason: usually \
                 it did not stop within the stop timeout after SIGTERM (handle SIGTERM, or raise \
                 stopTimeout), or something killed it from inside the container."
            }
            FailureClass::Segfault => {
                "The process crashed with a segmentation fault (exit 139). Look for native crashes in the \
                 logs: a bad native library, an architecture mismatch (arm64 vs x86_64) or a stack overflow."
            }
            FailureClass::CannotStartContainer => {
                "The container runtime could not start the container. Check the entry point and command, \
                 the memory settings, and any mounted volumes or files the container needs."
            }
            FailureClass::ExitNonZero => {
                "An essential container exited with an error. Its logs (the task logs link) say why."
            }
            FailureClass::TaskFailedToStart => {
                "The task stopped before its containers started. Check the task's stopped reason in the \
                 console; on EC2 with awsvpc networking this is often ENI exhaustion on the instances, \
                 otherwise image, secrets or network configuration."
            }
            FailureClass::SpotInterruption => {
                "Spot capacity was reclaimed; ECS will start a replacement. If interruptions hurt, mix in \
                 on-demand capacity in the capacity provider strategy and make the workload tolerate a \
                 two-minute warning."
            }
            FailureClass::Infrastructure => {
                "ECS or EC2 stopped the task for infrastructure reasons (maintenance, or the host stopped); \
                 a service replaces it. Alert again only if it keeps happening."
            }
            FailureClass::PlacementCapacity => {
                "ECS found no capacity to place the task: not enough CPU, memory or ENIs, or no container \
                 instances. Scale the cluster or its capacity provider, use smaller tasks, or check \
                 placement constraints; when Fargate Spot has no capacity (RESOURCE:FARGATE), give the \
                 capacity provider strategy a FARGATE fallback."
            }
            FailureClass::TaskStartImpaired => {
                "The service keeps failing to start tasks. The stopped tasks of the service show why; fix \
                 the first error there."
            }
            FailureClass::CircuitBreaker => {
                "The deployment circuit breaker stopped the deployment because new tasks kept failing; with \
                 rollback enabled the service returns to the last working deployment. Look at why the new \
                 tasks stopped before deploying again."
            }
            FailureClass::DeploymentFailed => {
                "The deployment failed. The service's events and stopped tasks say why."
            }
            FailureClass::SfnTimeout => {
                "The execution or a state ran longer than its TimeoutSeconds. Raise the timeout if the work \
                 is legitimately slow, add a HeartbeatSeconds for long tasks, or find what hung."
            }
            FailureClass::SfnAborted => {
                "Someone or something stopped the execution (StopExecution). Check who, in CloudTrail, if \
                 it was not expected."
            }
            FailureClass::SfnFailed | FailureClass::Other => return None,
        })
    }
}

/// Declares the phrase groups [`class_of_text`] looks for, and [`NEEDLES`], all of them in one list, so a
/// phrase can never be searched for without being in the automaton.
macro_rules! phrase_groups {
    ($($name:ident = [$($needle:literal),+ $(,)?];)+) => {
        $(const $name: &[&str] = &[$($needle),+];)+
        const NEEDLES: &[&str] = &[$($($needle,)+)+];
    };
}

// Lowercase, as the texts are lowercased.
phrase_groups! {
    OUT_OF_MEMORY = ["outofmemoryerror", "out of memory", "oomkilled"];
    LOGGING_DRIVER = ["failed to validate logger args", "awslogs", "log group", "log stream", "firelens"];
    SECRETS = ["secret from asm", "secrets from asm", "secret from ssm", "secrets from ssm", "secretsmanager", "ssm:getparameter", "parameter store"];
    PULLING = ["cannotpullcontainererror", "pull image manifest", "pull access denied", "registry auth", "failed to resolve ref"];
    REGISTRY_UNREACHABLE = ["i/o timeout", "connection issue", "dial tcp", "no route", "timed out", "timeout"];
    IMAGE_ACCESS_DENIED = ["pull access denied", "accessdenied", "not authorized", "403 forbidden", "unauthorized"];
    IMAGE_NOT_FOUND = ["not found", "manifest unknown", "does not exist"];
    SECRETS_AT_START = ["resourceinitializationerror: unable to pull secrets"];
    ELB_HEALTH_CHECK = ["elb health checks", "load balancer health checks"];
    CONTAINER_HEALTH_CHECK = ["container health checks"];
    SPOT_INTERRUPTION = ["spot task was interrupted", "spot interruption"];
    INFRASTRUCTURE = ["performing maintenance on the underlying infrastructure", "host ec2", "instance deregistration", "container instance was terminated"];
    CANNOT_START = ["cannotstartcontainererror"];
    PLACEMENT_CAPACITY = ["resource:cpu", "resource:memory", "resource:eni", "resource:fargate", "no container instances"];
    CIRCUIT_BREAKER = ["circuit breaker"];
}

/// One automaton for every phrase: a text is scanned once, instead of once per phrase (some fifty per
/// event, which cost more than decoding the event's fields).
static PHRASES: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| AhoCorasick::new(NEEDLES).ok());

/// Case-insensitive substring test over several texts, without allocating per needle.
struct Texts {
    /// The texts, lowercased, one per line.
    all: String,
    /// Every phrase of [`NEEDLES`] that occurs in `all` (usually none or one), or `None` when the
    /// automaton could not be built and each phrase is searched for on its own.
    found: Option<Vec<&'static str>>,
}

impl Texts {
    fn new<'a>(parts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut all = String::with_capacity(256);
        for part in parts {
            let start = all.len();
            all.push_str(part);
            all[start..].make_ascii_lowercase();
            all.push('\n');
        }
        // Overlapping matches, so that a phrase inside or overlapping another is found too: exactly the
        // phrases `str::contains` would find.
        let found = PHRASES.as_ref().map(|automaton| {
            let mut found: Vec<&'static str> = automaton
                .find_overlapping_iter(all.as_str())
                .filter_map(|m| NEEDLES.get(m.pattern().as_usize()).copied())
                .collect();
            found.sort_unstable();
            found.dedup();
            found
        });
        Texts { all, found }
    }

    /// Whether any needle of a phrase group occurs.
    fn any(&self, needles: &[&str]) -> bool {
        match &self.found {
            Some(found) => !found.is_empty() && needles.iter().any(|n| found.contains(n)),
            None => needles.iter().any(|n| self.all.contains(n)),
        }
    }
}

/// Classifies the wording of reasons and causes alone; `None` when nothing specific matches.
fn class_of_text(text: &Texts) -> Option<FailureClass> {
    if text.any(OUT_OF_MEMORY) {
        return Some(FailureClass::OutOfMemory);
    }
    if text.any(LOGGING_DRIVER) {
        return Some(FailureClass::LoggingDriver);
    }
    if text.any(SECRETS) {
        return Some(FailureClass::SecretsRetrieval);
    }
    let pulling = text.any(PULLING);
    if pulling {
        if text.any(REGISTRY_UNREACHABLE) {
            return Some(FailureClass::RegistryUnreachable);
        }
        if text.any(IMAGE_ACCESS_DENIED) {
            return Some(FailureClass::ImageAccessDenied);
        }
        if text.any(IMAGE_NOT_FOUND) {
            return Some(FailureClass::ImageNotFound);
        }
        return Some(FailureClass::ImagePull);
    }
    if text.any(SECRETS_AT_START) {
        return Some(FailureClass::SecretsRetrieval);
    }
    if text.any(ELB_HEALTH_CHECK) {
        return Some(FailureClass::ElbHealthCheck);
    }
    if text.any(CONTAINER_HEALTH_CHECK) {
        return Some(FailureClass::ContainerHealthCheck);
    }
    if text.any(SPOT_INTERRUPTION) {
        return Some(FailureClass::SpotInterruption);
    }
    if text.any(INFRASTRUCTURE) {
        return Some(FailureClass::Infrastructure);
    }
    if text.any(CANNOT_START) {
        return Some(FailureClass::CannotStartContainer);
    }
    if text.any(PLACEMENT_CAPACITY) {
        return Some(FailureClass::PlacementCapacity);
    }
    if text.any(CIRCUIT_BREAKER) {
        return Some(FailureClass::CircuitBreaker);
    }
    None
}

/// SIGTERM's exit status (128 + 15).
const EXIT_SIGTERM: i64 = 143;

/// Whether a container's exit is only ECS stopping it: once an essential container has exited, ECS sends
/// the others SIGTERM, and a process without a handler exits 143. A batch job with a log-router sidecar
/// ends exactly like that, and is not a failure. When every container exited 143, something stopped the
/// essential one too, and that is reported.
fn stopped_by_ecs(task: &EcsTask, container: &Container) -> bool {
    container.exit_code == Some(EXIT_SIGTERM)
        && task.stop_code == Some(StopCode::EssentialContainerExited)
        && task
            .containers
            .iter()
            .any(|other| other.exit_code.is_some_and(|code| code != EXIT_SIGTERM))
}

/// Containers that exited non-zero or never started (no exit code), except those ECS merely stopped
/// after an essential container exited.
pub(crate) fn failed_containers(task: &EcsTask) -> impl Iterator<Item = &Container> {
    task.containers
        .iter()
        .filter(|c| c.exit_code != Some(0) && !stopped_by_ecs(task, c))
}

/// The failure class of a stopped ECS task.
pub(crate) fn task_class(task: &EcsTask) -> FailureClass {
    // An unknown stop code is read like a reason: hand-written test messages (and the Google Chat seed's
    // list of "stop codes") use error names such as `OutOfMemoryError` or `CannotPullContainerError`.
    let unknown_code = match &task.stop_code {
        Some(StopCode::Other(code)) => Some(code.as_str()),
        _ => None,
    };
    let text = Texts::new(
        task.stopped_reason
            .as_deref()
            .into_iter()
            .chain(task.containers.iter().filter_map(|c| c.reason.as_deref()))
            .chain(unknown_code),
    );
    if let Some(class) = class_of_text(&text) {
        return class;
    }
    if matches!(
        task.stop_code,
        Some(StopCode::SpotInterruption | StopCode::TerminationNotice)
    ) {
        return FailureClass::SpotInterruption;
    }
    let exits: Vec<i64> = failed_containers(task)
        .filter_map(|c| c.exit_code)
        .collect();
    if exits.contains(&137) {
        return FailureClass::Killed;
    }
    if exits.contains(&139) {
        return FailureClass::Segfault;
    }
    if !exits.is_empty() {
        return FailureClass::ExitNonZero;
    }
    if task.stop_code == Some(StopCode::TaskFailedToStart) {
        return FailureClass::TaskFailedToStart;
    }
    FailureClass::Other
}

/// The failure class of Step Functions `error` and `cause`, given the task the cause describes.
pub(crate) fn sfn_class(
    error: Option<&str>,
    cause: Option<&str>,
    task: Option<&EcsTask>,
) -> FailureClass {
    if error.is_some_and(|e| e == "States.Timeout" || e == "States.HeartbeatTimeout") {
        return FailureClass::SfnTimeout;
    }
    if let Some(task) = task {
        let class = task_class(task);
        if class != FailureClass::Other {
            return class;
        }
    } else if let Some(class) = class_of_text(&Texts::new(cause)) {
        return class;
    }
    FailureClass::SfnFailed
}

/// The failure class of a free-text reason (ECS service and deployment events).
pub(crate) fn reason_class(reason: Option<&str>) -> Option<FailureClass> {
    class_of_text(&Texts::new(reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GROUPS: &[&[&str]] = &[
        OUT_OF_MEMORY,
        LOGGING_DRIVER,
        SECRETS,
        PULLING,
        REGISTRY_UNREACHABLE,
        IMAGE_ACCESS_DENIED,
        IMAGE_NOT_FOUND,
        SECRETS_AT_START,
        ELB_HEALTH_CHECK,
        CONTAINER_HEALTH_CHECK,
        SPOT_INTERRUPTION,
        INFRASTRUCTURE,
        CANNOT_START,
        PLACEMENT_CAPACITY,
        CIRCUIT_BREAKER,
    ];

    /// What `Texts::any` must answer: a plain substring search of the lowercased texts.
    fn reference(parts: &[String], group: &[&str]) -> bool {
        let all: Vec<String> = parts.iter().map(|p| p.to_ascii_lowercase()).collect();
        group.iter().any(|n| all.iter().any(|p| p.contains(n)))
    }

    #[test]
    fn the_automaton_is_built_and_finds_every_phrase() {
        assert!(PHRASES.is_some());
        for group in GROUPS {
            for needle in *group {
                let text = Texts::new([format!("x {} y", needle.to_uppercase()).as_str()]);
                assert!(text.any(group), "{needle}");
            }
        }
    }

    proptest! {
        #[test]
        fn phrase_search_agrees_with_substring_search(
            parts in proptest::collection::vec(
                proptest::collection::vec(
                    prop_oneof![
                        proptest::sample::select(NEEDLES).prop_map(str::to_owned),
                        "[a-zA-Z :/]{0,8}",
                    ],
                    0..6,
                ).prop_map(|pieces| pieces.concat()),
                0..3,
            )
        ) {
            let text = Texts::new(parts.iter().map(String::as_str));
            for group in GROUPS {
                prop_assert_eq!(text.any(group), reference(&parts, group));
            }
        }
    }
}
