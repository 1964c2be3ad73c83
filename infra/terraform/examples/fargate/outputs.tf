output "secret_name" {
  description = "Secrets Manager secret to put the webhook URL in."
  value       = aws_secretsmanager_secret.webhook.name
}

output "queue_url" {
  description = "The failwatch queue."
  value       = module.failwatch.queue_url
}

output "dlq_url" {
  description = "The dead-letter queue."
  value       = module.failwatch.dlq_url
}

output "service" {
  description = "ECS cluster and service of the worker."
  value = {
    cluster   = module.failwatch.fargate_cluster_arn
    service   = module.failwatch.fargate_service_name
    log_group = module.failwatch.fargate_log_group_name
  }
}
