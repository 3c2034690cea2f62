"""`rig run`, `rig plans check`, `rig demo`: plans for people who do not know pytest."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from rig.plan.exit_codes import EXIT_INTERNAL, EXIT_NOTHING_RAN, EXIT_RADIO, EXIT_USAGE, exit_codes_text
from rig.plan.loader import PlanErrors, load_plan
from rig.plan.preflight import Problem, check_bench, check_outputs, check_plan_resources, probe_radio, unmet_needs
from rig.plan.stopping import exit_code as stopping_exit_code
from rig.plan.stopping import sigterm_as_interrupt

DEMO_PLANS = "testplans/scenarios"
PREDICT_BENCH = "fixtures/benches/hardware-example.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run test plans (a thin wrapper over pytest)",
                         description="Run YAML test plans on a bench (for more control, run pytest on the plans "
                                     "directly). Each run writes into its own folder runs/<time>-<id>/ "
                                     "(runs/latest is the newest): records, report.html, captures.",
                         epilog=exit_codes_text(), formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("paths", nargs="*", default=["testplans"], help="plan files or folders (default: testplans)")
    run.add_argument("--bench", help="bench file (default: fixtures/benches/emulated.yaml)")
    run.add_argument("--radio", help="override the bench radio: emulated | /dev/ttyUSB0 | tcp://host:port | "
                     "labgrid:PLACE | labgrid:key=value (a labgrid place, docs/lab.md)")
    run.add_argument("--lab-wait", type=float, metavar="SECONDS",
                     help="labgrid: wait this long for a held place (or a free one matching tags) before failing")
    run.add_argument("--junitxml", help="also write JUnit XML with the measurements as properties")
    run.add_argument("--report", metavar="DIR", help="write the HTML report, pcapng captures and JSON records here")
    run.add_argument("-k", dest="keyword", help="only plans whose name matches this pytest expression")
    run.add_argument("--image", action="append", default=[], metavar="NAME=PATH",
                     help="run the plans on your own OTA file: each plan's image NAME (e.g. v2) becomes PATH and "
                          "the devices it was for take the file's manufacturer code and image type (repeatable)")
    run.add_argument("-v", "--verbose", action="store_true", help="print each step as it starts and ends")
    run.add_argument("--predict", action="store_true",
                     help="do not run: estimate how long each plan would take on a real bench (UART, air, device)")
    run.set_defaults(func=_run)

    plans = sub.add_parser("plans", help="work with plan files")
    plans_sub = plans.add_subparsers(dest="plans_command", metavar="ACTION")
    check = plans_sub.add_parser("check", help="validate plans without running them",
                                 description="Validate plan files: exit 0 if all are valid, 1 with every problem listed.")
    check.add_argument("paths", nargs="+", help="plan files or folders")
    check.add_argument("--bench", help="check against this bench file (default: fixtures/benches/emulated.yaml)")
    check.add_argument("--radio", help="as rig run --radio (which plans the bench could run)")
    check.set_defaults(func=_check)
    listing = plans_sub.add_parser("list", help="list plans: name, title, needs, device kinds, expected time",
                                   description="List plan files with their title, the bench features they need, "
                                               "the kinds of device they use and how long each would take on a "
                                               "real bench (rig run --predict's estimate).")
    listing.add_argument("paths", nargs="*", default=["testplans"], help="plan files or folders (default: testplans)")
    listing.add_argument("--bench", help=f"predict on this bench (default: {PREDICT_BENCH})")
    listing.set_defaults(func=_list)
    steps = plans_sub.add_parser("steps", help="the step reference, generated from the plan schema",
                                 description="Print every step a plan may use, with its fields (Markdown). "
                                             "--update FILE rewrites the generated blocks of the README.")
    steps.add_argument("--update", metavar="README.md", help="rewrite the generated blocks in this file")
    steps.set_defaults(func=_steps)
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
    """Everything a run would find before it touches a radio: plan files, profiles, images, the bench."""
    files, missing = _plan_files(args.paths)
    try:
        bench = check_bench(args.bench, args.radio)
    except Problem as exc:
        print(exc, file=sys.stderr)
        return exc.code
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
        why_not = unmet_needs(plan, bench)
        problems = check_plan_resources(plan, None if why_not else bench)  # skipped here: profiles, images only
        if problems:
            bad += 1
            print("\n".join(problems), file=sys.stderr)
            continue
        print(f"ok  {file}  ({plan.name}; {len(plan.steps)} steps)" + (f"  [skipped here: {why_not}]" if why_not else ""))
    if not files and not missing:
        print("no plan files found", file=sys.stderr)
        return 1
    print(f"{len(files) - (bad - len(missing))} valid, {bad} with problems (bench {bench.path})")
    return 1 if bad else 0


def _list(args: argparse.Namespace) -> int:
    from rig.plan.predict import hms, predict_plan

    files, missing = _plan_files(args.paths)
    for raw in missing:
        print(f"{raw}: no such file or folder", file=sys.stderr)
    try:
        bench = check_bench(args.bench, None, default=PREDICT_BENCH)
    except Problem as exc:
        print(exc, file=sys.stderr)
        return exc.code
    rows, bad = [], len(missing)
    for file in files:
        try:
            plan = load_plan(file)
        except PlanErrors as exc:
            print(str(exc), file=sys.stderr)
            bad += 1
            continue
        if "emulated" in plan.needs:
            expected = "emulated only"
        else:
            try:
                expected = hms(predict_plan(plan, bench).total_seconds)
            except Exception as exc:  # noqa: BLE001 - an image it cannot size: say so, keep listing
                expected = f"? ({type(exc).__name__})"
        title = plan.name if len(plan.name) <= 60 else plan.name[:57] + "..."
        rows.append((plan.id, title, ",".join(plan.needs) or "-", ",".join(_device_kinds(plan)) or "-", expected))
    head = ("plan", "title", "needs", "devices", "expected")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
    print("-" * (sum(widths) + 2 * (len(head) - 1)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    print(f"{len(rows)} plans" + (f", {bad} that do not load" if bad else "")
          + f"; expected = wall time on a real bench ({bench.name}), as `rig run --predict` estimates it")
    return 1 if bad or not rows else 0


def _steps(args: argparse.Namespace) -> int:
    from rig.plan.reference import steps_markdown, update_readme

    if not args.update:
        print(steps_markdown())
        return 0
    try:
        changed = update_readme(Path(args.update))
    except (OSError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{args.update}: " + (f"updated {', '.join(changed)}" if changed else "already up to date"))
    return 0


def _device_kinds(plan) -> list[str]:
    """The kinds of device a plan uses (ppmid, hcalcs, gsme), from their profiles."""
    from rig.emu.profiles import ProfileError, load_profile

    kinds = []
    for ref in plan.devices.values():
        try:
            kind = load_profile(ref.profile).kind
        except (ProfileError, OSError):
            kind = f"{ref.profile}?"
        if kind not in kinds:
            kinds.append(kind)
    return kinds


def _pytest_args(args: argparse.Namespace) -> list[str]:
    # --rig-progress on: live progress on a terminal, plain progress lines in a pipe or log (rig.report.live).
    # -p no:labgrid: labgrid's own pytest plugin (installed with the test extra) re-formats logging and
    # adds fixtures; a rig run from any folder must not depend on the repo's pyproject switching it off.
    # -p no:hypothesispytest: plans use no property tests, and hypothesis's plugin (installed with the test
    # extra) imports all of hypothesis at the end of every session: about a second of each `rig run`.
    # The rig package is imported before pytest starts (this CLI is part of it), so pytest cannot rewrite
    # the asserts of its plugin module; plans use no asserts, so that warning is noise for the user.
    out = list(args.paths) + ["--rig-summary", "--rig-progress", "on", "-p", "no:cacheprovider", "-p", "no:labgrid",
                              "-p", "no:hypothesispytest",
                              "-W", "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning",
                              "-q"]
    if args.bench:
        out += ["--rig-bench", args.bench]
    if args.radio:
        out += ["--rig-radio", args.radio]
    if getattr(args, "lab_wait", None) is not None:
        out += ["--rig-lab-wait", f"{args.lab_wait:g}"]
    if args.junitxml:
        out += ["--junitxml", args.junitxml]
    if getattr(args, "report", None):
        out += ["--rig-report", args.report]
    if getattr(args, "run_id", None):
        out += ["--rig-run-id", args.run_id]
    if args.keyword:
        out += ["-k", args.keyword]
    for image in getattr(args, "image", None) or []:
        out += ["--rig-image", image]
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
        return EXIT_USAGE
    try:
        if getattr(args, "predict", False):  # a prediction is for a real bench: by default the example one
            return _predict(files, check_bench(args.bench, args.radio, default=PREDICT_BENCH))
        on_lab = any((o or "").startswith("labgrid:") for o in (args.bench, args.radio))
        bench = None if on_lab else check_bench(args.bench, args.radio)
        if on_lab or bench.hub.radio.startswith("labgrid:"):  # or the bench file names its place
            check_outputs(report=getattr(args, "report", None), junitxml=args.junitxml)  # the place is
            # acquired, and its stick checked, by the pytest plugin (rig.lab): not twice, not here
        else:
            _preflight(files, bench, args)
    except Problem as exc:
        print(exc, file=sys.stderr)
        return exc.code
    _choose_run_folder(args)
    outcomes = _Outcomes()
    # The plans are the tests: don't let the project's own pytest config (testpaths, rootdir conftest)
    # pull in anything else.
    with sigterm_as_interrupt():
        code = pytest.main(_pytest_args(args) + ["-rs", "-o", "testpaths=", "-o", "python_files="],
                           plugins=[outcomes])
    if int(code) == 2 and outcomes.signalled:  # pytest's own last line says "no tests ran": not the story
        _say_why_stopped(args)
    return _exit_code(int(code), outcomes)


def _say_why_stopped(args: argparse.Namespace) -> None:
    from rig.plan.stopping import reason
    from rig.report.runs import records_in

    folder = Path(args.report)
    aborted = [r["plan"]["id"] for r in (records_in(folder) if folder.is_dir() else [])
               if r.get("verdict") == "aborted" and (r.get("run") or {}).get("id") == args.run_id]
    what = f"plan {', '.join(aborted)} ABORTED" if aborted else "between plans, none was under way"
    print(f"stopped by {reason()}: {what}; records and report in {folder}", file=sys.stderr)


def _preflight(files: list[Path], bench, args: argparse.Namespace) -> None:
    """What would stop the run, before it starts: outputs, profiles, images, needs, the radio (once)."""
    check_outputs(report=getattr(args, "report", None), junitxml=args.junitxml)
    runnable, problems = 0, []
    for file in files:
        try:
            plan = plan_for_preflight(file, args)
        except PlanErrors:
            runnable += 1  # it runs as an ERROR item, with its load error in the summary and report
            continue
        why_not = unmet_needs(plan, bench)
        if why_not:
            print(f"{plan.id}: skipped: {why_not}", flush=True)
            continue
        runnable += 1
        problems += check_plan_resources(plan, bench)
    if problems:
        raise Problem("\n".join(problems) + f"\nnothing ran: {len(problems)} problem(s) above "
                      "(`rig plans check` lists them too)")
    if not files or (not runnable and not args.keyword):
        raise Problem("no plan ran: " + ("no plan files found" if not files else
                                         f"the bench {bench.name} cannot run any of them (reasons above)"),
                      EXIT_NOTHING_RAN)
    if runnable:
        probe_radio(bench)


def plan_for_preflight(file: Path, args: argparse.Namespace):
    """The plan as the run will see it. Hook: options that change a plan's inputs before it runs (such as
    images given on the command line) apply them here, so the checks see what the run will use."""
    plan = load_plan(file)
    if getattr(args, "image", None):
        from rig.plan.own_image import parse_option, with_own_images

        try:
            own = dict(parse_option(text) for text in args.image)
        except ValueError as exc:
            raise Problem(str(exc)) from None
        plan = with_own_images(plan, own)
    return plan


class _Outcomes:
    """A pytest plugin counting what happened to the plans, for `rig run`'s exit code."""

    def __init__(self) -> None:
        self.ran = 0
        self.skipped = 0
        self.signalled = False  # Ctrl-C / SIGTERM, not the session stopped by the rig (the stick did not open)

    def pytest_keyboard_interrupt(self, excinfo) -> None:  # noqa: ANN001 - pytest's ExceptionInfo
        import pytest

        self.signalled = not isinstance(excinfo.value, pytest.Session.Interrupted)

    def pytest_runtest_logreport(self, report) -> None:  # noqa: ANN001 - pytest's TestReport
        if report.when == "call" or (report.when == "setup" and report.failed):
            self.ran += 1
        elif report.skipped:
            self.skipped += 1


def _exit_code(pytest_code: int, outcomes: _Outcomes | None = None) -> int:
    """pytest's exit status in `rig run`'s terms (README: Exit codes)."""
    if pytest_code == 2:  # pytest: interrupted, by a signal or by the rig when the stick did not open
        return stopping_exit_code() if outcomes is None or outcomes.signalled else EXIT_RADIO
    if pytest_code == 3:  # pytest: internal error (a rig bug; pytest printed the trace)
        return EXIT_INTERNAL
    if pytest_code == 4:  # pytest: usage error
        return EXIT_USAGE
    if pytest_code == 0 and outcomes is not None and outcomes.ran == 0:
        print("no plan ran: every plan was skipped (reasons above)", file=sys.stderr)
        return EXIT_NOTHING_RAN
    return pytest_code


def _choose_run_folder(args: argparse.Namespace) -> None:
    """Every run its own folder under runs/ (records; the report too unless --report names another)."""
    from rig.report.runs import DEFAULT_BASE, new_run_id

    args.run_id = new_run_id()
    if not getattr(args, "report", None):
        args.report = str(DEFAULT_BASE / args.run_id)


def _demo(args: argparse.Namespace) -> int:
    ns = argparse.Namespace(paths=[DEMO_PLANS], bench=None, radio="emulated", junitxml=None, keyword=None,
                            report=None, verbose=False)  # its own run folder, as every run
    print(f"HAN OTA Rig demo: running {DEMO_PLANS} on the emulated radio\n", flush=True)
    return _run(ns)


def _predict(files: list[Path], bench) -> int:
    from rig.plan.predict import predict_plan, prediction_table

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
