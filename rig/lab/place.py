"""A labgrid place as the rig's bench: acquire and lock it, read its exported stick and power, release it.

    async with LabPlace("ppmid-1", wait_s=600) as place:     # or LabPlace.matching({"kind": "ppmid"})
        hub_port = place.serial_url()                      # rfc2217://exporter-host:port
        await place.power.cycle(off_seconds=2)

Release happens on normal end, on an exception and on Ctrl-C (the `async with` unwinds), and — when
the holding process dies without unwinding (SIGTERM's default action, SIGKILL, a crash) — through a
reaper process (rig.lab.reaper) that notices the dead holder and releases the place with labgrid's
`release-from`, which only releases it if it is still held by the same host/user.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import re
import subprocess
import sys
import time
from typing import Any, Callable, Iterator

from rig.lab import client
from rig.lab.client import LabgridError
from rig.lab.coordinator import Coordinator
from rig.lab.power import LabgridPower

LOGGER = logging.getLogger(__name__)
_TAG = re.compile(r"^[a-z][a-z0-9_]*$")  # labgrid's own rule for tag keys (TAG_KEY)


class PlaceLocked(LabgridError):
    def __init__(self, place: str, holder: str, waited_s: float = 0.0) -> None:
        self.place, self.holder = place, holder
        how = f" (waited {waited_s:.0f} s)" if waited_s else ""
        super().__init__(f"place {place} is locked by {holder}{how}")


class NoFreePlace(LabgridError):
    pass


def parse_tags(spec: str) -> dict[str, str]:
    """"kind=ppmid,site=lab2" -> {"kind": "ppmid", "site": "lab2"}; says which pair is wrong."""
    tags = {}
    for pair in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not _TAG.match(key) or not value:
            raise LabgridError(f"tag {pair!r} in {spec!r}: expected key=value with a lower-case key")
        tags[key] = value
    return tags


BENCH_PREFIX = "labgrid:"


@dataclasses.dataclass(frozen=True)
class BenchSpec:
    """`--rig-bench labgrid:PLACE` (one named place) or `labgrid:key=value[,key=value]` (any free place
    with those tags: what pytest-xdist workers use, each getting a different place)."""

    name: str | None = None
    tags: dict[str, str] | None = None

    def describe(self) -> str:
        if self.name is not None:
            return f"labgrid place {self.name}"
        return "a free labgrid place with " + ",".join(f"{k}={v}" for k, v in sorted((self.tags or {}).items()))


def parse_bench_spec(spec: str) -> BenchSpec | None:
    """None when `spec` is not a labgrid bench (a bench file path); LabgridError when it is but is malformed."""
    if not spec.startswith(BENCH_PREFIX):
        return None
    rest = spec[len(BENCH_PREFIX):].strip()
    if not rest:
        raise LabgridError(f"--rig-bench {spec!r}: expected labgrid:PLACE or labgrid:key=value[,key=value]")
    if "=" in rest:
        return BenchSpec(tags=parse_tags(rest))
    if "," in rest or "/" in rest or " " in rest:
        raise LabgridError(f"--rig-bench {spec!r}: {rest!r} is not a place name (one name; tags as key=value)")
    return BenchSpec(name=rest)


class LabPlace:
    """One labgrid place held by this process for a run.

    No coordinator session outlives a call: pytest runs each plan in its own event loop, and a gRPC
    session belongs to the loop it was opened in. Opening one costs a connection and one round trip.
    """

    def __init__(self, name: str, *, coordinator: str | None = None, wait_s: float = 0.0,
                 poll_s: float = 0.5, reservation: str | None = None,
                 on_wait: Callable[[str], None] | None = None) -> None:
        self.name = name
        self.on_wait = on_wait  # told once when the rig starts waiting for the place (a CI log shows why)
        self.coordinator = client.coordinator_address(coordinator)
        self.wait_s = wait_s
        self.poll_s = poll_s
        self.reservation = reservation  # token of the labgrid reservation that allocated it, if any
        self.holder: str | None = None  # "host/user" as the coordinator records it
        self.resources: list[tuple[str, dict[str, Any]]] = []
        self.tags: dict[str, str] = {}
        self.sticks: list[str] = []  # the serial ports' exporter paths: EXPORTER/GROUP/NetworkSerialPort/NAME
        self._reaper: subprocess.Popen | None = None

    # -- choosing a place -------------------------------------------------------------------------
    @classmethod
    async def from_spec(cls, spec: BenchSpec, *, coordinator: str | None = None, wait_s: float = 0.0,
                        on_wait: Callable[[str], None] | None = None) -> "LabPlace":
        """The place a bench spec names, or one chosen by its tags; acquire it with `async with`."""
        if spec.name is not None:
            return cls(spec.name, coordinator=coordinator, wait_s=wait_s, on_wait=on_wait)
        return await cls.matching(spec.tags or {}, coordinator=coordinator, wait_s=wait_s, on_wait=on_wait)

    @classmethod
    async def matching(cls, tags: dict[str, str], *, coordinator: str | None = None, wait_s: float = 0.0,
                       on_wait: Callable[[str], None] | None = None) -> "LabPlace":
        """A free place whose tags include `tags`, allocated by labgrid's reservation scheduler (so two
        pytest-xdist workers asking at once get different places). Acquire it with `async with`."""
        wanted = ",".join(f"{k}={v}" for k, v in sorted(tags.items()))
        async with Coordinator(coordinator) as lab:
            token = await lab.reserve(tags)
            try:
                deadline = time.monotonic() + wait_s
                if on_wait is not None and wait_s > 0 and await lab.allocation(token) is None:
                    on_wait(f"no free labgrid place with {wanted}: waiting up to {wait_s:g} s")
                # The scheduler allocates at creation when a matching place is free. Polling keeps a
                # waiting reservation alive; one nobody polls expires after 60 s (a dead worker blocks nothing).
                while (name := await lab.allocation(token)) is None and time.monotonic() < deadline:
                    await asyncio.sleep(1.0)  # real time: waiting for another job to release a place
            except BaseException:
                await lab.cancel(token)
                raise
            if name is None:
                await lab.cancel(token)
                raise NoFreePlace(f"no free labgrid place with {wanted} at {lab.address}"
                                  + (f" within {wait_s:g} s" if wait_s > 0 else ""))
        return cls(name, coordinator=coordinator, wait_s=wait_s, reservation=token, on_wait=on_wait)

    # -- lifecycle --------------------------------------------------------------------------------
    async def __aenter__(self) -> "LabPlace":
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()

    async def acquire(self) -> None:
        """Lock the place; if another holder has it, wait up to `wait_s`, then raise PlaceLocked."""
        started = time.monotonic()
        async with Coordinator(self.coordinator) as lab:
            try:
                await self._lock(lab, started)
            except BaseException:
                if self.reservation is not None:  # allocated to us but not taken: give it back
                    token, self.reservation = self.reservation, None
                    await lab.cancel(token)
                raise
            self.holder = client.identity()
            self._start_reaper()
            try:
                place = lab.place(self.name)
                self.tags = dict(place.tags)
                self.sticks = sorted("/".join(path) for path in place.acquired_resources
                                     if path[2] == "NetworkSerialPort")
                self.resources = lab.resources(self.name)
            except BaseException:
                await self._release_with(lab)
                raise
        LOGGER.info("acquired labgrid place %s as %s: %s", self.name, self.holder,
                    ", ".join(cls for cls, _ in self.resources))

    async def _lock(self, lab: Coordinator, started: float) -> None:
        lab.place(self.name)  # an unknown name says so, with the places there are
        while (refused := await lab.acquire(self.name)) is not None:
            place = lab.place(self.name)
            # Allocated to another job's reservation (choosing by tags) is held too, just not yet acquired.
            holder = place.acquired or (f"reservation {place.reservation}" if place.reservation else None)
            if holder is None:
                if "already acquired" in refused:
                    await lab.sync()  # released between our request and our copy of the places
                    continue
                raise LabgridError(f"cannot acquire labgrid place {self.name}: {refused}")
            waited = time.monotonic() - started
            if waited >= self.wait_s:
                raise PlaceLocked(self.name, holder, waited)
            if self.on_wait is not None:
                self.on_wait(f"place {self.name} is locked by {holder}: waiting up to {self.wait_s:g} s")
                self.on_wait = None  # once
            # Real time: another job or person holds the bench; our copy of the places is live.
            await asyncio.sleep(self.poll_s)

    async def release(self) -> None:
        """Release the place (and cancel the reservation that allocated it). If the coordinator cannot
        be told, the reaper is left to try again when this process ends, and the error says so."""
        if self.holder is None and self.reservation is None:
            return
        holder = self.holder
        try:
            async with Coordinator(self.coordinator) as lab:
                await self._release_with(lab)
        except LabgridError as exc:
            self.holder = self.reservation = None
            self._stop_reaper(released=False)  # nothing left to do if it was already told
            if holder is not None:
                raise LabgridError(f"labgrid place {self.name} was not released ({exc}); the rig retries when "
                                   f"it exits, else run: labgrid-client -x {self.coordinator} -p {self.name} "
                                   f"release-from {holder}") from None

    async def _release_with(self, lab: Coordinator) -> None:
        holder, self.holder = self.holder, None
        token, self.reservation = self.reservation, None
        refused = await lab.release_from(self.name, holder) if holder is not None else None
        if token is not None:
            why = await lab.cancel(token)
            if why:
                LOGGER.warning("labgrid reservation %s not cancelled: %s", token, why)
        if holder is None:
            return
        self._stop_reaper(released=refused is None)
        if refused is not None:
            raise LabgridError(refused)
        LOGGER.info("released labgrid place %s", self.name)

    # -- what the place offers --------------------------------------------------------------------
    def serial_url(self, name: str | None = None) -> str:
        """The stick: the place's NetworkSerialPort (ser2net on the exporter) as a URL serialx opens."""
        ports = [(args.get("name", cls), args) for cls, args in self.resources if cls == "NetworkSerialPort"]
        if name is not None:
            ports = [p for p in ports if p[0] == name]
        if len(ports) != 1:
            have = ", ".join(n for n, _ in ports) or "none"
            want = f"a NetworkSerialPort named {name!r}" if name else "exactly one NetworkSerialPort"
            raise LabgridError(f"labgrid place {self.name}: expected {want}, found {have}")
        args = ports[0][1]
        protocol = args.get("protocol", "rfc2217")
        if protocol == "rfc2217":
            from rig.lab import rfc2217

            rfc2217.install()  # ser2net 4 does not echo the state masks serialx waits for
            return f"rfc2217://{args['host']}:{args['port']}"
        if protocol == "raw":
            return f"socket://{args['host']}:{args['port']}"
        raise LabgridError(f"labgrid place {self.name}: serial protocol {protocol!r} (expected rfc2217 or raw)")

    @property
    def power(self) -> LabgridPower | None:
        """The place's power switch through labgrid's power drivers; None if it has no power resource."""
        powers = [args.get("name", cls) for cls, args in self.resources if cls in LabgridPower.RESOURCE_CLASSES]
        if not powers:
            return None
        return LabgridPower(self.name, coordinator=self.coordinator, names=tuple(powers))

    def power_named(self, name: str) -> LabgridPower:
        """One of several power resources, by the name the exporter gives it (`name:` on the resource)."""
        names = [args.get("name", cls) for cls, args in self.resources if cls in LabgridPower.RESOURCE_CLASSES]
        if name not in names:
            raise LabgridError(f"labgrid place {self.name}: no power resource named {name!r} "
                               f"(has: {', '.join(names) or 'none'})")
        return LabgridPower(self.name, coordinator=self.coordinator, name=name, names=tuple(names))

    def identity(self) -> dict[str, Any]:
        """What a report names: the place, where its stick is exported from, its tags."""
        hosts = sorted({str(args.get("host")) for cls, args in self.resources if cls == "NetworkSerialPort"})
        return {"place": self.name, "coordinator": self.coordinator, "exporter_host": ",".join(hosts),
                "stick": ",".join(self.sticks), "tags": dict(self.tags), "holder": self.holder}

    # -- crash safety -----------------------------------------------------------------------------
    def _start_reaper(self) -> None:
        cmd = [sys.executable, "-m", "rig.lab.reaper", "--coordinator", self.coordinator,
               "--place", self.name, "--holder", str(self.holder), "--pid", str(os.getpid())]
        # Its own session: a Ctrl-C to the terminal's process group must not take the reaper with us.
        self._reaper = subprocess.Popen(cmd, stdin=subprocess.PIPE, start_new_session=True,
                                        env=client.client_env())

    def _stop_reaper(self, released: bool = True) -> None:
        """Tell the reaper the place is released; otherwise it releases the place itself right now."""
        reaper, self._reaper = self._reaper, None
        if reaper is None:
            return
        with contextlib.suppress(OSError):
            if released:
                reaper.stdin.write(b"released\n")
            reaper.stdin.close()
        if not released:
            _DETACHED_REAPERS.append(reaper)  # left to do its job (and retries) on its own
            return
        try:
            reaper.wait(timeout=5)  # it exits as soon as it reads "released"
        except subprocess.TimeoutExpired:
            reaper.kill()
            reaper.wait()


_DETACHED_REAPERS: list[subprocess.Popen] = []


@contextlib.contextmanager
def hold_place(spec: str | BenchSpec, *, coordinator: str | None = None, wait_s: float = 0.0,
               on_wait: Callable[[str], None] | None = None) -> Iterator[LabPlace]:
    """Synchronous form for pytest hooks (no event loop running): hold the place a spec names, e.g.
    `hold_place("ppmid-1")`, `hold_place("labgrid:kind=ppmid")`; released on leaving the block."""
    if isinstance(spec, str):
        spec = parse_bench_spec(spec if spec.startswith(BENCH_PREFIX) else BENCH_PREFIX + spec)
    assert spec is not None

    async def enter() -> LabPlace:
        place = await LabPlace.from_spec(spec, coordinator=coordinator, wait_s=wait_s, on_wait=on_wait)
        await place.acquire()
        return place

    place = asyncio.run(enter())
    try:
        yield place
    finally:
        asyncio.run(place.release())
