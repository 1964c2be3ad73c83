# failwatch for a worker running on EKS (infra/kubernetes): the queues, rules and alarms, and an IAM
# role the worker's service account assumes through IRSA or EKS Pod Identity.

provider "aws" {
  region = var.region
}

data "aws_eks_cluster" "this" {
  name = var.eks_cluster_name
}

data "aws_iam_openid_connect_provider" "this" {
  count = var.use_pod_identity ? 0 : 1

  url = data.aws_eks_cluster.this.identity[0].oidc[0].issuer
}

module "failwatch" {
  source = "../.."

  name          = var.environment
  cluster_arns  = var.watched_cluster_arns
  alarm_actions = compact([var.alarm_topic_arn])

  worker_irsa_oidc_provider_arn = var.use_pod_identity ? null : data.aws_iam_openid_connect_provider.this[0].arn
  worker_irsa_service_accounts  = ["${var.namespace}:failwatch"]
  worker_pod_identity           = var.use_pod_identity

  tags = {
    Environment = var.environment
  }
}

resource "aws_eks_pod_identity_association" "failwatch" {
  count = var.use_pod_identity ? 1 : 0

  cluster_name    = data.aws_eks_cluster.this.name
  namespace       = var.namespace
  service_account = "failwatch"
  role_arn        = module.failwatch.worker_role_arn
}
