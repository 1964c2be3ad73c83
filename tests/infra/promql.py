"""Shared helpers for the infra checks: the worker's metric contract and a small PromQL scanner.

The contract is read from crates/failwatch-worker/src/metrics.rs, the one place metric names live, so
the dashboard and alert checks fail the moment a query names a metric or a label value the worker does
not export.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METRICS_RS = ROOT / "crates" / "failwatch-worker" / "src" / "metrics.rs"

# Labels Prometheus or the Kubernetes/ECS scrape configuration attach to every series.
TARGET_LABELS = {"namespace", "job", "instance", "pod", "container", "service", "endpoint"}

_CONST = re.compile(r'pub(?:\(crate\))? const (\w+): &str = "([a-z0-9_:]+)";')


@dataclass
class Metric:
    name: str
    kind: str  # "counter" | "gauge" | "histogram"
    # Every word the doc comment puts in backticks: label names and their allowed values.
    vocabulary: set[str] = field(default_factory=set)


def exported_metrics(path: Path = METRICS_RS) -> dict[str, Metric]:
    """Maps every series name the worker exposes to its metric (histograms add _bucket/_sum/_count)."""
    metrics: dict[str, Metric] = {}
    doc: list[str] = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("///"):
            doc.append(stripped[3:].strip())
            continue
        match = _CONST.search(stripped)
        if match:
            text = " ".join(doc)
            kind = text.split(".")[0].split(",")[0].split()[0].lower() if text else ""
            if kind not in {"counter", "gauge", "histogram"}:
                raise ValueError(f"{path}: cannot tell the type of {match.group(1)} from its doc comment")
            metric = Metric(match.group(2), kind, set(re.findall(r"`([^`]+)`", text)))
            metrics[metric.name] = metric
            if kind == "histogram":
                for suffix in ("_bucket", "_sum", "_count"):
                    metrics[metric.name + suffix] = Metric(metric.name + suffix, kind, metric.vocabulary | {"le"})
        if stripped and not stripped.startswith("///"):
            doc = []
    if not metrics:
        raise ValueError(f"{path}: no metric constants found")
    return metrics


_TOKEN = re.compile(
    r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<braces>\{[^}]*\})
  | (?P<brackets>\[[^\]]*\])
  | (?P<number>\d[\w.]*)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<lparen>\()
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
# Aggregations may be followed by `by (...)` instead of their argument list.
_AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}


@dataclass
class Selector:
    metric: str
    matchers: list[tuple[str, str, str]]


def selectors(expr: str) -> list[Selector]:
    """Every vector selector in a PromQL expression: the metric name and its label matchers."""
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(expr) if not m.group().isspace()]
    found: list[Selector] = []
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else (None, "")
        if kind == "ident":
            if text in _GROUPING and nxt[0] == "lparen":
                # Skip the label list: `by (destination, le)` names labels, not metrics.
                depth, i = 0, i + 1
                while i < len(tokens):
                    if tokens[i][0] == "lparen":
                        depth += 1
                    elif tokens[i][1] == ")":
                        depth -= 1
                        if depth == 0:
                            break
                    i += 1
            elif nxt[0] == "lparen" or text.lower() in _KEYWORDS or text in _AGGREGATIONS:
                pass  # a function call or an operator keyword
            else:
                matchers: list[tuple[str, str, str]] = []
                if nxt[0] == "braces":
                    matchers = _matchers(nxt[1])
                    i += 1
                found.append(Selector(text, matchers))
        elif kind == "braces":
            raise ValueError(f"selector without a metric name in {expr!r}")
        i += 1
    return found


def _matchers(braces: str) -> list[tuple[str, str, str]]:
    body = braces[1:-1]
    out: list[tuple[str, str, str]] = []
    pos = 0
    while pos < len(body):
        if body[pos:].strip() == "":
            break
        match = _MATCHER.match(body, pos)
        if not match:
            raise ValueError(f"cannot parse label matchers {braces!r}")
        out.append((match.group(1), match.group(2), match.group(3)))
        pos = match.end()
    return out


def contract_errors(expr: str, metrics: dict[str, Metric], allowed_extra: set[str] = frozenset()) -> list[str]:
    """Problems with one query against the metric contract; empty when it only uses exported series."""
    errors = []
    for sel in selectors(expr):
        if sel.metric in allowed_extra:
            continue
        metric = metrics.get(sel.metric)
        if metric is None:
            errors.append(f"metric {sel.metric} is not exported by the worker (metrics.rs)")
            continue
        for label, op, value in sel.matchers:
            if label in TARGET_LABELS:
                continue
            if label not in metric.vocabulary:
                errors.append(f"{sel.metric} has no label {label!r}")
                continue
            # Literal alternatives must be values the contract lists; a template variable or a regex
            # wildcard stands for "whatever the worker emits" and is not checked.
            if "$" in value or any(ch in value for ch in ".*+?[]()"):
                continue
            for alt in value.split("|") if op in ("=~", "!~") else [value]:
                if alt not in metric.vocabulary:
                    errors.append(f'{sel.metric}{{{label}{op}"{value}"}}: {alt!r} is not a documented value')
    return errors
