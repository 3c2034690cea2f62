"""Every third-party package rig.image imports is declared in pyproject.toml (issue 21: `cryptography` was
imported for AES-MMO and the signatures but not declared, so a clean install could lack it)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _imported_top_levels(folder: Path) -> set[str]:
    names: set[str] = set()
    for file in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower().replace("_", "-")
            for spec in project["dependencies"]}


def test_rig_image_imports_only_declared_packages() -> None:
    third_party = _imported_top_levels(REPO / "rig" / "image") - set(sys.stdlib_module_names) - {"rig", "__future__"}
    assert "cryptography" in third_party  # the check sees the import it is about
    distributions = packages_distributions()
    undeclared = {module: distributions.get(module, [module]) for module in third_party
                  if not {d.lower().replace("_", "-") for d in distributions.get(module, [module])} & _declared()}
    assert not undeclared, f"imported by rig/image but not in pyproject.toml's dependencies: {undeclared}"
