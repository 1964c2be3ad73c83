"""Writes N SQS message bodies, one per line, for compare.sh: the ~2.5 KB failed-task fixture with a
distinct task id per line (so de-duplication keeps every one), compact as SQS delivers it."""

import json
import sys

fixture, n = sys.argv[1], int(sys.argv[2])
with open(fixture, encoding="utf-8") as f:
    event = json.load(f)
task_arn = event["detail"]["taskArn"]
prefix, old_id = task_arn.rsplit("/", 1)
template = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
out = sys.stdout
for i in range(n):
    new_id = "{:032x}".format(0x5EED0000000000000000000000000000 + i)
    out.write(template.replace(old_id, new_id))
    out.write("\n")
