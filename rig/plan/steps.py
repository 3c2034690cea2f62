"""The step library: one async function per step kind in rig.plan.schema.STEPS.

Steps talk to the bench through the PlanContext: the back end (service requests, alerts, register), the
hub (outcomes, conformance, over-the-air reads) and, on emulated benches only, the emulated devices
(faults). Anything a real bench can do too goes through the hub, so the same plan runs on hardware.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rig.backend.fixtures import duis_eui
from rig.bench.session import GAS_SUPPLIER, IMPORT_SUPPLIER, BenchProblem
from rig.hub.errors import HubError
from rig.hub.events import ActivationOutcome, ActivationResult, TransferOutcome, TransferResult, VersionSource
from rig.image import parse_image
from rig.image.ota_cluster import Status
from rig.plan.context import PlanContext, StepFailed
from rig.plan.step_helpers import _alert_filter, _describe, _emulated
from rig.plan.step_registry import step
from rig.report.record import Measurement

def _supplier(name: str) -> str:
    return {"import": IMPORT_SUPPLIER, "gas": GAS_SUPPLIER}.get(name, name)


def _device_ids(ctx: PlanContext, names: list[str]) -> list[str]:
    return [duis_eui(ctx.session.devices[n].ieee) for n in names]


# ---- service requests --------------------------------------------------------------------------
@step("service_request")
async def service_request(ctx: PlanContext, a: dict[str, Any]) -> None:
    backend = ctx.backend
    user = _supplier(a.get("supplier", "import"))
    names = a.get("devices") or []
    sr = a["sr"]
    image = ctx.images.get(a.get("image", "")) if a.get("image") else None
    version = f"{parse_image(image).file_version:08X}" if image is not None else None
    at = ctx.clock.now() + a["execute_in"] if "execute_in" in a else None
    if sr in ("11.4", "11.1") and image is None:
        raise StepFailed(f"SR {sr} needs image:")
    if sr in ("11.4", "11.1", "11.3", "11.2") and not names:
        raise StepFailed(f"SR {sr} needs devices:")
    responses = []
    if sr == "11.4":
        responses.append(backend.update_ppmid_firmware(user, image, version, _device_ids(ctx, names), execution_time=at))
    elif sr == "11.1":
        for dev in _device_ids(ctx, names):
            responses.append(backend.update_firmware(user, image, version, dev))
    elif sr == "11.3":
        for dev in _device_ids(ctx, names):
            responses.append(backend.activate_firmware(user, dev, execution_time=at))
    elif sr == "11.2":
        for dev in _device_ids(ctx, names):
            responses.append(await backend.read_firmware_version(user, dev, over_the_air=True))
    elif sr == "cs06":
        ch = duis_eui(ctx.ch_ieee())
        target = a.get("ch_version", 0x00020000)
        response = backend.activate_comms_hub_firmware(ch, f"{target:08X}", security=True)
        responses.append(response)
        if response.accepted:
            ok = "ch_version" in a
            for _ in range(2 if a.get("duplicate_response") else 1):
                backend.comms_hub_activation_response(response.request_id, ch_id=ch, firmware_version=f"{target:08X}",
                                                      success=ok)
    for response in responses:
        ctx.event("sr", None, actor="DSP", to="CSP",
                  detail=f"SR {sr} {response.request_id}: {'accepted' if response.accepted else 'rejected'} "
                         f"{response.response_code} {response.reason}".strip())
    if a.get("save_as"):
        ctx.requests[a["save_as"]] = responses[0].request_id
    want_accepted = a.get("expect", "accepted") == "accepted"
    for response in responses:
        if response.accepted != want_accepted:
            raise StepFailed(f"SR {sr} was {'accepted' if response.accepted else 'rejected'} "
                             f"({response.response_code} {response.reason}".rstrip() + "), expected "
                             + a.get("expect", "accepted"))
        if sr == "11.2" and response.firmware_version is not None:
            ctx.event("version_read", names[0] if names else None, detail=f"0x{response.firmware_version:08X}")
    if "expect_warning" in a:
        codes = [c for r in responses for c in r.warning_codes()]
        if a["expect_warning"] not in codes:
            raise StepFailed(f"expected warning {a['expect_warning']}, got {codes or 'none'}")
    await backend.drain()


# ---- alerts ------------------------------------------------------------------------------------
@step("await_alert")
async def await_alert(ctx: PlanContext, a: dict[str, Any]) -> None:
    match = _alert_filter(ctx, a)
    key = tuple(sorted((k, str(v)) for k, v in match.items()))
    after = ctx.alert_cursor.get(key, 0)
    found = []

    def arrived() -> bool:
        if not found:
            found.extend(ctx.backend.alerts.list(match, after=after)[:1])
        return bool(found)

    try:
        await ctx.wait_until(arrived, a["within"])
    except (asyncio.TimeoutError, TimeoutError):
        seen = [f"{x.code}/{x.fields.get('ResponseCode', '-')}" for x in ctx.backend.alerts.list(after=after)]
        raise StepFailed(f"no alert {_describe(a)} within {a['within']:g} s of rig time "
                         f"(alerts since: {', '.join(seen) or 'none'})") from None
    alert = found[0]
    ctx.alert_cursor[key] = alert.seq
    ctx.event("alert", ctx.device_name(alert.device or ""), actor="DSP", to="supplier",
              detail=f"{alert.code} {alert.fields}")


@step("expect_no_alert")
async def expect_no_alert(ctx: PlanContext, a: dict[str, Any]) -> None:
    found = ctx.backend.alerts.list(_alert_filter(ctx, a))
    if found:
        raise StepFailed(f"alert {_describe(a)} was raised {len(found)} time(s): {found[0].fields}")


@step("expect_alert_count")
async def expect_alert_count(ctx: PlanContext, a: dict[str, Any]) -> None:
    await ctx.backend.drain()
    n = ctx.backend.alerts.count(_alert_filter(ctx, a))
    if n != a["count"]:
        raise StepFailed(f"{n} alert(s) {_describe(a)}, expected exactly {a['count']}")


@step("assert_register")
async def assert_register(ctx: PlanContext, a: dict[str, Any]) -> None:
    ieee = ctx.session.devices[a["device"]].ieee
    have = ctx.backend.register.version(ieee)
    want = ctx.version_value(a["version"], a["device"])
    if have != want:
        raise StepFailed(f"register holds {_hex(have)} for {a['device']}, expected {_hex(want)}")


def _hex(v: int | None) -> str:
    return "nothing" if v is None else f"0x{v:08X}"


# ---- hub outcomes ------------------------------------------------------------------------------
async def _outcome(ctx: PlanContext, a: dict[str, Any], kind: type, what: str):
    """The device's first outcome of this kind (transfer or activation), waited for on the rig clock.
    An outcome that cannot come any more ends the wait at once: an activation after a failed transfer,
    a transfer the hub refused to start (the device already runs the offered version, or another
    manufacturer, image type or hardware: on a real bench the window would be sat through in real time)."""
    ieee = ctx.session.devices[a["device"]].ieee
    found: list = []
    hopeless: list[str] = []

    def done() -> bool:
        if not found:
            found.extend(e for e in ctx.hub_events if isinstance(e, kind) and e.ieee == ieee)
        if not found and (why := ctx.transfer_failure(a["device"])):
            hopeless.append(why)
            return True
        return bool(found)

    try:
        await ctx.wait_until(done, a["within"])
    except (asyncio.TimeoutError, TimeoutError):
        progress = f" ({_progress_text(ctx, a['device'])})" if kind is TransferOutcome else ""
        raise StepFailed(f"no {what} outcome for {a['device']} within {a['within']:g} s of rig time{progress}") from None
    if not found:
        raise StepFailed(f"no {what} can come for {a['device']}: {hopeless[0]}")
    return found[0]


@step("expect_transfer")
async def expect_transfer(ctx: PlanContext, a: dict[str, Any]) -> None:
    event = await _outcome(ctx, a, TransferOutcome, "transfer")
    if event.result is not TransferResult[a["result"].upper()]:
        said = ctx.transfer_failure(a["device"]) or f"ended {event.result.name.lower()} ({event.detail})"
        raise StepFailed(f"transfer to {a['device']}: {said}; expected {a['result']}")


@step("expect_activation")
async def expect_activation(ctx: PlanContext, a: dict[str, Any]) -> None:
    event = await _outcome(ctx, a, ActivationOutcome, "activation")
    if event.result is not ActivationResult[a["result"].upper()]:
        raise StepFailed(f"activation on {a['device']} was {event.result.name.lower()} (saw "
                         f"{_hex(event.observed_version)}, target {_hex(event.target_version)}), expected {a['result']}")


def _progress(ctx: PlanContext, name: str) -> float:
    marks = ctx.transfer_marks.get(name)
    if not marks or not marks.get("total"):
        return 0.0
    return 100.0 * marks.get("high", 0) / marks["total"]


def _progress_text(ctx: PlanContext, name: str) -> str:
    return f"download at {_progress(ctx, name):.0f} %"


@step("wait_download")
async def wait_download(ctx: PlanContext, a: dict[str, Any]) -> None:
    failed: list[str] = []

    def done() -> bool:
        if _progress(ctx, a["device"]) >= a["progress"]:
            return True
        why = ctx.transfer_failure(a["device"])
        if why:
            failed.append(why)
        return bool(why)

    try:
        await ctx.wait_until(done, a["within"])
    except (asyncio.TimeoutError, TimeoutError):
        raise StepFailed(f"{a['device']} did not reach {a['progress']:g} % within {a['within']:g} s "
                         f"({_progress_text(ctx, a['device'])})") from None
    if failed and _progress(ctx, a["device"]) < a["progress"]:
        raise StepFailed(f"{a['device']} stopped at {_progress(ctx, a['device']):.0f} % of {a['progress']:g} %: "
                         f"{failed[-1]}")


@step("expect_conformance")
async def expect_conformance(ctx: PlanContext, a: dict[str, Any]) -> None:
    conf = ctx.hub.conformance(ctx.session.devices[a["device"]].ieee)
    checks = (("honoured_wait_for_data", conf.waited_as_told, "waited as told after WAIT_FOR_DATA"),
              ("honoured_min_block_period", conf.respects_block_period, "kept MinimumBlockPeriod between blocks"))
    for key, have, what in checks:
        if key in a and have != a[key]:
            raise StepFailed(f"{a['device']} {what}: {have} (waits issued {conf.waits_issued}, early requests "
                             f"{conf.early_requests}, gap violations {conf.gap_violations}), expected {a[key]}")


# ---- time and devices --------------------------------------------------------------------------
@step("advance_clock")
async def advance_clock(ctx: PlanContext, a: dict[str, Any]) -> None:
    ctx.event("clock", None, detail=f"+{a['by']:g} s")
    await ctx.advance(a["by"])
    await ctx.backend.drain()


@step("pair")
async def pair(ctx: PlanContext, a: dict[str, Any]) -> None:
    await ctx.session.pair(a["device"], a.get("within", 120.0))
    ctx.event("pair", a["device"], actor="device", to="CH")


@step("power_cycle")
async def power_cycle(ctx: PlanContext, a: dict[str, Any]) -> None:
    """Cut the device's power and give it back (emulator, bench power control or operator), then wait
    for evidence it restarted: a Device_annce, a rejoin, or a fresh query after silence. Never the next
    frame of a download that was not interrupted."""
    from rig.bench.power import NoOperator, PowerError
    from rig.plan.restart import RestartWatch

    name = a["device"]
    handle = ctx.session.devices[name]
    settings = ctx.session.bench.power
    control = handle.power(settings)
    within = a.get("within") or settings.restart_within_s
    ctx.event("reboot", name, offset=_offset(ctx, name), actor="device", to="device",
              detail=f"power cycle by {control.description}")
    if a.get("save_as"):
        ctx.frame_marks[a["save_as"]] = ctx.hub.frames_logged
    watch = RestartWatch(ctx.hub, handle.ieee, since=ctx.clock.now(), frames_mark=ctx.hub.frames_logged,
                         silence_s=a.get("silence", 3.0))
    try:
        try:
            how = await control.cycle(name, handle.power_fields())
        except NoOperator as exc:
            raise StepFailed(str(exc)) from None
        except PowerError as exc:
            raise BenchProblem(str(exc)) from None
        ctx.log(f"  {name}: {how}; waiting up to {within:g} s for it to show it restarted")
        try:
            await ctx.wait_until(lambda: watch.evidence() is not None, within)
        except (asyncio.TimeoutError, TimeoutError):
            raise StepFailed(f"{name} showed no restart within {within:g} s of the power cycle ({how}): "
                             f"{watch.summary()}") from None
        evidence = watch.evidence()
        ctx.log(f"  {name} restarted: {evidence}")
        ctx.event("restart_seen", name, actor="device", to="CH", detail=evidence)
    finally:
        watch.close()


@step("assert_device_version")
async def assert_device_version(ctx: PlanContext, a: dict[str, Any]) -> None:
    want = ctx.version_value(a["version"], a["device"])
    ieee = ctx.session.devices[a["device"]].ieee
    version, why = await ctx.hub.read_ota_attribute_status(ieee, _ATTRIBUTE_IDS["current_file_version"])
    if version is not None:  # as Hub.read_version does: the register hears of what was read
        ctx.hub.versions.observe(ieee, version, VersionSource.ATTRIBUTE_READ)
    if version != want:
        have = _hex(version) if version is not None else f"nothing: {why}"
        raise StepFailed(f"{a['device']} reports CurrentFileVersion {have}, expected {_hex(want)}")


def _offset(ctx: PlanContext, name: str) -> int | None:
    marks = ctx.transfer_marks.get(name)
    return int(marks.get("high", 0)) if marks else None


# ---- faults ------------------------------------------------------------------------------------
@step("inject_fault")
async def inject_fault(ctx: PlanContext, a: dict[str, Any]) -> None:
    fault = a["fault"]
    name = a.get("device")
    ctx.event("fault", name, detail=fault, actor="rig", to=name or "CH")
    if fault == "ch_restart":
        ctx.event("ch_restart", None, actor="CH", to="CH")
        await ctx.restart_hub()
        return
    if fault == "ncp_reset":
        ctx.session.emulator.faults.reset()
        return
    if fault in ("csp_too_busy", "csp_not_available"):
        count = a.get("count", "always")
        mode = "too_busy" if fault == "csp_too_busy" else "not_available"
        ctx.backend.csp.set_availability(mode, count=None if count == "always" else int(count))
        return
    if not name:
        raise StepFailed(f"fault {fault} needs device:")
    dev = _emulated(ctx, name, fault)
    faults = dev.faults
    if fault == "device_reboot":
        if "at" in a:
            faults.reboot_at_percent = a["at"]
        else:
            dev.reboot()
    elif fault == "device_drop_blocks":
        faults.drop_block_responses = int(a.get("count", 1))
    elif fault == "device_corrupt":
        faults.corrupt_before_verify = True
    elif fault == "device_ignore_wait":
        faults.ignore_wait_for_data = True
    elif fault == "device_no_upgrade_end":
        faults.never_send_upgrade_end = True
    elif fault == "device_upgrade_end_status":
        faults.upgrade_end_status = int(Status[a.get("status", "invalid_image").upper()])
    elif fault == "device_local_upgrade":
        faults.local_upgrade(a.get("version", dev.flash.current_file_version + 1))
    elif fault == "device_malformed":
        kind = {"qni": "qni_truncated", "block": "ibr_truncated", "upgrade_end": "upgrade_end_truncated"}[
            a.get("frame", "qni")]
        faults.send_malformed(kind)
    elif fault == "device_wrong_ids":
        faults.manufacturer_code = (dev.profile.manufacturer_code + 1) & 0xFFFF
    elif fault == "device_hw_out_of_range":
        faults.hardware_version = 0xFFFE
    elif fault == "device_power_off":
        dev.power_off()
    elif fault == "device_power_on":
        dev.power_on()
    else:
        raise StepFailed(f"fault {fault} is not implemented on this bench")


# ---- looking closer ----------------------------------------------------------------------------
_ATTRIBUTE_IDS = {"current_file_version": 0x0002, "file_offset": 0x0001, "downloaded_file_version": 0x0004,
                  "image_upgrade_status": 0x0006, "minimum_block_period": 0x0009,
                  "upgrade_activation_policy": 0x000B, "upgrade_timeout_policy": 0x000C}
_STATUS_CODES = {s.name.lower(): int(s) for s in Status}  # expect_frame's status: words the plan writes


@step("hub_busy")
async def hub_busy(ctx: PlanContext, a: dict[str, Any]) -> None:
    ctx.hub.set_busy(True)
    ctx.event("fault", None, detail=f"CH busy for {a['for']:g} s", actor="CH", to="device")

    def release() -> None:
        if ctx.session.hub is not None:
            ctx.session.hub.set_busy(False)

    ctx.clock.call_later(a["for"], release)


@step("wait")
async def wait(ctx: PlanContext, a: dict[str, Any]) -> None:
    await ctx.clock.sleep(a["for"])


@step("assert_device_attribute")
async def assert_device_attribute(ctx: PlanContext, a: dict[str, Any]) -> None:
    ieee = ctx.session.devices[a["device"]].ieee
    attr = _ATTRIBUTE_IDS[a["attribute"]]
    want = ctx.version_value(a["value"], a["device"])
    have, why = await ctx.hub.read_ota_attribute_status(ieee, attr)
    if have != want:
        raise StepFailed(f"{a['device']} {a['attribute']} (0x{attr:04X}) = {_hex(have) if have is not None else why}, "
                         f"expected {_hex(want)}")


@step("assert_device_image")
async def assert_device_image(ctx: PlanContext, a: dict[str, Any]) -> None:
    import hashlib

    dev = _emulated(ctx, a["device"], "assert_device_image")
    # What a device downloads is the declared image: a vendor's container or trailing bytes (an own file
    # given with --image) are not part of it; the hub stores and serves exactly these bytes.
    want = parse_image(ctx.images[a["image"]]).raw
    # Installed once activated; until then the downloaded copy waits in the device's flash.
    have = bytes(dev.flash.installed_image or b"")
    if have != want and bytes(dev.flash.data) == want:
        have = want
    if have != want:
        raise StepFailed(f"{a['device']} installed {len(have)} bytes sha256 {hashlib.sha256(have).hexdigest()[:16]}, "
                         f"expected {len(want)} bytes sha256 {hashlib.sha256(want).hexdigest()[:16]}")


@step("expect_hub_frame")
async def expect_hub_frame(ctx: PlanContext, a: dict[str, Any]) -> None:
    ieee = ctx.session.devices[a["device"]].ieee
    command = a["command"].upper()
    status = a.get("status", "any")
    after = a.get("after")
    if after is not None and after not in ctx.frame_marks:
        raise StepFailed(f"after: no earlier step saved as '{after}'"
                         + (f" (saved: {', '.join(ctx.frame_marks)})" if ctx.frame_marks else ""))

    def logged() -> list:
        return ctx.hub.frames if after is None else ctx.hub.frames_since(ctx.frame_marks[after])

    def matching() -> list:
        return [f for f in logged() if f.ieee == ieee and f.command == command
                and f.direction == a.get("direction", "tx") and (status == "any" or f.status == _STATUS_CODES[status])]

    lo, hi = a.get("min_count", 1), a.get("max_count")
    if a.get("within"):
        # a ceiling holds only once the window is over; a floor as soon as it is reached
        reached = (lambda: len(matching()) > hi) if hi is not None else (lambda: len(matching()) >= lo)
        try:
            await ctx.wait_until(reached, a["within"])
        except (asyncio.TimeoutError, TimeoutError):
            pass
    frames = matching()
    if len(frames) < lo or (hi is not None and len(frames) > hi):
        seen = sorted({f"{f.direction} {f.command}/{f.status}" for f in logged() if f.ieee == ieee})
        raise StepFailed(f"{len(frames)} {a.get('direction', 'tx')} {command} frame(s) with status {status} for "
                         f"{a['device']}" + (f" since '{after}'" if after else "")
                         + (f" within {a['within']:g} s" if a.get("within") else "")
                         + f", expected {lo}" + (f"..{hi}" if hi is not None else "+")
                         + f" (frames seen: {', '.join(seen) or 'none'})")


@step("send_image_notify")
async def send_image_notify(ctx: PlanContext, a: dict[str, Any]) -> None:
    ids = {k: a.get(k) for k in ("manufacturer_code", "image_type", "file_version")}
    if a.get("image"):
        header = parse_image(ctx.images[a["image"]])
        ids = {k: getattr(header, k) if v is None else v for k, v in ids.items()}
    ieee = ctx.session.devices[a["device"]].ieee if a.get("device") else None
    mark = ctx.hub.frames_logged
    try:
        ctx.hub.send_image_notify(ieee=ieee, broadcast=a.get("broadcast"), payload_type=a["payload_type"],
                                  jitter=a["jitter"], **ids)
    except HubError as exc:
        raise StepFailed(str(exc)) from None
    if a.get("save_as"):
        ctx.frame_marks[a["save_as"]] = mark


# ---- measurements ------------------------------------------------------------------------------
@step("measure")
async def measure(ctx: PlanContext, a: dict[str, Any]) -> None:
    name = a["device"]
    marks = ctx.transfer_marks.get(name, {})
    metric = a["metric"]
    value: float | None = None
    unit = a.get("unit", "")
    if metric == "transfer_bytes_per_s":
        span = marks.get("last", 0) - marks.get("first", 0)
        value = marks.get("bytes", 0) / span if span > 0 else None
        unit = unit or "B/s"
    elif metric == "transfer_seconds":
        value = marks.get("last", 0) - marks.get("first", 0) if marks else None
        unit = unit or "s"
    elif metric == "time_to_activate_s":
        ieee = ctx.session.devices[name].ieee
        acts = [e for e in ctx.hub_events if isinstance(e, ActivationOutcome) and e.ieee == ieee]
        value = acts[-1].time - ctx.t0 if acts else None
        unit = unit or "s"
    elif metric == "wait_for_data_pauses":
        value = float(marks.get("waits", 0))
    elif metric == "blocks_served":
        value = float(marks.get("blocks", 0))
    m = Measurement(a["name"], value, unit, a.get("min"), a.get("max"), name)
    ctx.record.measurements.append(m)
    ctx.log(f"  measurement {m.name} = {m.value_text()} (limits {m.limits_text()}): {'ok' if m.passed else 'OUT'}")
    if not m.passed:
        raise StepFailed(f"{m.name} = {m.value_text()} outside limits {m.limits_text()}")

