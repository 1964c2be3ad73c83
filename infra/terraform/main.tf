data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  # `id` is the region name in provider 5.x and 6.x alike (6.x deprecates `name` for `region`).
  region = data.aws_region.current.id

  queue_name = "${var.name}-failwatch"
  dlq_name   = "${var.name}-failwatch-dlq"
  # Built from the name so that the DLQ's redrive-allow policy does not depend on the main queue,
  # which depends on the DLQ.
  queue_arn = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.queue_name}"

  kms_key_arn = var.create_kms_key ? aws_kms_key.this[0].arn : var.kms_key_arn

  # Optional filters, as objects that merge() into an event pattern only when the list is non-empty.
  cluster_filter       = { for k, v in { clusterArn = var.cluster_arns } : k => v if length(var.cluster_arns) > 0 }
  state_machine_filter = { for k, v in { stateMachineArn = var.state_machine_arns } : k => v if length(var.state_machine_arns) > 0 }
  # ECS Deployment State Change events carry no clusterArn; the cluster appears only in the service
  # ARN in `resources`. The trailing slash keeps cluster "prod" from matching "prod2".
  deployment_resource_filter = {
    for k, v in {
      resources = [for arn in var.cluster_arns : { prefix = "${replace(arn, ":cluster/", ":service/")}/" }]
    } : k => v if length(var.cluster_arns) > 0
  }

  rules = {
    ecs-task-stopped = {
      enabled = var.watch.ecs_tasks
      # Whether a stopped task failed (an essential container exited non-zero, a pull or start error,
      # a Spot interruption) is decided by the worker: event patterns cannot express it.
      description = "Every stopped ECS task; failwatch decides which ones failed."
      pattern = jsonencode({
        source        = ["aws.ecs"]
        "detail-type" = ["ECS Task State Change"]
        detail        = merge({ lastStatus = ["STOPPED"] }, local.cluster_filter)
      })
    }
    ecs-deployment-failed = {
      enabled     = var.watch.ecs_deployments
      description = "Failed ECS deployments and circuit-breaker or alarm rollbacks."
      pattern = jsonencode(merge({
        source        = ["aws.ecs"]
        "detail-type" = ["ECS Deployment State Change"]
        detail = {
          "$or" = [
            { eventName = ["SERVICE_DEPLOYMENT_FAILED"] },
            { reason = [{ wildcard = "*rolling back*" }] },
          ]
        }
      }, local.deployment_resource_filter))
    }
    ecs-service-action = {
      enabled     = var.watch.ecs_service_actions
      description = "ECS service warnings and errors (tasks failing to start or to be placed)."
      pattern = jsonencode({
        source        = ["aws.ecs"]
        "detail-type" = ["ECS Service Action"]
        detail        = merge({ eventType = ["WARN", "ERROR"] }, local.cluster_filter)
      })
    }
    sfn-failed = {
      enabled     = var.watch.step_functions
      description = "Step Functions executions that failed, timed out or were aborted."
      pattern = jsonencode({
        source        = ["aws.states"]
        "detail-type" = ["Step Functions Execution Status Change"]
        detail        = merge({ status = ["FAILED", "TIMED_OUT", "ABORTED"] }, local.state_machine_filter)
      })
    }
  }
  enabled_rules = { for k, v in local.rules : k => v if v.enabled }

  tags = merge({ Project = "failwatch" }, var.tags)

  state_table_name = "${var.name}-failwatch-state"
  # The worker's [state] section, as override variables, when the module creates the table.
  state_environment = var.create_state_table ? {
    FAILWATCH_STATE__BACKEND = "dynamodb"
    FAILWATCH_STATE__TABLE   = local.state_table_name
  } : {}
}

################################################################################
# Encryption (optional customer managed key)
################################################################################

data "aws_iam_policy_document" "kms" {
  count = var.create_kms_key ? 1 : 0

  # Lets IAM policies in this account grant use of the key; the worker's grant is its role policy.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # SQS calls KMS on EventBridge's behalf when a rule target writes to an encrypted queue; without
  # this, deliveries fail and (the DLQ sharing the key) are lost.
  statement {
    sid       = "EventBridgeWritesEncryptedQueues"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "this" {
  count = var.create_kms_key ? 1 : 0

  description             = "failwatch ${var.name}: encrypts the failwatch queues"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms[0].json
  tags                    = local.tags

  lifecycle {
    precondition {
      condition     = var.kms_key_arn == null
      error_message = "Set either create_kms_key or kms_key_arn, not both."
    }
  }
}

resource "aws_kms_alias" "this" {
  count = var.create_kms_key ? 1 : 0

  name          = "alias/${var.name}-failwatch"
  target_key_id = aws_kms_key.this[0].key_id
}

################################################################################
# Queues
################################################################################

resource "aws_sqs_queue" "dlq" {
  name                              = local.dlq_name
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = local.kms_key_arn == null ? true : null
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = local.kms_key_arn == null ? null : 3600

  # Only the failwatch queue may dead-letter into this one.
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.queue_arn]
  })

  tags = local.tags
}

resource "aws_sqs_queue" "main" {
  name                              = local.queue_name
  receive_wait_time_seconds         = 20
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  sqs_managed_sse_enabled           = local.kms_key_arn == null ? true : null
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = local.kms_key_arn == null ? null : 3600

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = local.tags
}

# Only EventBridge may send, and only for this module's rules; nothing may use plain HTTP. The DLQ is
# every rule target's dead-letter queue, so EventBridge writes there too.
data "aws_iam_policy_document" "queue" {
  for_each = {
    main = aws_sqs_queue.main.arn
    dlq  = aws_sqs_queue.dlq.arn
  }

  statement {
    sid       = "EventBridgeRulesSend"
    actions   = ["sqs:SendMessage"]
    resources = [each.value]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for rule in aws_cloudwatch_event_rule.this : rule.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "main" {
  queue_url = aws_sqs_queue.main.id
  policy    = data.aws_iam_policy_document.queue["main"].json
}

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = data.aws_iam_policy_document.queue["dlq"].json
}

################################################################################
# Shared state
################################################################################

# One item per alert claim and per (alert, destination) delivery, none larger than a few hundred
# bytes; every item expires after the worker's dedup.ttl. The worker never creates or alters the table.
resource "aws_dynamodb_table" "state" {
  count = var.create_state_table ? 1 : 0

  name         = local.state_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  # TTL deletes lazily; the worker compares expires_at itself and never relies on the deletion.
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  # The queues' customer managed key when there is one, else the AWS managed key for DynamoDB.
  server_side_encryption {
    enabled     = true
    kms_key_arn = local.kms_key_arn
  }

  point_in_time_recovery {
    enabled = var.state_table_point_in_time_recovery
  }

  tags = local.tags
}

################################################################################
# EventBridge rules
################################################################################

resource "aws_cloudwatch_event_rule" "this" {
  for_each = local.enabled_rules

  name           = "${var.name}-failwatch-${each.key}"
  description    = each.value.description
  event_bus_name = var.event_bus_name
  event_pattern  = each.value.pattern
  state          = "ENABLED"
  tags           = local.tags
}

# The whole event is the message body (no input transformer): the worker decodes the envelope. A
# retry policy rides out throttling; events EventBridge cannot deliver at all go to the DLQ.
resource "aws_cloudwatch_event_target" "this" {
  for_each = local.enabled_rules

  rule           = aws_cloudwatch_event_rule.this[each.key].name
  event_bus_name = var.event_bus_name
  target_id      = "failwatch-queue"
  arn            = aws_sqs_queue.main.arn

  retry_policy {
    maximum_event_age_in_seconds = var.event_target_retry.maximum_event_age_in_seconds
    maximum_retry_attempts       = var.event_target_retry.maximum_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }
}

################################################################################
# Alarms
################################################################################

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-failwatch-dlq-not-empty"
  alarm_description   = "failwatch could not deliver some failure alerts (or EventBridge could not enqueue them). Inspect with `failwatch dlq peek`; redrive with `failwatch dlq redrive` once the cause is fixed."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_message_age" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-failwatch-oldest-message-age"
  alarm_description   = "Failure events are waiting in the failwatch queue: the worker is down, cannot reach SQS, or is far behind. Alerts are late."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.main.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = var.oldest_message_age_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

################################################################################
# Worker IAM role (IRSA, Pod Identity or ECS task role)
################################################################################

locals {
  worker_ecs_trust = var.worker_ecs_task_trust || var.create_fargate_service
  # IRSA condition keys start with the provider's issuer host and path.
  irsa_issuer = var.worker_irsa_oidc_provider_arn == null ? null : element(split("oidc-provider/", var.worker_irsa_oidc_provider_arn), 1)
}

data "aws_iam_policy_document" "worker_assume" {
  dynamic "statement" {
    for_each = local.worker_ecs_trust ? [1] : []

    content {
      sid     = "EcsTasks"
      actions = ["sts:AssumeRole"]

      principals {
        type        = "Service"
        identifiers = ["ecs-tasks.amazonaws.com"]
      }

      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }

  dynamic "statement" {
    for_each = var.worker_pod_identity ? [1] : []

    content {
      sid     = "EksPodIdentity"
      actions = ["sts:AssumeRole", "sts:TagSession"]

      principals {
        type        = "Service"
        identifiers = ["pods.eks.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.irsa_issuer == null ? [] : [local.irsa_issuer]

    content {
      sid     = "EksIrsa"
      actions = ["sts:AssumeRoleWithWebIdentity"]

      principals {
        type        = "Federated"
        identifiers = [var.worker_irsa_oidc_provider_arn]
      }

      condition {
        test     = "StringEquals"
        variable = "${statement.value}:sub"
        values   = [for sa in var.worker_irsa_service_accounts : "system:serviceaccount:${sa}"]
      }

      condition {
        test     = "StringEquals"
        variable = "${statement.value}:aud"
        values   = ["sts.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "worker" {
  name                 = coalesce(var.worker_role_name, "${var.name}-failwatch-worker")
  description          = "failwatch worker (${var.name}): drains the failwatch queue, inspects and redrives its DLQ"
  assume_role_policy   = data.aws_iam_policy_document.worker_assume.json
  permissions_boundary = var.worker_role_permissions_boundary
  tags                 = local.tags

  lifecycle {
    precondition {
      condition     = local.worker_ecs_trust || var.worker_pod_identity || var.worker_irsa_oidc_provider_arn != null
      error_message = "Nothing could assume the worker role: set worker_irsa_oidc_provider_arn, worker_pod_identity, worker_ecs_task_trust or create_fargate_service."
    }
  }
}

data "aws_iam_policy_document" "worker" {
  statement {
    sid = "DrainQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
    ]
    resources = [aws_sqs_queue.main.arn]
  }

  # `failwatch dlq peek|redrive`: StartMessageMoveTask needs receive, delete and attributes on the
  # source (the DLQ) and SendMessage on the destination (the main queue).
  statement {
    sid = "InspectAndRedriveDeadLetterQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:StartMessageMoveTask",
      "sqs:ListMessageMoveTasks",
      "sqs:CancelMessageMoveTask",
    ]
    resources = [aws_sqs_queue.dlq.arn]
  }

  statement {
    sid       = "RedriveAndTestIntoQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.main.arn]
  }

  # The state store's item calls, on its table only: claims (conditional PutItem), delivered-to
  # records (PutItem, BatchGetItem), completion (UpdateItem), release (DeleteItem), and the GetItem a
  # lost claim may read back; group items (GetItem, conditional PutItem and DeleteItem) and the index
  # of open groups (GetItem, UpdateItem) use the same actions.
  dynamic "statement" {
    for_each = aws_dynamodb_table.state

    content {
      sid = "SharedState"
      actions = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchGetItem",
      ]
      resources = [statement.value.arn]
    }
  }

  dynamic "statement" {
    for_each = local.kms_key_arn == null ? [] : [local.kms_key_arn]

    content {
      sid       = "UseQueueKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

# Enrichment (`[enrichment]`): the failed container's task definition and log tail, the failed
# execution's history, and the tags of the service, task definition or state machine. These read calls
# name resources in any cluster or state machine the rules forward, so they cannot be scoped further.
data "aws_iam_policy_document" "enrichment" {
  statement {
    sid = "EnrichAlerts"
    actions = [
      "ecs:DescribeTaskDefinition",
      "ecs:ListTagsForResource",
      "logs:GetLogEvents",
      "states:GetExecutionHistory",
      "states:ListTagsForResource",
    ]
    resources = ["*"]
  }

  # `[[enrichment.accounts]]`: the roles assumed for other accounts' alerts, and only those.
  dynamic "statement" {
    for_each = length(var.enrichment_role_arns) == 0 ? [] : [var.enrichment_role_arns]

    content {
      sid       = "AssumeEnrichmentRoles"
      actions   = ["sts:AssumeRole"]
      resources = statement.value
    }
  }
}

resource "aws_iam_role_policy" "enrichment" {
  name   = "failwatch-enrichment"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.enrichment.json
}

resource "aws_iam_role_policy" "worker" {
  name   = "failwatch-queues"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

################################################################################
# Optional Fargate worker
################################################################################

locals {
  create_fargate_cluster = var.create_fargate_service && var.fargate_cluster_arn == null
  webhook_from_ssm       = var.fargate_webhook_url_secret_arn != null && can(regex("^arn:[^:]+:ssm:", var.fargate_webhook_url_secret_arn))

  fargate_environment = merge(
    {
      FAILWATCH_SQS__QUEUE_URL  = aws_sqs_queue.main.url
      FAILWATCH_SQS__DLQ_URL    = aws_sqs_queue.dlq.url
      FAILWATCH_ADMIN__LISTEN   = "0.0.0.0:9090"
      FAILWATCH_LOGGING__FORMAT = "json"
    },
    var.fargate_webhook_type == "auto" ? {} : { FAILWATCH_WEBHOOK_TYPE = var.fargate_webhook_type },
    local.state_environment,
    var.fargate_environment,
  )
}

resource "aws_ecs_cluster" "this" {
  count = local.create_fargate_cluster ? 1 : 0

  name = "${var.name}-failwatch"

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local.tags
}

resource "aws_cloudwatch_log_group" "worker" {
  count = var.create_fargate_service ? 1 : 0

  name              = "/ecs/${var.name}-failwatch"
  retention_in_days = var.fargate_log_retention_days
  tags              = local.tags
}

# Used by ECS itself, not the worker: pull the image, write logs, read the webhook URL into the
# container's environment.
data "aws_iam_policy_document" "execution_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  count = var.create_fargate_service ? 1 : 0

  name                 = "${var.name}-failwatch-execution"
  assume_role_policy   = data.aws_iam_policy_document.execution_assume.json
  permissions_boundary = var.worker_role_permissions_boundary
  tags                 = local.tags

  lifecycle {
    precondition {
      condition     = var.fargate_image != null && var.fargate_webhook_url_secret_arn != null
      error_message = "create_fargate_service needs fargate_image and fargate_webhook_url_secret_arn."
    }
  }
}

resource "aws_iam_role_policy_attachment" "execution" {
  count = var.create_fargate_service ? 1 : 0

  role       = aws_iam_role.execution[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secret" {
  count = var.create_fargate_service ? 1 : 0

  statement {
    sid     = "ReadWebhookUrl"
    actions = local.webhook_from_ssm ? ["ssm:GetParameters"] : ["secretsmanager:GetSecretValue"]
    # compact(): a missing ARN is reported by the execution role's precondition, not as a null here.
    resources = compact([var.fargate_webhook_url_secret_arn])
  }

  dynamic "statement" {
    for_each = var.fargate_webhook_secret_kms_key_arn == null ? [] : [var.fargate_webhook_secret_kms_key_arn]

    content {
      sid       = "DecryptWebhookUrl"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "execution_secret" {
  count = var.create_fargate_service ? 1 : 0

  name   = "read-webhook-url"
  role   = aws_iam_role.execution[0].id
  policy = data.aws_iam_policy_document.execution_secret[0].json
}

resource "aws_ecs_task_definition" "worker" {
  count = var.create_fargate_service ? 1 : 0

  family                   = "${var.name}-failwatch"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.fargate_cpu
  memory                   = var.fargate_memory
  task_role_arn            = aws_iam_role.worker.arn
  execution_role_arn       = aws_iam_role.execution[0].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.fargate_cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name                   = "failwatch"
      image                  = var.fargate_image
      essential              = true
      command                = ["run"]
      user                   = "65532:65532"
      readonlyRootFilesystem = true
      # Above the worker's shutdown_grace_secs (20 s) so that SIGTERM drains before SIGKILL.
      stopTimeout = 30
      portMappings = [
        { name = "admin", containerPort = 9090, protocol = "tcp" },
      ]
      environment = [for k in sort(keys(local.fargate_environment)) : { name = k, value = local.fargate_environment[k] }]
      secrets = [
        { name = "FAILWATCH_WEBHOOK_URL", valueFrom = var.fargate_webhook_url_secret_arn },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.worker[0].name
          awslogs-region        = local.region
          awslogs-stream-prefix = "failwatch"
        }
      }
    },
  ])

  tags = local.tags

  lifecycle {
    precondition {
      condition     = var.fargate_image != null && var.fargate_webhook_url_secret_arn != null
      error_message = "create_fargate_service needs fargate_image and fargate_webhook_url_secret_arn."
    }
  }
}

resource "aws_ecs_service" "worker" {
  count = var.create_fargate_service ? 1 : 0

  name            = "failwatch"
  cluster         = local.create_fargate_cluster ? aws_ecs_cluster.this[0].arn : var.fargate_cluster_arn
  task_definition = aws_ecs_task_definition.worker[0].arn
  launch_type     = "FARGATE"
  desired_count   = var.fargate_desired_count

  # A new task must run before an old one drains, and a broken image rolls back by itself.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.fargate_subnet_ids
    security_groups  = var.fargate_security_group_ids
    assign_public_ip = var.fargate_assign_public_ip
  }

  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true
  tags                    = local.tags

  lifecycle {
    precondition {
      condition     = length(var.fargate_subnet_ids) > 0 && length(var.fargate_security_group_ids) > 0
      error_message = "create_fargate_service needs fargate_subnet_ids and fargate_security_group_ids."
    }
  }
}
