variable "region" {
  description = "AWS region of the ECS clusters / state machines to watch and of the worker."
  type        = string
  default     = "ap-northeast-2"
}

variable "environment" {
  description = "Environment prefix for resource names."
  type        = string
  default     = "prd-an2p"
}

variable "image" {
  description = "failwatch worker image (built from the repository's Dockerfile and pushed to ECR)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the worker."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets with a NAT gateway (or VPC endpoints for SQS, ECR, Logs and Secrets Manager)."
  type        = list(string)
}

variable "prometheus_cidr_blocks" {
  description = "CIDR blocks allowed to scrape the worker's /metrics on port 9090; empty for none."
  type        = list(string)
  default     = []
}

variable "webhook_type" {
  description = "Destination type, or auto to infer it from the URL's host."
  type        = string
  default     = "auto"
}

variable "alarm_topic_arn" {
  description = "SNS topic for the queue alarms; null for none."
  type        = string
  default     = null
}
