"""`rig run`, `rig plans check`, `rig demo`: plans for people who do not know pytest."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from rig.plan.loader import PlanErrors, load_plan
from rig.plan.stopping import exit_code as stopping_exit_code
from rig.plan.stopping import sigterm_as_interrupt

DEMO_PLANS = "testplans/scenarios"


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run test plans (a thin wrapper over pytest)",
                         description="Run YAML test plans on a bench (for more control, run pytest on the plans directly).")
    run.add_argument("paths", nargs="*", default=["testplans"], help="plan files or folders (default: testplans)")
    run.add_argument("--bench", help="bench file (default: fixtures/benches/emulated.yaml)")
    run.add_argument("--radio", help="override the bench radio: emulated | /dev/ttyUSB0 | tcp://host:port")
    run.add_argument("--junitxml", help="also write JUnit XML with the measurements as properties")
    run.add_argument("--report", metavar="DIR", help="write the HTML report, pcapng captures and JSON records here")
    run.add_argument("-k", dest="keyword", help="only plans whose name matches this pytest expression")
    run.add_argument("-v", "--verbose", action="store_true", help="print each step as it starts and ends")
    run.add_argument("--predict", action="store_true",
                     help="do not run: estimate how long each plan would take on a real bench (UART, air, device)")
    run.set_defaults(func=_run)

    plans = sub.add_parser("plans", help="work with plan files")
    plans_sub = plans.add_subparsers(dest="plans_command", metavar="ACTION")
    check = plans_sub.add_parser("check", help="validate plans without running them",
                                 description="Validate plan files: exit 0 if all are valid, 1 with every problem listed.")
    check.add_argument("paths", nargs="+", help="plan files or folders")
    check.set_defaults(func=_check)
    plans.set_defaults(func=lambda a: plans.print_help() or 2)

    demo = sub.add_parser("demo", help="run the default plans on the emulated radio, with a summary",
                          description=f"Run {DEMO_PLANS} on the emulated radio and print a summary table.")
    demo.set_defaults(func=_demo)


def _plan_files(paths: list[str]) -> tuple[list[Path], list[str]]:
    files, missing = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.y*ml") if p.suffix in (".yaml", ".yml")))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(raw)
    return files, missing


def _check(args: argparse.Namespace) -> int:
    files, missing = _plan_files(args.paths)
    bad = 0
    for raw in missing:
        print(f"{raw}: no such file or folder", file=sys.stderr)
        bad += 1
    for file in files:
        try:
            plan = load_plan(file)
        except PlanErrors as exc:
            bad += 1
            print(str(exc), file=sys.stderr)
            continue
        print(f"ok  {file}  ({plan.name}; {len(plan.steps)} steps)")
    if not files and not missing:
        print("no plan files found", file=sys.stderr)
        return 1
    print(f"{len(files) - (bad - len(missing))} valid, {bad} with problems")
    return 1 if bad else 0


def _pytest_args(args: argparse.Namespace) -> list[str]:
    out = list(args.paths) + ["--rig-summary", "-p", "no:cacheprovider", "-q"]
    if args.bench:
        out += ["--rig-bench", args.bench]
    if args.radio:
        out += ["--rig-radio", args.radio]
    if args.junitxml:
        out += ["--junitxml", args.junitxml]
    if getattr(args, "report", None):
        out += ["--rig-report", args.report]
    if getattr(args, "run_id", None):
        out += ["--rig-run-id", args.run_id]
    if args.keyword:
        out += ["-k", args.keyword]
    if getattr(args, "verbose", False):
        out.remove("-q")
        out += ["-v", "-s"]  # -s: the step lines reach the terminal as they happen, not after the plan
    if importlib.util.find_spec("pytest_asyncio") is not None:  # silence its warning about an unset default
        out += ["-o", "asyncio_default_fixture_loop_scope=function"]
    return out


def _run(args: argparse.Namespace) -> int:
    import pytest

    files, missing = _plan_files(args.paths)
    if missing:
        for raw in missing:
            print(f"{raw}: no such file or folder", file=sys.stderr)
        return 2
    if getattr(args, "predict", False):
        return _predict(files, args)
    _choose_run_folder(args)
    # The plans are the tests: don't let the project's own pytest config (testpaths, rootdir conftest)
    # pull in anything else.
    with sigterm_as_interrupt():
        code = pytest.main(_pytest_args(args) + ["-o", "testpaths=", "-o", "python_files="])
    return _exit_code(int(code))


def _exit_code(pytest_code: int) -> int:
    """pytest's exit status in `rig run`'s terms (README: Exit codes)."""
    if pytest_code == 2:  # pytest: interrupted
        return stopping_exit_code()
    return pytest_code


def _choose_run_folder(args: argparse.Namespace) -> None:
    """Every run its own folder under runs/ (records; the report too unless --report names another)."""
    from rig.report.runs import DEFAULT_BASE, new_run_id

    args.run_id = new_run_id()
    if not getattr(args, "report", None):
        args.report = str(DEFAULT_BASE / args.run_id)


def _demo(args: argparse.Namespace) -> int:
    ns = argparse.Namespace(paths=[DEMO_PLANS], bench=None, radio="emulated", junitxml=None, keyword=None,
                            report="runs/demo-report", verbose=False)
    print(f"HAN OTA Rig demo: running {DEMO_PLANS} on the emulated radio\n", flush=True)
    return _run(ns)


def _predict(files: list[Path], args: argparse.Namespace) -> int:
    from rig.bench.config import load_bench
    from rig.plan.predict import predict_plan, prediction_table

    bench = load_bench(args.bench or "fixtures/benches/hardware-example.yaml", radio=args.radio)
    predictions, bad = [], 0
    for file in files:
        try:
            predictions.append(predict_plan(load_plan(file), bench))
        except PlanErrors as exc:
            print(str(exc), file=sys.stderr)
            bad += 1
    if predictions:
        print(f"Predicted on a real bench ({bench.hub.baudrate} baud, EZSP {bench.hub.ezsp_version}, "
              f"{min(40, bench.hub.block_size_cap)}-byte blocks):")
        print(prediction_table(predictions))
    return 1 if bad else 0
