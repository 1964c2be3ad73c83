#!/usr/bin/env python3
"""Every metric and label value the alert rules use is one the worker exports (metrics.rs).

promtool checks that the rules parse and its unit tests check that they fire; neither notices a rule
built on a metric name the worker does not emit, which would simply never fire in production.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from promql import ROOT, contract_errors, exported_metrics  # noqa: E402

RULES = ROOT / "infra" / "prometheus" / "failwatch-alerts.yaml"


def main() -> int:
    metrics = exported_metrics()
    problems = []
    count = 0
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            count += 1
            name = rule.get("alert") or rule.get("record")
            problems += [f"{name}: {e}" for e in contract_errors(rule["expr"], metrics)]
    for p in problems:
        print(f"alert rules: {p}")
    if not problems:
        print(f"alert rules: {count} rules use only exported metrics")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
