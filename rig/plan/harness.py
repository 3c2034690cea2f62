"""The bench for people who write Python tests instead of YAML plans (the pytest fixtures use it)."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from rig.backend.fixtures import Device, duis_eui
from rig.bench.config import Bench
from rig.bench.session import GAS_SUPPLIER, IMPORT_SUPPLIER, DeviceHandle, Session, seed_for
from rig.image import parse_image
from rig.plan.context import PlanContext
from rig.plan.loader import Plan
from rig.report.record import RunRecord


class RigHarness:
    """An emulated (or real) bench with hub and back end up, and no devices until you add them."""

    def __init__(self, bench: Bench, name: str = "python-test") -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="rig-harness-")
        plan = Plan(Path(f"{name}.py"), name, "", [], [], {}, {}, {}, [])
        self.session = Session.for_bench(bench, Path(self._tmp.name), seed=seed_for(name))
        self.record = RunRecord(name, name, f"{name}.py", bench.identity())
        self.ctx = PlanContext(plan, self.session, self.record, log=lambda line: None)

    async def start(self) -> RigHarness:
        await self.ctx.start()
        return self

    async def stop(self) -> None:
        try:
            await self.ctx.stop()
        finally:
            self._tmp.cleanup()

    @property
    def hub(self):
        return self.session.hub

    @property
    def backend(self):
        return self.ctx.backend

    @property
    def clock(self):
        return self.session.clock

    @property
    def emulator(self):
        return self.session.emulator

    async def add_device(self, name: str, profile: str = "ppmid", *, pair: bool = True) -> DeviceHandle:
        """Add (emulated) or map (hardware) a device, tell the back end about it, and pair it."""
        handle = self.session.add_device(name, profile)
        model = self.ctx.model_of(handle)
        self.backend.fixtures.devices[handle.ieee] = Device(handle.ieee, handle.kind.upper(), model,
                                                            IMPORT_SUPPLIER, GAS_SUPPLIER)
        if pair:
            await self.session.pair(name)
        return handle

    def allow_image(self, data: bytes) -> None:
        """Put an image on the Central Products List for every device model on the bench."""
        image = parse_image(data)
        for handle in self.session.devices.values():
            self.backend.list_on_cpl(self.ctx.model_of(handle), image.manufacturer_code, image.image_type,
                                     image.file_version, hashlib.sha256(data).hexdigest())

    def device_id(self, name: str) -> str:
        """The DUIS form of a device's id (what service requests take)."""
        return duis_eui(self.session.devices[name].ieee)

    async def advance(self, seconds: float) -> None:
        await self.ctx.advance(seconds)

    async def wait_until(self, done, within: float) -> None:
        await self.ctx.wait_until(done, within)
