################################################################################
# General
################################################################################

variable "name" {
  description = "Prefix for every resource name, e.g. the environment (dev-an2d, stg-an2s, prd-an2p). The queues are named <name>-failwatch and <name>-failwatch-dlq."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2-32 lowercase letters, digits and dashes, starting and ending with a letter or digit."
  }
}

variable "tags" {
  description = "Tags added to every resource that supports them."
  type        = map(string)
  default     = {}
}

################################################################################
# What to watch
################################################################################

variable "cluster_arns" {
  description = "ECS cluster ARNs whose tasks, deployments and service actions are watched. Empty watches every cluster in the account and region."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.cluster_arns : can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/[A-Za-z0-9_-]+$", arn))])
    error_message = "Each cluster_arns entry must be an ECS cluster ARN (arn:aws:ecs:<region>:<account>:cluster/<name>)."
  }
}

variable "state_machine_arns" {
  description = "Step Functions state machine ARNs whose failed, timed-out or aborted executions are watched. Empty watches every state machine."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.state_machine_arns : can(regex("^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]+$", arn))])
    error_message = "Each state_machine_arns entry must be a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)."
  }
}

variable "watch" {
  description = "Which event kinds get an EventBridge rule: stopped ECS tasks, failed or rolled-back ECS deployments, ECS service WARN/ERROR actions, failed Step Functions executions."
  type = object({
    ecs_tasks           = optional(bool, true)
    ecs_deployments     = optional(bool, true)
    ecs_service_actions = optional(bool, true)
    step_functions      = optional(bool, true)
  })
  default = {}

  validation {
    condition     = anytrue([var.watch.ecs_tasks, var.watch.ecs_deployments, var.watch.ecs_service_actions, var.watch.step_functions])
    error_message = "watch must enable at least one event kind."
  }
}

variable "recovery_notices" {
  description = "Forward recovery events so that the worker posts \"recovered after N failures\" in an open failure group's thread and closes the group: ECS SERVICE_STEADY_STATE service actions and SERVICE_DEPLOYMENT_COMPLETED deployments of the watched clusters, and SUCCEEDED executions of the watched state machines (three more rules). Also sets the worker's [grouping] recovery_notices (FAILWATCH_GROUPING__RECOVERY_NOTICES) on the Fargate worker and in worker_environment, so the two agree. Every forwarded event costs an SQS message and a decode even though the worker posts only when a group of that service or state machine is open: a busy state machine succeeds far more often than it fails, and ECS repeats SERVICE_STEADY_STATE periodically. Narrow state_machine_arns / cluster_arns, or turn this off, when that volume matters. When false, only the failure rules exist, exactly as before."
  type        = bool
  default     = true
}

variable "event_bus_name" {
  description = "Event bus the rules are created on. AWS service events arrive on the default bus."
  type        = string
  default     = "default"
}

variable "event_target_retry" {
  description = "How long and how often EventBridge retries delivering an event to the queue before sending it to the dead-letter queue."
  type = object({
    maximum_event_age_in_seconds = optional(number, 86400)
    maximum_retry_attempts       = optional(number, 185)
  })
  default = {}

  validation {
    condition     = var.event_target_retry.maximum_event_age_in_seconds >= 60 && var.event_target_retry.maximum_event_age_in_seconds <= 86400 && var.event_target_retry.maximum_retry_attempts >= 0 && var.event_target_retry.maximum_retry_attempts <= 185
    error_message = "maximum_event_age_in_seconds must be 60..86400 and maximum_retry_attempts 0..185."
  }
}

################################################################################
# Queues
################################################################################

variable "max_receive_count" {
  description = "Receives before a message moves to the dead-letter queue. Each receive gives the worker its full retry budget (retry_budget_secs, 30 s by default), so 5 receives ride out a chat outage of several minutes."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "visibility_timeout_seconds" {
  description = "The queue's default visibility timeout. Must exceed the worker's retry_budget_secs (30 s by default) so that a message is not redelivered while the worker still retries it; the worker also requests visibility_timeout_secs on each receive and extends it while working."
  type        = number
  default     = 90

  validation {
    condition     = var.visibility_timeout_seconds > 30 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be above the worker's default retry budget (30) and at most 43200."
  }
}

variable "message_retention_seconds" {
  description = "How long the main queue keeps an undelivered event. The dead-letter queue always keeps messages for 14 days, the maximum."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "create_kms_key" {
  description = "Encrypt both queues with a new customer managed KMS key whose policy lets EventBridge write to them. When false (and kms_key_arn is null), the queues use SQS-managed encryption (SSE-SQS)."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "An existing KMS key for the queues. Its key policy must allow events.amazonaws.com kms:GenerateDataKey and kms:Decrypt; the worker role gets its grant from this module. Conflicts with create_kms_key."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

################################################################################
# Shared state
################################################################################

variable "create_state_table" {
  description = "Create the DynamoDB table of the worker's shared state and point the worker at it ([state] backend = \"dynamodb\"): de-duplication, alert claims and delivered-to records shared by every replica, so replicas and restarts do not post an alert twice. When false the worker keeps its state in memory (one process's view)."
  type        = bool
  default     = true
}

variable "state_table_point_in_time_recovery" {
  description = "Turn on point-in-time recovery for the state table. Its items live at most dedup.ttl (1 h by default), so a restore brings back little; off by default."
  type        = bool
  default     = false
}

################################################################################
# Alarms
################################################################################

variable "create_alarms" {
  description = "Create CloudWatch alarms on the dead-letter queue (not empty) and the main queue (oldest message too old)."
  type        = bool
  default     = true
}

variable "enrichment_role_arns" {
  description = "IAM roles in other accounts the worker may assume for enrichment lookups ([[enrichment.accounts]] role_arn)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.enrichment_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", arn))])
    error_message = "enrichment_role_arns must be IAM role ARNs."
  }
}

variable "alarm_actions" {
  description = "ARNs (usually SNS topics) notified when an alarm fires and when it recovers."
  type        = list(string)
  default     = []
}

variable "oldest_message_age_alarm_seconds" {
  description = "Alarm when the oldest message in the main queue is older than this: the worker is down, denied, or far behind."
  type        = number
  default     = 600

  validation {
    condition     = var.oldest_message_age_alarm_seconds >= 60
    error_message = "oldest_message_age_alarm_seconds must be at least 60."
  }
}

################################################################################
# Worker IAM role
################################################################################

variable "worker_role_name" {
  description = "Name of the worker's IAM role. Defaults to <name>-failwatch-worker."
  type        = string
  default     = null
}

variable "worker_role_permissions_boundary" {
  description = "Permissions boundary ARN for the worker role, if your organisation requires one."
  type        = string
  default     = null
}

variable "worker_irsa_oidc_provider_arn" {
  description = "EKS IRSA: the cluster's IAM OIDC provider ARN. When set, the service accounts in worker_irsa_service_accounts may assume the worker role."
  type        = string
  default     = null

  validation {
    condition     = var.worker_irsa_oidc_provider_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/.+$", var.worker_irsa_oidc_provider_arn))
    error_message = "worker_irsa_oidc_provider_arn must be an IAM OIDC provider ARN."
  }
}

variable "worker_irsa_service_accounts" {
  description = "EKS IRSA: \"namespace:name\" of the Kubernetes service accounts allowed to assume the worker role."
  type        = list(string)
  default     = ["failwatch:failwatch"]

  validation {
    condition     = alltrue([for sa in var.worker_irsa_service_accounts : can(regex("^[a-z0-9-]+:[a-z0-9-]+$", sa))])
    error_message = "Each worker_irsa_service_accounts entry must be namespace:name."
  }
}

variable "worker_pod_identity" {
  description = "EKS Pod Identity: let pods.eks.amazonaws.com assume the worker role. Create the aws_eks_pod_identity_association yourself (see examples/eks)."
  type        = bool
  default     = false
}

variable "worker_ecs_task_trust" {
  description = "Let ECS tasks assume the worker role (a worker on ECS outside this module). Implied by create_fargate_service."
  type        = bool
  default     = false
}

################################################################################
# Optional Fargate worker
################################################################################

variable "create_fargate_service" {
  description = "Run the failwatch worker as an ECS Fargate service."
  type        = bool
  default     = false
}

variable "fargate_image" {
  description = "Worker image, e.g. 123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/failwatch:0.1.0 (built from the repository's Dockerfile)."
  type        = string
  default     = null
}

variable "fargate_cluster_arn" {
  description = "ECS cluster for the worker. Null creates <name>-failwatch."
  type        = string
  default     = null
}

variable "fargate_subnet_ids" {
  description = "Subnets for the worker tasks: private subnets with a NAT gateway or VPC endpoints for SQS, ECR, CloudWatch Logs and Secrets Manager/SSM."
  type        = list(string)
  default     = []
}

variable "fargate_security_group_ids" {
  description = "Security groups for the worker tasks. The worker needs HTTPS egress; allow TCP 9090 from Prometheus to scrape /metrics."
  type        = list(string)
  default     = []
}

variable "fargate_assign_public_ip" {
  description = "Give tasks a public IP: only for public subnets without a NAT gateway."
  type        = bool
  default     = false
}

variable "fargate_desired_count" {
  description = "Worker tasks. One is enough for alert traffic; with the state table (create_state_table) more tasks share de-duplication, without it each task de-duplicates alone and a rare duplicate post is possible."
  type        = number
  default     = 1

  validation {
    condition     = var.fargate_desired_count >= 0 && var.fargate_desired_count <= 10
    error_message = "fargate_desired_count must be between 0 and 10."
  }
}

variable "fargate_cpu" {
  description = "Task CPU units."
  type        = number
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.fargate_cpu)
    error_message = "fargate_cpu must be one of 256, 512, 1024, 2048, 4096."
  }
}

variable "fargate_memory" {
  description = "Task memory in MiB; must be a valid Fargate combination with fargate_cpu."
  type        = number
  default     = 512

  validation {
    condition     = var.fargate_memory >= 512 && var.fargate_memory <= 30720
    error_message = "fargate_memory must be between 512 and 30720 MiB."
  }
}

variable "fargate_cpu_architecture" {
  description = "CPU architecture of the worker image: X86_64 or ARM64."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.fargate_cpu_architecture)
    error_message = "fargate_cpu_architecture must be X86_64 or ARM64."
  }
}

variable "fargate_webhook_url_secret_arn" {
  description = "ARN of the Secrets Manager secret or SSM SecureString parameter holding the webhook URL. ECS injects it as FAILWATCH_WEBHOOK_URL; the URL never enters Terraform state."
  type        = string
  default     = null

  validation {
    condition     = var.fargate_webhook_url_secret_arn == null || can(regex("^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+|ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+)$", var.fargate_webhook_url_secret_arn))
    error_message = "fargate_webhook_url_secret_arn must be a Secrets Manager secret ARN or an SSM parameter ARN."
  }
}

variable "fargate_webhook_secret_kms_key_arn" {
  description = "Customer managed KMS key that encrypts the webhook secret, if any (the AWS managed keys need no grant)."
  type        = string
  default     = null
}

variable "fargate_webhook_type" {
  description = "Destination type of the webhook: auto (from the URL's host), google-chat, slack, teams, discord or webhook."
  type        = string
  default     = "auto"

  validation {
    condition     = contains(["auto", "google-chat", "slack", "teams", "discord", "webhook"], var.fargate_webhook_type)
    error_message = "fargate_webhook_type must be auto, google-chat, slack, teams, discord or webhook."
  }
}

variable "fargate_environment" {
  description = "Extra FAILWATCH_* settings for the worker, e.g. { FAILWATCH_SQS__POLLERS = \"2\" }. Never put a webhook URL here."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.fargate_environment) : can(regex("^FAILWATCH_[A-Z0-9_]+$", k)) && k != "FAILWATCH_WEBHOOK_URL"])
    error_message = "fargate_environment keys must be FAILWATCH_* settings other than FAILWATCH_WEBHOOK_URL (use fargate_webhook_url_secret_arn)."
  }
}

variable "fargate_log_retention_days" {
  description = "Retention of the worker's CloudWatch log group."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.fargate_log_retention_days)
    error_message = "fargate_log_retention_days must be a retention CloudWatch Logs supports (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}
