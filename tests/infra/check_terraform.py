#!/usr/bin/env python3
"""Conventions of the Terraform module that `terraform validate` would catch, checked without
`terraform init` (the registry is unreachable offline).

- Every variable has a description and a type; every `var.x` used is declared; every declared
  variable is used.
- Every output has a description; every `local.x` used is defined.
- README.md documents every variable and output (a row naming it in backticks).
- The examples call the module with only arguments it declares, and pass every required one.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "infra" / "terraform"

problems: list[str] = []


def blocks(text: str, keyword: str) -> dict[str, str]:
    """Top-level `keyword "name" { ... }` blocks by name (brace matching, strings and comments aware enough
    for this module's style)."""
    out = {}
    for match in re.finditer(rf'^{keyword} "([\w-]+)"\s*{{', text, re.MULTILINE):
        depth, i = 1, match.end()
        while depth and i < len(text):
            ch = text[i]
            if ch == '"':
                i += 1
                while i < len(text) and text[i] != '"':
                    i += 2 if text[i] == "\\" else 1
            elif ch == "#" or text.startswith("//", i):
                i = text.find("\n", i)
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            i += 1
        out[match.group(1)] = text[match.end() : i - 1]
    return out


def tf_text(directory: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(directory.glob("*.tf")))


def main() -> int:
    text = tf_text(MODULE)
    variables = blocks(text, "variable")
    if not variables:
        problems.append("no variables found")
    for name, body in variables.items():
        if not re.search(r"^\s*description\s*=", body, re.MULTILINE):
            problems.append(f"variable {name}: no description")
        if not re.search(r"^\s*type\s*=", body, re.MULTILINE):
            problems.append(f"variable {name}: no type")
    used = set(re.findall(r"\bvar\.(\w+)", text))
    for name in sorted(used - variables.keys()):
        problems.append(f"var.{name} is used but not declared")
    for name in sorted(variables.keys() - used):
        problems.append(f"variable {name} is declared but never used")
    for name, body in blocks(text, "output").items():
        if not re.search(r"^\s*description\s*=", body, re.MULTILINE):
            problems.append(f"output {name}: no description")
    locals_defined = set()
    for body in re.findall(r"^locals\s*{(.*?)^}", text, re.MULTILINE | re.DOTALL):
        locals_defined |= set(re.findall(r"^  (\w+)\s*=", body, re.MULTILINE))
    for name in sorted(set(re.findall(r"\blocal\.(\w+)", text)) - locals_defined):
        problems.append(f"local.{name} is used but not defined")

    readme = (MODULE / "README.md").read_text()
    for kind, names in (("variable", variables.keys()), ("output", blocks(text, "output").keys())):
        for name in sorted(names):
            if f"| `{name}` |" not in readme:
                problems.append(f"README.md does not document {kind} {name}")

    required = {n for n, b in variables.items() if not re.search(r"^\s*default\s*=", b, re.MULTILINE)}
    for example in sorted((MODULE / "examples").iterdir()):
        etext = tf_text(example)
        modules = blocks(etext, "module")
        calls = {n: b for n, b in modules.items() if re.search(r'source\s*=\s*"\.\./\.\."', b)}
        if not calls:
            problems.append(f"examples/{example.name}: does not call the module (source = \"../..\")")
        for name, body in calls.items():
            args = set(re.findall(r"^  (\w+)\s*=", body, re.MULTILINE)) - {"source", "version", "providers"}
            for arg in sorted(args - variables.keys()):
                problems.append(f"examples/{example.name}: module {name} passes unknown argument {arg}")
            for arg in sorted(required - args):
                problems.append(f"examples/{example.name}: module {name} misses required argument {arg}")
        evars = blocks(etext, "variable")
        eused = set(re.findall(r"\bvar\.(\w+)", etext))
        for name in sorted(eused - evars.keys()):
            problems.append(f"examples/{example.name}: var.{name} is used but not declared")

    for p in problems:
        print(f"terraform: {p}")
    if not problems:
        print(f"terraform: {len(variables)} variables, conventions hold")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
