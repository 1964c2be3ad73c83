"""The worker's numbers for BENCHMARKS.md, on the fast in-memory SQS emulator (fauxqs from npm, on
loopback; this script starts and stops it).

    load.py FAILWATCH_BINARY [N]

1. The emulator's ceiling: N messages drained by a plain client doing exactly the SQS work the worker
   does per batch (ReceiveMessage of 10, DeleteMessageBatch) over keep-alive HTTP/1.1 with the JSON
   protocol and nothing else (no SDK, no signing: the emulator checks none), with 1, 2 and 4 processes;
   the best median is the ceiling.
2. failwatch's drain rate: N messages, each a distinct failed ECS task (none is a duplicate) on one of
   CLUSTERS clusters, drained by `failwatch run` (default pollers and max_in_flight) into a local
   HTTP/1.1 keep-alive receiver that answers 200, timed from spawn to an empty queue, every post
   counted, and the worker's connections to the receiver counted. Twice, with two configurations:
   a. "paced": one destination at the highest pacing the config accepts (rate_per_second 1000, burst
      1000): N messages cannot drain faster than (N - 1000) / 1000 s, whatever the consumer does.
   b. "spread": one destination per cluster, each at that pacing, routed by cluster, so pacing allows
      CLUSTERS × 1000 posts/s and the consumer/delivery path is what is measured.
3. The same job done by a Python worker written the way the Google Chat seed's Lambda would become one
   (tests/load/python_worker.py: boto3, json, urllib): its drain rate, CPU per message and peak RSS.
   Steps 1-3 alternate for ROUNDS rounds, so drift in the machine's other load hits all alike.
4. Start-up: spawn → first 200 from /healthz and from /readyz (the latter includes the first
   ReceiveMessage), 10 runs each; idle RSS after a few empty long polls.
5. Memory and CPU from /proc/<pid>/status (VmRSS, VmHWM: the process's own peak, which a child's
   ru_maxrss would not give) and /proc/<pid>/stat (utime + stime).

Prints a Markdown report on stdout. Only boto3 and the standard library.
"""

import http.client
import json
import multiprocessing
import pathlib
import resource
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3

REGION = "us-east-1"
ROUNDS = 2
ROOT = pathlib.Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
# The failure events are spread over this many clusters (round robin), for the "spread" configuration.
CLUSTERS = 16
CLK_TCK = os.sysconf("SC_CLK_TCK")


def sqs_client(endpoint):
    return boto3.session.Session(
        aws_access_key_id="load", aws_secret_access_key="load", region_name=REGION
    ).client("sqs", endpoint_url=endpoint)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def failed_task_body(n, copy=0):
    """Event n: a failed ECS task of its own. Copies (`copy` > 0) are the same task's STOPPED event
    delivered again under another event id, as EventBridge may; they share the alert's dedup key."""
    task_id = f"{n:032x}"
    cluster = f"load-cluster-{n % CLUSTERS}"
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster}/{task_id}"
    return json.dumps(
        {
            "version": "0",
            "id": f"00000000-0000-0000-{copy:04d}-{n:012d}",
            "detail-type": "ECS Task State Change",
            "source": "aws.ecs",
            "account": ACCOUNT,
            "time": "2026-11-21T00:00:00Z",
            "region": REGION,
            "resources": [arn],
            "detail": {
                "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}",
                "containers": [
                    {
                        "containerArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:container/{cluster}/{task_id}/c",
                        "exitCode": 1,
                        "lastStatus": "STOPPED",
                        "name": "api",
                        "taskArn": arn,
                    }
                ],
                "desiredStatus": "STOPPED",
                "group": "service:load-api",
                "launchType": "FARGATE",
                "lastStatus": "STOPPED",
                "stopCode": "EssentialContainerExited",
                "stoppedReason": "Essential container in task exited",
                "taskArn": arn,
                "taskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/load-api:1",
                "version": 5,
            },
        }
    )


def create_queue(sqs, name, max_receive_count=5):
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    return sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
            ),
        },
    )["QueueUrl"]


def fill(sqs, queue_url, n, offset):
    for start in range(0, n, 10):
        entries = [
            {"Id": str(i), "MessageBody": failed_task_body(offset + start + i)}
            for i in range(min(10, n - start))
        ]
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if answer.get("Failed"):
            sys.exit(f"SendMessageBatch failed: {answer['Failed']}")


def depth(sqs, queue_url):
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)[
        "Attributes"
    ]
    return sum(int(attributes[name]) for name in names)


def sqs_call(connection, action, body):
    """One SQS JSON-protocol call on a kept-alive connection; returns the decoded answer."""
    connection.request(
        "POST",
        "/",
        json.dumps(body),
        {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"AmazonSQS.{action}",
            "Authorization": f"AWS4-HMAC-SHA256 Credential=load/20260101/{REGION}/sqs/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    response = connection.getresponse()
    answer = response.read()
    if response.status != 200:
        sys.exit(f"{action}: HTTP {response.status} {answer[:200]!r}")
    return json.loads(answer or b"{}")


def consume(endpoint, queue_url, results):
    """One plain consumer process: receive(10) + delete_batch until the queue stays empty."""
    host, port = endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    seen = []
    empty = 0
    while empty < 3:
        messages = sqs_call(
            connection,
            "ReceiveMessage",
            {"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0},
        ).get("Messages", [])
        if not messages:
            empty += 1
            continue
        empty = 0
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        sqs_call(connection, "DeleteMessageBatch", {"QueueUrl": queue_url, "Entries": entries})
        seen.extend(m["MessageId"] for m in messages)
    results.put(seen)


def raw_drain(endpoint, queue_url, n, consumers):
    """Drains n messages with `consumers` processes (not threads: boto3 is CPU-bound in Python and
    threads would share one interpreter lock); returns (msgs/s, seconds)."""
    results = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(target=consume, args=(endpoint, queue_url, results))
        for _ in range(consumers)
    ]
    started = time.monotonic()
    for process in processes:
        process.start()
    # An emulator may hand one message to two concurrent receivers; count distinct messages.
    seen = set()
    for _ in processes:
        seen.update(results.get())
    elapsed = time.monotonic() - started
    for process in processes:
        process.join()
    if len(seen) != n:
        sys.exit(f"raw drain consumed {len(seen)} of {n}")
    return n / elapsed, elapsed


class Receiver:
    """tests/load/receiver.mjs: a local chat receiver answering 200 over keep-alive HTTP/1.1, counting
    posts and connections; stops when we exit (its stdin is a pipe from us). With `chaos` (a dict, see
    receiver.mjs) it answers a random mix instead and records every post."""

    def __init__(self, chaos=None):
        self.process = subprocess.Popen(
            [node(), str(ROOT / "tests/load/receiver.mjs")] + ([json.dumps(chaos)] if chaos else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.process.stdout.readline())

    def stats(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=5) as response:
            return json.loads(response.read())

    @property
    def count(self):
        return self.stats()["posts"]

    @property
    def connections(self):
        return self.stats()["connections"]


def node():
    """The Node.js scripts/bootstrap.sh installs into .venv (pinned), else `node` on PATH."""
    path = ROOT / ".venv/bin/node"
    return str(path) if path.exists() else "node"


def proc_status(pid):
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(value.split()[0]) / 1024  # MiB
    return values


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def worker_config(queue_url, admin, spread):
    """failwatch.toml in the sectioned form; every key not named keeps its default (2 pollers,
    max_in_flight 64). Pacing at the most the config accepts: one destination ("paced"), or one per
    cluster routed by cluster ("spread")."""
    lines = [
        "[sqs]", f'queue_url = "{queue_url}"', 'wait_time = "1s"', "",
        "[admin]", f'listen = "{admin}"', "",
        "[logging]", 'format = "json"', "",
        # The harness measures delivering alerts: every event is its own post (grouping off; the storm
        # harness measures grouping), and nothing is looked up in AWS (enrichment off).
        "[grouping]", 'group_interval = "0s"', "",
        "[enrichment]", "log_lines = 0", "failed_state = false", "tags = false", "",
    ]
    names = [f"load-{i}" for i in range(CLUSTERS)] if spread else ["load"]
    for name in names:
        lines += ["[[destinations]]", f'name = "{name}"', 'type = "webhook"', 'url_env = "LOAD_URL"',
                  "rate_per_second = 1000.0", "burst = 1000", ""]
    if spread:
        for i, name in enumerate(names):
            lines += ["[[routes]]", f'destinations = ["{name}"]', "[routes.match]",
                      f'cluster = "load-cluster-{i}"', ""]
    return "\n".join(lines)


class Worker:
    """`failwatch run` on the emulator. `config` (given the admin address) writes the configuration
    instead of `worker_config`; `env` adds variables; `name` names its config and log files."""

    def __init__(self, binary, endpoint, queue_url, receiver_port, workdir, spread=False,
                 config=None, env=None, name="failwatch"):
        self.admin = f"127.0.0.1:{free_port()}"
        config_path = os.path.join(workdir, f"{name}.toml")
        with open(config_path, "w") as f:
            f.write(config(self.admin) if config else worker_config(queue_url, self.admin, spread))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_ENDPOINT_URL_SQS": endpoint,
            "AWS_ACCESS_KEY_ID": "load",
            "AWS_SECRET_ACCESS_KEY": "load",
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "LOAD_URL": f"http://127.0.0.1:{receiver_port}/webhook/load",
            **(env or {}),
        }
        self.log = open(os.path.join(workdir, f"{name}.log"), "ab")
        self.spawned = time.monotonic()
        self.process = subprocess.Popen(
            [binary, "run", "--config", config_path],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )

    def wait(self, path, limit=30.0):
        """Seconds from spawn until `path` answers 200, probing every millisecond."""
        deadline = self.spawned + limit
        url = f"http://{self.admin}{path}"
        while time.monotonic() < deadline:
            if http_ok(url):
                return time.monotonic() - self.spawned
            if self.process.poll() is not None:
                sys.exit(f"failwatch exited with {self.process.returncode}")
            time.sleep(0.001)
        sys.exit(f"{url} not ready after {limit} s")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            sys.exit("failwatch did not stop within 30 s of SIGTERM")
        self.log.close()
        if code != 0:
            sys.exit(f"failwatch exited {code} after SIGTERM")


class Emulator:
    """fauxqs on a free loopback port (tests/support/emulators/serve.mjs), stopped when we exit: it also
    exits when its stdin, a pipe from us, closes."""

    def __init__(self):
        self.process = subprocess.Popen(
            [node(), str(ROOT / "tests/support/emulators/serve.mjs"),
             "fauxqs", str(free_port())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline().strip()
        if not line.startswith("ready "):
            sys.exit(f"fauxqs did not start: {line!r}")
        self.endpoint = line.removeprefix("ready ")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def drain_with_failwatch(binary, endpoint, sqs, queue, n, receiver, workdir, spread):
    """Returns (msgs/s, CPU s per message, max sampled RSS MiB, VmHWM MiB, connections opened)."""
    before, connections_before = receiver.count, receiver.connections
    worker = Worker(binary, endpoint, queue, receiver.port, workdir, spread)
    rss_samples = []
    drained_at = None
    deadline = worker.spawned + 600
    while time.monotonic() < deadline:
        rss_samples.append(proc_status(worker.process.pid)["VmRSS"])
        # Once every post arrived, the queue's depth is checked every 5 ms (each check is one
        # GetQueueAttributes), so the end of the drain is not rounded up by the sampling period.
        if receiver.count - before >= n:
            if depth(sqs, queue) == 0:
                drained_at = time.monotonic()
                break
            time.sleep(0.005)
            continue
        time.sleep(0.02)
    if drained_at is None:
        sys.exit("failwatch did not drain the queue within 600 s")
    peak = proc_status(worker.process.pid)
    cpu = cpu_seconds(worker.process.pid)
    worker.stop()
    posted = receiver.count - before
    if posted != n:  # more would mean a message routed to several destinations, or posted twice
        sys.exit(f"the receiver got {posted} posts for {n} messages")
    return (
        n / (drained_at - worker.spawned),
        cpu / n,
        max(rss_samples),
        peak["VmHWM"],
        receiver.connections - connections_before,
    )


def drain_with_python(endpoint, queue, n, receiver):
    """Returns (msgs/s, CPU s per message, VmHWM MiB) of tests/load/python_worker.py."""
    before = receiver.count
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/load/python_worker.py"), endpoint, queue,
         f"http://127.0.0.1:{receiver.port}/google-chat/load"],
        stdin=subprocess.DEVNULL,
    )
    hwm = 0.0
    while process.poll() is None:
        try:
            hwm = max(hwm, proc_status(process.pid)["VmHWM"])
        except (OSError, KeyError):
            pass
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    if process.returncode != 0:
        sys.exit(f"python_worker.py exited {process.returncode}")
    posted = receiver.count - before
    if posted < n:
        sys.exit(f"the Python worker posted {posted} of {n}")
    return n / elapsed, hwm


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    emulator = Emulator()
    endpoint = emulator.endpoint
    try:
        report(binary, endpoint, n)
    finally:
        emulator.stop()


def report(binary, endpoint, n):
    sqs = sqs_client(endpoint)
    workdir = tempfile.mkdtemp(prefix="failwatch-load-")
    receiver = Receiver()

    # Start-up, on an empty queue (10 runs), and idle memory after the last one.
    empty_queue = create_queue(sqs, "startup")
    healthz, readyz = [], []
    for run in range(10):
        worker = Worker(binary, endpoint, empty_queue, receiver.port, workdir)
        healthz.append(worker.wait("/healthz"))
        readyz.append(worker.wait("/readyz"))
        if run < 9:
            worker.stop()
    time.sleep(3)  # a few idle long polls
    idle = proc_status(worker.process.pid)
    worker.stop()

    raw = {1: [], 2: [], 4: []}
    runs = {mode: ([], [], [], [], []) for mode in ("paced", "spread")}
    py_rate, py_cpu, py_hwm = [], [], []
    for round_ in range(ROUNDS):
        for consumers in raw:
            queue = create_queue(sqs, f"raw-{round_}-{consumers}")
            fill(sqs, queue, n, 0)
            raw[consumers].append(raw_drain(endpoint, queue, n, consumers)[0])

        for index, (mode, results) in enumerate(runs.items()):
            queue = create_queue(sqs, f"failwatch-{mode}-{round_}")
            fill(sqs, queue, n, 1_000_000 * (2 * round_ + index + 1))
            measured = drain_with_failwatch(
                binary, endpoint, sqs, queue, n, receiver, workdir, mode == "spread"
            )
            for values, value in zip(results, measured):
                values.append(value)

        queue = create_queue(sqs, f"python-{round_}")
        fill(sqs, queue, n, 10_000_000 * (round_ + 1))
        cpu_before = children_cpu()
        rate, hwm = drain_with_python(endpoint, queue, n, receiver)
        py_rate.append(rate), py_cpu.append((children_cpu() - cpu_before) / n), py_hwm.append(hwm)

    ceiling = max(statistics.median(values) for values in raw.values())
    median = statistics.median

    def rates(values):
        return ", ".join(f"{v:.0f}" for v in values) + f" (median {median(values):.0f})"

    def ms(values):
        return f"median {median(values) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"

    print(f"- Messages: {n} distinct failed-task events per drain; {ROUNDS} rounds, each: plain-client drains "
          f"with 1, 2 and 4 processes, then failwatch, then the Python worker, each on a fresh queue.")
    for consumers, values in raw.items():
        print(f"- Emulator ceiling, plain client (receive 10 + delete batch, keep-alive), {consumers} "
              f"process(es): {rates(values)} msgs/s.")
    pacing_bound = n / max((n - 1000) / 1000, 1e-9)
    for mode, (fw_rate, fw_cpu, _, _, fw_conns) in runs.items():
        what = (f"one destination, pacing 1000/s + burst 1000, so at most {pacing_bound:.0f} msgs/s"
                if mode == "paced" else f"{CLUSTERS} destinations routed by cluster, pacing not binding")
        print(f"- failwatch drain, {mode} ({what}; spawn → queue empty, 2 pollers, max_in_flight 64): "
              f"{rates(fw_rate)} msgs/s = **{median(fw_rate) / ceiling:.2f}× the emulator's ceiling** "
              f"({ceiling:.0f} msgs/s).")
        print(f"- failwatch CPU per message, {mode} (user + sys, start-up included): "
              f"{', '.join(f'{c * 1000:.3f}' for c in fw_cpu)} ms (median {median(fw_cpu) * 1000:.3f} ms).")
        print(f"- failwatch connections to the receiver, {mode}: {', '.join(map(str, fw_conns))} "
              f"for {n} posts each.")
    fw_cpu, fw_rss, fw_hwm = (sum((runs[m][i] for m in runs), []) for i in (1, 2, 3))
    print(f"- Python worker (boto3 + json + urllib, one process): {rates(py_rate)} msgs/s; CPU per message "
          f"{', '.join(f'{c * 1000:.3f}' for c in py_cpu)} ms (median {median(py_cpu) * 1000:.3f} ms).")
    print(f"- CPU per message, Python worker / failwatch (median over both configurations): **{median(py_cpu) / median(fw_cpu):.1f}×**.")
    print(f"- Peak RSS (VmHWM): failwatch {max(fw_hwm):.1f} MiB (max sampled VmRSS {max(fw_rss):.1f}), Python "
          f"worker {max(py_hwm):.1f} MiB: **{max(py_hwm) / max(fw_hwm):.1f}×**.")
    print(f"- failwatch idle RSS after 3 s of empty long polls: {idle['VmRSS']:.1f} MiB.")
    print(f"- Start-up, spawn → /healthz 200 (10 runs): {ms(healthz)}.")
    print(f"- Start-up, spawn → /readyz 200, first ReceiveMessage included (10 runs): {ms(readyz)}.")


def children_cpu():
    """User + system CPU seconds of every child this process has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
