"""Everything a run would trip over, found before a radio is touched: the bench file, where the outputs
go, the device profiles and images the plans name, and whether the hub can map each image's type.

Each problem is one line naming the file (and line where there is one) and what is expected. `rig run`
and `rig plans check` print them and exit; nothing here opens a port except `probe_radio`, which `rig run`
calls once (not once per plan) when every other check has passed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rig.bench.config import Bench
from rig.plan.loader import Plan

from rig.plan.exit_codes import EXIT_NOTHING_RAN, EXIT_RADIO, EXIT_USAGE  # noqa: F401 - re-exported


class Problem(Exception):
    """A problem that stops the run before it starts: one line, and the exit code it gets."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def check_bench(path: str | None, radio: str | None, *, default: str = "fixtures/benches/emulated.yaml") -> Bench:
    from rig.bench.config import BenchUnreadable, read_bench

    try:
        return read_bench(path, radio, default=default)
    except BenchUnreadable as exc:
        raise Problem(str(exc)) from None


def check_outputs(*, report: str | None, junitxml: str | None) -> None:
    """Refuse outputs that cannot be written, now, not after the plans ran for an hour."""
    if report:
        folder = Path(report)
        if folder.exists() and not folder.is_dir():
            raise Problem(f"--report {report}: is a file; the report needs a folder (it writes report.html, "
                          "captures and records into it)")
        _writable_folder(folder, "--report")
    if junitxml:
        target = Path(junitxml)
        if target.is_dir():
            raise Problem(f"--junitxml {junitxml}: is a folder; give a file name such as {target / 'junit.xml'}")
        if not target.parent.is_dir():
            raise Problem(f"--junitxml {junitxml}: the folder {target.parent} does not exist")
        if not os.access(target.parent, os.W_OK):
            raise Problem(f"--junitxml {junitxml}: cannot write into {target.parent}")


def _writable_folder(folder: Path, option: str) -> None:
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise Problem(f"{option} {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK):
        raise Problem(f"{option} {folder}: cannot write into {existing}")


def unmet_needs(plan: Plan, bench: Bench) -> str | None:
    """Why this bench cannot run the plan (its `needs:`), or None."""
    missing = [n for n in plan.needs if n not in bench.features]
    if not missing:
        return None
    return (f"plan needs {', '.join(missing)}; the bench {bench.name} with radio {bench.hub.radio} offers "
            f"{', '.join(bench.features)}")


def check_plan_resources(plan: Plan, bench: Bench | None) -> list[str]:
    """Profiles, images and image types the plan names: what the run would fail on at start-up."""
    problems: list[str] = []
    profiles: dict[str, Any] = {}
    hub = _hub_config(plan, bench)
    for name, ref in plan.devices.items():
        if bench is not None and not bench.emulated and name not in bench.devices:
            problems.append(f"{ref.pos}: devices.{name}: bench {bench.path} has no device '{name}' "
                            "(add it under devices: with its ieee and kind)")
        profile, problem = _profile(ref.profile)
        if problem:
            problems.append(f"{ref.pos}: devices.{name}.profile: {problem}")
        else:
            profiles[name] = profile
    for name, ref in plan.images.items():
        image_type, problem = None, None
        if ref.file is not None:
            image_type, problem = _image_file(ref.file)
            where = f"{ref.pos}: images.{name}.file"
            if ref.own and not problem and hub is not None:
                where = f"{ref.pos}: images.{name} (--image {ref.file})"
                problem = _own_file_refused(ref.file, hub)
        else:
            where = f"{ref.pos}: images.{name}.generate"
            like = (ref.generate or {}).get("like")
            if like not in plan.devices:
                problem = f"like: {like!r} is not a device of this plan ({', '.join(plan.devices) or 'none'})"
            elif like in profiles:
                image_type = profiles[like].image_type
        if problem:
            problems.append(f"{where}: {problem}")
        elif image_type is not None and hub is not None and hub.kind_of_image_type(image_type) is None:
            problems.append(f"{where}: image type 0x{image_type:04X} is not mapped to a device kind by the "
                            f"bench {bench.path} or the plan's settings.hub (known: {hub.known_image_types()}); "
                            "the hub would refuse the image")
    return problems


def _hub_config(plan: Plan, bench: Bench | None):
    """The hub's settings the run would use: the bench's, with the plan's settings.hub on top (its
    image_types add to the bench's), as rig.bench.session applies them. None without a bench; the
    bench's alone when the plan's settings are broken (the plan loader names that problem)."""
    if bench is None:
        return None
    try:
        return bench.hub.with_hub_settings(plan.settings.get("hub") or {}, f"{plan.path} settings.hub")
    except Exception:  # noqa: BLE001 - reported by the plan loader on its line
        return bench.hub


def _own_file_refused(path: Path, hub: Any) -> str | None:
    from rig.plan.own_image import hub_refusal

    why = hub_refusal(path.read_bytes(), hub)
    return f"the hub would refuse it: {why}" if why else None


def _profile(name: str) -> tuple[Any, str | None]:
    from rig.emu.profiles import ProfileError, load_profile

    try:
        return load_profile(name), None
    except ProfileError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a broken profile must be a line, not a traceback
        return None, f"{type(exc).__name__}: {exc}"


def _image_file(path: Path) -> tuple[int | None, str | None]:
    from rig.image.validate import parse_image

    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, f"{path}: cannot read: {exc.strerror or exc}"
    try:
        image = parse_image(data, source=str(path))
    except Exception as exc:  # noqa: BLE001 - ImageError lists every problem with its offset
        problems = [line.replace(f"{path}: ", "").strip() for line in str(exc).splitlines() if line.strip()]
        text = "; ".join(problems)
        return None, f"{path}: not a readable OTA image: " + (text if len(text) <= 300 else text[:297] + "...")
    return image.image_type, None


def probe_radio(bench: Bench, *, timeout: float = 15.0) -> None:
    """Open the bench's stick once, as `rig doctor` does; Problem(EXIT_RADIO) worded as it words it."""
    if bench.emulated:
        return
    import asyncio

    from rig.bench.doctor import probe

    flow = getattr(bench.hub, "flow_control", None)
    result = asyncio.run(probe(bench.hub.radio, baudrate=bench.hub.baudrate, flow_control=flow, timeout=timeout))
    if not result.ok:
        raise Problem(f"{bench.hub.radio}: no EZSP stick answered: {result.error} "
                      f"(try `rig doctor --port {bench.hub.radio}`)", EXIT_RADIO)
