"""The storm run: a failure storm (thousands of failed ECS tasks over a few services and failure classes,
all on the queue at once) through `failwatch run`, into rooms that each take one message per second and
answer 429 above that; then what each room saw and what became of every event.

    storm.py FAILWATCH_BINARY [--events 10000] [--services 20] [--group-interval 20s]
                              [--backend memory|dynamodb] [--replicas 1] ...

1. fauxqs (tests/support/emulators/serve.mjs, on loopback) with a queue and its DLQ. --events failed
   ECS tasks, each with a task ARN of its own, made from three real fixtures of tests/fixtures/events
   (the failure classes: out of memory, exit 137; an essential container that exited 1; an image that
   could not be pulled), spread round robin over --services services of one cluster, sent in random
   order. Every event is on the queue before the first worker starts: that instant is time zero.
2. tests/load/receiver.mjs in strict mode: each URL path is a room that accepts at most one post per
   second (between arrivals) and answers 429 with `Retry-After: 1` above that; it records every post.
3. --replicas `failwatch run` processes on the one queue (with --backend dynamodb they share a table in
   ministack, as tests/chaos/chaos.py --state dynamodb does), configured with one generic webhook
   destination per (service, failure class) room, rate_per_second 1 and burst 1, routed by a
   `service` + `group_key` match, and `[grouping] group_interval = --group-interval` (`off` leaves the
   section out, for a worker without grouping: the baseline).
4. The run ends when the queue is empty and every event is accounted for, or once the queue is empty
   and no post was accepted for --quiet-after seconds (a group interval and a little more by default),
   or at --duration-cap; then the workers get SIGTERM.

Reports (a JSON summary on stdout, a verdict on stderr; exit 1 when a goal is missed):
- posts per group per interval: accepted posts of each room bucketed into windows of the group
  interval from the room's first post (20 s when grouping is off); the most in any window, crash-loop
  notices (documents whose `crash_loop` is set) counted apart. Goal: at most 2.
- 429s drawn. Goal: 0.
- time from time zero to the first accepted post of each group: p50, p99, max. Goal: p99 <= 2 s.
- drain: from time zero until the queue (visible and in flight) is empty.
- accounting: every event's dedup_key must appear in exactly one accepted `failwatch.alert.v1` or in
  the `dedup_keys` of exactly one accepted `failwatch.digest.v1`: lost (in none, and no longer on the
  queue or its DLQ), duplicated (in more than one), still queued and dead-lettered (read back from the
  queues after the workers stopped) are counted. Goal: none lost, none dead-lettered, none left.

Only boto3 and the standard library, and the load and chaos harnesses' helpers.
"""

import argparse
import copy
import datetime
import json
import os
import pathlib
import random
import re
import statistics
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests/load"))
sys.path.insert(0, str(ROOT / "tests/chaos"))
import chaos  # noqa: E402  (ministack start and metric scrapes)
import load  # noqa: E402  (emulator, receiver, queue and worker helpers)

FIXTURES = ROOT / "tests/fixtures/events"
# The failure classes: (room suffix, fixture, the `group_key` glob that routes it).
CLASSES = [
    ("oom", "ecs_task-oom.json", "*:out_of_memory"),
    ("exit1", "ecs_task-seed000-example-exit1.json", "*:exit_nonzero"),
    ("pull", "ecs_task-image-tag-not-found.json", "*:image_not_found"),
]
CLUSTER = "storm"
GOAL_POSTS_PER_INTERVAL = 2
GOAL_FIRST_POST_P99 = 2.0


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("binary")
    p.add_argument("--events", type=int, default=10000, help="failed tasks (default 10000)")
    p.add_argument("--services", type=int, default=20, help="services (default 20)")
    p.add_argument("--group-interval", default="20s",
                   help='[grouping] group_interval (default 20s; 0s: grouping off, every alert posted); '
                        '"off" leaves [grouping] out, for a worker without it')
    p.add_argument("--backend", choices=["memory", "dynamodb"], default="memory")
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--table", default="failwatch-storm", help="the DynamoDB table (--backend dynamodb)")
    p.add_argument("--rate", type=float, default=1.0, help="each room's rate_per_second (default 1)")
    p.add_argument("--visibility", type=int, default=60, help="sqs.visibility_timeout, seconds (default 60)")
    p.add_argument("--quiet-after", type=float,
                   help="end this many seconds after the last accepted post once the queue is empty "
                        "(default: the group interval + 10 s)")
    p.add_argument("--duration-cap", type=float, default=600.0,
                   help="stop this many seconds after time zero whatever is left (default 600)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", help="keep configs, logs and the posts here (default: a new temporary directory)")
    args = p.parse_args()
    # None: every alert is posted (grouping off, or a worker without it).
    args.interval = None if args.group_interval == "off" else seconds(args.group_interval) or None
    if args.quiet_after is None:
        args.quiet_after = (args.interval or 0) + 10.0
    return args


def seconds(text):
    """A humantime duration of the forms the options use ("20s", "2m", "500ms") in seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", text)
    if not match:
        sys.exit(f"--group-interval: {text!r} is not a duration such as 20s, 2m or off")
    return float(match.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[match.group(2)]


def service(n):
    return f"svc-{n:02d}"


def room(service_index, suffix):
    return f"/room/{service(service_index)}/{suffix}"


def worker_config(args, queue_url, receiver_port):
    """One webhook destination per room, paced at --rate with no burst (a strict room takes none), and
    one route per room matching its service and failure class."""
    destinations, routes = [], []
    for s in range(args.services):
        for suffix, _, glob in CLASSES:
            name = f"{service(s)}-{suffix}"
            destinations += [
                "[[destinations]]", f'name = "{name}"', 'type = "webhook"',
                f'url = "http://127.0.0.1:{receiver_port}{room(s, suffix)}"',
                f"rate_per_second = {args.rate}", "burst = 1", 'timeout = "5s"', "",
            ]
            routes += [
                "[[routes]]", f'destinations = ["{name}"]', "[routes.match]",
                f'service = "{service(s)}"', f'group_key = "{glob}"', "",
            ]
    grouping = [] if args.group_interval == "off" else [
        "[grouping]", f'group_interval = "{args.group_interval}"', ""]

    def config(admin):
        return "\n".join([
            "[sqs]", f'queue_url = "{queue_url}"', 'wait_time = "1s"',
            f'visibility_timeout = "{args.visibility}s"', 'shutdown_grace = "10s"',
            'queue_metrics_interval = "0s"', "",
            "[admin]", f'listen = "{admin}"', "",
            "[logging]", 'format = "json"', "",
            # Nothing to look up in AWS here: enrichment off, as in the load and chaos harnesses, so
            # lookups that cannot succeed do not spend each first alert's delivery time.
            "[enrichment]", "log_lines = 0", "failed_state = false", "tags = false", "",
            *grouping, *destinations, *routes,
        ])

    return config


def events(args):
    """Every event body in random order, and {dedup_key: room} for the accounting."""
    fixtures = [(suffix, json.loads((FIXTURES / name).read_text())) for suffix, name, _ in CLASSES]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    bodies, rooms = [], {}
    for n in range(args.events):
        suffix, fixture = fixtures[n % len(fixtures)]
        s = (n // len(fixtures)) % args.services
        event = copy.deepcopy(fixture)
        detail = event["detail"]
        prefix = detail["clusterArn"].split(":cluster/")[0]
        task_arn = f"{prefix}:task/{CLUSTER}/{n:032x}"
        event["id"] = f"00000000-0000-5700-0000-{n:012d}"
        event["time"] = now
        event["resources"] = [task_arn]
        detail["clusterArn"] = f"{prefix}:cluster/{CLUSTER}"
        detail["taskArn"] = task_arn
        detail["group"] = f"service:{service(s)}"
        for i, container in enumerate(detail.get("containers", [])):
            container["taskArn"] = task_arn
            container["containerArn"] = f"{prefix}:container/{CLUSTER}/{n:032x}/{i}"
        bodies.append(json.dumps(event))
        rooms[f"ecs_task:{task_arn}"] = room(s, suffix)
    random.Random(args.seed).shuffle(bodies)
    return bodies, rooms


def fill(sqs, queue_url, bodies):
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start:start + 10])]
        if sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed"):
            sys.exit("SendMessageBatch failed")


def run(args, workdir):
    emulator = load.Emulator()
    sqs = load.sqs_client(emulator.endpoint)
    queue = load.create_queue(sqs, "storm", max_receive_count=10)
    receiver = load.Receiver(chaos={"strict_ms": 1000})
    env = {}
    ministack = None
    if args.backend == "dynamodb":
        ministack = chaos.start_dynamodb(
            argparse.Namespace(table=args.table), workdir, env)
    workers, scrapes = [], []
    try:
        bodies, rooms = events(args)
        filled = time.monotonic()
        fill(sqs, queue, bodies)
        fill_seconds = time.monotonic() - filled
        config = worker_config(args, queue, receiver.port)
        zero = time.time()
        started = time.monotonic()
        workers = [load.Worker(args.binary, emulator.endpoint, queue, receiver.port, workdir,
                               config=config, env=env, name=f"replica{i}") for i in range(args.replicas)]
        drained, last_count, last_change, left = None, 0, started, None
        while time.monotonic() - started < args.duration_cap:
            time.sleep(0.25)
            for worker in workers:
                if worker.process.poll() is not None:
                    sys.exit(f"{worker.process.args} exited with {worker.process.returncode}; "
                             f"see {workdir}")
            if drained is None and load.depth(sqs, queue) == 0:
                drained = time.monotonic() - started
            count = receiver.count
            if count != last_count:
                last_count, last_change = count, time.monotonic()
            if drained is None:
                continue
            if accounted(posts_of(receiver), rooms) or time.monotonic() - last_change > args.quiet_after:
                break
        left = load.depth(sqs, queue)
        for worker in workers:
            scrapes.append(chaos.scrape(worker.admin))
            worker.stop()
        posts = posts_of(receiver)
        total = time.monotonic() - started
        # What the workers left (handed back at SIGTERM, or dead-lettered) is not lost: set it apart.
        queued = queued_keys(sqs, queue) if left else set()
        dead = queued_keys(sqs, sqs.get_queue_url(QueueName="storm-dlq")["QueueUrl"])
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.kill()
        emulator.stop()
        if ministack:
            ministack.terminate()
            ministack.wait(timeout=10)
    with open(os.path.join(workdir, "posts.json"), "w") as f:
        json.dump(posts, f)
    summary = summarize(args, posts, rooms, zero, queued | dead)
    summary["accounting"]["still_queued"] = len(queued)
    summary["accounting"]["dead_lettered"] = len(dead)
    summary["run"] = {
        "events": args.events, "groups": args.services * len(CLASSES), "backend": args.backend,
        "replicas": args.replicas, "group_interval": args.group_interval,
        "fill_seconds": round(fill_seconds, 1),
        "drain_seconds": round(drained, 1) if drained is not None else None,
        "total_seconds": round(total, 1), "left_in_queue": left, "workdir": workdir,
        "worker": worker_metrics(scrapes),
    }
    return summary


def posts_of(receiver):
    with urllib.request.urlopen(f"http://127.0.0.1:{receiver.port}/posts", timeout=30) as response:
        return json.loads(response.read())


def accounted(posts, rooms):
    """Whether every event's dedup_key is in some accepted document."""
    seen = {key for post in posts if post["status"] == 200 for key in post["keys"]}
    return seen.issuperset(rooms)


def queued_keys(sqs, queue_url, limit=45.0):
    """The dedup_keys of the events still on `queue_url`: received (and kept invisible) until the queue
    answers empty twice and holds nothing in flight, or for `limit` seconds (a message a worker held
    when it stopped reappears when its visibility ends)."""
    keys, empty, until = set(), 0, time.monotonic() + limit
    while time.monotonic() < until and empty < 2:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                  VisibilityTimeout=600, WaitTimeSeconds=1).get("Messages", [])
        for message in got:
            keys.add("ecs_task:" + json.loads(message["Body"])["detail"]["taskArn"])
        if got:
            empty = 0
            continue
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        in_flight = int(attributes["ApproximateNumberOfMessagesNotVisible"]) - len(keys)
        empty = empty + 1 if in_flight <= 0 else 0
    return keys


def summarize(args, posts, rooms, zero, unposted=frozenset()):
    accepted = sorted((p for p in posts if p["status"] == 200), key=lambda p: p["t"])
    by_room = {}
    for post in accepted:
        by_room.setdefault(post["room"], []).append(post)
    window = args.interval or 20.0
    worst, worst_room, per_window = 0, None, []
    for name, room_posts in by_room.items():
        first = room_posts[0]["t"]
        windows = {}
        for post in room_posts:
            if not post["crash_loop"]:
                index = int((post["t"] - first) / 1000 / window)
                windows[index] = windows.get(index, 0) + 1
        per_window.extend(windows.values())
        if max(windows.values(), default=0) > worst:
            worst, worst_room = max(windows.values()), name
    firsts = sorted((room_posts[0]["t"] / 1000 - zero) for room_posts in by_room.values())
    occurrences = dict.fromkeys(rooms, 0)
    strays = 0
    for post in accepted:
        for key in post["keys"]:
            if key in occurrences:
                occurrences[key] += 1
            else:
                strays += 1
    schemas = {}
    for post in accepted:
        schemas[post["schema"]] = schemas.get(post["schema"], 0) + 1
    return {
        "posts": {
            "accepted": len(accepted), "by_schema": schemas,
            "crash_loop_notices": sum(p["crash_loop"] for p in accepted),
            "rooms_posted_to": len(by_room),
            "window_seconds": window,
            "max_per_group_per_window": worst, "worst_room": worst_room,
            "mean_per_group_per_window": round(statistics.mean(per_window), 2) if per_window else None,
        },
        "rate_limited_429": sum(p["status"] == 429 for p in posts),
        "first_post_seconds": {
            "groups": len(firsts),
            "p50": round(quantile(firsts, 0.50), 3) if firsts else None,
            "p99": round(quantile(firsts, 0.99), 3) if firsts else None,
            "max": round(firsts[-1], 3) if firsts else None,
        },
        "accounting": {
            "events": len(rooms),
            "exactly_once": sum(n == 1 for n in occurrences.values()),
            # Never posted, and not on the queue or its DLQ either.
            "lost": sum(n == 0 and key not in unposted for key, n in occurrences.items()),
            "duplicated_events": sum(n > 1 for n in occurrences.values()),
            "duplicate_copies": sum(n - 1 for n in occurrences.values() if n > 1),
            "unknown_keys": strays,
        },
    }


def quantile(sorted_values, q):
    """The nearest-rank quantile of a sorted list."""
    index = max(0, min(len(sorted_values) - 1, int(-(-q * len(sorted_values) // 1)) - 1))
    return sorted_values[index]


def worker_metrics(scrapes):
    def total(name, labels=None):
        return sum(v for s in scrapes for (n, l), v in s.items()
                   if n == name and (labels is None or labels in l))

    return {
        "received": total("failwatch_messages_received_total"),
        "deleted": total("failwatch_messages_deleted_total"),
        "attempts": total("failwatch_delivery_attempts_total"),
        "attempts_rate_limited": total("failwatch_delivery_attempts_total", 'outcome="rate_limited"'),
        "alerts_folded": total("failwatch_alerts_folded_total"),
        "digests_posted": total("failwatch_digests_posted_total"),
        "crash_loops": total("failwatch_crash_loops_total"),
        "receive_paused_seconds": round(total("failwatch_receive_paused_seconds_sum"), 1),
    }


def verdict(summary, args):
    posts, first, acc = summary["posts"], summary["first_post_seconds"], summary["accounting"]
    groups = summary["run"]["groups"]
    checks = [
        (f"posts per group per {posts['window_seconds']:g} s window {posts['max_per_group_per_window']}"
         f" > {GOAL_POSTS_PER_INTERVAL}", posts["max_per_group_per_window"] > GOAL_POSTS_PER_INTERVAL),
        (f"429s drawn {summary['rate_limited_429']} > 0", summary["rate_limited_429"] > 0),
        (f"first posts of {first['groups']} groups out of {groups}", first["groups"] < groups),
        (f"first post p99 {first['p99']} s > {GOAL_FIRST_POST_P99:g} s",
         first["p99"] is None or first["p99"] > GOAL_FIRST_POST_P99),
        (f"lost {acc['lost']}", acc["lost"] > 0),
        (f"dead-lettered {acc['dead_lettered']}", acc["dead_lettered"] > 0),
        (f"{summary['run']['left_in_queue']} messages still queued",
         bool(summary["run"]["left_in_queue"])),
    ]
    missed = [text for text, failed in checks if failed]
    line = (f"{posts['accepted']} posts (at most {posts['max_per_group_per_window']} per group per "
            f"{posts['window_seconds']:g} s, {posts['crash_loop_notices']} crash-loop notices), "
            f"{summary['rate_limited_429']} x 429, first post p50 {first['p50']} s p99 {first['p99']} s, "
            f"drained in {summary['run']['drain_seconds']} s, {acc['exactly_once']} of {acc['events']} "
            f"events exactly once, {acc['lost']} lost, {acc['duplicated_events']} duplicated, "
            f"{acc['still_queued']} still queued, {acc['dead_lettered']} dead-lettered")
    return (not missed), ("PASS: " if not missed else "FAIL (" + "; ".join(missed) + "): ") + line


def main():
    args = parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix="failwatch-storm-")
    os.makedirs(workdir, exist_ok=True)
    summary = run(args, workdir)
    ok, line = verdict(summary, args)
    summary["verdict"] = line
    print(json.dumps(summary, indent=2))
    print(line, file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
