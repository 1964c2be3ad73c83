#!/usr/bin/env bash
# Deploys failwatch's CloudFormation stack (failwatch.yaml next to this script).
#
#   ./deploy.sh <WEBHOOK_URL> [ENV_PREFIX] [STACK_NAME]
#   ./deploy.sh - prd-an2p < webhook-url.txt     # read the URL from stdin, keeping it out of shell history
#
# ENV_PREFIX defaults to dev-an2d (e.g. stg-an2s, prd-an2p); STACK_NAME to <ENV_PREFIX>-failwatch; the
# region to $AWS_REGION, else $AWS_DEFAULT_REGION, else ap-northeast-2.
#
# The webhook URL is a secret: it is stored as an SSM SecureString parameter (/failwatch/<prefix>/webhook-url)
# and the stack only receives the parameter's *name*, so the URL never appears in CloudFormation
# parameters, events, outputs or the console. It is handed to the AWS CLI through a private temporary
# file, never on a command line (visible in `ps`) — which also avoids AWS CLI v1 fetching any argument
# that starts with https:// as a URL.
#
# Optional settings, from the environment:
#   FAILWATCH_IMAGE         worker image; when set, the worker runs on Fargate (needs the two below)
#   WORKER_SUBNETS          comma-separated subnet ids for the Fargate worker
#   WORKER_SECURITY_GROUPS  comma-separated security group ids for the Fargate worker
#   WORKER_CLUSTER_ARN      existing ECS cluster for the worker (default: create <prefix>-failwatch)
#   WEBHOOK_TYPE            google-chat | slack | teams | discord | webhook (default: from the URL host)
#   WEBHOOK_PARAMETER       SSM parameter name (default /failwatch/<prefix>/webhook-url)
#   CLUSTER_ARNS            comma-separated ECS cluster ARNs to watch (default: all)
#   STATE_MACHINE_ARNS      comma-separated state machine ARNs to watch (default: all)
#   RECOVERY_NOTICES        false to forward no recovery events (steady state, completed deployment,
#                           succeeded execution) and turn the Fargate worker's recovery notices off
#   ALARM_TOPIC_ARN         SNS topic for the DLQ and queue-age alarms
#   CREATE_KMS_KEY          true to encrypt the queues with a customer managed KMS key
#   WORKER_TRUST            ecs-tasks (default) | eks-pod-identity | eks-irsa (+ EKS_OIDC_PROVIDER_ARN,
#                           EKS_SERVICE_ACCOUNT=namespace:name)
#   AWS_ENDPOINT_URL        an emulator endpoint (passed as --endpoint-url: AWS CLI v1 ignores the variable)
#
# Exit status: 0 deployed, 64 bad usage, anything else an AWS CLI failure.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"

usage() {
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 64
}

[[ $# -ge 1 && $# -le 3 ]] || usage
command -v aws >/dev/null 2>&1 || {
  echo "deploy.sh: the AWS CLI (aws) is not installed: install it, or run scripts/bootstrap.sh and put .venv/bin on PATH" >&2
  exit 64
}

if [[ $1 == - ]]; then
  IFS= read -r webhook_url || true
else
  webhook_url=$1
fi
prefix=${2:-dev-an2d}
stack=${3:-${prefix}-failwatch}
region=${AWS_REGION:-${AWS_DEFAULT_REGION:-ap-northeast-2}}
parameter=${WEBHOOK_PARAMETER:-/failwatch/${prefix}/webhook-url}

# Checked here, before anything is created. The message never echoes the URL.
if [[ ! $webhook_url =~ ^https://[A-Za-z0-9.-]+(:[0-9]+)?/[^[:space:]]*$ ]]; then
  echo "deploy.sh: the webhook URL must be an https:// URL without spaces (e.g. https://chat.googleapis.com/v1/spaces/XXX/messages?key=YYY&token=ZZZ)" >&2
  exit 64
fi
if [[ ! $prefix =~ ^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$ ]]; then
  echo "deploy.sh: ENV_PREFIX must be 2-32 lowercase letters, digits and dashes (e.g. dev-an2d), got '$prefix'" >&2
  exit 64
fi
if [[ -n ${FAILWATCH_IMAGE:-} && ( -z ${WORKER_SUBNETS:-} || -z ${WORKER_SECURITY_GROUPS:-} ) ]]; then
  echo "deploy.sh: FAILWATCH_IMAGE needs WORKER_SUBNETS and WORKER_SECURITY_GROUPS" >&2
  exit 64
fi

if [[ -n ${RECOVERY_NOTICES:-} && ! ${RECOVERY_NOTICES} =~ ^(true|false)$ ]]; then
  echo "deploy.sh: RECOVERY_NOTICES must be true or false, got '$RECOVERY_NOTICES'" >&2
  exit 64
fi

if [[ -n ${CLUSTER_ARNS:-} ]]; then
  IFS=, read -r -a cluster_list <<<"$CLUSTER_ARNS"
  if ((${#cluster_list[@]} > 10)); then
    echo "deploy.sh: CLUSTER_ARNS lists ${#cluster_list[@]} clusters; the stack watches at most 10 (leave it empty to watch all)" >&2
    exit 64
  fi
fi

aws_args=(--region "$region")
if [[ -n ${AWS_ENDPOINT_URL:-} ]]; then
  aws_args+=(--endpoint-url "$AWS_ENDPOINT_URL")
fi

echo "deploy.sh: storing the webhook URL as SecureString $parameter ($region)" >&2
secret_file="$(umask 077 && mktemp)"
trap 'rm -f "$secret_file"' EXIT
printf '%s' "$webhook_url" >"$secret_file"
aws "${aws_args[@]}" ssm put-parameter \
  --name "$parameter" \
  --type SecureString \
  --value "file://$secret_file" \
  --description "failwatch ${prefix}: chat webhook URL" \
  --overwrite >/dev/null
rm -f "$secret_file"

overrides=(
  "EnvironmentPrefix=$prefix"
  "WebhookUrlParameter=$parameter"
)
add_override() { # add_override <Parameter> <value>: only when the value is set
  if [[ -n $2 ]]; then overrides+=("$1=$2"); fi
}
add_override WorkerImage "${FAILWATCH_IMAGE:-}"
add_override WorkerSubnetIds "${WORKER_SUBNETS:-}"
add_override WorkerSecurityGroupIds "${WORKER_SECURITY_GROUPS:-}"
add_override WorkerClusterArn "${WORKER_CLUSTER_ARN:-}"
add_override WebhookType "${WEBHOOK_TYPE:-}"
add_override ClusterArns "${CLUSTER_ARNS:-}"
add_override StateMachineArns "${STATE_MACHINE_ARNS:-}"
add_override RecoveryNotices "${RECOVERY_NOTICES:-}"
add_override AlarmTopicArn "${ALARM_TOPIC_ARN:-}"
add_override CreateKmsKey "${CREATE_KMS_KEY:-}"
add_override WorkerTrust "${WORKER_TRUST:-}"
add_override EksOidcProviderArn "${EKS_OIDC_PROVIDER_ARN:-}"
add_override EksServiceAccount "${EKS_SERVICE_ACCOUNT:-}"

echo "deploy.sh: deploying stack $stack" >&2
aws "${aws_args[@]}" cloudformation deploy \
  --template-file "$here/failwatch.yaml" \
  --stack-name "$stack" \
  --parameter-overrides "${overrides[@]}" \
  --capabilities CAPABILITY_IAM \
  --tags "Project=failwatch" "Environment=$prefix" \
  --no-fail-on-empty-changeset

aws "${aws_args[@]}" cloudformation describe-stacks \
  --stack-name "$stack" \
  --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' \
  --output text

cat >&2 <<EOF
deploy.sh: done. Test it end to end by running a task that fails, e.g.
  aws ecs run-task --cluster <cluster> --task-definition <task-def> \\
    --overrides '{"containerOverrides":[{"name":"<container>","command":["sh","-c","exit 1"]}]}'
Remove it with: aws cloudformation delete-stack --stack-name $stack --region $region
           and: aws ssm delete-parameter --name $parameter --region $region
EOF
