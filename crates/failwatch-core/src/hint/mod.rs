//! Failure classes: what kind of failure an alert reports, the few words a title uses for it, and in
//! plain words what usually fixes it.
//!
//! A class comes only from the source that reported the failure, so a hint always fits it: ECS classes
//! from ECS texts (stopped reasons, container reasons, task descriptions; [`ecs`]), Lambda, Batch, Glue
//! and `States.*` classes from the Step Functions integration that failed
//! (`crate::kind::sfn_execution`'s integration modules). A word in one service's text never picks
//! another service's class: a Lambda whose own log call failed is not an ECS logging-driver failure.
//!
//! Every class is declared once in the `classes!` table below with its stable code (part of the group
//! key, so never renamed), its phrase and its hint.

mod ecs;

pub(crate) use ecs::{failed_containers, reason_class, task_class};

/// Declares [`FailureClass`] and its three tables from one list: `Variant = (code, phrase, hint)`.
macro_rules! classes {
    ($( $(#[$doc:meta])* $variant:ident = ($code:literal, $phrase:literal, $hint:expr), )+) => {
        /// What kind of failure an alert reports.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum FailureClass {
            $( $(#[$doc])* $variant, )+
        }

        impl FailureClass {
            /// Every class, in declaration order.
            #[cfg(test)]
            pub(crate) const ALL: &'static [FailureClass] = &[$(FailureClass::$variant),+];

            /// A stable snake_case name, used in group keys.
            pub fn code(self) -> &'static str {
                match self {
                    $( FailureClass::$variant => $code, )+
                }
            }

            /// A few words for titles, e.g. "out of memory".
            pub fn phrase(self) -> &'static str {
                match self {
                    $( FailureClass::$variant => $phrase, )+
                }
            }

            /// Plain-language advice, or `None` when there is nothing more useful to say than the
            /// reason itself.
            pub fn hint(self) -> Option<&'static str> {
                match self {
                    $( FailureClass::$variant => $hint, )+
                }
            }
        }
    };
}

classes! {
    // ECS tasks, services and deployments.
    /// A container was killed for exceeding its memory (`OutOfMemoryError`).
    OutOfMemory = ("out_of_memory", "out of memory", Some(
        "A container used more memory than its limit and was killed. Raise the container's or the \
         task's memory in the task definition, or find what grows (a leak, a large batch, an \
         unbounded cache); the memory graph of the service shows the trend.")),
    /// The image or tag does not exist in the registry.
    ImageNotFound = ("image_not_found", "image not found", Some(
        "The image or tag does not exist in the registry. Check the image URI and tag in the task \
         definition and that the push finished before the deployment; ECR lifecycle rules may have \
         deleted an old tag.")),
    /// The registry refused the pull (ECR permissions, private registry credentials).
    ImageAccessDenied = ("image_access_denied", "image pull denied", Some(
        "The registry refused the pull. The task execution role needs ecr:GetAuthorizationToken, \
         ecr:BatchGetImage and ecr:GetDownloadUrlForLayer (and kms:Decrypt for encrypted \
         repositories); a cross-account repository also needs a repository policy; a private \
         registry needs repositoryCredentials.")),
    /// The registry answered "too many requests": Docker Hub's pull rate limit.
    ImagePullRateLimited = ("image_pull_rate_limited", "image pull rate-limited", Some(
        "The registry refused the pull with \"too many requests\": Docker Hub limits anonymous pulls \
         per IP address, and tasks behind one NAT gateway share it. Authenticate the pulls \
         (repositoryCredentials with a Docker Hub token), or pull through an ECR pull-through cache \
         rule for Docker Hub, or copy the image into ECR.")),
    /// The task could not reach the registry (no route to ECR, i/o timeout).
    RegistryUnreachable = ("registry_unreachable", "registry unreachable", Some(
        "The task could not reach the registry (a network timeout). Tasks in private subnets need a \
         NAT gateway or VPC endpoints for ecr.api, ecr.dkr and S3; tasks in public subnets need a \
         public IP; check security groups, network ACLs and DNS.")),
    /// Any other `CannotPullContainerError`.
    ImagePull = ("image_pull", "image pull failed", Some(
        "The container image could not be pulled. Check the image URI, the registry's availability \
         and the task execution role's permissions.")),
    /// Secrets Manager or SSM parameters could not be retrieved at start-up.
    SecretsRetrieval = ("secrets_retrieval", "secrets could not be retrieved", Some(
        "ECS could not fetch the task's secrets or registry credentials. Check that every \
         secret/parameter ARN in the task definition exists, that the task execution role may \
         read it (secretsmanager:GetSecretValue, ssm:GetParameters, kms:Decrypt), and that the \
         task can reach Secrets Manager / SSM (NAT or VPC endpoints).")),
    /// The log driver could not be set up (missing log group, permissions).
    LoggingDriver = ("logging_driver", "logging setup failed", Some(
        "The log driver could not be set up. For awslogs, create the log group (or set \
         awslogs-create-group with logs:CreateLogGroup) and let the task execution role call \
         logs:CreateLogStream and logs:PutLogEvents; the task needs a route to CloudWatch Logs.")),
    /// The load balancer's target group health checks failed.
    ElbHealthCheck = ("elb_health_check", "failed load balancer health checks", Some(
        "The load balancer marked the task unhealthy and ECS replaced it. Check that the app \
         listens on the target group's port, that the health-check path answers 200 quickly, and \
         that the service's health-check grace period covers the start-up time.")),
    /// The container's own `healthCheck` failed.
    ContainerHealthCheck = ("container_health_check", "failed container health checks", Some(
        "The container's own health check kept failing. Run the health-check command inside the \
         container, and check its timeout, retries and startPeriod against the real start-up time.")),
    /// Exit 137 without an out-of-memory reason: SIGKILL.
    Killed = ("killed", "killed (SIGKILL)", Some(
        "The container was killed with SIGKILL (exit 137) without an out-of-memory reason: usually \
         it did not stop within the stop timeout after SIGTERM (handle SIGTERM, or raise \
         stopTimeout), or something killed it from inside the container.")),
    /// Exit 139: segmentation fault.
    Segfault = ("segfault", "segmentation fault", Some(
        "The process crashed with a segmentation fault (exit 139). Look for native crashes in the \
         logs: a bad native library, an architecture mismatch (arm64 vs x86_64) or a stack overflow.")),
    /// `CannotStartContainerError`: the runtime could not start the container.
    CannotStartContainer = ("cannot_start_container", "container could not start", Some(
        "The container runtime could not start the container. Check the entry point and command, \
         the memory settings, and any mounted volumes or files the container needs.")),
    /// `CannotInspectContainerError`: the container runtime on the instance stopped answering.
    CannotInspectContainer = ("cannot_inspect_container", "container runtime stopped answering", Some(
        "The ECS agent could not inspect the container: the container runtime (Docker or \
         containerd) on the instance stopped answering, so the exit code is unknown. Look at the \
         instance's health (disk full, memory or CPU exhausted, I/O stalls), update the ECS agent \
         and the ECS-optimized AMI, and drain or replace the instance if it keeps happening.")),
    /// Any other non-zero exit of a container.
    ExitNonZero = ("exit_nonzero", "container exited with an error", Some(
        "An essential container exited with an error. Its logs (the task logs link) say why.")),
    /// `TaskFailedToStart` without a more specific reason.
    TaskFailedToStart = ("task_failed_to_start", "failed to start", Some(
        "The task stopped before its containers started. Check the task's stopped reason in the \
         console; on EC2 with awsvpc networking this is often ENI exhaustion on the instances, \
         otherwise image, secrets or network configuration.")),
    /// `TaskFailedToStart` although the essential container ran and exited 0: a very short task.
    FinishedBeforeStartReported = ("finished_before_start_reported", "finished before ECS saw it start", Some(
        "ECS reported TaskFailedToStart, but the essential container ran and exited 0. This happens \
         to tasks that finish within a second or two, before ECS records them as running: the work \
         most likely succeeded. Check its output; if it did not run, look at the container's logs. \
         A task that runs a little longer (or a short sleep at the end) avoids the report.")),
    /// Fargate Spot or EC2 Spot reclaimed the capacity.
    SpotInterruption = ("spot_interruption", "Spot capacity reclaimed", Some(
        "Spot capacity was reclaimed; ECS will start a replacement. If interruptions hurt, mix in \
         on-demand capacity in the capacity provider strategy and make the workload tolerate a \
         two-minute warning.")),
    /// ECS or EC2 stopped the task for infrastructure reasons (maintenance, host stopped).
    Infrastructure = ("infrastructure", "stopped by infrastructure", Some(
        "ECS or EC2 stopped the task for infrastructure reasons (maintenance, or the host was \
         terminated or stopped, for example by a scale-in of its Auto Scaling group); a service \
         replaces it. Alert again only if it keeps happening; enable managed termination \
         protection and instance draining so a scale-in waits for tasks.")),
    /// No capacity to place a task: CPU, memory, ENIs, no container instances.
    PlacementCapacity = ("placement_capacity", "no capacity to place tasks", Some(
        "ECS found no capacity to place the task: not enough CPU, memory or ENIs, or no container \
         instances. Scale the cluster or its capacity provider, use smaller tasks, or check \
         placement constraints; when Fargate Spot has no capacity (RESOURCE:FARGATE), give the \
         capacity provider strategy a FARGATE fallback.")),
    /// A service keeps failing to start tasks.
    TaskStartImpaired = ("task_start_impaired", "tasks keep failing to start", Some(
        "The service keeps failing to start tasks. The stopped tasks of the service show why; fix \
         the first error there.")),
    /// The deployment circuit breaker failed the deployment or rolled it back.
    CircuitBreaker = ("circuit_breaker", "deployment circuit breaker tripped", Some(
        "The deployment circuit breaker stopped the deployment because new tasks kept failing; with \
         rollback enabled the service returns to the last working deployment. Look at why the new \
         tasks stopped before deploying again.")),
    /// A deployment failed for another reason.
    DeploymentFailed = ("deployment_failed", "deployment failed", Some(
        "The deployment failed. The service's events and stopped tasks say why.")),

    // AWS Lambda, as Step Functions reports a failed `lambda:invoke`.
    /// The function ran for its whole configured timeout.
    LambdaTimeout = ("lambda_timeout", "Lambda function timed out", Some(
        "The Lambda function ran until its configured timeout and was stopped. Raise the function's \
         Timeout (at most 900 seconds) if the work is legitimately slow, or find what hangs (a \
         network call without its own timeout, a lock); for longer work run it on ECS or Batch.")),
    /// The function ran out of memory.
    LambdaOutOfMemory = ("lambda_out_of_memory", "Lambda function out of memory", Some(
        "The Lambda function ran out of memory. Raise the function's MemorySize (which also adds \
         CPU), or process the input in smaller pieces; the REPORT line in its logs shows \
         \"Max Memory Used\".")),
    /// Lambda throttled the invocation (`Lambda.TooManyRequestsException`).
    LambdaThrottled = ("lambda_throttled", "Lambda invocation throttled", Some(
        "Lambda refused the invocation: the function's reserved concurrency or the account's \
         concurrency limit was reached. Add a Retry with backoff on Lambda.TooManyRequestsException \
         to the state, lower the Map state's MaxConcurrency, or raise the concurrency limit.")),
    /// The Lambda service failed, not the function (`Lambda.ServiceException` and the like).
    LambdaServiceError = ("lambda_service_error", "Lambda service error", Some(
        "The Lambda service itself failed to run the invocation (a transient error). Step Functions \
         recommends a Retry on Lambda.ServiceException, Lambda.AWSLambdaException, \
         Lambda.SdkClientException and Lambda.ClientExecutionTimeoutException in every Lambda \
         task.")),
    /// The function's code raised an error (its `errorType` and `errorMessage`).
    LambdaFunctionError = ("lambda_function_error", "Lambda function error", Some(
        "The Lambda function's code raised an error. Its message and stack trace are above; the \
         function's CloudWatch logs for that request id show the rest.")),

    // AWS Batch, as Step Functions reports a failed `batch:submitJob.sync`.
    /// A Batch job's container ran out of memory.
    BatchOutOfMemory = ("batch_out_of_memory", "Batch job out of memory", Some(
        "The Batch job's container used more memory than its limit and was killed. Raise MEMORY in \
         the job definition's resourceRequirements (or in the job's container overrides), or \
         process less at once.")),
    /// A Batch job's image could not be pulled.
    BatchImagePull = ("batch_image_pull", "Batch job image pull failed", Some(
        "The Batch job's image could not be pulled. Check the image URI in the job definition, the \
         execution role's ECR permissions, and that the compute environment's subnets reach the \
         registry (NAT gateway or VPC endpoints).")),
    /// A Batch job attempt ran past its timeout.
    BatchTimeout = ("batch_timeout", "Batch job timed out", Some(
        "The Batch job attempt ran longer than its timeout (attemptDurationSeconds) and was \
         terminated. Raise the timeout if the work is legitimately slow, or find what hung.")),
    /// The instance running the Batch job went away (Spot reclaim, scale-in).
    BatchHostTerminated = ("batch_host_terminated", "Batch job's host terminated", Some(
        "The instance running the Batch job was terminated (a Spot reclaim or a scale-in). Give the \
         job a retryStrategy with evaluateOnExit retrying on \"Host EC2*\", or use on-demand \
         capacity for jobs that cannot be interrupted.")),
    /// A Batch job's container exited non-zero.
    BatchExitNonZero = ("batch_exit_nonzero", "Batch job exited with an error", Some(
        "The Batch job's container exited with an error. Its log stream in /aws/batch/job (the job \
         logs link) says why.")),
    /// A Batch job failed for another reason.
    BatchFailed = ("batch_failed", "Batch job failed", Some(
        "The Batch job failed; its status reason says why. The job's attempts in the Batch console \
         show each try.")),

    // AWS Glue, as Step Functions reports a failed `glue:startJobRun.sync`.
    /// A Glue job run ran past its timeout.
    GlueTimeout = ("glue_timeout", "Glue job run timed out", Some(
        "The Glue job run exceeded its Timeout (minutes) and was stopped. Raise the job's timeout, \
         add workers, or process less per run.")),
    /// A Glue job run failed.
    GlueJobFailed = ("glue_job_failed", "Glue job run failed", Some(
        "The Glue job run failed; its error message is above. The run's driver and executor logs \
         (/aws-glue/jobs/error and /aws-glue/jobs/output) have the stack trace.")),

    // Step Functions itself.
    /// A Step Functions execution or state timed out (`States.Timeout`, `TIMED_OUT`).
    SfnTimeout = ("sfn_timeout", "timed out", Some(
        "The execution or a state ran longer than its TimeoutSeconds. Raise the timeout if the work \
         is legitimately slow, add a HeartbeatSeconds for long tasks, or find what hung.")),
    /// A task sent no heartbeat within its `HeartbeatSeconds` (`States.HeartbeatTimeout`).
    StatesHeartbeatTimeout = ("states_heartbeat_timeout", "heartbeat timed out", Some(
        "The task sent no heartbeat (SendTaskHeartbeat) within HeartbeatSeconds. The worker holding \
         the task token stopped or hung; check it, or raise HeartbeatSeconds.")),
    /// A definition or input bug (`States.Runtime`, path and intrinsic failures, no choice matched).
    StatesRuntime = ("states_runtime", "definition or input error", Some(
        "Step Functions could not run the state as written: a JSONPath or JSONata expression, an \
         intrinsic function or a Choice rule did not fit the state's input. This is a bug in the \
         state machine definition or in the input it was given, not in a task; retrying will not \
         help. The execution's event history shows the input of the failed state.")),
    /// A Map state's failures exceeded its tolerated threshold.
    StatesToleratedFailureExceeded = ("states_tolerated_failure_exceeded", "too many Map items failed", Some(
        "More items of a Map state failed than its ToleratedFailurePercentage or \
         ToleratedFailureCount allow. The Map Run's page lists the failed child executions and \
         their errors.")),
    /// Step Functions was not allowed to do what the state asks (`States.Permissions`).
    StatesPermissions = ("states_permissions", "not permitted", Some(
        "The state machine's role may not perform the state's action. Add the action (and for .sync \
         integrations the events:PutTargets/PutRule/DescribeRule permissions Step Functions \
         needs) to the state machine's IAM role.")),
    /// A state's input or output exceeded 256 KiB (`States.DataLimitExceeded`).
    StatesDataLimitExceeded = ("states_data_limit_exceeded", "payload too large", Some(
        "A state's input, output or result exceeded Step Functions' 256 KiB payload limit. Keep \
         large data in S3 and pass its key, or trim the result with ResultSelector/OutputPath.")),
    /// A branch of a Parallel state failed (`States.BranchFailed`).
    StatesBranchFailed = ("states_branch_failed", "a parallel branch failed", Some(
        "A branch of a Parallel state failed and took the state down. The cause names the branch's \
         own error; the execution's event history shows which branch.")),
    /// A Step Functions execution was aborted.
    SfnAborted = ("sfn_aborted", "aborted", Some(
        "Someone or something stopped the execution (StopExecution). Check who, in CloudTrail, if \
         it was not expected.")),
    /// A Step Functions execution failed for a reason not recognised above.
    SfnFailed = ("sfn_failed", "failed", None),
    /// Nothing more specific is known.
    Other = ("other", "failed", None),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut codes: Vec<&str> = FailureClass::ALL.iter().map(|c| c.code()).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
        codes.sort_unstable();
        let before = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), before, "duplicate class codes");
    }
}
