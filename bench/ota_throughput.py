"""OTA throughput through the full stack: bellows over the pty, emulated NCP, emulated PPMID, hub OTA server.

    .venv/bin/python bench/ota_throughput.py                       # 50 kB, 350 kB, 750 kB, 50 B blocks
    .venv/bin/python bench/ota_throughput.py --sizes 50000 --block 40 --json
    .venv/bin/python bench/ota_throughput.py --sizes 750000 --stick both  # stock EmberZNet vs XNCP stick
    .venv/bin/python bench/ota_throughput.py --sizes 50000 --vs-zigpy
    .venv/bin/python bench/ota_throughput.py --sizes 20000 --paced  # charged real UART/air/flash time
    .venv/bin/python bench/ota_throughput.py --remote               # emulator in its own process (real time)
    .venv/bin/python bench/ota_throughput.py --remote --both        # in-process and remote, same run
    .venv/bin/python bench/ota_throughput.py --sizes 750000 --repeats 3 --vs-zigpy  # 3 passes, min/median/max

`seconds` runs from the offer to the device's last block (download complete); `to_outcome_s` to the
hub's TransferOutcome (after the device verified the image and sent Upgrade End). The CPU split is a
sampling profile of the event-loop thread (bench/sampler.py), in seconds, by owning package; with
--remote the emulator's own process is not sampled, its CPU seconds are the `emu proc` column.

On a shared VM one run measures the neighbours too (the same 100 kB transfer took 3.4 s and 8.9 s
within ten minutes here), so `--repeats N` runs the whole sweep N times, each pass with every size
and stack side by side, and adds a summary per size and stack: the fastest, median and slowest run
and, with --vs-zigpy, the median of the per-pass ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import statistics
import sys
import time
from typing import Any

from harness import HubRig, ppmid_image, table, wait_installed
from sampler import Sampler

from rig.emu.remote import RemoteDevice

DEFAULT_SIZES = (50_000, 350_000, 750_000)


async def rig_transfer(size: int, block: int, *, clock: str, pacing: Any, link: Any,
                       profile: Any = None, remote: bool = False, xncp: bool = False) -> dict[str, Any]:
    opts = _emulator_options(pacing, xncp)
    async with HubRig(clock=clock, hub_options={"block_size_cap": block}, remote=remote, **opts) as rig:
        dev = await rig.add_device("ppmid", block=block, link=link)
        data = ppmid_image(size)
        since = len(dev.ota.records)
        image_id = rig.hub.store_image(data)  # the hub validates the file first; not transfer time
        loop_task = asyncio.ensure_future(rig.upgrade([dev], image_id))
        emu_cpu0 = rig.emu.process_cpu_s() if remote else None
        cpu0, t0 = time.process_time(), time.perf_counter()
        with Sampler() as sampler:
            if profile is not None:
                profile.enable()
            try:
                await wait_downloaded(dev, len(data), since=since)
                download_s = time.perf_counter() - t0
                outcome = await loop_task
            finally:
                if profile is not None:
                    profile.disable()
        cpu = time.process_time() - cpu0
        emu_cpu = rig.emu.process_cpu_s() - emu_cpu0 if remote else None
        await wait_installed(dev, data)
        blocks = sum(1 for e in dev.ota.records[since:] if e.name == "block_received")
        return _row("rig", xncp=xncp, remote=remote, size=len(data), block=block, blocks=blocks,
                    download_s=download_s, to_outcome_s=round(next(iter(outcome.values())), 3),
                    startup_s=rig.startup_s, cpu=cpu, emu_cpu=emu_cpu, sampler=sampler)


async def zigpy_transfer(size: int, block: int, *, pacing: Any, link: Any, remote: bool = False,
                         xncp: bool = False) -> dict[str, Any]:
    """zigpy's own Device.update_firmware on the same emulated device type (HA-profile PPMID variant)."""
    import zigpy.config as zconf  # noqa: PLC0415
    import zigpy.device  # noqa: PLC0415
    import zigpy.ota  # noqa: PLC0415
    import zigpy.ota.image as ota_image  # noqa: PLC0415
    import zigpy.ota.providers as ota_providers  # noqa: PLC0415
    from bellows.zigbee.application import ControllerApplication  # noqa: PLC0415

    from harness import make_clock, make_radio, wait_until  # noqa: PLC0415
    from rig.emu.profiles import load_profile  # noqa: PLC0415
    import dataclasses  # noqa: PLC0415
    import hashlib  # noqa: PLC0415

    zigpy.device.AFTER_OTA_ATTR_READ_DELAY = 0.1  # after the transfer; not part of what is timed
    opts = _emulator_options(pacing, xncp)
    emu = make_radio(remote, make_clock("virtual"), ezsp_version=13, trace=False, **opts).emulator
    await emu.start()
    app = None
    try:
        t0 = time.perf_counter()
        app = await ControllerApplication.new({
            zconf.CONF_DEVICE: {zconf.CONF_DEVICE_PATH: emu.port},
            "use_thread": False,
            zconf.CONF_DATABASE: None,
            zconf.CONF_NWK: {zconf.CONF_NWK_CHANNEL: 15, zconf.CONF_NWK_PAN_ID: 0x1A62},
            zconf.CONF_TOPO_SCAN_ENABLED: False,
            zconf.CONF_OTA: {zconf.CONF_OTA_PROVIDERS: [], zconf.CONF_OTA_BROADCAST_ENABLED: False},
        }, auto_form=True, start_radio=True)
        startup = time.perf_counter() - t0
        prof = load_profile("ppmid-ha")
        prof = dataclasses.replace(prof, ota=dataclasses.replace(prof.ota, max_data_size=block))
        dev = emu.add_device(prof, link=link)
        await app.permit(30)
        await emu.join(dev)
        await wait_until(lambda: (z := app.devices.get(dev.ieee)) is not None and z.is_initialized
                         and z.model is not None, 30, "zigpy interview")
        data = ppmid_image(size)
        parsed, rest = ota_image.parse_ota_image(data)
        assert not rest
        image = zigpy.ota.OtaImageWithMetadata(
            metadata=ota_providers.BaseOtaImageMetadata(
                file_version=2, manufacturer_id=0x1234, image_type=0x0101, file_size=len(data),
                checksum="sha256:" + hashlib.sha256(data).hexdigest()),
            firmware=parsed,
        )
        since = len(dev.ota.records)
        emu_cpu0 = emu.process_cpu_s() if remote else None
        cpu0, t0 = time.process_time(), time.perf_counter()
        with Sampler() as sampler:
            task = asyncio.ensure_future(app.devices[dev.ieee].update_firmware(image))
            await wait_downloaded(dev, len(data), since=since)
            download_s = time.perf_counter() - t0
            result = await task
        cpu = time.process_time() - cpu0
        emu_cpu = emu.process_cpu_s() - emu_cpu0 if remote else None
        if int(result) != 0:
            raise RuntimeError(f"zigpy update_firmware returned {result!r}")
        await wait_installed(dev, data)
        records = dev.ota.records
        blocks = sum(1 for e in records[since:] if e.name == "block_received")
        # The rebooted device asks again and zigpy notifies it once more; let that exchange finish before
        # the port closes under zigpy's answers (else a "Transport is closed" traceback ends the run).
        seen = len(records)
        for _ in range(20):
            await asyncio.sleep(0.5)
            if len(now := dev.ota.records) == seen:
                break
            seen = len(now)
        return _row("zigpy", xncp=xncp, remote=remote, size=len(data), block=block, blocks=blocks,
                    download_s=download_s, to_outcome_s=None, startup_s=startup, cpu=cpu, emu_cpu=emu_cpu,
                    sampler=sampler)
    finally:
        if app is not None:
            await app.shutdown()
        await emu.stop()


def _emulator_options(pacing: Any, xncp: bool) -> dict[str, Any]:
    """Emulator keywords for a run: charged real time (paced) and/or an XNCP stick, else the defaults."""
    opts: dict[str, Any] = {"pacing": pacing} if pacing is not None else {}
    if xncp:
        opts["xncp"] = True
    return opts


def _row(stack: str, *, xncp: bool, remote: bool, size: int, block: int, blocks: int, download_s: float,
         to_outcome_s: float | None, startup_s: float, cpu: float, emu_cpu: float | None,
         sampler: Sampler) -> dict[str, Any]:
    """One result row, the same fields for the rig and for zigpy's own serving."""
    return {
        "stack": stack,
        "stick": "xncp" if xncp else "stock",
        "emulator": "remote" if remote else "in-process",
        "size_bytes": size,
        "block": block,
        "blocks": blocks,
        "seconds": round(download_s, 3),
        "to_outcome_s": to_outcome_s,
        "bytes_per_s": round(size / download_s, 1),
        "blocks_per_s": round(blocks / download_s, 1),
        "startup_s": round(startup_s, 3),
        "process_cpu_s": round(cpu, 3),
        "emu_process_cpu_s": None if emu_cpu is None else round(emu_cpu, 3),
        "cpu_s": _split(sampler.seconds()),
        "steal_pct": sampler.steal.percent,  # the machine's CPU its hypervisor took meanwhile (see sampler.py)
    }


async def wait_downloaded(dev: Any, size: int, *, since: int) -> None:
    """Until the device holds every byte. In-process: polled every 2 ms (no await on the device's own
    loop work); remote: the device's `download_complete` record, awaited in the emulator process."""
    if isinstance(dev, RemoteDevice):
        await dev.ota.wait_for_event("download_complete", timeout=None, since=since)
        return
    flash = dev.flash
    while len(flash.data) < size and flash.installed_image is None:
        await asyncio.sleep(0.002)


def _split(owners: dict[str, float]) -> dict[str, float]:
    return {"rig": owners["rig"], "bellows_zigpy": owners["bellows/zigpy"], "emulator": owners["emulator"],
            "loop_stdlib": owners["loop/stdlib"], "idle": owners["idle"]}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=_sizes, default=DEFAULT_SIZES,
                   help="comma-separated image sizes in bytes (default 50000,350000,750000)")
    p.add_argument("--block", type=int, choices=(40, 50), default=50,
                   help="block size in bytes (default 50; the hub's GB-safe cap in fixtures/benches is 40)")
    p.add_argument("--stick", choices=("stock", "xncp", "both"), default="stock",
                   help="emulated stick firmware: stock EmberZNet (default), with the XNCP extension "
                        "(combined send, rig.emu.ncp_xncp), or both side by side")
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    p.add_argument("--vs-zigpy", action="store_true", help="also run zigpy's Device.update_firmware; print ratio")
    p.add_argument("--paced", action="store_true",
                   help="charge real time: UART 115200 8N1, 250 kbit/s air per hop, device flash writes")
    p.add_argument("--latency-ms", type=float, default=None,
                   help="simulated air latency per direction (default: the emulator's LinkModel default)")
    p.add_argument("--clock", choices=("virtual", "real"), default="virtual", help="rig clock (default virtual)")
    p.add_argument("--remote", action="store_true",
                   help="run the emulator in its own process (rig.emu.remote; devices on real time)")
    p.add_argument("--both", action="store_true",
                   help="run each size in-process first, then with the remote emulator (side by side, same run)")
    p.add_argument("--cprofile", metavar="FILE", help="also write a cProfile of the rig transfers to FILE")
    p.add_argument("--repeats", type=_positive, default=1,
                   help="run the whole sweep N times and summarise each size and stack (default 1)")
    return p.parse_args(argv)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"found {text!r}, expected a whole number >= 1")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes: found {text!r}, expected comma-separated byte counts") from None
    if not sizes or any(s < 1000 for s in sizes):
        raise argparse.ArgumentTypeError(f"--sizes: found {text!r}, expected sizes >= 1000 bytes")
    return sizes


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from rig.emu import LinkModel  # noqa: PLC0415

    pacing = None
    if args.paced:
        from rig.emu.pacing import Pacing  # noqa: PLC0415

        pacing = Pacing.real_bench()
    link = LinkModel(latency_s=args.latency_ms / 1000) if args.latency_ms is not None else None
    profile = cProfile.Profile() if args.cprofile else None
    rows = []
    modes = [False, True] if args.both else [args.remote]
    sticks = {"stock": [False], "xncp": [True], "both": [False, True]}[args.stick]
    for repeat in range(1, args.repeats + 1):
        for size in args.sizes:
            for remote, xncp in ((r, x) for r in modes for x in sticks):
                row = await rig_transfer(size, args.block, clock=args.clock, pacing=pacing, link=link,
                                         profile=profile, remote=remote, xncp=xncp)
                row["repeat"] = repeat
                if pacing is not None:
                    row["predicted_s"] = round(pacing.predict_transfer_seconds(row["size_bytes"], args.block), 1)
                rows.append(row)
                _emit(args, row)
                if args.vs_zigpy:
                    zrow = await zigpy_transfer(size, args.block, pacing=pacing, link=link, remote=remote,
                                                xncp=xncp)
                    zrow["repeat"] = repeat
                    zrow["ratio"] = round(row["bytes_per_s"] / zrow["bytes_per_s"], 2)
                    rows.append(zrow)
                    _emit(args, zrow)
    if profile is not None:
        profile.dump_stats(args.cprofile)
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per stack, stick, emulator and size: how many runs, the fastest, median and slowest seconds, the
    median steal and (zigpy rows) the median rig/zigpy ratio of the passes."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["stack"], r["stick"], r["emulator"], r["size_bytes"]), []).append(r)
    out = []
    for (stack, stick, emulator, size), runs in groups.items():
        seconds = sorted(r["seconds"] for r in runs)
        steal = [r["steal_pct"] for r in runs if r.get("steal_pct") is not None]
        ratios = [r["ratio"] for r in runs if "ratio" in r]
        out.append({
            "summary": True, "stack": stack, "stick": stick, "emulator": emulator, "size_bytes": size,
            "runs": len(runs), "seconds_min": seconds[0], "seconds_median": round(statistics.median(seconds), 3),
            "seconds_max": seconds[-1], "bytes_per_s_best": round(size / seconds[0], 1),
            "steal_pct_median": round(statistics.median(steal), 1) if steal else None,
            "ratio_median": round(statistics.median(ratios), 2) if ratios else None,
        })
    return out


def _emit(args: argparse.Namespace, row: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(row), flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = asyncio.run(run(args))
    if not args.json:
        flat = [{**r, **{f"cpu_{k}": v for k, v in r["cpu_s"].items()}} for r in rows]
        cols = [("stack", "stack", ""), ("stick", "stick", ""), ("emulator", "emulator", ""), ("size_bytes", "bytes", "d"), ("block", "blk", "d"),
                ("seconds", "s", ".2f"), ("bytes_per_s", "B/s", ".0f"), ("blocks_per_s", "blk/s", ".0f"),
                ("to_outcome_s", "outcome s", ".2f"), ("startup_s", "startup s", ".2f"),
                ("process_cpu_s", "cpu s", ".2f"), ("cpu_rig", "rig", ".2f"), ("cpu_bellows_zigpy", "bellows+zigpy", ".2f"),
                ("cpu_emulator", "emu", ".2f"), ("cpu_loop_stdlib", "loop", ".2f"), ("cpu_idle", "idle", ".2f")]
        if args.repeats > 1:
            cols.insert(0, ("repeat", "pass", "d"))
        if any(r.get("steal_pct") is not None for r in rows):
            cols.append(("steal_pct", "steal %", ".1f"))
        if any(r.get("emu_process_cpu_s") is not None for r in rows):
            cols.append(("emu_process_cpu_s", "emu proc cpu s", ".2f"))
        if any("ratio" in r for r in rows):
            cols.append(("ratio", "rig/zigpy", ".2f"))
        if any("predicted_s" in r for r in rows):
            cols.append(("predicted_s", "predicted s", ".1f"))
        print(table(flat, cols))
    if args.repeats > 1:
        summary = summarise(rows)
        if args.json:
            for row in summary:
                print(json.dumps(row), flush=True)
        else:
            cols = [("stack", "stack", ""), ("stick", "stick", ""), ("emulator", "emulator", ""),
                    ("size_bytes", "bytes", "d"), ("runs", "runs", "d"), ("seconds_min", "fastest s", ".2f"),
                    ("seconds_median", "median s", ".2f"), ("seconds_max", "slowest s", ".2f"),
                    ("bytes_per_s_best", "best B/s", ".0f"), ("steal_pct_median", "median steal %", ".1f")]
            if any(r["ratio_median"] is not None for r in summary):
                cols.append(("ratio_median", "median rig/zigpy", ".2f"))
            print()
            print(table(summary, cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
