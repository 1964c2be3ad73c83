"""The worker's numbers for BENCHMARKS.md, against a running moto server (scripts/load.sh starts it).

    load.py ENDPOINT FAILWATCH_BINARY [N]

1. The emulator's own maximum rate: N messages drained by a plain boto3 loop doing exactly the SQS work
   the worker does per batch (ReceiveMessage of 10, DeleteMessageBatch), with 1 and with 2 consumer
   processes (the worker's default is 2 pollers); the better median of the two is the ceiling.
2. The worker's drain rate: the same N messages (each a distinct failed ECS task, so none is a duplicate)
   drained by `failwatch run` into a local receiver that answers 200, timed from spawn to an empty queue,
   every post counted. Steps 1 and 2 alternate for ROUNDS rounds, so drift in the machine's other load
   hits both alike.
3. Start-up to ready: spawn → first 200 from /healthz, and spawn → first 200 from /readyz (which also
   includes the first ReceiveMessage round trip), 10 runs each.
4. Memory: VmRSS once idle, VmRSS sampled every 50 ms while draining and VmHWM (peak) at the end, from
   /proc/<pid>/status; CPU time from /proc/<pid>/stat.

Prints a Markdown report on stdout. Only boto3 and the standard library.
"""

import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

REGION = "us-east-1"
ROUNDS = 3
ACCOUNT = "123456789012"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def sqs_client(endpoint):
    return boto3.session.Session(
        aws_access_key_id="load", aws_secret_access_key="load", region_name=REGION
    ).client("sqs", endpoint_url=endpoint)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def failed_task_body(n):
    task_id = f"{n:032x}"
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/load-cluster/{task_id}"
    return json.dumps(
        {
            "version": "0",
            "id": f"00000000-0000-0000-0000-{n:012d}",
            "detail-type": "ECS Task State Change",
            "source": "aws.ecs",
            "account": ACCOUNT,
            "time": "2026-11-21T00:00:00Z",
            "region": REGION,
            "resources": [arn],
            "detail": {
                "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/load-cluster",
                "containers": [
                    {
                        "containerArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:container/load-cluster/{task_id}/c",
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


def create_queue(sqs, name):
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    return sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}
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


def consume(endpoint, queue_url, results):
    """One consumer process: receive(10) + delete_batch until the queue stays empty."""
    sqs = sqs_client(endpoint)
    seen = []
    empty = 0
    while empty < 3:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            empty += 1
            continue
        empty = 0
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages)
            ],
        )
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
    # moto can hand one message to two concurrent receivers; count distinct messages.
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
    """A local chat receiver answering 200 to every POST, counting them."""

    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


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


class Worker:
    def __init__(self, binary, endpoint, queue_url, receiver_port, workdir):
        self.admin = f"127.0.0.1:{free_port()}"
        config = os.path.join(workdir, "failwatch.toml")
        with open(config, "w") as f:
            f.write(
                f'queue_url = "{queue_url}"\nadmin_listen = "{self.admin}"\n'
                f'wait_time_secs = 1\nlog_format = "json"\n\n'
                f'[[destinations]]\nname = "load"\ntype = "webhook"\nurl_env = "LOAD_URL"\n'
                f"rate_per_second = 1000.0\nburst = 1000\n"
            )
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_ENDPOINT_URL_SQS": endpoint,
            "AWS_ACCESS_KEY_ID": "load",
            "AWS_SECRET_ACCESS_KEY": "load",
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "LOAD_URL": f"http://127.0.0.1:{receiver_port}/webhook/load",
        }
        self.log = open(os.path.join(workdir, "failwatch.log"), "ab")
        self.spawned = time.monotonic()
        self.process = subprocess.Popen(
            [binary, "run", "--config", config],
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


def main():
    endpoint, binary = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    sqs = sqs_client(endpoint)
    workdir = tempfile.mkdtemp(prefix="failwatch-load-")
    receiver = Receiver()

    # 3. Start-up, on an empty queue (10 runs), and idle memory after the last one.
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
    idle_cpu = cpu_seconds(worker.process.pid)
    worker.stop()

    # 1, 2 and 4, in alternating rounds: the machine's other load drifts, so the emulator's ceiling and
    # the worker's rate are measured side by side, and the medians compared.
    raw = {1: [], 2: []}
    worker_rates, cpu_per_message, rss_max, hwm = [], [], [], []
    fill_rates = []
    posted_total = 0
    for round_ in range(ROUNDS):
        for consumers in (1, 2):
            queue = create_queue(sqs, f"raw-{round_}-{consumers}")
            started = time.monotonic()
            fill(sqs, queue, n, 0)
            fill_rates.append(n / (time.monotonic() - started))
            raw[consumers].append(raw_drain(endpoint, queue, n, consumers)[0])

        queue = create_queue(sqs, f"load-{round_}")
        fill(sqs, queue, n, 1_000_000 * (round_ + 1))
        before = receiver.count
        worker = Worker(binary, endpoint, queue, receiver.port, workdir)
        rss_samples = []
        drained_at = None
        deadline = worker.spawned + 600
        last_check = 0.0
        while time.monotonic() < deadline:
            rss_samples.append(proc_status(worker.process.pid)["VmRSS"])
            now = time.monotonic()
            if receiver.count - before >= n and now - last_check > 0.2:
                last_check = now
                if depth(sqs, queue) == 0:
                    drained_at = now
                    break
            time.sleep(0.05)
        if drained_at is None:
            sys.exit("the worker did not drain the queue within 600 s")
        peak = proc_status(worker.process.pid)
        cpu = cpu_seconds(worker.process.pid)
        worker.stop()
        posted = receiver.count - before
        if posted < n:
            sys.exit(f"the receiver got {posted} posts for {n} messages")
        posted_total += posted
        worker_rates.append(n / (drained_at - worker.spawned))
        cpu_per_message.append(cpu / n)
        rss_max.append(max(rss_samples))
        hwm.append(peak["VmHWM"])

    ceiling = max(statistics.median(values) for values in raw.values())
    worker_rate = statistics.median(worker_rates)

    def rates(values):
        return ", ".join(f"{v:.0f}" for v in values) + f" (median {statistics.median(values):.0f})"

    def ms(values):
        return f"median {statistics.median(values) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"

    print(
        f"- Messages: {n} distinct failed-task events per run (webhook payload), one destination "
        f"answering 200; {ROUNDS} rounds, each: raw drain with 1 and 2 consumers, then failwatch."
    )
    print(f"- Emulator fill rate (SendMessageBatch, 1 client): {rates(fill_rates)} msgs/s.")
    for consumers, values in raw.items():
        print(
            f"- Emulator raw drain, boto3 receive(10) + delete_batch, {consumers} consumer "
            f"process(es): {rates(values)} msgs/s."
        )
    print(
        f"- failwatch drain (2 pollers, spawn → queue empty, {posted_total} posts received): "
        f"{rates(worker_rates)} msgs/s = {worker_rate / ceiling:.0%} of the emulator's best raw "
        f"median; failwatch CPU {statistics.median(cpu_per_message) * 1000:.2f} ms per message."
    )
    print(f"- Start-up, spawn → /healthz 200 (10 runs): {ms(healthz)}.")
    print(f"- Start-up, spawn → /readyz 200, first ReceiveMessage included (10 runs): {ms(readyz)}.")
    print(f"- Idle RSS after 3 s of empty long polls: {idle['VmRSS']:.1f} MiB (CPU so far {idle_cpu:.2f} s).")
    print(
        f"- RSS while draining: max sampled {max(rss_max):.1f} MiB, "
        f"peak VmHWM {max(hwm):.1f} MiB (worst of the rounds)."
    )


if __name__ == "__main__":
    main()
