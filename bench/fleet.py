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

Prints aggregate throughput against one device upgrading alone on the same hub in the same run (the
median of --solo-runs upgrades, half before the fleet and half after), CPU per OTA frame for the lone
device and for the fleet, per-device completion time (min/median/max, from the offer to the hub's
TransferOutcome), WAIT_FOR_DATA answers sent, notifies held, and failures (must be 0: every device ends
with the image installed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

from harness import HubRig, ppmid_image, wait_installed, wait_until


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
        # hub, in the same run (offer to SUCCESS outcome, as for the fleet).
        app = rig.hub.app
        await rig.hub.permit(254)
        solo = rig.emu.add_device("ppmid")
        rig.hub.allow_device(str(solo.ieee), "ppmid")
        await rig.emu.join(solo)
        await wait_until(lambda: (z := app.devices.get(solo.ieee)) is not None and z.is_initialized,
                         timeout=30, what="the reference device interviewed")
        # A 2 kB upgrade takes a fraction of a second and this VM's speed drifts over minutes, so the
        # reference is the median of --solo-runs upgrades (versions 3, 4, ...), half taken before the
        # fleet joins and half after it has finished, to straddle the fleet's own minutes.
        version = iter(range(3, 3 + args.solo_runs))
        reference = Solo(rig, solo, sent)
        await reference.upgrades(args.solo_runs // 2, args.size, version)
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
        data = ppmid_image(args.size)
        t0, frames0, cpu0, emu0 = time.perf_counter(), sent.count, time.process_time(), _emu_cpu(rig)
        failures: list[str] = []
        try:
            per_device = await rig.upgrade(devices, data, timeout=args.timeout)
        except (RuntimeError, asyncio.TimeoutError) as exc:
            failures.append(repr(exc))
            per_device = {}
        total_s = time.perf_counter() - t0
        fleet_frames = max(1, sent.count - frames0)
        fleet_cpu_per_frame = (time.process_time() - cpu0) / fleet_frames
        fleet_emu_per_frame = (_emu_cpu(rig) - emu0) / fleet_frames if emu0 is not None else None
        for dev in devices:
            try:
                await wait_installed(dev, data, timeout=30)
            except (RuntimeError, TimeoutError) as exc:
                failures.append(f"{dev.ieee}: {exc}")
        await reference.upgrades(args.solo_runs - args.solo_runs // 2, args.size, version)
        solo_s = statistics.median(reference.runs)
        times = sorted(per_device.values())
        return {
            "devices": args.devices,
            "size_bytes": len(data),
            "max_concurrent": args.max_concurrent,
            "join_and_interview_s": round(join_s, 2),
            "seconds": round(total_s, 2),
            "aggregate_bytes_per_s": round(len(data) * len(times) / total_s, 1),
            "one_device_bytes_per_s": round(len(data) / solo_s, 1),
            "one_device_runs_s": [round(x, 3) for x in reference.runs],
            "aggregate_vs_one_device": round(len(data) * len(times) / total_s / (len(data) / solo_s), 2),
            # CPU of this process (hub + bellows/zigpy; with --in-process the emulator too) per OTA frame the
            # hub sent: the cost of a frame must not grow with the number of devices on the network
            "cpu_ms_per_frame_one_device": round(reference.cpu_per_frame * 1e3, 2),
            "cpu_ms_per_frame_fleet": round(fleet_cpu_per_frame * 1e3, 2),
            # the emulator's own process (default layout): the stick and every device
            "emu_cpu_ms_per_frame_one_device": _ms(reference.emu_per_frame),
            "emu_cpu_ms_per_frame_fleet": _ms(fleet_emu_per_frame),
            "device_min_s": round(times[0], 2) if times else None,
            "device_median_s": round(statistics.median(times), 2) if times else None,
            "device_max_s": round(times[-1], 2) if times else None,
            "wait_for_data_sent": sent.waits,
            "notify": args.notify,
            "notifies_held": rig.hub.pacer.held,
            "emulator": ("in-process" if args.in_process else "remote") + (", paced" if args.paced else ""),
            "failures": len(failures),
            "failure_detail": failures[:5],
        }


class SentFrames:
    """Counts the OTA frames the hub sends as it sends them (its frame log is trimmed on long runs)."""

    def __init__(self, rig: HubRig) -> None:
        assert rig.hub is not None
        self.count = 0
        self.waits = 0  # Image Block Responses with WAIT_FOR_DATA
        rig.hub.server.frame_listeners.append(self._on_frame)

    def _on_frame(self, frame: Any) -> None:
        if frame.direction == "tx":
            self.count += 1
            self.waits += frame.command == "IMAGE_BLOCK_RSP" and frame.status == 0x97


def _emu_cpu(rig: HubRig) -> float | None:
    """CPU seconds of the emulator's own process so far (None when it runs in this one)."""
    return rig.emu.process_cpu_s() if rig.remote else None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1e3, 2)


class Solo:
    """The reference device upgrading alone: wall seconds per upgrade, and CPU per OTA frame sent."""

    def __init__(self, rig: HubRig, device: Any, sent: SentFrames) -> None:
        self.rig, self.device, self.sent = rig, device, sent
        self.runs: list[float] = []
        self._cpu = 0.0
        self._emu: float | None = 0.0 if rig.remote else None
        self._frames = 0

    async def upgrades(self, count: int, size: int, versions: Any) -> None:
        for _ in range(count):
            frames0, cpu0, emu0 = self.sent.count, time.process_time(), _emu_cpu(self.rig)
            seconds = await self.rig.upgrade([self.device], ppmid_image(size, version=next(versions)))
            self._cpu += time.process_time() - cpu0
            if self._emu is not None:
                self._emu += _emu_cpu(self.rig) - emu0
            self._frames += self.sent.count - frames0
            self.runs.append(next(iter(seconds.values())))

    @property
    def cpu_per_frame(self) -> float:
        return self._cpu / max(1, self._frames)

    @property
    def emu_per_frame(self) -> float | None:
        return None if self._emu is None else self._emu / max(1, self._frames)


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
    p.add_argument("--solo-runs", type=int, default=10,
                   help="upgrades of the lone reference device, half before the fleet and half after; their "
                        "median is the one-device figure")
    p.add_argument("--notify", choices=("within-slots", "all"), default="within-slots",
                   help="within-slots (default): hub setting notify_within_slots, Image Notify only as download "
                        "slots free; all: every device notified at once, WAIT_FOR_DATA queues the rest")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.devices < 1 or args.max_concurrent < 1 or args.solo_runs < 2:
        p.error("--devices and --max-concurrent must be >= 1, --solo-runs >= 2")
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    return 0 if result["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
