#!/usr/bin/env python3
"""Writes infra/kubernetes/base/prometheusrule.yaml from infra/prometheus/failwatch-alerts.yaml.

The alert rules have one source: the plain Prometheus rule file, which `promtool test rules` covers.
The PrometheusRule for prometheus-operator wraps the same groups. `--check` exits 1 when the committed
PrometheusRule is not what this script would write (tests/infra/run.sh runs it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "infra" / "prometheus" / "failwatch-alerts.yaml"
OUT = ROOT / "infra" / "kubernetes" / "base" / "prometheusrule.yaml"

HEADER = """\
# GENERATED from infra/prometheus/failwatch-alerts.yaml by infra/prometheus/to_prometheusrule.py.
# Do not edit: change the rule file (and its promtool tests), then run the script.
# Add the label your Prometheus' ruleSelector expects (often `release: <helm release>`) in an overlay.
"""


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line PromQL stays readable as a literal block, as in the source file.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render() -> str:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "failwatch",
            "labels": {"app.kubernetes.io/name": "failwatch", "app.kubernetes.io/instance": "failwatch"},
        },
        "spec": {"groups": groups},
    }
    return HEADER + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=110)


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        if OUT.read_text() != render():
            print(f"{OUT.relative_to(ROOT)} is stale: run infra/prometheus/to_prometheusrule.py", file=sys.stderr)
            sys.exit(1)
        # Independently of the rendering: the groups must be semantically identical.
        committed = yaml.safe_load(OUT.read_text())["spec"]["groups"]
        if committed != yaml.safe_load(RULES.read_text())["groups"]:
            print("PrometheusRule groups differ from failwatch-alerts.yaml", file=sys.stderr)
            sys.exit(1)
        sys.exit(0)
    OUT.write_text(render())
