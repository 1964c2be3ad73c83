#!/usr/bin/env python3
"""Dockerfile invariants hadolint does not check (there is no Docker engine here to build it):

- multi-stage, with the dependency layer (cargo chef cook) built before the sources are copied;
- `--locked` on every cargo build/install/cook;
- the runtime stage copies exactly one file, the binary, from the build stage and nothing else;
- the runtime user is numeric and non-root (Kubernetes' runAsNonRoot can then verify it);
- the admin port 9090 is exposed and the entrypoint is the binary;
- .dockerignore is an allow-list, so target/, .git, .venv and local secrets never reach the context.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    lines = []
    for raw in re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text()).splitlines():
        if raw.strip() and not raw.lstrip().startswith("#"):
            lines.append(raw.strip())
    stages: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    problems = []
    if len(stages) < 2:
        problems.append("not a multi-stage build")
    build_lines = [l for stage in stages[:-1] for l in stage]
    for line in build_lines:
        if re.search(r"\bcargo (build|install|chef cook)\b", line) and "--locked" not in line:
            problems.append(f"cargo without --locked: {line}")
    cook = next((i for i, l in enumerate(build_lines) if "cargo chef cook" in l), None)
    copy_all = next((i for i, l in enumerate(build_lines) if l.startswith("COPY . ") and i > (cook or -1)), None)
    build = next((i for i, l in enumerate(build_lines) if "cargo build --release" in l), None)
    if cook is None or copy_all is None or build is None or not cook < copy_all < build:
        problems.append("the dependency layer (cargo chef cook) must come before COPY . and cargo build --release")

    final = stages[-1] if stages else []
    copies = [l for l in final if l.startswith(("COPY", "ADD"))]
    if len(copies) != 1 or not re.fullmatch(r"COPY --from=\w+ \S+/failwatch /usr/local/bin/failwatch", copies[0]):
        problems.append(f"the runtime stage must copy only the binary, got {copies}")
    if any(l.startswith("RUN") for l in final):
        problems.append("the runtime stage must not RUN anything (distroless has no shell)")
    users = [l.split(None, 1)[1] for l in final if l.startswith("USER ")]
    if not users or not re.fullmatch(r"[1-9][0-9]*(:[1-9][0-9]*)?", users[-1]):
        problems.append(f"the runtime USER must be numeric and non-root, got {users}")
    if "EXPOSE 9090" not in final:
        problems.append("the admin port 9090 is not exposed")
    if not any(l.startswith("ENTRYPOINT") and "/usr/local/bin/failwatch" in l for l in final):
        problems.append("the entrypoint must be the binary")
    if any("FAILWATCH_ADMIN_LISTEN" in l for l in final if l.startswith("ENV")):
        problems.append("the image must not override admin_listen through the environment")

    ignore = [l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines() if l.strip() and not l.startswith("#")]
    if not ignore or ignore[0] != "*":
        problems.append(".dockerignore must start with * (an allow-list)")
    for allowed in ("!Cargo.toml", "!Cargo.lock", "!crates/"):
        if allowed not in ignore:
            problems.append(f".dockerignore must allow {allowed[1:]}")

    for p in problems:
        print(f"dockerfile: {p}")
    if not problems:
        print(f"dockerfile: {len(stages)} stages, invariants hold")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
