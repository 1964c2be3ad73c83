#!/usr/bin/env python3
"""Checks infra/grafana/failwatch.json offline.

- The committed JSON is exactly what infra/grafana/generate.py produces (no hand edits that drift).
- Dashboard structure Grafana needs: uid, title, schemaVersion, unique panel ids, every panel on the
  24-column grid without overlapping another, every panel has at least one query.
- Every query parses: the Grafana macros and template variables are replaced by concrete values, the
  queries are written as recording rules and `promtool check rules` must accept them.
- Every metric a query names is one the worker exports (crates/failwatch-worker/src/metrics.rs), with
  only the labels and label values that file documents.
- The panels the deployment issue asks for are present (429s, DLQ depth, duplicates, silent events...),
  and the failure-storm ones (groups open; folded alerts, digests, recoveries, crash loops by destination).

Exit status 0 when all pass; prints one line per problem otherwise.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from promql import ROOT, contract_errors, exported_metrics  # noqa: E402

DASHBOARD = ROOT / "infra" / "grafana" / "failwatch.json"
GENERATOR = ROOT / "infra" / "grafana" / "generate.py"

# Fragments that must appear in some query: the questions the dashboard exists to answer.
REQUIRED_FRAGMENTS = {
    "delivery rate per destination": "sum by (destination, result) (rate(failwatch_deliveries_total",
    "429s": 'failwatch_delivery_attempts_total{namespace=~"$namespace", job=~"$job", destination=~"$destination", outcome="rate_limited"}',
    "retries": "failwatch_delivery_retries_total",
    "delivery latency percentiles": "histogram_quantile(0.95, sum by (destination, le) (rate(failwatch_delivery_duration_seconds_bucket",
    "end-to-end lag percentiles": "histogram_quantile(0.95, sum by (le) (rate(failwatch_end_to_end_lag_seconds_bucket",
    "queue depth": 'failwatch_queue_messages{namespace=~"$namespace", job=~"$job", queue="main"}',
    "DLQ depth": 'failwatch_queue_messages{namespace=~"$namespace", job=~"$job", queue="dlq"}',
    "in-flight": "failwatch_in_flight_messages",
    "duplicates": 'outcome="duplicate"',
    "silent events": 'outcome="silent"',
    "last poll": "failwatch_last_successful_poll_timestamp_seconds",
    "groups open": "failwatch_groups_open",
    "folded alerts per destination": "sum by (destination) (rate(failwatch_alerts_folded_total",
    "digests per destination": "sum by (destination) (rate(failwatch_digests_posted_total",
    "recoveries per destination": "sum by (destination) (rate(failwatch_recoveries_posted_total",
    "crash loops per destination": "sum by (destination) (rate(failwatch_crash_loops_total",
}


def all_panels(panels: list[dict]) -> list[dict]:
    out = []
    for panel in panels:
        out.append(panel)
        out.extend(all_panels(panel.get("panels", [])))
    return out


def concrete(expr: str, variables: list[str]) -> str:
    """Replaces Grafana's macros and template variables with values PromQL accepts."""
    for macro in ("$__rate_interval", "$__interval", "$__range"):
        expr = expr.replace(macro, "5m")
    for name in sorted(variables, key=len, reverse=True):
        expr = re.sub(r"\$\{" + re.escape(name) + r"(:[a-z]+)?\}|\$" + re.escape(name) + r"\b", "example", expr)
    if "$" in expr:
        raise ValueError(f"unreplaced variable in {expr!r}")
    return expr


def main() -> int:
    problems: list[str] = []
    if subprocess.run([sys.executable, str(GENERATOR), "--check"]).returncode != 0:
        problems.append("failwatch.json differs from generate.py's output: run python3 infra/grafana/generate.py")

    board = json.loads(DASHBOARD.read_text())
    for key in ("uid", "title", "schemaVersion", "panels", "templating"):
        if not board.get(key):
            problems.append(f"dashboard has no {key}")
    variables = [v["name"] for v in board["templating"]["list"]]

    panels = all_panels(board["panels"])
    ids = [p.get("id") for p in panels]
    if len(ids) != len(set(ids)) or None in ids:
        problems.append(f"panel ids are missing or not unique: {ids}")

    occupied: dict[tuple[int, int], str] = {}
    exprs: list[tuple[str, str]] = []
    for panel in panels:
        title = panel.get("title", f"panel {panel.get('id')}")
        pos = panel.get("gridPos") or {}
        if not all(isinstance(pos.get(k), int) for k in ("x", "y", "w", "h")):
            problems.append(f"{title}: gridPos incomplete")
            continue
        if pos["x"] < 0 or pos["w"] < 1 or pos["x"] + pos["w"] > 24:
            problems.append(f"{title}: gridPos outside the 24-column grid")
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                if (x, y) in occupied:
                    problems.append(f"{title}: overlaps {occupied[(x, y)]}")
                    break
                occupied[(x, y)] = title
            else:
                continue
            break
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{title}: no queries")
        for target in targets:
            exprs.append((title, target["expr"]))
    # Template variable queries are PromQL too (inside label_values()).
    for var in board["templating"]["list"]:
        definition = var.get("definition", "")
        match = re.fullmatch(r"label_values\((.*),\s*\w+\)", definition)
        if match:
            exprs.append((f"variable {var['name']}", match.group(1)))

    metrics = exported_metrics()
    for title, expr in exprs:
        for error in contract_errors(expr, metrics):
            problems.append(f"{title}: {error}")

    joined = "\n".join(expr for _, expr in exprs)
    for what, fragment in REQUIRED_FRAGMENTS.items():
        if fragment not in joined:
            problems.append(f"no panel shows {what} (expected a query containing {fragment!r})")

    # promtool parses every query: one recording rule per expression.
    rules = {
        "groups": [
            {
                "name": "grafana-queries",
                "rules": [
                    {"record": f"failwatch_dashboard:query_{i}", "expr": concrete(expr, variables)}
                    for i, (_, expr) in enumerate(exprs)
                ],
            }
        ]
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as tmp:
        json.dump(rules, tmp)  # JSON is YAML.
    result = subprocess.run(["promtool", "check", "rules", tmp.name], capture_output=True, text=True)
    Path(tmp.name).unlink()
    if result.returncode != 0:
        problems.append("promtool rejected a dashboard query:\n" + result.stdout + result.stderr)

    for problem in problems:
        print(f"grafana: {problem}")
    if not problems:
        print(f"grafana: {len(panels)} panels, {len(exprs)} queries parse and use only exported metrics")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
