terraform {
  # Lifecycle preconditions (1.2) and optional object attributes (1.3); 1.5 is the oldest release
  # still commonly supported.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.40+: aws_cloudwatch_event_rule `state`, SQS redrive_allow_policy; 6.x is supported too.
      version = ">= 5.40"
    }
  }
}
