"""The chaos run: failure events through `failwatch run` processes that are SIGKILLed and restarted every
few seconds, into a chat receiver that fails a good share of its posts; then, per event, what reached the
chat, what reached the DLQ and what was lost.

    chaos.py FAILWATCH_BINARY [--events 600] [--replicas 1] [--state memory|dynamodb] ...

1. fauxqs (tests/support/emulators/serve.mjs, on loopback) with a queue whose RedrivePolicy moves a
   message to its DLQ after --max-receive-count receives (fauxqs does so on the receive after that count,
   as SQS does). --events distinct failed ECS tasks, and for a --duplicates share of them a second copy
   (the same task's event under another event id), shuffled.
2. tests/load/receiver.mjs in chaos mode: 25 % 500, 10 % 429 with `Retry-After` 1-3 s, 5 % accepted
   but answered only after the worker's request timeout, 5 % connections reset without an answer, the
   rest a prompt 200; it records every post and whether its answer was written before the connection
   closed.
3. --replicas `failwatch run` processes (release build) on the one queue, each SIGKILLed after a random
   --kill-every interval (4-7 s) and restarted at once, until the queue is empty or --chaos-cap seconds
   have passed; then they run unharmed until the queue is empty (the drain), at most until --duration-cap
   seconds after the start, and stop with SIGTERM. Just before each kill and stop the harness reads the
   process's /metrics, so counters of killed processes are kept.
4. Per event: delivered (at least one accepted post), duplicates (accepted posts beyond the first), split
   into "answer never reached the worker" (no earlier accepted post of the event was answered: the worker
   that posted timed out or was killed before it could read the answer, so it had to try again) and the
   others (the worker had been told of an earlier acceptance and posted again: killed before the record
   or the delete, or a second copy reaching a process without the record); lost (no accepted post and not
   in the DLQ once the queue is empty; "unfinished" when the drain ran out of time first); dead-lettered, and dead-lettered without one finished attempt (no post of the event was
   ever answered).

Prints a JSON summary on stdout and a one-line verdict against issue 11's targets on stderr (lost 0,
other duplicates <= 1 % of events, dead-lettered without a finished attempt <= 1 %); exits 1 when a target
is missed. `--state dynamodb` passes FAILWATCH_STATE__BACKEND, FAILWATCH_STATE__TABLE and
AWS_ENDPOINT_URL_DYNAMODB to every process and starts ministack (from .venv) on loopback with the table
(partition key `pk`, string). Only boto3 and the standard library, and load.py's helpers.
"""

import argparse
import json
import os
import pathlib
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests/load"))
import load  # noqa: E402  (the load harness's emulator, receiver, queue and worker helpers)

TARGET_SHARE = 0.01
METRIC_LINE = re.compile(r"^(failwatch_[a-z_]+)(\{[^}]*\})? ([0-9.eE+-]+|NaN)$")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("binary")
    p.add_argument("--events", type=int, default=600, help="distinct failure events (default 600)")
    p.add_argument("--duplicates", type=float, default=0.1,
                   help="share of events sent twice under two event ids (default 0.1)")
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--kill-every", default="4-7", help="seconds between SIGKILLs, MIN-MAX (default 4-7)")
    p.add_argument("--state", choices=["memory", "dynamodb"], default="memory")
    p.add_argument("--table", default="failwatch-chaos", help="the DynamoDB table (--state dynamodb)")
    p.add_argument("--max-receive-count", type=int, default=5)
    p.add_argument("--rate", type=float, default=20.0, help="the destination's rate_per_second")
    p.add_argument("--burst", type=int, default=5)
    p.add_argument("--visibility", type=int, default=20, help="sqs.visibility_timeout, seconds")
    p.add_argument("--budget", type=int, default=10, help="retry.budget, seconds")
    p.add_argument("--max-delay", type=int, default=5, help="retry.max_delay, seconds")
    p.add_argument("--timeout", type=float, default=2.0, help="the destination's request timeout, s")
    p.add_argument("--mix", default="0.25,0.10,0.05,0.05",
                   help="shares of 500, 429, slow (accepted, answered after the timeout), reset")
    p.add_argument("--retry-after", default="1-3", help="the 429s' Retry-After, MIN-MAX whole seconds")
    p.add_argument("--chaos-cap", type=float, default=300.0,
                   help="stop killing after this many seconds even if the queue is not empty")
    p.add_argument("--duration-cap", type=float, default=480.0,
                   help="give up draining this many seconds after the start")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", help="keep configs and logs here (default: a new temporary directory)")
    return p.parse_args()


def worker_config(args, queue_url):
    """The configuration of every replica: a short visibility timeout, budget and backoff cap so that a
    killed process's messages, and handed-back ones, come back within seconds; one webhook destination
    paced at --rate."""

    def config(admin):
        return "\n".join([
            "[sqs]", f'queue_url = "{queue_url}"', 'wait_time = "1s"',
            f'visibility_timeout = "{args.visibility}s"', 'malformed_visibility = "1s"',
            'shutdown_grace = "5s"', 'queue_metrics_interval = "0s"', "",
            "[retry]", f'budget = "{args.budget}s"', f'max_delay = "{args.max_delay}s"', "",
            "[admin]", f'listen = "{admin}"', "",
            "[logging]", 'format = "json"', "",
            # Every event is its own post, so each is counted on its own (grouping off), and no
            # lookup against AWS takes a share of the delivery time (enrichment off).
            "[grouping]", 'group_interval = "0s"', "",
            "[enrichment]", "log_lines = 0", "failed_state = false", "tags = false", "",
            "[[destinations]]", 'name = "chat"', 'type = "webhook"', 'url_env = "LOAD_URL"',
            f"rate_per_second = {args.rate}", f"burst = {args.burst}",
            f'timeout = "{int(args.timeout * 1000)}ms"', "",
        ])

    return config


def scrape(admin):
    """The process's metrics as {(name, labels): value}; empty when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://{admin}/metrics", timeout=0.5) as response:
            text = response.read().decode()
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        match = METRIC_LINE.match(line)
        if match:
            values[(match.group(1), match.group(2) or "")] = float(match.group(3))
    return values


class Replica:
    """One slot: a `failwatch run` process, replaced by a new one each time it is killed."""

    def __init__(self, index, args, start):
        self.index, self.args, self.start = index, args, start
        self.generation = 0
        self.worker = None
        self.kill_at = None

    def spawn(self, chaos):
        self.generation += 1
        self.worker = load.Worker(
            self.start["binary"], self.start["endpoint"], self.start["queue"], self.start["port"],
            self.start["workdir"], config=self.start["config"], env=self.start["env"],
            name=f"replica{self.index}-{self.generation:03d}",
        )
        low, high = (float(x) for x in self.args.kill_every.split("-"))
        self.kill_at = time.monotonic() + random.uniform(low, high) if chaos else None

    def end(self, sig, metrics):
        """Reads the metrics, then sends `sig` and waits for the process."""
        metrics.append(scrape(self.worker.admin))
        self.worker.process.send_signal(sig)
        try:
            self.worker.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.worker.process.kill()
            self.worker.process.wait()
        self.worker.log.close()
        return self.worker.process.returncode


def start_dynamodb(args, workdir, env):
    """ministack on a loopback port with the table; returns the process."""
    ministack = ROOT / ".venv/bin/ministack"
    if not ministack.exists():
        sys.exit("--state dynamodb needs ministack in .venv (pip install ministack)")
    port = load.free_port()
    process = subprocess.Popen(
        [str(ministack)], env={**os.environ, "BIND_HOST": "127.0.0.1", "GATEWAY_PORT": str(port)},
        stdout=open(os.path.join(workdir, "ministack.log"), "ab"), stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    dynamodb = boto3.session.Session(
        aws_access_key_id="load", aws_secret_access_key="load", region_name=load.REGION
    ).client("dynamodb", endpoint_url=endpoint)
    for _ in range(100):
        try:
            dynamodb.create_table(
                TableName=args.table, BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            )
            break
        except Exception:  # not listening yet
            time.sleep(0.1)
    else:
        sys.exit("ministack did not start")
    env.update({
        "FAILWATCH_STATE__BACKEND": "dynamodb",
        "FAILWATCH_STATE__TABLE": args.table,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
    })
    return process


def count_items(env, table):
    """The items in the state table at the end of a --state dynamodb run, by kind (the part of `pk`
    before its first `#`)."""
    import boto3

    dynamodb = boto3.session.Session(
        aws_access_key_id="load", aws_secret_access_key="load", region_name=load.REGION
    ).client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"])
    kinds = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk"):
        for item in page["Items"]:
            kind = item["pk"]["S"].split("#", 1)[0]
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def fill(sqs, queue_url, args):
    """Sends every event (and the duplicated ones' copies) in random order; returns {dedup_key: copies}."""
    rng = random.Random(args.seed)
    bodies = [(n, 0) for n in range(args.events)]
    bodies += [(n, 1) for n in rng.sample(range(args.events), int(args.events * args.duplicates))]
    rng.shuffle(bodies)
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": load.failed_task_body(n, copy)}
                   for i, (n, copy) in enumerate(bodies[start:start + 10])]
        if sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed"):
            sys.exit("SendMessageBatch failed")
    keys = {}
    for n, _ in bodies:
        keys[dedup_key(n)] = keys.get(dedup_key(n), 0) + 1
    return keys


def dedup_key(n):
    task_id = f"{n:032x}"
    cluster = f"load-cluster-{n % load.CLUSTERS}"
    return f"ecs_task:arn:aws:ecs:{load.REGION}:{load.ACCOUNT}:task/{cluster}/{task_id}"


def dead_lettered(sqs, dlq_url):
    """The dedup keys of every message in the DLQ (received with a long visibility, never deleted)."""
    keys = []
    empty = 0
    while empty < 3:
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10,
                                       VisibilityTimeout=600, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            empty += 1
            continue
        empty = 0
        for message in messages:
            arn = json.loads(message["Body"])["detail"]["taskArn"]
            keys.append(f"ecs_task:{arn}")
    return keys


def run(args, workdir):
    started = time.monotonic()
    emulator = load.Emulator()
    sqs = load.sqs_client(emulator.endpoint)
    queue = load.create_queue(sqs, "chaos", args.max_receive_count)
    dlq = sqs.get_queue_url(QueueName="chaos-dlq")["QueueUrl"]
    mix = dict(zip(["error", "rate_limited", "slow", "reset"], (float(x) for x in args.mix.split(","))))
    retry_after = [int(x) for x in args.retry_after.split("-")]
    receiver = load.Receiver(chaos={"seed": args.seed, **mix, "retry_after": retry_after,
                                    "slow_ms": int(args.timeout * 1000) + 1000})
    env = {}
    ministack = start_dynamodb(args, workdir, env) if args.state == "dynamodb" else None
    try:
        copies = fill(sqs, queue, args)
        context = {"binary": args.binary, "endpoint": emulator.endpoint, "queue": queue,
                   "port": receiver.port, "workdir": workdir, "config": worker_config(args, queue),
                   "env": env}
        replicas = [Replica(i, args, context) for i in range(args.replicas)]
        metrics, kills, round_trips = [], 0, []
        for replica in replicas:
            replica.spawn(chaos=True)
        # Chaos: kill and restart each replica on its own clock until the queue is empty.
        next_depth = 0.0
        while time.monotonic() - started < args.chaos_cap:
            now = time.monotonic()
            for replica in replicas:
                if now >= replica.kill_at:
                    replica.end(signal.SIGKILL, metrics)
                    kills += 1
                    replica.spawn(chaos=True)
            if now >= next_depth:
                # Timed too: a GetQueueAttributes round trip (boto3 included) to compare deletes with.
                asked = time.monotonic()
                empty = load.depth(sqs, queue) == 0
                round_trips.append(time.monotonic() - asked)
                if empty:
                    break
                next_depth = now + 0.5
            time.sleep(0.02)
        chaos_seconds = time.monotonic() - started
        # Drain: the last processes run unharmed until the queue is empty.
        empty_since = None
        while time.monotonic() - started < args.duration_cap:
            if load.depth(sqs, queue) == 0:
                empty_since = empty_since or time.monotonic()
                if time.monotonic() - empty_since > 1.0:
                    break
            else:
                empty_since = None
            time.sleep(0.25)
        left = load.depth(sqs, queue)
        exit_codes = [replica.end(signal.SIGTERM, metrics) for replica in replicas]
        total_seconds = time.monotonic() - started
        dlq_keys = dead_lettered(sqs, dlq)
        with urllib.request.urlopen(f"http://127.0.0.1:{receiver.port}/posts", timeout=10) as r:
            posts = json.loads(r.read())
        table_items = count_items(env, args.table) if ministack else None
    finally:
        emulator.stop()
        if ministack:
            ministack.terminate()
            ministack.wait(timeout=10)
    summary = summarize(copies, posts, dlq_keys, metrics, left > 0)
    summary["run"] = {
        "events": args.events, "messages": sum(copies.values()), "replicas": args.replicas,
        "state": args.state, "kills": kills, "chaos_seconds": round(chaos_seconds, 1),
        "total_seconds": round(total_seconds, 1), "left_in_queue": left,
        "sigterm_exit_codes": exit_codes, "workdir": workdir, "table_items": table_items,
        "sqs_round_trip_ms": {"median": round(1000 * statistics.median(round_trips), 2),
                              "p90": round(1000 * statistics.quantiles(round_trips, n=10)[-1], 2)}
        if len(round_trips) > 1 else None,
    }
    return summary


def summarize(copies, posts, dlq_keys, metrics, drained_short):
    by_key = {}
    for post in sorted(posts, key=lambda p: p["t"]):
        by_key.setdefault(post["key"], []).append(post)
    dlq = set(dlq_keys)
    counts = dict.fromkeys([
        "delivered", "duplicate_posts", "duplicates_answer_lost", "duplicates_other",
        "duplicates_other_same_event_id", "duplicates_other_second_copy", "events_with_duplicates",
        "lost", "unfinished", "dead_lettered", "dead_lettered_without_finished_attempt", "dead_lettered_delivered",
    ], 0)
    for key in copies:
        key_posts = by_key.get(key, [])
        accepted = [p for p in key_posts if p["accepted"]]
        if accepted:
            counts["delivered"] += 1
        if len(accepted) > 1:
            counts["events_with_duplicates"] += 1
        for i, post in enumerate(accepted[1:], start=1):
            counts["duplicate_posts"] += 1
            told = [p for p in accepted[:i] if p["answered"]]
            if not told:
                counts["duplicates_answer_lost"] += 1
            else:
                counts["duplicates_other"] += 1
                same = any(p["event"] == post["event"] for p in told)
                counts["duplicates_other_same_event_id" if same else "duplicates_other_second_copy"] += 1
        if key in dlq:
            counts["dead_lettered"] += 1
            counts["dead_lettered_delivered"] += bool(accepted)
            counts["dead_lettered_without_finished_attempt"] += not any(p["answered"] for p in key_posts)
        elif not accepted:
            # Lost only once the queue is empty; before that, it may still be delivered.
            counts["unfinished" if drained_short else "lost"] += 1
    answers = {}
    for post in posts:
        answers[post["answer"]] = answers.get(post["answer"], 0) + 1
    return {"counts": counts, "posts": len(posts), "answers": answers, "dlq_messages": len(dlq_keys),
            "worker": worker_metrics(metrics)}


def worker_metrics(scrapes):
    """Counters summed over every process (each scraped just before its kill or stop), and the delete
    wait from failwatch_delete_duration_seconds: mean and the bucket bounds of the median and p99."""

    def total(name, labels=None):
        return sum(v for s in scrapes for (n, l), v in s.items()
                   if n == name and (labels is None or labels in l))

    buckets = {}
    for s in scrapes:
        for (name, labels), value in s.items():
            if name == "failwatch_delete_duration_seconds_bucket":
                le = float(re.search(r'le="([^"]+)"', labels).group(1))
                buckets[le] = buckets.get(le, 0) + value
    count = total("failwatch_delete_duration_seconds_count")

    def quantile(q):
        for le in sorted(buckets):
            if count and buckets[le] >= q * count:
                return le
        return None

    return {
        "scrapes": len([s for s in scrapes if s]),
        "received": total("failwatch_messages_received_total"),
        "deleted": total("failwatch_messages_deleted_total"),
        "attempts": total("failwatch_delivery_attempts_total"),
        "receive_paused_seconds": round(total("failwatch_receive_paused_seconds_sum"), 1),
        # The state store's answers (with --state dynamodb: proof that the table is used).
        "state": {
            "claims": {o: total("failwatch_state_claims_total", f'outcome="{o}"')
                       for o in ("won", "held", "done")},
            "suppressed": {lv: total("failwatch_state_duplicates_suppressed_total", f'level="{lv}"')
                           for lv in ("alert", "destination")},
            "errors": total("failwatch_state_errors_total"),
            "calls": total("failwatch_state_call_duration_seconds_count"),
        },
        "delete_wait": {
            "count": count,
            "mean_ms": round(1000 * total("failwatch_delete_duration_seconds_sum") / count, 2)
            if count else None,
            "p50_le_ms": quantile(0.5) and quantile(0.5) * 1000,
            "p99_le_ms": quantile(0.99) and quantile(0.99) * 1000,
        },
    }


def verdict(summary, events):
    c = summary["counts"]
    checks = [
        ("lost", c["lost"], 0),
        ("other duplicates", c["duplicates_other"], TARGET_SHARE * events),
        ("dead-lettered without a finished attempt", c["dead_lettered_without_finished_attempt"],
         TARGET_SHARE * events),
    ]
    missed = [f"{name} {value} > {limit:g}" for name, value, limit in checks if value > limit]
    if summary["run"]["left_in_queue"]:
        missed.append(f"{summary['run']['left_in_queue']} messages still queued after the drain, "
                      f"{c['unfinished']} events neither delivered nor dead-lettered")
    share = lambda n: f"{100 * n / events:.1f} %"  # noqa: E731
    line = (f"lost {c['lost']}, other duplicates {c['duplicates_other']} ({share(c['duplicates_other'])}), "
            f"duplicates whose answer never reached the worker {c['duplicates_answer_lost']}, "
            f"dead-lettered {c['dead_lettered']}, without a finished attempt "
            f"{c['dead_lettered_without_finished_attempt']} "
            f"({share(c['dead_lettered_without_finished_attempt'])})")
    return (not missed), ("PASS: " if not missed else "FAIL (" + "; ".join(missed) + "): ") + line


def main():
    args = parse_args()
    random.seed(args.seed)
    workdir = args.workdir or tempfile.mkdtemp(prefix="failwatch-chaos-")
    os.makedirs(workdir, exist_ok=True)
    summary = run(args, workdir)
    ok, line = verdict(summary, args.events)
    summary["verdict"] = line
    print(json.dumps(summary, indent=2))
    print(line, file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
