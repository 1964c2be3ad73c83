# Plans and applies the module against a mocked AWS provider: no credentials, no network. Run with
# `terraform test` after `terraform init` (tests/infra/run.sh does both with a local provider mirror).
# The assertions pin the behaviour the worker depends on: the event patterns, the queue settings, the
# least-privilege worker policy, the Fargate task's hardening, and the validations that reject bad
# input before anything is created.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_region" {
    defaults = {
      id = "ap-northeast-2"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

# Computed attributes the provider would fill in, distinct per resource so that assertions comparing
# them mean something (and valid enough for the provider's own ARN checks).
override_resource {
  target = aws_sqs_queue.main
  values = {
    arn = "arn:aws:sqs:ap-northeast-2:123456789012:ci-test-failwatch"
    url = "https://sqs.ap-northeast-2.amazonaws.com/123456789012/ci-test-failwatch"
  }
}

override_resource {
  target = aws_sqs_queue.dlq
  values = {
    arn = "arn:aws:sqs:ap-northeast-2:123456789012:ci-test-failwatch-dlq"
    url = "https://sqs.ap-northeast-2.amazonaws.com/123456789012/ci-test-failwatch-dlq"
  }
}

override_resource {
  target = aws_cloudwatch_event_rule.this
  values = {
    arn = "arn:aws:events:ap-northeast-2:123456789012:rule/ci-test-failwatch"
  }
}

override_resource {
  target = aws_iam_role.worker
  values = {
    arn = "arn:aws:iam::123456789012:role/ci-test-failwatch-worker"
  }
}

override_resource {
  target = aws_iam_role.execution
  values = {
    arn = "arn:aws:iam::123456789012:role/ci-test-failwatch-execution"
  }
}

override_resource {
  target = aws_kms_key.this
  values = {
    arn = "arn:aws:kms:ap-northeast-2:123456789012:key/00000000-0000-0000-0000-000000000000"
  }
}

override_resource {
  target = aws_ecs_cluster.this
  values = {
    arn = "arn:aws:ecs:ap-northeast-2:123456789012:cluster/ci-test-failwatch"
  }
}

override_resource {
  target = aws_ecs_task_definition.worker
  values = {
    arn = "arn:aws:ecs:ap-northeast-2:123456789012:task-definition/ci-test-failwatch:1"
  }
}

override_resource {
  target = aws_cloudwatch_log_group.worker
  values = {
    arn = "arn:aws:logs:ap-northeast-2:123456789012:log-group:/ecs/ci-test-failwatch"
  }
}

variables {
  name                          = "ci-test"
  worker_irsa_oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.ap-northeast-2.amazonaws.com/id/EXAMPLE"
}

run "defaults_watch_everything_with_sse_sqs" {
  command = apply

  assert {
    condition     = toset(keys(aws_cloudwatch_event_rule.this)) == toset(["ecs-task-stopped", "ecs-deployment-failed", "ecs-service-action", "sfn-failed", "ecs-steady-state", "ecs-deploy-completed", "sfn-succeeded"])
    error_message = "expected the four failure rules and, recovery notices being on by default, the three recovery rules"
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.this["ecs-task-stopped"].event_pattern) == {
      source        = ["aws.ecs"]
      "detail-type" = ["ECS Task State Change"]
      detail        = { lastStatus = ["STOPPED"] }
    }
    error_message = "the task rule must match every STOPPED task (the worker decides what failed)"
  }

  assert {
    condition     = !can(jsondecode(aws_cloudwatch_event_rule.this["ecs-deployment-failed"].event_pattern).resources)
    error_message = "without a cluster filter the deployment rule must not filter on resources"
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this["sfn-failed"].event_pattern).detail.status == ["FAILED", "TIMED_OUT", "ABORTED"]
    error_message = "the Step Functions rule must match FAILED, TIMED_OUT and ABORTED"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.main.redrive_policy).maxReceiveCount == 5
    error_message = "maxReceiveCount defaults to 5"
  }

  assert {
    condition     = aws_sqs_queue.main.receive_wait_time_seconds == 20 && aws_sqs_queue.main.visibility_timeout_seconds > 30
    error_message = "the queue must long-poll and keep messages invisible longer than the retry budget"
  }

  assert {
    condition     = aws_sqs_queue.dlq.message_retention_seconds == 1209600
    error_message = "the DLQ keeps messages 14 days"
  }

  assert {
    condition     = aws_sqs_queue.main.sqs_managed_sse_enabled == true && aws_sqs_queue.main.kms_master_key_id == null
    error_message = "queues default to SQS-managed encryption"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.dlq.redrive_allow_policy).sourceQueueArns == ["arn:aws:sqs:ap-northeast-2:123456789012:ci-test-failwatch"]
    error_message = "only the failwatch queue may dead-letter into the DLQ"
  }

  assert {
    condition     = alltrue([for t in aws_cloudwatch_event_target.this : t.arn == aws_sqs_queue.main.arn && t.dead_letter_config[0].arn == aws_sqs_queue.dlq.arn])
    error_message = "every rule targets the queue with the DLQ as its dead-letter queue"
  }

  assert {
    condition     = length(aws_ecs_service.worker) == 0 && length(aws_kms_key.this) == 0
    error_message = "no Fargate worker and no KMS key unless asked for"
  }

  assert {
    condition     = output.worker_environment.FAILWATCH_SQS__QUEUE_URL == aws_sqs_queue.main.url
    error_message = "worker_environment must name the queue"
  }
}

run "recovery_notices_add_recovery_rules_and_tell_the_worker" {
  command = apply

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.this["ecs-steady-state"].event_pattern) == {
      source        = ["aws.ecs"]
      "detail-type" = ["ECS Service Action"]
      detail        = { eventType = ["INFO"], eventName = ["SERVICE_STEADY_STATE"] }
    }
    error_message = "the steady-state rule must match INFO SERVICE_STEADY_STATE service actions only"
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.this["ecs-deploy-completed"].event_pattern) == {
      source        = ["aws.ecs"]
      "detail-type" = ["ECS Deployment State Change"]
      detail        = { eventName = ["SERVICE_DEPLOYMENT_COMPLETED"] }
    }
    error_message = "the deployment rule must match SERVICE_DEPLOYMENT_COMPLETED only"
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.this["sfn-succeeded"].event_pattern) == {
      source        = ["aws.states"]
      "detail-type" = ["Step Functions Execution Status Change"]
      detail        = { status = ["SUCCEEDED"] }
    }
    error_message = "the Step Functions recovery rule must match SUCCEEDED only"
  }

  assert {
    condition     = alltrue([for k in ["ecs-steady-state", "ecs-deploy-completed", "sfn-succeeded"] : aws_cloudwatch_event_target.this[k].arn == aws_sqs_queue.main.arn && aws_cloudwatch_event_target.this[k].dead_letter_config[0].arn == aws_sqs_queue.dlq.arn])
    error_message = "the recovery rules target the queue, with the DLQ, like the failure rules"
  }

  assert {
    condition     = output.worker_environment.FAILWATCH_GROUPING__RECOVERY_NOTICES == "true"
    error_message = "worker_environment must turn the worker's recovery notices on with the rules"
  }
}

run "recovery_notices_off_leaves_the_failure_rules_as_they_were" {
  command = apply

  variables {
    recovery_notices   = false
    cluster_arns       = ["arn:aws:ecs:ap-northeast-2:123456789012:cluster/prod"]
    state_machine_arns = ["arn:aws:states:ap-northeast-2:123456789012:stateMachine:nightly"]
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_event_rule.this)) == toset(["ecs-task-stopped", "ecs-deployment-failed", "ecs-service-action", "sfn-failed"])
    error_message = "without recovery notices only the four failure rules exist"
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.this["ecs-service-action"].event_pattern) == {
      source        = ["aws.ecs"]
      "detail-type" = ["ECS Service Action"]
      detail        = { eventType = ["WARN", "ERROR"], clusterArn = ["arn:aws:ecs:ap-northeast-2:123456789012:cluster/prod"] }
    }
    error_message = "the service action rule must still match WARN and ERROR only"
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.this["ecs-deployment-failed"].event_pattern) == {
      source        = ["aws.ecs"]
      "detail-type" = ["ECS Deployment State Change"]
      resources     = [{ prefix = "arn:aws:ecs:ap-northeast-2:123456789012:service/prod/" }]
      detail = {
        "$or" = [
          { eventName = ["SERVICE_DEPLOYMENT_FAILED"] },
          { reason = [{ wildcard = "*rolling back*" }] },
        ]
      }
    }
    error_message = "the deployment rule must still match failures and rollbacks only"
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.this["sfn-failed"].event_pattern) == {
      source        = ["aws.states"]
      "detail-type" = ["Step Functions Execution Status Change"]
      detail        = { status = ["FAILED", "TIMED_OUT", "ABORTED"], stateMachineArn = ["arn:aws:states:ap-northeast-2:123456789012:stateMachine:nightly"] }
    }
    error_message = "the Step Functions rule must still match FAILED, TIMED_OUT and ABORTED only"
  }

  assert {
    condition     = output.worker_environment.FAILWATCH_GROUPING__RECOVERY_NOTICES == "false"
    error_message = "worker_environment must turn the worker's recovery notices off with the rules"
  }
}

run "recovery_rules_follow_the_watched_kinds" {
  command = plan

  variables {
    watch = {
      ecs_tasks           = false
      ecs_deployments     = false
      ecs_service_actions = false
    }
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_event_rule.this)) == toset(["sfn-failed", "sfn-succeeded"])
    error_message = "with no ECS kind watched there are no ECS recovery rules"
  }
}

run "rule_names_fit_eventbridge_for_the_longest_name" {
  command = plan

  variables {
    name = "abcdefghijklmnopqrstuvwxyz012345"
  }

  assert {
    condition     = alltrue([for r in aws_cloudwatch_event_rule.this : length(r.name) <= 64])
    error_message = "EventBridge rule names are at most 64 characters"
  }
}

run "state_table_is_created_and_named_to_the_worker" {
  command = apply

  assert {
    condition     = aws_dynamodb_table.state[0].hash_key == "pk" && aws_dynamodb_table.state[0].billing_mode == "PAY_PER_REQUEST"
    error_message = "the state table is keyed by pk and billed on demand"
  }

  assert {
    condition     = aws_dynamodb_table.state[0].ttl[0].attribute_name == "expires_at" && aws_dynamodb_table.state[0].ttl[0].enabled
    error_message = "TTL must be on expires_at"
  }

  assert {
    condition     = aws_dynamodb_table.state[0].server_side_encryption[0].enabled && !aws_dynamodb_table.state[0].point_in_time_recovery[0].enabled
    error_message = "the table is encrypted; point-in-time recovery is off unless asked for"
  }

  assert {
    condition     = output.worker_environment.FAILWATCH_STATE__BACKEND == "dynamodb" && output.worker_environment.FAILWATCH_STATE__TABLE == aws_dynamodb_table.state[0].name
    error_message = "worker_environment must point the worker at the table"
  }
}

run "no_state_table_keeps_the_worker_in_memory" {
  command = plan

  variables {
    create_state_table = false
  }

  assert {
    condition     = length(aws_dynamodb_table.state) == 0 && !contains(keys(output.worker_environment), "FAILWATCH_STATE__BACKEND")
    error_message = "without the table the worker keeps its default memory backend"
  }
}

run "cluster_and_state_machine_filters" {
  command = apply

  variables {
    cluster_arns       = ["arn:aws:ecs:ap-northeast-2:123456789012:cluster/prod", "arn:aws:ecs:ap-northeast-2:123456789012:cluster/batch"]
    state_machine_arns = ["arn:aws:states:ap-northeast-2:123456789012:stateMachine:nightly"]
  }

  assert {
    condition     = jsonencode(jsondecode(aws_cloudwatch_event_rule.this["ecs-task-stopped"].event_pattern).detail.clusterArn) == jsonencode(var.cluster_arns)
    error_message = "the task rule must filter on detail.clusterArn"
  }

  assert {
    condition     = jsonencode(jsondecode(aws_cloudwatch_event_rule.this["ecs-service-action"].event_pattern).detail.clusterArn) == jsonencode(var.cluster_arns)
    error_message = "the service action rule must filter on detail.clusterArn"
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.this["ecs-deployment-failed"].event_pattern).resources == [
      { prefix = "arn:aws:ecs:ap-northeast-2:123456789012:service/prod/" },
      { prefix = "arn:aws:ecs:ap-northeast-2:123456789012:service/batch/" },
    ]
    error_message = "deployment events name the cluster only in the service ARN: filter by its prefix, with a trailing slash"
  }

  assert {
    condition     = jsonencode(jsondecode(aws_cloudwatch_event_rule.this["sfn-failed"].event_pattern).detail.stateMachineArn) == jsonencode(var.state_machine_arns)
    error_message = "the Step Functions rule must filter on detail.stateMachineArn"
  }

  # The recovery rules narrow exactly as the failure rules of the same events do (pinned above).
  assert {
    condition = alltrue([
      jsondecode(aws_cloudwatch_event_rule.this["ecs-steady-state"].event_pattern).detail.clusterArn == jsondecode(aws_cloudwatch_event_rule.this["ecs-service-action"].event_pattern).detail.clusterArn,
      jsondecode(aws_cloudwatch_event_rule.this["ecs-deploy-completed"].event_pattern).resources == jsondecode(aws_cloudwatch_event_rule.this["ecs-deployment-failed"].event_pattern).resources,
      jsondecode(aws_cloudwatch_event_rule.this["sfn-succeeded"].event_pattern).detail.stateMachineArn == jsondecode(aws_cloudwatch_event_rule.this["sfn-failed"].event_pattern).detail.stateMachineArn,
    ])
    error_message = "the recovery rules must carry the failure rules' cluster and state machine filters"
  }
}

run "kms_key_is_created_and_used" {
  command = apply

  variables {
    create_kms_key = true
  }

  assert {
    condition     = aws_sqs_queue.main.kms_master_key_id == aws_kms_key.this[0].arn && aws_sqs_queue.dlq.kms_master_key_id == aws_kms_key.this[0].arn
    error_message = "both queues must use the created key"
  }

  assert {
    condition     = aws_kms_key.this[0].enable_key_rotation
    error_message = "key rotation must be on"
  }
}

run "fargate_worker_is_hardened" {
  command = apply

  variables {
    worker_irsa_oidc_provider_arn  = null
    create_fargate_service         = true
    fargate_image                  = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/failwatch:0.1.0"
    fargate_subnet_ids             = ["subnet-0123456789abcdef0"]
    fargate_security_group_ids     = ["sg-0123456789abcdef0"]
    fargate_webhook_url_secret_arn = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:failwatch/ci-test/webhook-url-AbCdEf"
    fargate_webhook_type           = "google-chat"
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].readonlyRootFilesystem == true
    error_message = "the worker's root filesystem must be read-only"
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].user == "65532:65532"
    error_message = "the worker must run as the numeric non-root user"
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].stopTimeout > 20
    error_message = "stopTimeout must exceed the worker's 20 s drain"
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].secrets == [{ name = "FAILWATCH_WEBHOOK_URL", valueFrom = var.fargate_webhook_url_secret_arn }]
    error_message = "the webhook URL must come from the secret, by reference"
  }

  assert {
    condition     = !contains([for e in jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].environment : e.name], "FAILWATCH_WEBHOOK_URL")
    error_message = "the webhook URL must never be a plain environment variable"
  }

  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].environment, { name = "FAILWATCH_WEBHOOK_TYPE", value = "google-chat" })
    error_message = "fargate_webhook_type must reach the worker"
  }

  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].environment, { name = "FAILWATCH_GROUPING__RECOVERY_NOTICES", value = "true" })
    error_message = "the Fargate worker's recovery notices must follow recovery_notices"
  }

  assert {
    condition     = aws_ecs_task_definition.worker[0].task_role_arn == aws_iam_role.worker.arn
    error_message = "the task role is the worker role"
  }

  assert {
    condition     = aws_ecs_service.worker[0].deployment_circuit_breaker[0].rollback
    error_message = "a broken worker image must roll back"
  }

  assert {
    condition     = length(aws_ecs_cluster.this) == 1
    error_message = "a cluster is created when none is given"
  }
}

run "fargate_without_a_secret_is_rejected" {
  command = plan

  variables {
    create_fargate_service     = true
    fargate_image              = "failwatch:0.1.0"
    fargate_subnet_ids         = ["subnet-0123456789abcdef0"]
    fargate_security_group_ids = ["sg-0123456789abcdef0"]
  }

  expect_failures = [aws_iam_role.execution]
}

run "a_role_nobody_can_assume_is_rejected" {
  command = plan

  variables {
    worker_irsa_oidc_provider_arn = null
  }

  expect_failures = [aws_iam_role.worker]
}

run "visibility_timeout_must_exceed_the_retry_budget" {
  command = plan

  variables {
    visibility_timeout_seconds = 30
  }

  expect_failures = [var.visibility_timeout_seconds]
}

run "bad_names_and_arns_are_rejected" {
  command = plan

  variables {
    name         = "Prod_Env"
    cluster_arns = ["prod"]
  }

  expect_failures = [var.name, var.cluster_arns]
}

run "at_least_one_event_kind" {
  command = plan

  variables {
    watch = {
      ecs_tasks           = false
      ecs_deployments     = false
      ecs_service_actions = false
      step_functions      = false
    }
  }

  expect_failures = [var.watch]
}
