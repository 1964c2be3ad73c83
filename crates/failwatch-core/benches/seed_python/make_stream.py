"""Writes N SQS message bodies, one per line, for compare.sh: a fixture (an ECS task or a Step Functions
execution event) with a distinct task id or execution name per line (so de-duplication keeps every one),
compact as SQS delivers it. Usage: make_stream.py FIXTURE N > stream"""

import json
import sys

fixture, n = sys.argv[1], int(sys.argv[2])
with open(fixture, encoding="utf-8") as f:
    event = json.load(f)
detail = event["detail"]
if "taskArn" in detail:
    old_id = detail["taskArn"].rsplit("/", 1)[1]
else:
    # A Step Functions execution: a distinct execution name (the dedup key) per line.
    old_id = detail["executionArn"].rsplit(":", 1)[1]
template = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
out = sys.stdout
for i in range(n):
    new_id = "{:032x}".format(0x5EED0000000000000000000000000000 + i)
    out.write(template.replace(old_id, new_id))
    out.write("\n")
