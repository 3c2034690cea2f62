"""Shared set-up for the benchmarks: the full stack in one process.

bellows (over the emulator's pty) <-> emulated EZSP NCP <-> simulated HAN <-> emulated devices, with
the hub's OTA server on the bellows side. Nothing is mocked: the same objects the hub integration
tests use, driven from a script.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/x.py` from a checkout without installing
    sys.path.insert(0, str(ROOT))

from rig.bench.session import EmulatedRadio, Session  # noqa: E402
from rig.clock import RealClock, VirtualClock  # noqa: E402
from rig.hub import Hub, HubConfig  # noqa: E402
from rig.hub.events import (  # noqa: E402
    ActivationPlan,
    TransferOutcome,
    TransferResult,
    VersionObserved,
    VersionSource,
)
from rig.image import build_image, parse_image  # noqa: E402

BENCH_FILE = ROOT / "fixtures" / "benches" / "emulated.yaml"
MFR, PPMID_TYPE, HW = 0x1234, 0x0101, 0x0100


def firmware(size: int, seed: int = 0) -> bytes:
    """Deterministic incompressible bytes (so a wrong block can never look right)."""
    return hashlib.shake_256(b"rig-bench-%d" % seed).digest(size)


def ppmid_image(total_size: int, version: int = 2, seed: int = 0) -> bytes:
    """A PPMID OTA file of about `total_size` bytes (header + integrity sub-element included)."""
    probe = build_image(b"", manufacturer_code=MFR, image_type=PPMID_TYPE, file_version=version,
                        min_hw_version=HW, max_hw_version=HW, integrity_code=True)
    body = max(1, total_size - len(probe))
    return build_image(firmware(body, seed), manufacturer_code=MFR, image_type=PPMID_TYPE, file_version=version,
                       min_hw_version=HW, max_hw_version=HW, integrity_code=True)


@dataclasses.dataclass
class TransferRun:
    size_bytes: int
    block: int
    seconds: float
    blocks: int
    process_cpu_s: float
    owners_s: dict[str, float] | None = None

    @property
    def bytes_per_s(self) -> float:
        return self.size_bytes / self.seconds

    @property
    def blocks_per_s(self) -> float:
        return self.blocks / self.seconds


def make_clock(kind: str) -> Any:
    if kind == "virtual":
        return VirtualClock()
    if kind == "real":
        return RealClock()
    raise ValueError(f"--clock: found {kind!r}, expected 'virtual' or 'real'")


def make_radio(remote: bool, clock: Any, **options: Any) -> EmulatedRadio:
    """The emulated stick on `clock` in this process, or (remote) in its own process on real time (the
    hub's clock is not shared with it)."""
    return EmulatedRadio(clock=clock, remote=remote, **options)


class HubRig:
    """A rig.bench.session.Session on the emulated stick, hub started. `async with HubRig(...) as rig:`.

    `remote=True` runs the emulator in a second process (rig.emu.remote, real time for the devices);
    the hub keeps `clock` for its own timers."""

    def __init__(self, *, clock: str = "virtual", hub_options: dict[str, Any] | None = None,
                 remote: bool = False, **emulator_options: Any) -> None:
        self.clock = make_clock(clock)
        self.remote = remote
        self.hub_options = hub_options or {}
        self.emulator_options = emulator_options
        self.startup_s = 0.0
        self.session: Session | None = None

    @property
    def emu(self) -> Any:
        return self.session.emulator if self.session is not None else None

    @property
    def hub(self) -> Hub | None:
        return self.session.hub if self.session is not None else None

    async def __aenter__(self) -> HubRig:
        radio = make_radio(self.remote, self.clock, ezsp_version=13, trace=False, **self.emulator_options)
        config = HubConfig.load(BENCH_FILE).with_options(db_path=None, **self.hub_options)
        self.session = Session(radio, config)
        await self.session.start()
        self.startup_s = self.session.hub_start_s
        # zigpy backs the network up right after startup (about 256 getChildData round trips); let
        # that finish so it is not charged to the first transfer.
        await wait_until(lambda: self.hub.app.backups.backups, timeout=30, what="zigpy's startup backup")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is None:
            return
        try:
            await self.session.stop()
        except Exception:  # noqa: BLE001 - report the original failure, not the teardown
            logging.getLogger(__name__).debug("session stop failed", exc_info=True)
        if self.emu.errors:  # a RemoteEmulator keeps them after stopping
            raise RuntimeError("emulated NCP recorded errors:\n  " + "\n  ".join(self.emu.errors))

    async def add_device(self, profile: str = "ppmid", *, block: int | None = None, link: Any = None,
                         **ota_overrides: Any) -> Any:
        """Join an emulated device and wait until zigpy has interviewed it."""
        from rig.emu.profiles import load_profile  # noqa: PLC0415

        assert self.session is not None
        prof = load_profile(profile)
        ota = dict(ota_overrides)
        if block is not None:
            ota["max_data_size"] = block
        if ota:
            prof = dataclasses.replace(prof, ota=dataclasses.replace(prof.ota, **ota))
        name = f"{profile}-{len(self.session.devices) + 1}"
        handle = self.session.add_device(name, prof, link=link)
        await self.session.pair(name, within=60)
        return handle.emulated

    async def upgrade(self, devices: list[Any], data: bytes | int, *, timeout: float = 3600,
                      until: str = "transferred") -> dict[str, float]:
        """Offer `data` (an image, or the id of one already stored) to every device at once; returns
        {ieee: seconds from the offers to ...}: with until="transferred", its SUCCESS transfer outcome
        (the hub's answer to Upgrade End); with until="running", the first Query Next Image after that
        which reports the new version (the device activated, rebooted, rejoined and asked again)."""
        assert self.hub is not None
        if until not in ("transferred", "running"):
            raise ValueError(f"until: found {until!r}, expected 'transferred' or 'running'")
        hub = self.hub
        loop = asyncio.get_running_loop()
        pending = {str(d.ieee): loop.create_future() for d in devices}
        transferred: dict[str, int] = {}  # ieee -> the new file version, once its transfer succeeded
        image_id = data if isinstance(data, int) else hub.store_image(data)  # validation is not transfer time
        t0 = time.perf_counter()

        def on_event(event: Any) -> None:
            fut = pending.get(getattr(event, "ieee", None))
            if fut is None or fut.done():
                return
            if isinstance(event, TransferOutcome):
                if until == "transferred" or event.result != TransferResult.SUCCESS:
                    fut.set_result((event.result, time.perf_counter() - t0, event.detail))
                else:
                    transferred[event.ieee] = event.file_version
            elif (isinstance(event, VersionObserved) and event.source is VersionSource.QUERY_NEXT_IMAGE
                  and transferred.get(event.ieee) == event.version):
                fut.set_result((TransferResult.SUCCESS, time.perf_counter() - t0, "running"))

        hub.subscribe(on_event)
        try:
            for ieee in pending:
                hub.offer(ieee, image_id, plan=ActivationPlan.NOW)
            done = await asyncio.wait_for(asyncio.gather(*pending.values()), timeout)
        finally:
            hub.unsubscribe(on_event)  # a bench upgrades hundreds of times on one hub
        failures = [(ieee, r, d) for ieee, (r, _, d) in zip(pending, done) if r != TransferResult.SUCCESS]
        if failures:
            raise RuntimeError(f"transfers failed: {failures}")
        return {ieee: s for ieee, (_, s, _) in zip(pending, done)}


async def wait_until(predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


async def wait_installed(dev: Any, data: bytes, timeout: float = 60.0) -> None:
    """The device activated the image (it runs its version: a device upgraded before holds the older
    image until then) and it is byte-identical to what was offered."""
    version = parse_image(data).header.file_version
    await wait_until(lambda: dev.flash.current_file_version == version, timeout,
                     f"device activates version {version}")
    if hashlib.sha256(bytes(dev.flash.installed_image)).digest() != hashlib.sha256(data).digest():
        raise RuntimeError(f"device {dev.ieee} installed an image that differs from the one offered")


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> str:
    """Plain-text table: columns are (key, header, format)."""
    head = [h for _, h, _ in columns]
    body = [[format(r[k], f) if r.get(k) is not None else "-" for k, _, f in columns] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    fmt = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in body])
