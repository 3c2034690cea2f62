"""`rig run --predict`: how long would these plans take on a real bench? (No radio is touched.)

Transfers are estimated with the paced-emulator model (rig.emu.pacing: UART at the bench's baud rate, air
time at 250 kbit/s with per-frame overhead and MAC/APS ACKs, device flash writes, host CPU per block);
waits the plan asks for (`wait`, `advance_clock`) are real time on a bench, so they count in full.
"""

from __future__ import annotations

import dataclasses

from rig.bench.config import Bench
from rig.plan.loader import DEFAULT_GENERATED_SIZE, Plan

BLOCK_SIZE = 40  # the hub's default cap (R-PLAT-07)
BOOT_SECONDS = 10.0  # a device's boot to its Device_annce and first query (a typical SE device; yours may differ)


@dataclasses.dataclass
class Prediction:
    plan_id: str
    transfers: int
    transfer_seconds: float
    waiting_seconds: float
    needs_emulated: bool

    @property
    def total_seconds(self) -> float:
        return self.transfer_seconds + self.waiting_seconds


def predict_plan(plan: Plan, bench: Bench) -> Prediction:
    from rig.emu.pacing import Pacing, predict_transfer

    from rig.bench.session import kind_of_profile

    pacing = Pacing.real_bench(baud=bench.hub.baudrate)
    hub = bench.hub.with_hub_settings(plan.settings.get("hub") or {}, f"{plan.path} settings.hub")
    sizes = {name: _image_size(ref) for name, ref in plan.images.items()}
    transfers, transfer_s, wait_s = 0, 0.0, 0.0
    for step in plan.steps:
        a = step.args
        if step.kind == "service_request" and a.get("image") in sizes and a.get("expect", "accepted") == "accepted":
            block = min(BLOCK_SIZE, bench.hub.block_size_cap)
            for device in a.get("devices") or []:
                transfers += 1
                paced = predict_transfer(sizes[a["image"]], block, pacing=pacing,
                                         ezsp_version=bench.hub.ezsp_version).seconds
                # MinimumBlockPeriod: the device waits at least this long from one request to the next
                period = hub.block_period_for(kind_of_profile(plan.devices[device].profile)).seconds
                transfer_s += max(paced, -(-sizes[a["image"]] // block) * period)
        elif step.kind in ("advance_clock", "wait", "hub_busy"):
            wait_s += a.get("by", a.get("for", 0.0))
        elif step.kind == "expect_activation":  # the CH reads the version this long after the transfer
            wait_s += bench.hub.version_check_delay_s
        elif step.kind == "power_cycle":  # off for the bench's off_for_s, then the device boots and rejoins
            wait_s += bench.power.off_for_s + BOOT_SECONDS
        elif step.kind == "expect_hub_frame" and a.get("max_count") is not None:  # watches its whole window
            wait_s += a.get("within", 0.0)
    return Prediction(plan.id, transfers, transfer_s, wait_s, "emulated" in plan.needs)


def _image_size(ref) -> int:
    if ref.file is not None:
        return ref.file.stat().st_size
    return int(ref.generate.get("size") or DEFAULT_GENERATED_SIZE)


def hms(seconds: float) -> str:
    seconds = int(round(seconds))
    d, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return (f"{d}d " if d else "") + f"{h:02d}:{m:02d}:{s:02d}"


def prediction_table(predictions: list[Prediction]) -> str:

    width = max([len(p.plan_id) for p in predictions] + [4])
    lines = [f"{'plan':<{width}}  transfers  transfer time  plan waits   total on a real bench",
             "-" * (width + 62)]
    for p in predictions:
        note = "  (emulated only: clock jumps, injected faults)" if p.needs_emulated else ""
        lines.append(f"{p.plan_id:<{width}}  {p.transfers:>9}  {hms(p.transfer_seconds):>13}  {hms(p.waiting_seconds):>10}"
                     f"   {hms(p.total_seconds)}{note}")
    total = sum(p.total_seconds for p in predictions if not p.needs_emulated)
    lines.append(f"hardware-runnable plans in all: {hms(total)}")
    return "\n".join(lines)
