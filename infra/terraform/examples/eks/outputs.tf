output "queue_url" {
  description = "Put this in the overlay's failwatch.toml (queue_url) and the KEDA ScaledObject (queueURL)."
  value       = module.failwatch.queue_url
}

output "dlq_url" {
  description = "Put this in the overlay's failwatch.toml (dlq_url)."
  value       = module.failwatch.dlq_url
}

output "service_account_annotations" {
  description = "Annotations for the failwatch ServiceAccount (IRSA); empty with Pod Identity."
  value       = module.failwatch.service_account_annotations
}

output "worker_role_arn" {
  description = "The worker's IAM role."
  value       = module.failwatch.worker_role_arn
}
