//! ECS failure classes, from ECS's own texts only: a task's `stopCode`, `stoppedReason`, each container's
//! `reason` and exit code, and the reasons of service and deployment events.
//!
//! The matching uses the wording AWS actually writes (see the fixtures in `tests/fixtures/events/` and
//! the ECS "stopped task errors" documentation), case-insensitively, most specific first. These
//! functions are never given another service's text (a Lambda error, a Batch job description): see
//! [`super`].

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use super::FailureClass;
use crate::kind::ecs_task::{Container, EcsTask, StopCode};

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
    RATE_LIMITED = ["toomanyrequests", "too many requests", "pull rate limit"];
    REGISTRY_UNREACHABLE = ["i/o timeout", "connection issue", "dial tcp", "no route", "timed out", "timeout"];
    IMAGE_ACCESS_DENIED = ["pull access denied", "accessdenied", "not authorized", "403 forbidden", "unauthorized"];
    IMAGE_NOT_FOUND = ["not found", "manifest unknown", "does not exist"];
    SECRETS_AT_START = ["resourceinitializationerror: unable to pull secrets"];
    ELB_HEALTH_CHECK = ["elb health checks", "load balancer health checks"];
    CONTAINER_HEALTH_CHECK = ["container health checks"];
    SPOT_INTERRUPTION = ["spot task was interrupted", "spot interruption"];
    INFRASTRUCTURE = ["performing maintenance on the underlying infrastructure", "host ec2", "instance deregistration", "container instance was terminated"];
    CANNOT_START = ["cannotstartcontainererror"];
    CANNOT_INSPECT = ["cannotinspectcontainererror"];
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
        // Checked before the others: Docker Hub's answer also says "unauthorized"-like things.
        if text.any(RATE_LIMITED) {
            return Some(FailureClass::ImagePullRateLimited);
        }
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
    if text.any(CANNOT_INSPECT) {
        return Some(FailureClass::CannotInspectContainer);
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

/// Whether the task ran on Spot capacity: a Fargate Spot or EC2 Spot capacity provider, by its name
/// (`FARGATE_SPOT`, or a provider its owner named after Spot), when ECS reports one.
fn on_spot(task: &EcsTask) -> bool {
    task.capacity_provider
        .as_deref()
        .is_some_and(|p| p.to_ascii_lowercase().contains("spot"))
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
    match task.stop_code {
        Some(StopCode::SpotInterruption) => return FailureClass::SpotInterruption,
        // ECS also sends a termination notice when an on-demand container instance is terminated
        // (scale-in, an instance refresh): only Spot capacity makes it a Spot reclaim.
        Some(StopCode::TerminationNotice) if on_spot(task) => {
            return FailureClass::SpotInterruption;
        }
        Some(StopCode::TerminationNotice) => return FailureClass::Infrastructure,
        _ => {}
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
        // A container that exited 0 ran: ECS reports very short tasks this way.
        if task.containers.iter().any(|c| c.exit_code == Some(0)) {
            return FailureClass::FinishedBeforeStartReported;
        }
        return FailureClass::TaskFailedToStart;
    }
    FailureClass::Other
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
        CANNOT_INSPECT,
        RATE_LIMITED,
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
