"""The pinned zigbee-herdsman install the interop tests use (tests/interop/package*.json).

`npm ci` runs once per package-lock.json content, into build/interop-node/<lock hash>/ (git-ignored,
removed by `make clean`), from `make test` (`python -m tests.interop.node_env`), never from inside a test;
a second run finds the stamp and reuses it. Without node/npm, or without the install, the tests skip with
that reason, except under CI=true, where it is a failure.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE = REPO / "build" / "interop-node"
STAMP = ".npm-ci-done"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (the interop tests drive zigbee-herdsman under Node.js)"
        if in_ci():
            pytest.fail(f"{reason}; CI=true, so this is a failure, not a skip")
        pytest.skip(reason)
    return path


def _target() -> Path:
    lock = (HERE / "package-lock.json").read_bytes()
    digest = hashlib.sha256(lock + (HERE / "package.json").read_bytes()).hexdigest()[:16]
    return CACHE / digest


def herdsman_root() -> Path:
    """The folder whose node_modules holds the pinned zigbee-herdsman (installed by `make test`)."""
    require_tool("node")
    target = _target()
    if not (target / STAMP).exists():
        reason = "zigbee-herdsman is not installed: `make test` installs it (python -m tests.interop.node_env)"
        if in_ci():
            pytest.fail(f"{reason}; CI=true, so this is a failure, not a skip")
        pytest.skip(reason)
    return target


def install() -> Path:
    """`npm ci` of the pinned zigbee-herdsman into its cache folder, unless it is there already."""
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm is not installed")
    target = _target()
    if (target / STAMP).exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir=CACHE))
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(HERE / name, staging / name)
    # --ignore-scripts: the serial-port bindings' native build is not needed for tcp://
    proc = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=staging, capture_output=True, text=True, timeout=600,
    )
    if proc.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"npm ci in tests/interop failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    (staging / STAMP).write_text("ok\n")
    try:
        staging.rename(target)
    except OSError:  # another run finished first: use its copy
        shutil.rmtree(staging, ignore_errors=True)
    return target


def herdsman_package(root: Path) -> Path:
    return root / "node_modules" / "zigbee-herdsman"


if __name__ == "__main__":  # `make test`: the install, before pytest starts
    try:
        print(f"zigbee-herdsman for tests/interop: {install()}")
    except FileNotFoundError as exc:  # the herdsman tests say so (skip; under CI=true, fail)
        print(f"zigbee-herdsman for tests/interop not installed: {exc}")
