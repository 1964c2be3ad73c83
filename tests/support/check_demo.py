"""Checks what a finished `scripts/demo.sh` run delivered, so the README's first command stays true.

    check_demo.py DEMO_DIR

Run by scripts/test.sh after the demo. It fails (exit 1, one line per problem) when:
- a chat service received a different number of posts than the generic webhook;
- an alert's region, or the region of a console link, differs from the region its ARNs name (the demo
  once showed us-east-1 for eu-central-1 events because the emulator stamps its own region);
- no alert arrived, or the worker's log holds the demo's webhook token.

Only the standard library.
"""

import json
import pathlib
import re
import sys

DESTINATIONS = ["google-chat", "slack", "teams", "discord", "webhook"]
ARN_REGION = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(?:-[a-z]+)+-\d):")
CONSOLE_REGION = re.compile(r"https://([a-z]{2}(?:-[a-z]+)+-\d)\.console\.")
TOKEN = "demo-secret-token"


def problems(demo_dir):
    received = {}
    for line in (demo_dir / "received.jsonl").read_text().splitlines():
        record = json.loads(line)
        received.setdefault(record["destination"], []).append(record["body"])
    alerts = received.get("webhook", [])
    if not alerts:
        yield "no alert reached the generic webhook"
    for destination in DESTINATIONS:
        count = len(received.get(destination, []))
        if count != len(alerts):
            yield f"{destination} received {count} posts, the webhook {len(alerts)}"
    for alert in alerts:
        text = json.dumps(alert)
        regions = set(ARN_REGION.findall(text)) | set(CONSOLE_REGION.findall(text))
        if regions and regions != {alert.get("region")}:
            yield f"{alert['title']!r}: region {alert.get('region')}, ARNs and links say {sorted(regions)}"
    if TOKEN in (demo_dir / "failwatch.log").read_text():
        yield "the worker's log holds a webhook URL"


def main(argv):
    if len(argv) != 1:
        sys.exit(__doc__)
    found = list(problems(pathlib.Path(argv[0])))
    for problem in found:
        print(f"check_demo: {problem}", file=sys.stderr)
    if found:
        sys.exit(1)
    print("check_demo: every alert's region matches its ARNs; every chat got every alert")


if __name__ == "__main__":
    main(sys.argv[1:])
