"""A fleet upgrading at once: N emulated PPMIDs on one hub, rate limited to --max-concurrent downloads.

    .venv/bin/python bench/fleet.py                     # 100 devices, 2 kB images, 4 concurrent downloads
    .venv/bin/python bench/fleet.py --notify all        # every device notified at once (WAIT_FOR_DATA queues)
    .venv/bin/python bench/fleet.py --devices 20 --size 5000 --max-concurrent 2 --json
    .venv/bin/python bench/fleet.py --in-process        # the emulated stick and devices in this process

The emulated stick and its devices run in their own process (rig.emu.remote) unless --in-process: on a
bench the stick and each device have processors of their own, and with 101 emulated radios on the hub's
one core a fleet could only ever share that core, never add to it.

The hub lets `--max-concurrent` downloads run (hub max_concurrent_downloads). With `--notify within-slots`
(the default; hub setting notify_within_slots) it notifies only as many devices as there are free slots
and the next one when a download ends; with `--notify all` every device is notified at once and block
requests beyond the slots are answered WAIT_FOR_DATA (`--wait-s` seconds) until a slot frees.

The fleet upgrades --repeats times (versions 2, 3, ...) on a settled network (no frame for 1 s: joins,
interviews and power-up queries are over). Each fleet upgrade is compared side by side with one device
upgrading alone on the same hub: the median of the --solo-runs upgrades just before it and just after
it. An upgrade is done, for the fleet's devices and the lone one alike, when the device runs the new
image (its first Query Next Image reporting the new version, after activating and rejoining), or with
`--until transferred` when the hub answers its Upgrade End.

Prints, per fleet upgrade, its time, aggregate throughput, the one-device figure beside it and their
ratio, and the median ratio (`aggregate_vs_one_device`); CPU per OTA frame for the lone device and for
the fleet; per-device completion time (min/median/max over all fleet upgrades); the share of the
machine's CPU its hypervisor took during each fleet upgrade and each block of lone runs (steal: on a
shared VM it is the noise); WAIT_FOR_DATA answers sent, notifies held, and failures (must be 0: every
device ends with the image installed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import json
import statistics
import sys
import time
from collections.abc import Iterator
from typing import Any

from harness import HubRig, ppmid_image, wait_installed, wait_until
from rig.hub.upstream import wrap_packet_path
from sampler import StealMeter


async def run(args: argparse.Namespace) -> dict[str, Any]:
    hub_options = {"max_concurrent_downloads": args.max_concurrent, "wait_for_data_delay_s": args.wait_s,
                   "notify_within_slots": args.notify == "within-slots"}
    emulator_options: dict[str, Any] = {}
    if args.paced:
        from rig.emu.pacing import Pacing  # noqa: PLC0415

        emulator_options["pacing"] = Pacing.real_bench()
    async with HubRig(hub_options=hub_options, remote=not args.in_process, **emulator_options) as rig:
        sent = SentFrames(rig)
        # The reference the goal compares with: one device upgrading the same size alone, on the same
        # hub, in the same run, to the same end point (--until) as the fleet's devices.
        app = rig.hub.app
        await rig.hub.permit(254)
        solo = rig.emu.add_device("ppmid")
        rig.hub.allow_device(str(solo.ieee), "ppmid")
        await rig.emu.join(solo)
        await wait_until(lambda: (z := app.devices.get(solo.ieee)) is not None and z.is_initialized,
                         timeout=30, what="the reference device interviewed")
        await sent.settled()
        # This VM's speed drifts by a third within a minute, so each fleet upgrade is compared with the
        # lone device's runs just before and just after it (--solo-runs on each side), and the figure is
        # the median of --repeats such side-by-side pairs.
        reference = Solo(rig, solo, sent, args.until, itertools.count(1000))
        await reference.upgrades(args.solo_runs, args.size)
        t_join = time.perf_counter()
        devices = []
        for _ in range(args.devices):
            dev = rig.emu.add_device("ppmid")
            rig.hub.allow_device(str(dev.ieee), "ppmid")
            await rig.emu.join(dev)
            devices.append(dev)
        await wait_until(lambda: all((z := app.devices.get(d.ieee)) is not None and z.is_initialized for d in devices),
                         timeout=30 + args.devices, what=f"{args.devices} devices interviewed")
        join_s = time.perf_counter() - t_join
        failures: list[str] = []
        rounds: list[FleetRound] = []
        fleet = FrameCost()
        for repeat in range(args.repeats):
            # A bench upgrades a network that joined (or last upgraded) a while ago, as the reference
            # device's runs do: wait out the tail (zigpy's reads, each device's power-up Query Next
            # Image) so the fleet's time is upgrading, not 100 devices' join chatter.
            t_settle = time.perf_counter()
            await sent.settled(timeout=30 + args.devices)
            settle_s = time.perf_counter() - t_settle
            first_solo = len(reference.runs) - args.solo_runs
            data = ppmid_image(args.size, version=2 + repeat)
            with fleet.measure(rig, sent), StealMeter() as steal:
                t0 = time.perf_counter()
                try:
                    per_device = await rig.upgrade(devices, data, timeout=args.timeout, until=args.until)
                except (RuntimeError, asyncio.TimeoutError) as exc:
                    failures.append(repr(exc))
                    per_device = {}
                total_s = time.perf_counter() - t0
            for dev in devices:
                try:
                    await wait_installed(dev, data, timeout=30)
                except (RuntimeError, TimeoutError) as exc:
                    failures.append(f"{dev.ieee}: {exc}")
            await reference.upgrades(args.solo_runs, args.size)
            rounds.append(FleetRound(total_s, settle_s, sorted(per_device.values()),
                                     statistics.median(reference.runs[first_solo:]), steal.percent))
        size = len(data)
        ratios = [r.aggregate_bytes_per_s(size) / (size / r.solo_s) for r in rounds]
        times = sorted(t for r in rounds for t in r.device_s)
        return {
            "devices": args.devices,
            "size_bytes": size,
            "max_concurrent": args.max_concurrent,
            "join_and_interview_s": round(join_s, 2),
            "settle_s": [round(r.settle_s, 2) for r in rounds],
            "seconds": [round(r.seconds, 2) for r in rounds],
            "aggregate_bytes_per_s": [round(r.aggregate_bytes_per_s(size), 1) for r in rounds],
            "one_device_bytes_per_s": [round(size / r.solo_s, 1) for r in rounds],
            "one_device_runs_s": [round(x, 3) for x in reference.runs],
            "aggregate_vs_one_device_runs": [round(x, 2) for x in ratios],
            "aggregate_vs_one_device": round(statistics.median(ratios), 2),
            # the machine's CPU its hypervisor took during each fleet upgrade and each block of lone runs
            # (before the first, then after each): a pair with much more in one than the other is noise
            "steal_pct_fleet": [r.steal_pct for r in rounds],
            "steal_pct_one_device": reference.steal_pct,
            # CPU of this process (hub + bellows/zigpy; with --in-process the emulator too) per OTA frame the
            # hub sent: the cost of a frame must not grow with the number of devices on the network
            "cpu_ms_per_frame_one_device": round(reference.cost.cpu_per_frame * 1e3, 2),
            "cpu_ms_per_frame_fleet": round(fleet.cpu_per_frame * 1e3, 2),
            # OTA frames the hub sent per upgraded device: a fleet that needs more (notifies, refused
            # queries while waiting for a slot, WAIT_FOR_DATA) loses throughput even at the same cost a frame
            "frames_per_device_one_device": round(reference.cost.frames / max(1, len(reference.runs)), 1),
            "frames_per_device_fleet": round(fleet.frames / max(1, args.devices * len(rounds)), 1),
            # the emulator's own process (default layout): the stick and every device
            "emu_cpu_ms_per_frame_one_device": _ms(reference.cost.emu_per_frame),
            "emu_cpu_ms_per_frame_fleet": _ms(fleet.emu_per_frame),
            "device_min_s": round(times[0], 2) if times else None,
            "device_median_s": round(statistics.median(times), 2) if times else None,
            "device_max_s": round(times[-1], 2) if times else None,
            "wait_for_data_sent": sent.waits,
            "notify": args.notify,
            "until": args.until,
            "notifies_held": rig.hub.pacer.held,
            "emulator": ("in-process" if args.in_process else "remote") + (", paced" if args.paced else ""),
            "failures": len(failures),
            "failure_detail": failures[:5],
        }


@dataclasses.dataclass
class FleetRound:
    seconds: float  # offers to the last device done
    settle_s: float
    device_s: list[float]  # per device, offer to done
    solo_s: float  # the lone device's median upgrade just before and after this round
    steal_pct: float | None  # the machine's CPU its hypervisor took during this round (sampler.StealMeter)

    def aggregate_bytes_per_s(self, size: int) -> float:
        return size * len(self.device_s) / self.seconds


class FrameCost:
    """CPU per OTA frame the hub sent while measured (this process and the emulator's)."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.emu: float | None = 0.0
        self.frames = 0

    @contextlib.contextmanager
    def measure(self, rig: HubRig, sent: SentFrames) -> Iterator[None]:
        frames0, cpu0, emu0 = sent.count, time.process_time(), _emu_cpu(rig)
        yield
        self.cpu += time.process_time() - cpu0
        self.frames += sent.count - frames0
        self.emu = None if emu0 is None or self.emu is None else self.emu + _emu_cpu(rig) - emu0

    @property
    def cpu_per_frame(self) -> float:
        return self.cpu / max(1, self.frames)

    @property
    def emu_per_frame(self) -> float | None:
        return None if self.emu is None else self.emu / max(1, self.frames)


class SentFrames:
    """Counts the OTA frames the hub sends as it sends them (its frame log is trimmed on long runs), and
    notes when the hub last heard any frame (`settled()`)."""

    def __init__(self, rig: HubRig) -> None:
        assert rig.hub is not None
        self.count = 0
        self.waits = 0  # Image Block Responses with WAIT_FOR_DATA
        rig.hub.frame_logged.connect(self._on_frame)
        self.heard_at = time.perf_counter()  # the last frame of any cluster the hub received

        def heard(packet: Any) -> None:
            self.heard_at = time.perf_counter()

        # the bench's own ears on zigpy's packet path, through the hub's one fence around upstream internals
        wrap_packet_path(rig.hub.app, on_rx=heard, on_tx=lambda packet: None)

    def _on_frame(self, frame: Any) -> None:
        if frame.direction == "tx":
            self.count += 1
            self.waits += frame.command == "IMAGE_BLOCK_RSP" and frame.status == 0x97

    async def settled(self, *, quiet_s: float = 1.0, timeout: float = 60.0) -> None:
        """No frame from any device for `quiet_s`: joins, interviews and power-up queries are over."""
        await wait_until(lambda: time.perf_counter() - self.heard_at >= quiet_s,
                         timeout=timeout, what="the network to settle after joining")


def _emu_cpu(rig: HubRig) -> float | None:
    """CPU seconds of the emulator's own process so far (None when it runs in this one)."""
    return rig.emu.process_cpu_s() if rig.remote else None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1e3, 2)


class Solo:
    """The reference device upgrading alone: wall seconds per upgrade, CPU per OTA frame sent, steal."""

    def __init__(self, rig: HubRig, device: Any, sent: SentFrames, until: str, versions: Iterator[int]) -> None:
        self.rig, self.device, self.sent, self.until, self.versions = rig, device, sent, until, versions
        self.runs: list[float] = []
        self.cost = FrameCost()
        self.steal_pct: list[float | None] = []  # per call of upgrades()

    async def upgrades(self, count: int, size: int) -> None:
        with StealMeter() as steal:
            for _ in range(count):
                image = ppmid_image(size, version=next(self.versions))
                with self.cost.measure(self.rig, self.sent):
                    seconds = await self.rig.upgrade([self.device], image, until=self.until)
                self.runs.append(next(iter(seconds.values())))
        self.steal_pct.append(steal.percent)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devices", type=int, default=100)
    p.add_argument("--size", type=int, default=2_000, help="image size in bytes (default 2000)")
    p.add_argument("--max-concurrent", type=int, default=4, help="hub max_concurrent_downloads (default 4)")
    p.add_argument("--wait-s", type=int, default=1, help="WAIT_FOR_DATA delay the hub asks for (default 1 s)")
    p.add_argument("--timeout", type=float, default=900.0)
    p.add_argument("--in-process", action="store_true",
                   help="run the emulated stick and devices in this process (default: their own process, a core "
                        "of their own as a real stick has)")
    p.add_argument("--paced", action="store_true",
                   help="charge real UART (115200 baud), air (250 kbit/s) and device time, as on a bench")
    p.add_argument("--solo-runs", type=int, default=5,
                   help="upgrades of the lone reference device before and after each fleet upgrade; the median "
                        "of those either side of it is that fleet upgrade's one-device figure")
    p.add_argument("--repeats", type=int, default=3,
                   help="fleet upgrades (versions 2, 3, ...), each compared with the lone device side by side; "
                        "aggregate_vs_one_device is the median of their ratios")
    p.add_argument("--notify", choices=("within-slots", "all"), default="within-slots",
                   help="within-slots (default): hub setting notify_within_slots, Image Notify only as download "
                        "slots free; all: every device notified at once, WAIT_FOR_DATA queues the rest")
    p.add_argument("--until", choices=("running", "transferred"), default="running",
                   help="when an upgrade counts as done, for the fleet and the lone device alike: running "
                        "(default): the device's first Query Next Image with the new version, after it "
                        "activated and rejoined; transferred: the hub's answer to its Upgrade End")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if min(args.devices, args.max_concurrent, args.solo_runs, args.repeats) < 1:
        p.error("--devices, --max-concurrent, --solo-runs and --repeats must be >= 1")
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    return 0 if result["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
