################################################################################
# Queues
################################################################################

output "queue_url" {
  description = "URL of the failwatch queue: the worker's sqs.queue_url (FAILWATCH_SQS__QUEUE_URL)."
  value       = aws_sqs_queue.main.url
}

output "queue_arn" {
  description = "ARN of the failwatch queue."
  value       = aws_sqs_queue.main.arn
}

output "queue_name" {
  description = "Name of the failwatch queue."
  value       = aws_sqs_queue.main.name
}

output "dlq_url" {
  description = "URL of the dead-letter queue: the worker's sqs.dlq_url (FAILWATCH_SQS__DLQ_URL)."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "kms_key_arn" {
  description = "KMS key encrypting the queues, or null when they use SQS-managed encryption."
  value       = local.kms_key_arn
}

################################################################################
# Rules and alarms
################################################################################

output "event_rule_arns" {
  description = "EventBridge rule ARNs by kind (ecs-task-stopped, ecs-deployment-failed, ecs-service-action, sfn-failed, and with recovery_notices ecs-steady-state, ecs-deploy-completed, sfn-succeeded)."
  value       = { for k, rule in aws_cloudwatch_event_rule.this : k => rule.arn }
}

output "alarm_arns" {
  description = "CloudWatch alarm ARNs (dlq_not_empty, oldest_message_age); empty when create_alarms is false."
  value = var.create_alarms ? {
    dlq_not_empty      = aws_cloudwatch_metric_alarm.dlq_not_empty[0].arn
    oldest_message_age = aws_cloudwatch_metric_alarm.oldest_message_age[0].arn
  } : {}
}

################################################################################
# Worker
################################################################################

output "worker_role_arn" {
  description = "IAM role for the worker: the IRSA annotation eks.amazonaws.com/role-arn, the Pod Identity association's role, or the ECS task role."
  value       = aws_iam_role.worker.arn
}

output "worker_role_name" {
  description = "Name of the worker's IAM role."
  value       = aws_iam_role.worker.name
}

output "service_account_annotations" {
  description = "Annotations for the worker's Kubernetes service account when using IRSA (empty otherwise)."
  value       = var.worker_irsa_oidc_provider_arn == null ? {} : { "eks.amazonaws.com/role-arn" = aws_iam_role.worker.arn }
}

output "worker_environment" {
  description = "Environment for a worker run anywhere: the queue URLs, the region, [grouping] recovery_notices (as the rules forward recovery events or not) and, when the module creates the state table, the [state] settings. Contains no secret."
  value = merge({
    FAILWATCH_SQS__QUEUE_URL = aws_sqs_queue.main.url
    FAILWATCH_SQS__DLQ_URL   = aws_sqs_queue.dlq.url
    AWS_REGION               = local.region
  }, local.grouping_environment, local.state_environment)
}

output "state_table_name" {
  description = "DynamoDB table of the worker's shared state: the worker's state.table (FAILWATCH_STATE__TABLE), or null when create_state_table is false."
  value       = var.create_state_table ? aws_dynamodb_table.state[0].name : null
}

output "state_table_arn" {
  description = "ARN of the state table, or null."
  value       = var.create_state_table ? aws_dynamodb_table.state[0].arn : null
}

output "fargate_cluster_arn" {
  description = "ECS cluster running the Fargate worker, or null."
  value       = var.create_fargate_service ? (local.create_fargate_cluster ? aws_ecs_cluster.this[0].arn : var.fargate_cluster_arn) : null
}

output "fargate_service_name" {
  description = "ECS service running the Fargate worker, or null."
  value       = var.create_fargate_service ? aws_ecs_service.worker[0].name : null
}

output "fargate_log_group_name" {
  description = "CloudWatch log group of the Fargate worker, or null."
  value       = var.create_fargate_service ? aws_cloudwatch_log_group.worker[0].name : null
}
