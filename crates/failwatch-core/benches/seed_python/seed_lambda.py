"""A faithful minimal equivalent of the Google Chat seed's Lambda, per message, for benchmarking.

The seed (the project's founding Google Chat Lambda, "ECS Task Failure Monitoring with Google Chat") is a Python 3.11 Lambda behind
EventBridge -> SNS: for each message it parses the JSON (unwrapping the SNS envelope), decides whether
the ECS task stopped badly from the stop code, the stopped reason and the containers' exit codes,
formats the plain-text Google Chat message its README shows, and serialises the payload. Its code is not
in the project, so this reproduces exactly that work and nothing else: no HTTP (failwatch render does
not POST either), no logging. It reads one message body per stdin line and writes one payload per alert
line to stdout, like `failwatch render --to google-chat`.
"""

import json
import sys

# The "stop codes" the seed's README lists; only EssentialContainerExited is a real ECS stopCode, the
# others appear in stoppedReason or a container's reason.
WATCHED = (
    "TaskFailed",
    "EssentialContainerExited",
    "CannotPullContainerError",
    "OutOfMemoryError",
    "CannotStartContainerError",
    "InternalError",
    "ResourceInitializationError",
)
ENV_PREFIX = "dev-an2d"
REGION = "ap-northeast-2"


def handle(body):
    message = json.loads(body)
    # EventBridge -> SNS -> SQS: the event is a string in "Message".
    if message.get("Type") == "Notification" and isinstance(message.get("Message"), str):
        message = json.loads(message["Message"])
    detail = message.get("detail") or {}
    if detail.get("lastStatus", "STOPPED") != "STOPPED":
        return None

    stop_code = detail.get("stopCode", "")
    reason = detail.get("stoppedReason", "")
    containers = detail.get("containers") or []
    failed = [
        c for c in containers if c.get("exitCode") not in (0, None) or "reason" in c
    ]
    reasons = " ".join([reason] + [c.get("reason", "") for c in containers])
    if not (stop_code in WATCHED or failed or any(w in reasons for w in WATCHED)):
        return None

    cluster_arn = detail.get("clusterArn", "")
    task_arn = detail.get("taskArn", "")
    cluster = cluster_arn.split("/")[-1]
    task_id = task_arn.split("/")[-1]
    group = detail.get("group", "")
    service = group.split(":", 1)[1] if group.startswith("service:") else group
    region = message.get("region") or (task_arn.split(":")[3] if task_arn.count(":") >= 3 else REGION)
    failed_text = ", ".join(
        "{} (exit: {})".format(c.get("name", "?"), c.get("exitCode", "none")) for c in failed
    ) or "none"
    url = "https://{r}.console.aws.amazon.com/ecs/v2/clusters/{c}/tasks/{t}?region={r}".format(
        r=region, c=cluster, t=task_id
    )
    text = (
        "\U0001f6a8 ECS Task Failed in {env}\n"
        "Cluster: {cluster}\n"
        "Service: {service}\n"
        "Task ID: {task}\n"
        "Stop Code: {stop}\n"
        "Reason: {reason}\n"
        "Failed Containers: {failed}\n"
        "Time: {time}\n"
        "Region: {region}\n"
        "<{url}|View in Console>"
    ).format(
        env=ENV_PREFIX.split("-")[0].upper(),
        cluster=cluster,
        service=service,
        task=task_id,
        stop=stop_code,
        reason=reason,
        failed=failed_text,
        time=message.get("time") or detail.get("stoppedAt", ""),
        region=region,
        url=url,
    )
    return json.dumps({"text": text})


def main():
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        payload = handle(line)
        if payload is not None:
            out.write(payload)
            out.write("\n")


if __name__ == "__main__":
    main()
