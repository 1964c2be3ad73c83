# failwatch with its worker on ECS Fargate. The webhook URL lives in Secrets Manager; Terraform creates
# the secret but never its value (it would land in the state file). Set it once, out of band:
#
#   aws secretsmanager put-secret-value --secret-id <secret_name output> --secret-string file://webhook-url.txt

provider "aws" {
  region = var.region
}

resource "aws_secretsmanager_secret" "webhook" {
  name        = "failwatch/${var.environment}/webhook-url"
  description = "failwatch ${var.environment}: chat webhook URL"
}

resource "aws_security_group" "worker" {
  name        = "${var.environment}-failwatch-worker"
  description = "failwatch worker: HTTPS out, metrics in"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.worker.id
  description       = "SQS, Secrets Manager, ECR, CloudWatch Logs and the chat webhooks"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "metrics" {
  for_each = toset(var.prometheus_cidr_blocks)

  security_group_id = aws_security_group.worker.id
  description       = "Prometheus scrapes /metrics"
  ip_protocol       = "tcp"
  from_port         = 9090
  to_port           = 9090
  cidr_ipv4         = each.value
}

module "failwatch" {
  source = "../.."

  name          = var.environment
  alarm_actions = compact([var.alarm_topic_arn])

  create_fargate_service         = true
  fargate_image                  = var.image
  fargate_subnet_ids             = var.private_subnet_ids
  fargate_security_group_ids     = [aws_security_group.worker.id]
  fargate_webhook_url_secret_arn = aws_secretsmanager_secret.webhook.arn
  fargate_webhook_type           = var.webhook_type
  fargate_environment = {
    FAILWATCH_SQS__POLLERS = "2"
  }

  tags = {
    Environment = var.environment
  }
}
