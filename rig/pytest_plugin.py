"""pytest plugin (entry point `pytest11`): YAML test plans as test items, plus fixtures for Python tests.

    pytest testplans/ --rig-radio emulated --junitxml=out.xml
    pytest testplans/ppmid --rig-bench fixtures/benches/my-bench.yaml --rig-radio /dev/ttyUSB0

One plan = one test item; its steps are logged as sub-steps; measurements and bench/image identity go
into the JUnit XML as properties; a JSON run record is written per plan (--rig-record-dir).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from rig.plan.loader import Plan, PlanErrors, load_plan
from rig.report.record import PlanAborted, RunRecord, Verdict

DEFAULT_BENCH = "fixtures/benches/emulated.yaml"

# Loaded as an entry point before pytest captures fd 0: whether a person is at a terminal is known now.
from rig.bench.power import note_stdin  # noqa: E402

note_stdin()
_STASH_RECORDS = pytest.StashKey[list]()
_STASH_OWN_IMAGES = pytest.StashKey[dict]()
_STASH_OUTPUTS = pytest.StashKey["RunOutputs"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rig", "HAN OTA Rig")
    group.addoption("--rig-bench", default=None,
                    help=f"bench file (default {DEFAULT_BENCH}); with pytest-xdist give one per worker, "
                         "comma-separated: worker gwN takes the N-th (one stick per worker)")
    group.addoption("--rig-radio", default=None,
                    help="override the bench's radio: emulated | /dev/ttyUSB0 | tcp://host:port | "
                         "labgrid:PLACE | labgrid:key=value[,key=value] (docs/lab.md)")
    group.addoption("--rig-lab-wait", type=float, default=0.0, metavar="SECONDS",
                    help="labgrid: wait this long for a held place (or a free one matching tags) before failing")
    group.addoption("--rig-record-dir", default=None,
                    help="where JSON run records go (default: this run's own folder runs/<time>-<id>/)")
    group.addoption("--rig-run-id", default=None, help="name this run's folder (default: start time + short id)")
    group.addoption("--rig-summary", action="store_true", help="print the plan summary table at the end")
    group.addoption("--rig-report", default=None, metavar="DIR",
                    help="write an HTML report, a pcapng capture per plan and the JSON records into DIR")
    group.addoption("--rig-progress", choices=("auto", "on", "off"), default="auto",
                    help="live plan, step and transfer progress (auto: on a terminal; on: plain lines when not one)")
    group.addoption("--rig-image", action="append", default=[], metavar="NAME=PATH",
                    help="run the plans on your own OTA file: their image NAME becomes PATH, the devices it "
                         "was for take the file's identity (repeatable; rig.plan.own_image)")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STASH_RECORDS] = []
    from rig.plan.own_image import parse_option

    try:
        config.stash[_STASH_OWN_IMAGES] = dict(parse_option(text) for text in config.getoption("--rig-image") or [])
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_STASH_OUTPUTS] = _run_outputs(config)
    config.addinivalue_line("markers", "rig_needs(*features): the bench must offer these features")
    from rig.report import live

    live.install(config, config.getoption("--rig-progress"))  # plan, step, prompts, transfer progress
    wire_operator_prompts(config)


def wire_operator_prompts(config: pytest.Config) -> None:
    """Operator prompts (power_cycle with no power control) go through the live display when one redraws
    the terminal, not under it where its next redraw would erase them."""
    from rig.bench import power
    from rig.report import live

    power.prompt_terminal = live.prompt_terminal(config)
    config.add_cleanup(lambda: setattr(power, "prompt_terminal", None))


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    """A bench-file typo or an unwritable --rig-report is one line (pytest's usage error), found before
    the first plan runs, not a traceback per plan."""
    if not any(isinstance(item, PlanItem) for item in items):
        return
    from rig.plan.preflight import Problem, check_bench, check_outputs

    try:
        check_outputs(report=config.getoption("--rig-report"), junitxml=None)
        option, radio = bench_for_worker(config.getoption("--rig-bench")), config.getoption("--rig-radio")
        if not (_names_labgrid(option) or _names_labgrid(radio)):  # a place is checked when it is acquired
            check_bench(option, radio)
    except Problem as exc:
        raise pytest.UsageError(str(exc)) from None


_PLAN_KEY = re.compile(rb"^plan:[ \t]*\S", re.MULTILINE)


def _is_plan_file(path: Path, config: pytest.Config | None = None) -> bool:
    """A YAML test plan wherever it lives: under a testplans folder, named on the command line, or any
    YAML file with the plan's `plan:` key (a plan copied elsewhere, as the README suggests)."""
    if path.suffix not in (".yaml", ".yml"):
        return False
    if "testplans" in path.parts or (config is not None and _given(path, config)):
        return True
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return bool(_PLAN_KEY.search(head))


def _given(path: Path, config: pytest.Config) -> bool:
    """Named on the command line itself (not just found in a folder that was)."""
    resolved = path.resolve()
    for arg in config.args:
        candidate = Path(str(arg).split("::")[0])
        if not candidate.is_absolute():
            candidate = Path(config.invocation_params.dir) / candidate
        if candidate.resolve() == resolved:
            return True
    return False


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if _is_plan_file(file_path, parent.config):
        return PlanFile.from_parent(parent, path=file_path)
    return None


def bench_for_worker(option: str | None) -> str:
    """One stick per pytest-xdist worker: gw0 takes the first bench of the list, gw1 the second, ..."""
    import os

    if option and option.startswith("labgrid:") and "=" in option:
        return option  # tags (kind=ppmid,site=lab2): every worker asks labgrid for its own free place
    benches = [b.strip() for b in (option or DEFAULT_BENCH).split(",") if b.strip()]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    if index >= len(benches) and len(benches) > 1:
        raise pytest.UsageError(f"pytest-xdist worker {worker} has no bench: --rig-bench lists {len(benches)}; "
                                "run with -n at most that many")
    return benches[min(index, len(benches) - 1)]


_LAB_RUN = pytest.StashKey[object]()


def _names_labgrid(option: str | None) -> bool:
    return (option or "").startswith("labgrid:")


def load_worker_bench(config: pytest.Config):
    """This worker's bench: a bench file, or a labgrid place held for the whole session (rig.lab)."""
    from rig.bench.config import load_bench

    option, radio = bench_for_worker(config.getoption("--rig-bench")), config.getoption("--rig-radio")
    lab = config.stash.get(_LAB_RUN, None)
    if lab is None and not (_names_labgrid(option) or _names_labgrid(radio)):
        bench = load_bench(option, radio=radio)
        if not _names_labgrid(bench.hub.radio):
            return bench
        radio = bench.hub.radio  # the bench file names its place: `radio: labgrid:PLACE` (docs/lab.md)
    if lab is None:
        from rig.lab.run import LabRun

        lab = config.stash[_LAB_RUN] = LabRun.for_options(option, radio, wait_s=config.getoption("--rig-lab-wait"),
                                                          on_wait=lambda line: _say_now(config, f"rig: {line}"))
        config.add_cleanup(lab.close)
    from rig.lab.client import LabgridError

    try:
        return lab.bench()
    except LabgridError as exc:  # e.g. "place X is locked by Y": the lab's words, not a trace through pytest
        problem = str(exc)
    pytest.fail(f"labgrid: {problem}", pytrace=False)  # outside the except: no "during handling of" chain


def _say_now(config: pytest.Config, line: str) -> None:
    """A line on the terminal (or CI log) at once, whatever pytest captures (how pytest's live logging writes)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    if capman is None:
        reporter.write_line(line)
        return
    with capman.global_and_fixture_disabled():
        reporter.write_line(line)


class PlanLoadError(Exception):
    pass


class PlanFile(pytest.File):
    def collect(self):
        yield PlanItem.from_parent(self, name=self.path.stem)


class PlanItem(pytest.Item):
    """One YAML plan run end to end on the bench."""

    # A plan asks for no fixtures; other plugins (labgrid's, for one) read this from every item.
    fixturenames: tuple[str, ...] = ()

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.plan: Plan | None = None
        self.load_error: PlanErrors | None = None
        try:
            self.plan = load_plan(self.path)
            own = self.config.stash.get(_STASH_OWN_IMAGES, {})
            if own:
                from rig.plan.own_image import with_own_images

                self.plan = with_own_images(self.plan, own)
        except PlanErrors as exc:
            self.load_error = exc
            return
        self.add_marker(pytest.mark.rig_needs(*self.plan.needs))
        # Per-step limits (the plan's own windows) are enforced by the runner; pytest-timeout guards
        # the whole plan with their sum.
        from rig.plan.limits import plan_limit

        self.add_marker(pytest.mark.timeout(plan_limit(self.plan.steps)))

    def setup(self) -> None:
        if self.load_error is not None:
            return  # reported by runtest, where repr_failure prints it without a traceback
        bench = load_worker_bench(self.config)
        from rig.plan.preflight import unmet_needs

        why_not = unmet_needs(self.plan, bench)
        if why_not:
            pytest.skip(why_not)
        self.bench = bench

    def runtest(self) -> None:
        if self.load_error is not None:
            self._keep(RunRecord.for_load_error(self.path, str(self.load_error)))  # in the summary and report
            raise PlanLoadError(str(self.load_error))
        from rig.plan.runner import run_plan
        from rig.plan.stopping import sigterm_as_interrupt

        report_dir = self.config.getoption("--rig-report")
        try:
            with sigterm_as_interrupt():
                record: RunRecord = asyncio.run(run_plan(
                    self.plan, self.bench, log=self._log_step, artifacts=Path(report_dir) if report_dir else None,
                    progress=_progress(self.config)))
        except PlanAborted as exc:  # Ctrl-C / SIGTERM: keep the record, then stop the session as pytest does
            self._keep(exc.record)
            raise KeyboardInterrupt from None
        lab = self.config.stash.get(_LAB_RUN, None)
        if lab is not None and lab.place is not None:  # the place, its exporter host and holder, in the record
            record.bench["lab"] = lab.place.identity()
        self._keep(record)
        for m in record.measurements:
            self.user_properties.append((f"measurement.{m.name}", f"{m.value} {m.unit}".strip()))
            self.user_properties.append((f"measurement.{m.name}.limits", m.limits_text()))
            self.user_properties.append((f"measurement.{m.name}.passed", str(m.passed).lower()))
        self.user_properties.append(("bench", record.bench.get("name", "")))
        self.user_properties.append(("radio", str(record.bench.get("radio", ""))))
        if "lab" in record.bench:  # where on the lab it ran: place, host (exporter), stick (radio), device
            self.user_properties.append(("place", record.bench["lab"]["place"]))
            self.user_properties.append(("host", record.bench["lab"]["exporter_host"]))
            self.user_properties.append(("stick", record.bench["lab"].get("stick", "")))  # its exporter path
        for name, device in record.devices.items():
            self.user_properties.append((f"device.{name}", f"{device.get('kind', '')} {device.get('ieee', '')}"))
        for name, image in record.images.items():
            self.user_properties.append((f"image.{name}", f"{image.get('file_version', '')} sha256:{image.get('sha256', '')}"))
        if record.verdict is Verdict.SKIP:
            pytest.skip(record.message)
        if record.verdict is not Verdict.PASS:
            raise PlanFailed(record)

    def _keep(self, record: RunRecord) -> None:
        self.config.stash[_STASH_RECORDS].append(record)
        outputs = self.config.stash[_STASH_OUTPUTS]
        record.run_id = outputs.run_id
        outputs.save(record.to_json())
        bench = getattr(self, "bench", None)
        if bench is not None and not bench.emulated and record.message.startswith("bench did not start"):
            self.session.shouldstop = "the stick did not open; the other plans would fail the same way"

    def _log_step(self, line: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and self.config.getoption("verbose") > 0:
            reporter.write_line(f"    {line}")
        from rig.report import live

        live.note(self.config, line)
        self.add_report_section("call", "steps", line)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, PlanLoadError):
            return str(excinfo.value)
        if isinstance(excinfo.value, PlanFailed):
            return excinfo.value.describe()
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, f"plan {self.name}" + (f": {self.plan.name}" if self.plan else "")


class PlanFailed(Exception):
    def __init__(self, record: RunRecord) -> None:
        super().__init__(record.message)
        self.record = record

    def describe(self) -> str:
        lines = [f"plan {self.record.plan_id} {self.record.verdict.value}: {self.record.message}"]
        for step in self.record.steps:
            mark = {"pass": "ok ", "fail": "FAIL", "error": "ERR ", "skip": "skip"}.get(step.verdict.value, "STOP")
            lines.append(f"  [{mark}] {step.index:>2}. {step.title}" + (f" -- {step.message}" if step.message else ""))
        return "\n".join(lines)


# ---- fixtures for tests written in Python -------------------------------------------------------
@pytest.fixture
def rig_bench(request: pytest.FixtureRequest):
    """The bench chosen with --rig-bench / --rig-radio (default: the emulated bench)."""
    return load_worker_bench(request.config)


try:
    import pytest_asyncio
except ImportError:  # the fixtures below need pytest-asyncio (installed with the [test] extra)
    pytest_asyncio = None

if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def rig(rig_bench, request: pytest.FixtureRequest):
        """The whole bench up (radio, hub, back end); add devices with `await rig.add_device(...)`."""
        from rig.plan.harness import RigHarness

        harness = await RigHarness(rig_bench, request.node.name).start()
        try:
            yield harness
        finally:
            await harness.stop()

    @pytest.fixture
    def hub(rig):
        return rig.hub

    @pytest.fixture
    def backend(rig):
        return rig.backend

    @pytest.fixture
    def clock(rig):
        return rig.clock

    @pytest.fixture
    def emulated_devices(rig):
        """`await emulated_devices("ppmid1", "ppmid")` adds and pairs an emulated device."""
        if rig.emulator is None:
            pytest.skip("emulated devices need an emulated bench")
        return rig.add_device


def _run_outputs(config: pytest.Config):
    """This run's folder and report folder; pytest-xdist workers share the controller's run id."""
    from rig.report.runs import RunOutputs, new_run_id

    worker = getattr(config, "workerinput", None) or {}
    run_id = config.getoption("--rig-run-id") or worker.get("rig_run_id") or new_run_id()
    return RunOutputs(run_id, record_dir=config.getoption("--rig-record-dir"),
                      report_dir=config.getoption("--rig-report"))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # pytest-xdist: one run folder for all workers
    node.workerinput["rig_run_id"] = node.config.stash[_STASH_OUTPUTS].run_id


def _progress(config: pytest.Config):
    """The live display's transfer progress (rig.report.live), when one is installed."""
    from rig.report import live

    return live.progress_for(config)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    records = config.stash.get(_STASH_RECORDS, [])
    outputs = config.stash.get(_STASH_OUTPUTS, None)
    if not records and outputs is not None and _ran_on_workers(config, outputs):
        path = outputs.write_report()  # pytest-xdist: the workers saved this run's records; one report
        terminalreporter.write_line(f"HAN OTA Rig report: {path}")
        if config.getoption("--rig-summary"):  # and one summary table, from every worker's records
            from rig.report.runs import records_in
            from rig.report.summary import summary_table

            mine = [RunRecord.from_json(r) for r in records_in(outputs.report_dir)
                    if (r.get("run") or {}).get("id") == outputs.run_id]
            terminalreporter.section("HAN OTA Rig: plan summary")
            terminalreporter.write_line(summary_table(mine))
        return
    if records and outputs is not None:
        path = outputs.write_report()  # every record in the report folder: earlier runs' too
        if path is not None:
            terminalreporter.write_line(f"HAN OTA Rig report: {path}")
        terminalreporter.write_line(f"HAN OTA Rig records: {outputs.records_folder()}")
    if records and (config.getoption("--rig-summary") or len(records) > 1):
        from rig.report.summary import summary_table

        terminalreporter.section("HAN OTA Rig: plan summary")
        terminalreporter.write_line(summary_table(records))


def _ran_on_workers(config: pytest.Config, outputs) -> bool:
    """The pytest-xdist controller (which runs no plan itself) of a run whose workers saved records into
    the report folder: the report is written once, here, from all of them."""
    if getattr(config, "workerinput", None) is not None or outputs.report_dir is None:
        return False
    from rig.report.runs import records_in

    return outputs.report_dir.is_dir() and any(
        (r.get("run") or {}).get("id") == outputs.run_id for r in records_in(outputs.report_dir))
