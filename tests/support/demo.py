"""Helpers for scripts/demo.sh: the emulated AWS side, a local chat receiver, and the summary.

    demo.py setup   ENDPOINT NAME          create queue + DLQ + EventBridge rule; print the queue URL
    demo.py publish ENDPOINT QUEUE_URL DIR  push every sample body in DIR (EventBridge events through
                                            PutEvents, other shapes straight to SQS)
    demo.py drained ENDPOINT QUEUE_URL SECS wait until the queue is empty; exit 1 on timeout
    demo.py receiver PORT OUT               record every POST as one JSON line in OUT, answer 200
    demo.py show OUT                        print, per destination, what each chat received

Only boto3 (installed by scripts/bootstrap.sh) and the standard library.
"""

import html
import json
import pathlib
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The demo's queue and EventBridge rule live where most sample events come from. EventBridge stamps
# PutEvents entries with the region it is called in, so only events of this region go through PutEvents;
# the others are sent as the exact body EventBridge would deliver from their own region.
REGION = "eu-central-1"

# The rule infra/ deploys: every ECS and Step Functions state change goes to the queue.
RULE_PATTERN = {
    "source": ["aws.ecs", "aws.states"],
    "detail-type": [
        "ECS Task State Change",
        "ECS Deployment State Change",
        "ECS Service Action",
        "Step Functions Execution Status Change",
    ],
}


def clients(endpoint):
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="demo", aws_secret_access_key="demo", region_name=REGION
    )
    return (
        session.client("sqs", endpoint_url=endpoint),
        session.client("events", endpoint_url=endpoint),
    )


def setup(endpoint, name):
    sqs, events = clients(endpoint)
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}
            ),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    events.put_rule(Name=f"{name}-failures", EventPattern=json.dumps(RULE_PATTERN))
    events.put_targets(
        Rule=f"{name}-failures", Targets=[{"Id": "failwatch", "Arn": queue_arn}]
    )
    print(queue_url)


def publish(endpoint, queue_url, directory):
    sqs, events = clients(endpoint)
    through_eventbridge = other_regions = direct = 0
    filtered = []
    for path in sorted(pathlib.Path(directory).glob("*.json")):
        text = path.read_text()
        try:
            event = json.loads(text)
        except ValueError:
            event = None
        if not (isinstance(event, dict) and "detail-type" in event and "source" in event):
            # SNS envelopes, bare {"detail": ...} test messages and Step Functions Catch output reach
            # the queue by other routes in real life; send them as they are.
            sqs.send_message(QueueUrl=queue_url, MessageBody=text)
            direct += 1
        elif any(event.get(key) not in allowed for key, allowed in RULE_PATTERN.items()):
            # The rule would not match it, in AWS or here: it never reaches the queue.
            filtered.append(f"{path.name} ({event['detail-type']})")
        elif event.get("region") == REGION:
            entry = {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event.get("detail", {})),
                "Resources": event.get("resources", []),
            }
            if "time" in event:
                entry["Time"] = event["time"]
            answer = events.put_events(Entries=[entry])
            if answer.get("FailedEntryCount"):
                sys.exit(f"PutEvents refused {path.name}: {answer}")
            through_eventbridge += 1
        else:
            # The emulator's EventBridge delivers only within one region, and would stamp ours on it.
            sqs.send_message(QueueUrl=queue_url, MessageBody=text)
            other_regions += 1
    print(
        f"published {through_eventbridge + other_regions + direct} bodies: "
        f"{through_eventbridge} events through EventBridge PutEvents in {REGION}, "
        f"{other_regions} events of other regions and {direct} other bodies straight to SQS"
    )
    for name in filtered:
        print(f"skipped {name}: the EventBridge rule does not match it, so it never reaches the queue")


def drained(endpoint, queue_url, seconds):
    sqs, _ = clients(endpoint)
    deadline = time.monotonic() + float(seconds)
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)[
            "Attributes"
        ]
        if sum(int(attributes[name]) for name in names) == 0:
            return
        time.sleep(0.3)
    sys.exit(f"the queue still holds messages after {seconds} s: {attributes}")


def receiver(port, out):
    lock = threading.Lock()
    sink = open(out, "a", encoding="utf-8")

    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, like the chat services: HTTP/1.0 (the default here) would close the connection
        # after every post and make the worker open one per alert.
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            # The first path segment names the destination; the rest is its (fake) secret.
            destination = self.path.strip("/").split("/")[0]
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            with lock:
                sink.write(json.dumps({"destination": destination, "body": body}) + "\n")
                sink.flush()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def do_GET(self):
            # Readiness probe for scripts/demo.sh.
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    server.serve_forever()


def headline(destination, body):
    """The line a person reads first in each chat."""
    if destination == "google-chat":
        return body["cardsV2"][0]["card"]["header"]["subtitle"]
    if destination == "slack":
        return body["text"]
    if destination == "teams":
        return body["attachments"][0]["content"]["body"][0]["items"][1]["text"]
    if destination == "discord":
        return body["embeds"][0]["title"]
    return body["title"]


# Chat mention markup (Slack/Google Chat `<!channel>`, `<@U123>`, Discord/Teams `@everyone`, `@here`).
MENTION = re.compile(r"<[!@#][^>]*>|@(?:everyone|here|channel)\b")


def mention_note(title, slack_bodies):
    """For a title whose event text carries mention markup: how a chat showed it, so the listing does
    not read as if failwatch had pinged the room (the generic webhook gets the text as data, unescaped)."""
    if not MENTION.search(title):
        return None
    escaped = html.escape(title, quote=False)
    if not any(escaped in body.get("text", "") for body in slack_bodies):
        return "(mention markup from the event's own text; escaped in every chat, nobody is pinged)"
    markup = ", ".join(html.escape(m, quote=False) for m in MENTION.findall(title))
    return f"(mention markup from the event's own text; escaped in every chat, nobody is pinged: Slack got {markup})"


def clipped(body, lines=24):
    text = json.dumps(body, indent=2, ensure_ascii=False).splitlines()
    if len(text) > lines:
        text = text[:lines] + [f"  ... ({len(text) - lines} more lines)"]
    return "\n".join("    " + line for line in text)


def show(out):
    received = {}
    for line in pathlib.Path(out).read_text().splitlines():
        record = json.loads(line)
        received.setdefault(record["destination"], []).append(record["body"])
    destinations = ["google-chat", "slack", "teams", "discord", "webhook"]

    print("== Messages posted, per destination")
    for destination in destinations:
        print(f"  {destination:<12} {len(received.get(destination, []))}")

    documents = received.get("webhook", [])
    alerts = [d for d in documents if d.get("schema") == "failwatch.alert.v1"]
    notices = [d for d in documents if d.get("schema") != "failwatch.alert.v1"]
    print(f"\n== The {len(alerts)} alerts (as the generic webhook got them)")
    for alert in alerts:
        marker = "CRIT" if alert["severity"] == "critical" else "WARN"
        print(f"  [{marker}] {alert['title']}")
        mention = mention_note(alert["title"], received.get("slack", []))
        if mention:
            print(f"         {mention}")
        if alert.get("hint"):
            hint = alert["hint"]
            print(f"         hint: {hint[:110]}{'...' if len(hint) > 110 else ''}")

    if notices:
        print(f"\n== {len(notices)} digests and recoveries (alerts of one group folded, a group recovered)")
        for notice in notices:
            if notice.get("schema") == "failwatch.digest.v1":
                print(f"  [DIGEST] {notice['title']} ({notice['count']} alerts)")
            else:
                print(f"  [RECOVERED] {notice['title']}")

    # One alert as every chat received it: the out-of-memory one when the samples have it.
    example = next((a for a in alerts if "out of memory" in a["title"]), alerts[0] if alerts else None)
    if example is None:
        return
    print(f"\n== One alert as each chat received it: {example['title']}")
    for destination in destinations:
        match = next(
            (
                body
                for body in received.get(destination, [])
                if example["title"] in str(headline(destination, body))
            ),
            None,
        )
        print(f"\n-- {destination}")
        print(clipped(match) if match is not None else "    (not received)")
    print(f"\nEvery payload, exactly as posted: {out}")


def main(argv):
    commands = {
        "setup": setup,
        "publish": publish,
        "drained": drained,
        "receiver": receiver,
        "show": show,
    }
    if len(argv) < 2 or argv[1] not in commands:
        sys.exit(__doc__)
    commands[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
