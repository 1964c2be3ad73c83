"""The load harness's comparison point: the Google Chat seed's Lambda (EventBridge → SNS → Lambda, Python,
boto3 + json + urllib) turned into a long-running SQS worker the plain way. Per batch: ReceiveMessage of 10,
then per message json.loads (unwrapping an SNS envelope), a Google Chat card with the cluster, task, stop
reason, every container's exit code and a console link, one urllib POST, and one DeleteMessageBatch.

    python_worker.py ENDPOINT QUEUE_URL WEBHOOK_URL

Exits once three receives in a row came back empty. Only boto3 and the standard library.
"""

import json
import sys
import urllib.request

import boto3


def card(event):
    detail = event.get("detail", {})
    region = event.get("region", "us-east-1")
    cluster = detail.get("clusterArn", "").rsplit("/", 1)[-1]
    task_id = detail.get("taskArn", "").rsplit("/", 1)[-1]
    widgets = [
        {"decoratedText": {"topLabel": "Cluster", "text": cluster}},
        {"decoratedText": {"topLabel": "Task", "text": task_id}},
        {"decoratedText": {"topLabel": "Stop reason", "text": detail.get("stoppedReason", "")}},
    ]
    for container in detail.get("containers", []):
        widgets.append(
            {
                "decoratedText": {
                    "topLabel": f"Container {container.get('name')}",
                    "text": f"exit code {container.get('exitCode')} {container.get('reason', '')}",
                }
            }
        )
    link = (
        f"https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/tasks/{task_id}"
        f"?region={region}"
    )
    widgets.append(
        {"buttonList": {"buttons": [{"text": "Open in console", "onClick": {"openLink": {"url": link}}}]}}
    )
    return {
        "cardsV2": [
            {
                "cardId": task_id,
                "card": {
                    "header": {"title": "ECS task failed", "subtitle": f"{cluster} / {task_id}"},
                    "sections": [{"widgets": widgets}],
                },
            }
        ]
    }


def post(url, payload):
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json; charset=UTF-8"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def main(endpoint, queue_url, webhook_url):
    sqs = boto3.session.Session(
        aws_access_key_id="load", aws_secret_access_key="load", region_name="us-east-1"
    ).client("sqs", endpoint_url=endpoint)
    empty = 0
    while empty < 3:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            empty += 1
            continue
        empty = 0
        for message in messages:
            event = json.loads(message["Body"])
            if event.get("Type") == "Notification":
                event = json.loads(event["Message"])
            post(webhook_url, card(event))
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


if __name__ == "__main__":
    main(*sys.argv[1:4])
