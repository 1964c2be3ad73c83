#!/usr/bin/env python3
"""Generates infra/grafana/failwatch.json, the failwatch Grafana dashboard.

The dashboard is written as code so that every panel is laid out on the same grid, every query uses the
same selectors, and a reviewer reads one short list of (title, query) pairs instead of 2,000 lines of
JSON. Run `python3 infra/grafana/generate.py` after editing; tests/infra/check_grafana.py fails when the
committed JSON differs from what this script produces, and checks every query with promtool.

Only metric names from crates/failwatch-worker/src/metrics.rs may appear in queries.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).with_name("failwatch.json")

# Every query filters on these so that one dashboard serves several failwatch deployments. The "All"
# value is `.*`, which also matches series that lack the label (plain Prometheus without Kubernetes
# relabelling has no `namespace`).
SEL = 'namespace=~"$namespace", job=~"$job"'
DEST = 'namespace=~"$namespace", job=~"$job", destination=~"$destination"'
RATE = "$__rate_interval"

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


class Layout:
    """Places panels left to right on Grafana's 24-column grid, wrapping into new rows."""

    def __init__(self) -> None:
        self.panels: list[dict] = []
        self.x = 0
        self.y = 0
        self.row_height = 0
        self.next_id = 1

    def _id(self) -> int:
        panel_id = self.next_id
        self.next_id += 1
        return panel_id

    def row(self, title: str) -> None:
        if self.x:
            self.y += self.row_height
        self.x = 0
        self.row_height = 0
        self.panels.append(
            {
                "type": "row",
                "id": self._id(),
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.y += 1

    def add(self, panel: dict, w: int, h: int) -> None:
        if self.x + w > 24:
            self.y += self.row_height
            self.x = 0
            self.row_height = 0
        panel["id"] = self._id()
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.panels.append(panel)
        self.x += w
        self.row_height = max(self.row_height, h)


def targets(queries: list[tuple[str, str]]) -> list[dict]:
    return [
        {
            "datasource": DATASOURCE,
            "expr": expr,
            "legendFormat": legend,
            "range": True,
            "refId": chr(ord("A") + i),
        }
        for i, (expr, legend) in enumerate(queries)
    ]


def timeseries(
    title: str,
    description: str,
    queries: list[tuple[str, str]],
    unit: str,
    stack: bool = False,
    bars: bool = False,
) -> dict:
    custom: dict = {
        "drawStyle": "bars" if bars else "line",
        "fillOpacity": 30 if stack or bars else 10,
        "lineWidth": 1,
        "showPoints": "never",
        "spanNulls": False,
    }
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets(queries),
        "fieldConfig": {"defaults": {"unit": unit, "min": 0, "custom": custom}, "overrides": []},
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max", "lastNotNull"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def stat(
    title: str,
    description: str,
    expr: str,
    unit: str,
    thresholds: list[tuple[float | None, str]],
) -> dict:
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets([(expr, "")]),
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "thresholds": {
                    "mode": "absolute",
                    "steps": [{"color": color, "value": value} for value, color in thresholds],
                },
            },
            "overrides": [],
        },
        "options": {
            "colorMode": "background",
            "graphMode": "area",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "value",
        },
    }


def quantiles(metric: str, by: str, legend_prefix: str) -> list[tuple[str, str]]:
    return [
        (
            f"histogram_quantile({q}, sum by ({by}le) (rate({metric}_bucket{{{DEST}}}[{RATE}])))",
            f"{legend_prefix}p{int(q * 100)}",
        )
        for q in (0.5, 0.95, 0.99)
    ]


def state_panels(g: Layout) -> None:
    """The state store: claims by answer, posts it prevented, failed calls and call latency."""
    g.row("State store")
    g.add(
        timeseries(
            "Claims and suppressed duplicates",
            "Claims on alerts by the store's answer: won (this replica delivers), held (another message or "
            "replica is delivering it; the message comes back after the lease), done (delivered already). "
            "Suppressed: posts the store prevented, a whole alert or one destination that had accepted it.",
            [
                (
                    f"sum by (outcome) (rate(failwatch_state_claims_total{{{SEL}}}[{RATE}]))",
                    "claim {{outcome}}",
                ),
                (
                    f"sum by (level) (rate(failwatch_state_duplicates_suppressed_total{{{SEL}}}[{RATE}]))",
                    "suppressed {{level}}",
                ),
            ],
            "ops",
        ),
        w=8,
        h=8,
    )
    g.add(
        timeseries(
            "State store errors",
            "Store calls that failed or timed out (throttling, access denied, unreachable). The alert was "
            "delivered anyway, so a duplicate post is possible; nothing is lost.",
            [(f"sum by (op) (rate(failwatch_state_errors_total{{{SEL}}}[{RATE}]))", "{{op}}")],
            "reqps",
            bars=True,
        ),
        w=8,
        h=8,
    )
    g.add(
        timeseries(
            "State store latency p95",
            "95th percentile of one store call by operation, failed and timed-out calls included "
            "(state.call_timeout bounds it).",
            [
                (
                    "histogram_quantile(0.95, sum by (op, le) "
                    f"(rate(failwatch_state_call_duration_seconds_bucket{{{SEL}}}[{RATE}])))",
                    "{{op}}",
                )
            ],
            "s",
        ),
        w=8,
        h=8,
    )


def storm_panels(g: Layout) -> None:
    """Failure storms ([grouping]): the groups the workers hold open, the alerts folded into digests
    instead of posted one by one, the digests, recovery notices and crash-loop notices posted."""
    g.row("Failure storms")
    g.add(
        timeseries(
            "Groups open",
            "failwatch_groups_open per worker: failure groups (one per destination and group_key) that "
            "have alerted and not yet closed. With the DynamoDB backend every worker reports all replicas' "
            "groups; with the memory backend, its own. A group closes when its service or state machine "
            "recovers, or once it has been quiet for group_interval.",
            [(f"max by (instance) (failwatch_groups_open{{{SEL}}})", "{{instance}}")],
            "short",
        ),
        w=6,
        h=8,
    )
    g.add(
        timeseries(
            "Alerts folded into digests",
            "Alerts that followed their group's first alert within group_interval and went into the "
            "group's next digest instead of a message of their own: the chat messages grouping saved.",
            [
                (
                    f"sum by (destination) (rate(failwatch_alerts_folded_total{{{DEST}}}[{RATE}]))",
                    "{{destination}}",
                )
            ],
            "ops",
            stack=True,
        ),
        w=6,
        h=8,
    )
    g.add(
        timeseries(
            "Digests and recoveries posted",
            "Digests (one per group and interval that folded alerts) and recovery notices (a group's "
            "service reached a steady state or completed a deployment, or its state machine succeeded) "
            "delivered per destination. Folded alerts without digests fire FailwatchDigestsNotPosted.",
            [
                (
                    f"sum by (destination) (rate(failwatch_digests_posted_total{{{DEST}}}[{RATE}]))",
                    "{{destination}} digests",
                ),
                (
                    f"sum by (destination) (rate(failwatch_recoveries_posted_total{{{DEST}}}[{RATE}]))",
                    "{{destination}} recoveries",
                ),
            ],
            "ops",
        ),
        w=6,
        h=8,
    )
    g.add(
        timeseries(
            "Crash loops",
            "Crash-loop notices per destination: a group reached crash_loop_threshold failures within "
            "crash_loop_window, and its next message was made critical and said so.",
            [
                (
                    f"sum by (destination) (rate(failwatch_crash_loops_total{{{DEST}}}[{RATE}]))",
                    "{{destination}}",
                )
            ],
            "ops",
            bars=True,
        ),
        w=6,
        h=8,
    )


def enrichment_panels(g: Layout) -> None:
    """The enrichment lookups (log tails, failed states, tags): how each ended, and the share that
    failed or ran out of budget. An alert goes out either way; a high share means alerts without their
    log lines (missing IAM permissions, a throttled API, a budget too short)."""
    g.add(
        timeseries(
            "Enrichment lookups",
            "failwatch_enrichment_total by source (log_tail, failed_state, tags, batch_logs, "
            "lambda_logs) and result (ok, error, "
            "timeout, skipped). Errors and timeouts leave that part out of the alert; skipped means the "
            "part is turned off or no time was left.",
            [
                (
                    f"sum by (source, result) (rate(failwatch_enrichment_total{{{SEL}}}[{RATE}]))",
                    "{{source}} {{result}}",
                )
            ],
            "ops",
            stack=True,
        ),
        w=12,
        h=8,
    )
    g.add(
        timeseries(
            "Enrichment failures (share)",
            "The share of lookups per source that failed or timed out: the alerts that went out without "
            "their log lines, failed state or tags.",
            [
                (
                    f'sum by (source) (rate(failwatch_enrichment_total{{{SEL}, result=~"error|timeout"}}[{RATE}]))'
                    f" / sum by (source) (rate(failwatch_enrichment_total{{{SEL}}}[{RATE}]))",
                    "{{source}}",
                )
            ],
            "percentunit",
        ),
        w=12,
        h=8,
    )


def build() -> dict:
    g = Layout()

    g.row("Overview")
    g.add(
        stat(
            "Alerts delivered (24h)",
            "Alert deliveries accepted by a destination in the last 24 hours, all destinations.",
            f"sum(increase(failwatch_deliveries_total{{{DEST}, result=\"delivered\"}}[24h]))",
            "short",
            [(None, "blue")],
        ),
        w=4,
        h=4,
    )
    g.add(
        stat(
            "Deliveries rejected (24h)",
            "Deliveries a destination refused for good (HTTP 4xx other than 429): alerts lost for that "
            "destination. Anything above zero needs a look.",
            f"sum(increase(failwatch_deliveries_total{{{DEST}, result=\"rejected\"}}[24h]))",
            "short",
            [(None, "green"), (1, "red")],
        ),
        w=4,
        h=4,
    )
    g.add(
        stat(
            "Dead-letter queue",
            "Visible messages in the dead-letter queue: failure events that were never delivered.",
            f'max(failwatch_queue_messages{{{SEL}, queue="dlq", state="visible"}})',
            "short",
            [(None, "green"), (1, "red")],
        ),
        w=4,
        h=4,
    )
    g.add(
        stat(
            "Queue backlog",
            "Visible messages waiting in the main queue.",
            f'max(failwatch_queue_messages{{{SEL}, queue="main", state="visible"}})',
            "short",
            [(None, "green"), (20, "yellow"), (100, "red")],
        ),
        w=4,
        h=4,
    )
    g.add(
        stat(
            "Oldest poll",
            "Seconds since the least recent successful ReceiveMessage across workers. Healthy workers "
            "poll at least every wait_time_secs (20 s).",
            f"max(time() - failwatch_last_successful_poll_timestamp_seconds{{{SEL}}})",
            "s",
            [(None, "green"), (60, "yellow"), (180, "red")],
        ),
        w=4,
        h=4,
    )
    g.add(
        stat(
            "Workers",
            "Worker processes being scraped.",
            f"count(failwatch_build_info{{{SEL}}})",
            "short",
            [(None, "red"), (1, "green")],
        ),
        w=4,
        h=4,
    )

    g.row("Delivery")
    g.add(
        timeseries(
            "Deliveries by destination and result",
            "Final outcome of delivering one alert to one destination per receive: delivered, rejected "
            "(permanent 4xx) or deferred (retry budget spent; SQS redelivers it later).",
            [
                (
                    f"sum by (destination, result) (rate(failwatch_deliveries_total{{{DEST}}}[{RATE}]))",
                    "{{destination}} {{result}}",
                )
            ],
            "ops",
            stack=True,
        ),
        w=12,
        h=8,
    )
    g.add(
        timeseries(
            "Delivery failures by destination",
            "Rejected and deferred deliveries per destination. Rejected alerts are lost for that "
            "destination; deferred ones come back through SQS.",
            [
                (
                    f'sum by (destination, result) (rate(failwatch_deliveries_total{{{DEST}, result=~"rejected|deferred"}}[{RATE}]))',
                    "{{destination}} {{result}}",
                )
            ],
            "ops",
            bars=True,
        ),
        w=12,
        h=8,
    )
    g.add(
        timeseries(
            "HTTP attempts by outcome",
            "Every HTTP attempt, retries included: success, rate_limited (429), server_error (5xx), "
            "client_error (4xx), timeout, network.",
            [
                (
                    f"sum by (destination, outcome) (rate(failwatch_delivery_attempts_total{{{DEST}}}[{RATE}]))",
                    "{{destination}} {{outcome}}",
                )
            ],
            "reqps",
            stack=True,
        ),
        w=8,
        h=8,
    )
    g.add(
        timeseries(
            "Retries and 429s",
            "Attempts that retried an earlier failure, and attempts the destination answered with 429 "
            "Too Many Requests. Steady 429s mean rate_per_second is set above what the service allows.",
            [
                (
                    f"sum by (destination) (rate(failwatch_delivery_retries_total{{{DEST}}}[{RATE}]))",
                    "{{destination}} retries",
                ),
                (
                    f'sum by (destination) (rate(failwatch_delivery_attempts_total{{{DEST}, outcome="rate_limited"}}[{RATE}]))',
                    "{{destination}} 429",
                ),
            ],
            "reqps",
        ),
        w=8,
        h=8,
    )
    g.add(
        timeseries(
            "Delivery latency",
            "Duration of one successful delivery, retries and rate-limit waits included (p50, p95, p99 "
            "per destination).",
            quantiles("failwatch_delivery_duration_seconds", "destination, ", "{{destination}} "),
            "s",
        ),
        w=8,
        h=8,
    )

    storm_panels(g)

    g.row("Lag and queue")
    g.add(
        timeseries(
            "End-to-end lag",
            "From the failure event's time to its acceptance by the destination (p50, p95, p99): what "
            "the people in the chat room experience. EventBridge and SQS add a few seconds.",
            quantiles("failwatch_end_to_end_lag_seconds", "", ""),
            "s",
        ),
        w=12,
        h=8,
    )
    g.add(
        timeseries(
            "Queue depth",
            "Messages in the main queue by state (visible = waiting, in_flight = received and not yet "
            "deleted, delayed), sampled by the workers from GetQueueAttributes.",
            [
                (
                    f'max by (state) (failwatch_queue_messages{{{SEL}, queue="main"}})',
                    "main {{state}}",
                )
            ],
            "short",
            stack=True,
        ),
        w=12,
        h=8,
    )
    g.add(
        timeseries(
            "Dead-letter queue depth",
            "Messages in the dead-letter queue. They arrived after maxReceiveCount failed receives; "
            "inspect with `failwatch dlq peek`, redrive with `failwatch dlq redrive`.",
            [
                (
                    f'max by (state) (failwatch_queue_messages{{{SEL}, queue="dlq"}})',
                    "dlq {{state}}",
                )
            ],
            "short",
        ),
        w=8,
        h=8,
    )
    g.add(
        timeseries(
            "In-flight messages",
            "Messages each worker has received and not yet deleted or handed back: at most "
            "max_in_flight being worked on, plus, with the memory backend, the folded messages it "
            "holds in flight until their digest is delivered (the second line; at most "
            "grouping.max_held, and pending digests go out early when a quarter is left).",
            [
                (
                    f"sum by (instance) (failwatch_in_flight_messages{{{SEL}}})",
                    "{{instance}}",
                ),
                (
                    f"sum by (instance) (failwatch_held_messages{{{SEL}}})",
                    "{{instance}} held for digests",
                ),
            ],
            "short",
        ),
        w=8,
        h=8,
    )
    g.add(
        timeseries(
            "Time since last successful poll",
            "Per worker. /readyz fails above readiness_max_poll_age_secs; the FailwatchNotPolling "
            "alert fires above 180 s.",
            [
                (
                    f"time() - failwatch_last_successful_poll_timestamp_seconds{{{SEL}}}",
                    "{{instance}}",
                )
            ],
            "s",
        ),
        w=8,
        h=8,
    )
    g.add(
        timeseries(
            "Messages received, deleted and released",
            "SQS traffic: received, deleted (final outcome) and released back to the queue by reason "
            "(retry, malformed, permanent, shutdown).",
            [
                (f"sum(rate(failwatch_messages_received_total{{{SEL}}}[{RATE}]))", "received"),
                (f"sum(rate(failwatch_messages_deleted_total{{{SEL}}}[{RATE}]))", "deleted"),
                (
                    f"sum by (reason) (rate(failwatch_messages_released_total{{{SEL}}}[{RATE}]))",
                    "released {{reason}}",
                ),
            ],
            "ops",
        ),
        w=12,
        h=8,
    )
    g.add(
        timeseries(
            "Poll errors",
            "ReceiveMessage calls that failed: credentials, network, throttling, a denying queue or KMS "
            "key policy.",
            [(f"sum by (instance) (rate(failwatch_poll_errors_total{{{SEL}}}[{RATE}]))", "{{instance}}")],
            "reqps",
            bars=True,
        ),
        w=12,
        h=8,
    )

    g.row("Events")
    g.add(
        timeseries(
            "Events by kind and outcome",
            "Every decoded message: alerted (sent to a route), silent (not a failure, e.g. a task that "
            "exited 0), duplicate (seen within dedup_ttl_secs), malformed (not an event failwatch reads).",
            [
                (
                    f"sum by (kind, outcome) (rate(failwatch_events_total{{{SEL}}}[{RATE}]))",
                    "{{kind}} {{outcome}}",
                )
            ],
            "ops",
            stack=True,
        ),
        w=12,
        h=8,
    )
    g.add(
        timeseries(
            "Duplicates and silent events",
            "Duplicates are events EventBridge or SQS delivered twice and failwatch suppressed; silent "
            "events matched a rule but were not failures.",
            [
                (
                    f'sum by (kind) (rate(failwatch_events_total{{{SEL}, outcome="duplicate"}}[{RATE}]))',
                    "{{kind}} duplicate",
                ),
                (
                    f'sum by (kind) (rate(failwatch_events_total{{{SEL}, outcome="silent"}}[{RATE}]))',
                    "{{kind}} silent",
                ),
            ],
            "ops",
        ),
        w=12,
        h=8,
    )
    enrichment_panels(g)
    g.add(
        {
            "type": "table",
            "title": "Worker versions",
            "description": "failwatch_build_info per worker: the running version and commit.",
            "datasource": DATASOURCE,
            "targets": [
                {
                    "datasource": DATASOURCE,
                    "expr": f"max by (instance, version, commit) (failwatch_build_info{{{SEL}}})",
                    "format": "table",
                    "instant": True,
                    "legendFormat": "",
                    "refId": "A",
                }
            ],
            "fieldConfig": {"defaults": {}, "overrides": []},
            "options": {"showHeader": True},
            "transformations": [
                {"id": "organize", "options": {"excludeByName": {"Time": True, "Value": True}}}
            ],
        },
        w=24,
        h=6,
    )

    state_panels(g)

    def query_var(name: str, label: str, query: str) -> dict:
        return {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": DATASOURCE,
            "query": {"query": query, "refId": f"{name}-var"},
            "definition": query,
            "refresh": 2,
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1,
        }

    return {
        "uid": "failwatch",
        "title": "failwatch",
        "description": "failwatch: ECS and Step Functions failure alerts from SQS to chat. "
        "Generated by infra/grafana/generate.py.",
        "tags": ["failwatch", "aws", "sqs", "alerting"],
        "editable": True,
        "graphTooltip": 1,
        "refresh": "1m",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "annotations": {"list": []},
        "links": [],
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                },
                query_var("namespace", "Namespace", "label_values(failwatch_build_info, namespace)"),
                query_var("job", "Job", 'label_values(failwatch_build_info{namespace=~"$namespace"}, job)'),
                query_var(
                    "destination",
                    "Destination",
                    'label_values(failwatch_deliveries_total{namespace=~"$namespace", job=~"$job"}, destination)',
                ),
            ]
        },
        "panels": g.panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if OUT.read_text() == render() else 1)
    OUT.write_text(render())
