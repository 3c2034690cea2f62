"""Shared plumbing of bench/mutants.py and bench/dut_defects.py: run plans in a child process and read
their verdicts, in a throw-away copy of the tree.

`python bench/verdicts.py PLAN... [--profile NAME=PROFILE]` runs each plan on the emulated bench and
prints one JSON line per plan: {"plan", "verdict", "message", "wall"}. `--profile dut=ppmid+stale_version`
swaps a device's profile before the plan runs (how a conformance plan meets a faulty device).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class PlanVerdict:
    plan: str
    verdict: str  # pass | fail | error | skip
    message: str
    wall: float = 0.0


@contextlib.contextmanager
def tree_copy(root: Path = ROOT) -> Iterator[Path]:
    """A temporary copy of the project's files (tracked and new, no .venv/.git); removed on exit,
    Ctrl-C included. Mutants are applied only here: the working tree is never changed."""
    tmp = tempfile.TemporaryDirectory(prefix="rig-verdicts-")
    try:
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root, check=True,
                                capture_output=True, text=True).stdout.splitlines()
        dest = Path(tmp.name) / "tree"
        for rel in listed:
            src = root / rel
            if src.is_file():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / rel)
        yield dest
    finally:
        tmp.cleanup()


def child_env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)  # ahead of the editable install: the copy's `rig` is imported
    env.pop("RIG_FIXTURES", None)
    return env


def run_plans(tree: Path, plans: list[str], *, profiles: dict[str, str] | None = None, stop_on_fail: bool = False,
              timeout: float = 900.0, step_timeout: float | None = None) -> list[PlanVerdict]:
    """Run plans (paths relative to the tree) in a child process on the copy; one verdict each."""
    cmd = [sys.executable, str(tree / "bench" / "verdicts.py"), *plans]
    for name, profile in (profiles or {}).items():
        cmd += ["--profile", f"{name}={profile}"]
    if stop_on_fail:
        cmd.append("--stop-on-fail")
    if step_timeout:
        cmd += ["--step-timeout", str(step_timeout)]
    try:
        proc = subprocess.run(cmd, cwd=tree, env=child_env(tree), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [PlanVerdict(p, "error", f"timed out after {timeout:g} s") for p in plans]
    out = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            out.append(PlanVerdict(**json.loads(line)))
    if not out:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return [PlanVerdict(plans[0], "error", "child crashed: " + " | ".join(tail))]
    return out


def run_tests(tree: Path, tests: list[str], timeout: float = 900.0) -> tuple[bool, str]:
    """Run pytest node ids on the copy; (failed, short summary)."""
    cmd = [sys.executable, "-m", "pytest", *tests, "-x", "-q", "-p", "no:cacheprovider", "--no-header"]
    try:
        proc = subprocess.run(cmd, cwd=tree, env=child_env(tree), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return True, f"timed out after {timeout:g} s"
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    failed = [ln for ln in lines if ln.startswith(("FAILED", "ERROR"))]
    summary = (failed[0] if failed else (lines[-1] if lines else proc.stderr.strip()[-200:]))
    return proc.returncode not in (0, 5), summary


# ---- the child ---------------------------------------------------------------------------------
async def _run_one(path: str, profiles: dict[str, str]) -> PlanVerdict:
    from rig.bench.config import load_bench
    from rig.plan.loader import load_plan
    from rig.plan.runner import run_plan

    plan = load_plan(path)
    for name, profile in profiles.items():
        if name in plan.devices:
            plan.devices[name] = dataclasses.replace(plan.devices[name], profile=profile)
    bench = load_bench(ROOT / "fixtures" / "benches" / "emulated.yaml")
    missing = [n for n in getattr(plan, "needs", []) if n not in bench.features]
    if missing:
        return PlanVerdict(path, "skip", f"bench lacks {missing}")
    t0 = time.monotonic()
    record = await run_plan(plan, bench)
    return PlanVerdict(path, record.verdict.value, record.message or "", round(time.monotonic() - t0, 1))


def _main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("plans", nargs="+")
    ap.add_argument("--profile", action="append", default=[], help="DEVICE=PROFILE")
    ap.add_argument("--stop-on-fail", action="store_true")
    ap.add_argument("--step-timeout", type=float,
                    help="real seconds a step may take with no window of its own (default: rig/plan/limits.py)")
    args = ap.parse_args()
    if args.step_timeout:
        import rig.plan.limits

        rig.plan.limits.DEFAULT_S = args.step_timeout
    logging.basicConfig(level=logging.CRITICAL)
    profiles = dict(p.split("=", 1) for p in args.profile)
    for path in args.plans:
        try:
            verdict = asyncio.run(_run_one(path, profiles))
        except Exception as exc:  # a plan that cannot even load is an error verdict, not a crash
            verdict = PlanVerdict(path, "error", f"{type(exc).__name__}: {exc}")
        print(json.dumps(dataclasses.asdict(verdict)), flush=True)
        if args.stop_on_fail and verdict.verdict != "pass":
            break


if __name__ == "__main__":
    _main()
