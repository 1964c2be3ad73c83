variable "region" {
  description = "AWS region of the EKS cluster and the ECS clusters / state machines to watch."
  type        = string
  default     = "ap-northeast-2"
}

variable "environment" {
  description = "Environment prefix for resource names."
  type        = string
  default     = "prd-an2p"
}

variable "eks_cluster_name" {
  description = "EKS cluster the worker runs in."
  type        = string
}

variable "use_pod_identity" {
  description = "Use EKS Pod Identity (needs the eks-pod-identity-agent add-on) instead of IRSA."
  type        = bool
  default     = false
}

variable "namespace" {
  description = "Kubernetes namespace of the worker."
  type        = string
  default     = "failwatch"
}

variable "watched_cluster_arns" {
  description = "ECS clusters to watch; empty watches all."
  type        = list(string)
  default     = []
}

variable "alarm_topic_arn" {
  description = "SNS topic for the queue alarms; null for none."
  type        = string
  default     = null
}
