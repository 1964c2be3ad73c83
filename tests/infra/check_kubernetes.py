#!/usr/bin/env python3
"""Checks infra/kubernetes offline: schema validation plus the properties the worker depends on.

1. Renders the base and the example overlay with `kubectl kustomize` (when kubectl is missing, falls
   back to the base's plain manifest files, which covers everything but the generated ConfigMap).
2. Validates every core resource with `kubernetes-validate --strict`; custom resources (ServiceMonitor,
   PrometheusRule, KEDA) have no schema there and get structural checks instead.
3. Asserts what a schema cannot: the pod is non-root with a read-only root filesystem, no capabilities
   and the RuntimeDefault seccomp profile; the probes hit /healthz and /readyz on the admin port the
   config listens on; terminationGracePeriodSeconds exceeds the config's sqs.shutdown_grace; every
   url_file lies in the mounted Secret and names one of its keys; the Service, ServiceMonitor, PDB and
   ScaledObject select what they should; KEDA watches the queue the worker polls; the example Secret
   holds placeholders only; the PrometheusRule is the promtool-tested rule file.
4. When a failwatch binary has been built (scripts/test.sh builds it before running this), the
   overlay's configuration passes the worker's own `failwatch check-config`, and its output redacts
   the webhook URLs.

Exit status 0 when all pass; one line per problem otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "kubernetes"
CORE_GROUPS = {"v1", "apps/v1", "policy/v1", "networking.k8s.io/v1"}

problems: list[str] = []


def problem(where: str, message: str) -> None:
    problems.append(f"{where}: {message}")


def render(path: Path) -> list[dict]:
    if shutil.which("kubectl"):
        out = subprocess.run(["kubectl", "kustomize", str(path)], capture_output=True, text=True)
        if out.returncode != 0:
            problem(str(path.relative_to(ROOT)), "kubectl kustomize failed: " + out.stderr.strip())
            return []
        return [d for d in yaml.safe_load_all(out.stdout) if d]
    # No kubectl: the plain files that kustomization.yaml lists (generators are skipped).
    kustomization = yaml.safe_load((path / "kustomization.yaml").read_text())
    docs = []
    for res in kustomization.get("resources", []):
        file = path / res
        if file.is_file():
            docs.extend(d for d in yaml.safe_load_all(file.read_text()) if d)
    return docs


def validate_core(name: str, docs: list[dict]) -> None:
    core = [d for d in docs if d["apiVersion"] in CORE_GROUPS]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as tmp:
        yaml.safe_dump_all(core, tmp)
    result = subprocess.run(
        ["kubernetes-validate", "--strict", "--quiet", tmp.name], capture_output=True, text=True
    )
    Path(tmp.name).unlink()
    if result.returncode != 0:
        problem(name, "kubernetes-validate --strict failed:\n" + result.stdout + result.stderr)


def find(docs: list[dict], kind: str, name: str | None = None) -> dict | None:
    for d in docs:
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name):
            return d
    return None


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def check_custom_resources(name: str, docs: list[dict]) -> None:
    required = {
        ("monitoring.coreos.com/v1", "ServiceMonitor"): ["spec.selector.matchLabels", "spec.endpoints"],
        ("monitoring.coreos.com/v1", "PrometheusRule"): ["spec.groups"],
        ("keda.sh/v1alpha1", "ScaledObject"): ["spec.scaleTargetRef.name", "spec.triggers"],
        ("keda.sh/v1alpha1", "TriggerAuthentication"): ["spec.podIdentity.provider"],
    }
    for d in docs:
        if d["apiVersion"] in CORE_GROUPS:
            continue
        key = (d["apiVersion"], d["kind"])
        if key not in required:
            problem(name, f"unexpected custom resource {key}")
            continue
        for dotted in required[key]:
            node = d
            for part in dotted.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if not node:
                problem(name, f"{d['kind']}/{d['metadata']['name']} lacks {dotted}")


def check_workload(name: str, docs: list[dict]) -> None:
    dep = find(docs, "Deployment", "failwatch")
    if dep is None:
        problem(name, "no Deployment failwatch")
        return
    pod = dep["spec"]["template"]["spec"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    if not selects(dep["spec"]["selector"]["matchLabels"], labels):
        problem(name, "Deployment selector does not match its pod labels")
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True or not isinstance(psc.get("runAsUser"), int) or psc["runAsUser"] == 0:
        problem(name, "pod must set runAsNonRoot and a numeric non-zero runAsUser")
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problem(name, "pod must use the RuntimeDefault seccomp profile")
    if pod.get("automountServiceAccountToken") is not False:
        problem(name, "the worker never calls the Kubernetes API: automountServiceAccountToken must be false")

    (container,) = [c for c in pod["containers"] if c["name"] == "failwatch"]
    csc = container.get("securityContext", {})
    if csc.get("readOnlyRootFilesystem") is not True:
        problem(name, "container must have a read-only root filesystem")
    if csc.get("allowPrivilegeEscalation") is not False:
        problem(name, "container must set allowPrivilegeEscalation: false")
    if csc.get("capabilities", {}).get("drop") != ["ALL"]:
        problem(name, "container must drop ALL capabilities")
    if csc.get("capabilities", {}).get("add"):
        problem(name, "container must add no capabilities")
    resources = container.get("resources", {})
    if not resources.get("requests", {}).get("cpu") or not resources.get("requests", {}).get("memory"):
        problem(name, "container must request cpu and memory")
    if not resources.get("limits", {}).get("memory"):
        problem(name, "container must have a memory limit")

    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or get.get("port") not in ("admin", ports.get("admin")):
            problem(name, f"{probe} must GET {path} on the admin port")

    # The configuration the pod actually mounts.
    config_volume = next((v for v in pod["volumes"] if "configMap" in v), None)
    secret_volume = next((v for v in pod["volumes"] if "secret" in v), None)
    cm = find(docs, "ConfigMap", config_volume["configMap"]["name"]) if config_volume else None
    if cm is None:
        problem(name, "the ConfigMap the pod mounts is not in the rendered manifests")
        return
    config_file = container["args"][container["args"].index("--config") + 1]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    config_mount = mounts[config_volume["name"]]["mountPath"]
    key = config_file.removeprefix(config_mount.rstrip("/") + "/")
    if key not in cm["data"]:
        problem(name, f"--config {config_file} is not a key of the mounted ConfigMap")
        return
    config = tomllib.loads(cm["data"][key])
    sqs, admin = config.get("sqs", {}), config.get("admin", {})
    admin_port = int(admin.get("listen", "0.0.0.0:9090").rsplit(":", 1)[1])
    if ports.get("admin") != admin_port:
        problem(name, f"container port admin ({ports.get('admin')}) differs from admin.listen ({admin_port})")
    grace = seconds(sqs.get("shutdown_grace", "20s"))
    if pod.get("terminationGracePeriodSeconds", 30) <= grace:
        problem(name, f"terminationGracePeriodSeconds must exceed sqs.shutdown_grace ({grace}s)")
    if seconds(sqs.get("visibility_timeout", "60s")) <= seconds(config.get("retry", {}).get("budget", "30s")):
        problem(name, "sqs.visibility_timeout must exceed retry.budget")

    secret_mount = mounts[secret_volume["name"]]["mountPath"].rstrip("/") if secret_volume else None
    secret = find(docs, "Secret", secret_volume["secret"]["secretName"]) if secret_volume else None
    for i, dest in enumerate(config.get("destinations", [])):
        if "url" in dest:
            problem(name, f"destinations[{i}] puts its URL in the ConfigMap; use url_file and the Secret")
        if "url_file" in dest:
            directory, _, file = dest["url_file"].rpartition("/")
            if directory != secret_mount:
                problem(name, f"destinations[{i}].url_file is not under the Secret mount {secret_mount}")
            elif secret is not None and file not in {**secret.get("data", {}), **secret.get("stringData", {})}:
                problem(name, f"destinations[{i}].url_file names {file!r}, which the Secret does not hold")

    if secret is not None:
        for k, v in secret.get("stringData", {}).items():
            if "REPLACE_ME" not in v:
                problem(name, f"Secret key {k} must hold a REPLACE_ME placeholder, never a real URL")

    sa = find(docs, "ServiceAccount", pod["serviceAccountName"])
    role = (sa or {}).get("metadata", {}).get("annotations", {}).get("eks.amazonaws.com/role-arn", "")
    if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", role):
        problem(name, "ServiceAccount needs the IRSA annotation eks.amazonaws.com/role-arn with a role ARN")

    svc = find(docs, "Service", "failwatch")
    if svc is None or not selects(svc["spec"]["selector"], labels):
        problem(name, "the metrics Service must select the worker pods")
    else:
        port_names = {p["name"] for p in svc["spec"]["ports"]}
        sm = find(docs, "ServiceMonitor")
        if sm is not None:
            if not selects(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"]):
                problem(name, "the ServiceMonitor does not select the metrics Service")
            for ep in sm["spec"]["endpoints"]:
                if ep.get("port") not in port_names or ep.get("path", "/metrics") != "/metrics":
                    problem(name, "a ServiceMonitor endpoint names no Service port or not /metrics")
    pdb = find(docs, "PodDisruptionBudget")
    if pdb is None or not selects(pdb["spec"]["selector"]["matchLabels"], labels):
        problem(name, "the PodDisruptionBudget must select the worker pods")

    netpol = find(docs, "NetworkPolicy")
    if netpol is not None:
        if not selects(netpol["spec"]["podSelector"]["matchLabels"], labels):
            problem(name, "the NetworkPolicy does not select the worker pods")
        ingress_ports = {p["port"] for rule in netpol["spec"].get("ingress", []) for p in rule.get("ports", [])}
        if not ingress_ports & {"admin", ports.get("admin")}:
            problem(name, "the NetworkPolicy blocks scraping: no ingress to the admin port")
        egress_ports = {p["port"] for rule in netpol["spec"].get("egress", []) for p in rule.get("ports", [])}
        if not {53, 443} <= egress_ports:
            problem(name, "the NetworkPolicy must allow DNS and HTTPS egress (SQS, STS, webhooks)")

    so = find(docs, "ScaledObject")
    if so is not None:
        if so["spec"]["scaleTargetRef"]["name"] != dep["metadata"]["name"]:
            problem(name, "the ScaledObject scales something other than the worker Deployment")
        queue = so["spec"]["triggers"][0]["metadata"].get("queueURL")
        if queue != sqs.get("queue_url"):
            problem(name, f"KEDA watches {queue} but the worker polls {sqs.get('queue_url')}")
        if so["spec"].get("minReplicaCount", 0) < 1:
            problem(name, "minReplicaCount must be at least 1: a scaled-to-zero worker stops reporting")


def seconds(duration: str) -> float:
    """A duration as the worker's configuration writes it ("20s", "1m 30s", "500ms"), in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+)\s*(ms|s|m|h|d)", duration)
    if not parts or re.sub(r"[\d\s]|ms|s|m|h|d", "", duration):
        raise ValueError(f"not a duration such as 20s: {duration!r}")
    return sum(int(n) * units[u] for n, u in parts)


def failwatch_binary() -> Path | None:
    """The worker binary to run `check-config` with: $FAILWATCH_BIN, else the newest cargo build."""
    if os.environ.get("FAILWATCH_BIN"):
        return Path(os.environ["FAILWATCH_BIN"])
    built = [p for p in (ROOT / "target" / "debug" / "failwatch", ROOT / "target" / "release" / "failwatch") if p.is_file()]
    return max(built, key=lambda p: p.stat().st_mtime) if built else None


def check_config_with_worker(name: str, docs: list[dict], binary: Path) -> None:
    """The ConfigMap's TOML passes the worker's own `check-config`, with the Secret's files in place,
    and the output redacts the URLs."""
    dep = find(docs, "Deployment", "failwatch")
    pod = dep["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == "failwatch"]
    mounts = {m["name"]: m["mountPath"].rstrip("/") for m in container["volumeMounts"]}
    config_volume = next(v for v in pod["volumes"] if "configMap" in v)
    secret_volume = next(v for v in pod["volumes"] if "secret" in v)
    cm = find(docs, "ConfigMap", config_volume["configMap"]["name"])
    secret = find(docs, "Secret", secret_volume["secret"]["secretName"]) or {}
    config_file = container["args"][container["args"].index("--config") + 1]
    text = cm["data"][config_file.rsplit("/", 1)[1]]
    with tempfile.TemporaryDirectory() as tmp:
        for key, value in secret.get("stringData", {}).items():
            Path(tmp, key).write_text(value)
        text = text.replace(mounts[secret_volume["name"]] + "/", tmp + "/")
        Path(tmp, "failwatch.toml").write_text(text)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAILWATCH_")}
        result = subprocess.run(
            [str(binary), "check-config", "--config", str(Path(tmp, "failwatch.toml"))],
            capture_output=True, text=True, env=env, timeout=30,
        )
    if result.returncode != 0:
        problem(name, f"`failwatch check-config` rejects the ConfigMap (exit {result.returncode}):\n{result.stderr}")
    elif "REPLACE_ME" in result.stdout + result.stderr:
        problem(name, "`failwatch check-config` printed a webhook URL unredacted")


def main() -> int:
    rule_sync = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "prometheus" / "to_prometheusrule.py"), "--check"],
        capture_output=True,
        text=True,
    )
    if rule_sync.returncode != 0:
        problem("base/prometheusrule.yaml", rule_sync.stderr.strip())

    counts = [] if shutil.which("kubectl") else ["kubectl missing: files validated one by one, invariants skipped"]
    for path in (K8S / "base", K8S / "overlays" / "example"):
        name = str(path.relative_to(ROOT))
        docs = render(path)
        if not docs:
            problem(name, "rendered nothing")
            continue
        counts.append(f"{name}: {len(docs)} resources")
        validate_core(name, docs)
        check_custom_resources(name, docs)
        # The base has no Secret (overlays provide it); the workload checks need the full picture,
        # generated ConfigMap included, which only a real kustomize render gives.
        if path.name != "base" and shutil.which("kubectl"):
            check_workload(name, docs)
            binary = failwatch_binary()
            if binary is None:
                counts.append("check-config skipped (no failwatch binary built)")
            elif not problems:
                check_config_with_worker(name, docs, binary)
                counts.append(f"config accepted by {binary.relative_to(ROOT) if binary.is_relative_to(ROOT) else binary} check-config")

    for p in problems:
        print(f"kubernetes: {p}")
    if not problems:
        print("kubernetes: valid; " + "; ".join(counts))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
