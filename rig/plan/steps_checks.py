"""Steps that make verdicts trustworthy: each checks one behaviour precisely enough to fail when it breaks.

`mark` names a point of the plan; `expect_resumed`, `expect_alert_time` and `expect_hub_frame after:`
count from it. Alert checks look at the order of alerts, their fields and when they came (lower and
upper bounds); device checks read only what the CH saw (the frame log and its events), so they run
on hardware too. `inject_defect` makes an emulated device misbehave the way a faulty DUT would.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
from typing import Any

from rig.backend.fixtures import duis_eui
from rig.hub.events import ActivationOutcome, TransferOutcome, TransferResult, VersionObserved, VersionSource
from rig.image import ImageError, parse_image
from rig.image.ota_cluster import Status
from rig.plan.context import PlanContext, StepFailed
from rig.plan.step_helpers import _alert_filter, _describe, _emulated
from rig.plan.step_registry import step

_MALFORMED, _NO_IMAGE = Status.MALFORMED_COMMAND, Status.NO_IMAGE_AVAILABLE  # Default Response statuses that say "your request was wrong"


def _marks(ctx: PlanContext) -> dict[str, tuple[float, int]]:
    """save_as name -> (rig clock when marked, last alert seq then); frame marks live in ctx.frame_marks."""
    if not hasattr(ctx, "check_marks"):
        ctx.check_marks = {}  # type: ignore[attr-defined]
    return ctx.check_marks  # type: ignore[attr-defined]


def _mark(ctx: PlanContext, name: str) -> tuple[float, int]:
    if name not in _marks(ctx):
        raise StepFailed(f"no earlier mark saved as '{name}'" + (f" (saved: {', '.join(_marks(ctx))})"
                                                                  if _marks(ctx) else ""))
    return _marks(ctx)[name]


def _s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


@step("mark")
async def mark(ctx: PlanContext, a: dict[str, Any]) -> None:
    await ctx.backend.drain()
    name = a["save_as"]
    ctx.frame_marks[name] = ctx.hub.frames_logged
    _marks(ctx)[name] = (ctx.clock.now(), ctx.backend.alerts.last_seq())
    ctx.event("mark", None, detail=name)


# ---- alerts ------------------------------------------------------------------------------------
def _alerts(ctx: PlanContext, a: dict[str, Any]) -> list:
    return ctx.backend.alerts.list(_alert_filter(ctx, a))


def _expected_field(ctx: PlanContext, a: dict[str, Any], alert: Any, want: Any) -> tuple[Any, float]:
    """A field's expected value and how far (seconds) a time may be off: `$ch`, `$device`, `$request`,
    `$alert_time` stand for the CH's id, the device's id, the saved request's id and the alert's time."""
    if want == "$ch":
        return duis_eui(ctx.ch_ieee()), 0
    if want == "$device":
        return duis_eui(ctx.session.devices[a["device"]].ieee), 0
    if want == "$request":
        return ctx.requests.get(a.get("request", ""), "?"), 0
    if want == "$alert_time":
        return alert.time, 2.0
    return want, 0


def _field_problem(have: Any, want: Any, slack: float) -> bool:
    if slack:
        try:
            when = _dt.datetime.fromisoformat(str(have).replace("Z", "+00:00")).timestamp()
        except ValueError:
            return True
        return abs(when - want) > slack
    if isinstance(want, int) and not isinstance(want, bool):
        if isinstance(have, int):
            return have != want
        try:
            return int(str(have), 16 if not str(have).isdigit() or len(str(have)) == 8 else 10) != want
        except ValueError:
            return True
    return str(have).upper() != str(want).upper()


@step("expect_alert")
async def expect_alert(ctx: PlanContext, a: dict[str, Any]) -> None:
    await ctx.backend.drain()
    found = _alerts(ctx, a)
    if not found:
        seen = [f"{x.code}/{x.fields.get('ResponseCode', '-')}" for x in ctx.backend.alerts.list()]
        raise StepFailed(f"no alert {_describe(a)} (alerts: {', '.join(seen) or 'none'})")
    if "count" in a and len(found) != a["count"]:
        raise StepFailed(f"{len(found)} alert(s) {_describe(a)}, expected exactly {a['count']}")
    for alert in found:
        if "late" in a and alert.late != a["late"]:
            raise StepFailed(f"alert {alert.code} (seq {alert.seq}, request {alert.request_id}) is "
                             f"{'flagged' if alert.late else 'not flagged'} late, expected "
                             f"{'late (from an attempt no longer In Progress)' if a['late'] else 'not late'}")
        wrong = []
        for key, want in (a.get("fields") or {}).items():
            expected, slack = _expected_field(ctx, a, alert, want)
            have = alert.fields.get(key, "<missing>")
            if _field_problem(have, expected, slack):
                shown = _dt.datetime.fromtimestamp(expected, _dt.timezone.utc).isoformat() if slack else expected
                wrong.append(f"{key} = {have!r}, expected {shown!r}" + (f" (±{slack:g} s)" if slack else ""))
        if wrong:
            raise StepFailed(f"alert {alert.code} (seq {alert.seq}): " + "; ".join(wrong))


def _outcome_kind(code: str) -> type | None:
    return {"0x8F8A": TransferOutcome, "0x8F89": TransferOutcome, "0x8F8B": ActivationOutcome}.get(code)


def _outcome_matches(event: Any, code: str) -> bool:
    if isinstance(event, TransferOutcome):
        return (event.result is TransferResult.SUCCESS) == (code == "0x8F8A")
    return isinstance(event, ActivationOutcome)


@step("expect_alert_order")
async def expect_alert_order(ctx: PlanContext, a: dict[str, Any]) -> None:
    await ctx.backend.drain()
    code = a["code"]
    got = []
    for alert in _alerts(ctx, {k: v for k, v in a.items() if k in ("code", "response_code")}):
        name = ctx.device_name(alert.device or "") or alert.device
        if name not in got:
            got.append(name)
    if a.get("devices"):
        want, why = list(a["devices"]), "the order the plan gives"
    else:
        kind = _outcome_kind(code)
        if kind is None:
            raise StepFailed(f"expect_alert_order: give devices: for {code} (the CH reports no outcome for it)")
        want, why = [], "the order the CH reported the outcomes"
        for event in ctx.hub_events:
            name = ctx.device_name(getattr(event, "ieee", ""))
            if isinstance(event, kind) and _outcome_matches(event, code) and name not in want:
                want.append(name)
    if got != want:
        raise StepFailed(f"{code} alerts came in the order {', '.join(map(str, got)) or 'none'}; expected "
                         f"{', '.join(map(str, want)) or 'none'} ({why})")


def _reference(ctx: PlanContext, a: dict[str, Any], device_ieee: str | None) -> tuple[float, str]:
    if a.get("since_mark"):
        return _mark(ctx, a["since_mark"])[0], f"mark '{a['since_mark']}'"
    if a.get("since_alert"):
        match: dict[str, Any] = {"code": a["since_alert"]}
        if device_ieee:
            match["device"] = device_ieee
        first = ctx.backend.alerts.list(match)
        if not first:
            raise StepFailed(f"no {a['since_alert']} alert to measure from")
        return first[0].time, f"the {a['since_alert']} alert"
    kind = TransferOutcome if a["since_outcome"] == "transfer" else ActivationOutcome
    events = [e for e in ctx.hub_events if isinstance(e, kind) and (device_ieee is None or e.ieee == device_ieee)]
    if not events:
        raise StepFailed(f"no {a['since_outcome']} outcome reported by the CH to measure from")
    return events[0].time, f"the CH's {a['since_outcome']} outcome"


@step("expect_alert_time")
async def expect_alert_time(ctx: PlanContext, a: dict[str, Any]) -> None:
    found = _alerts(ctx, a)
    if not found:
        raise StepFailed(f"no alert {_describe(a)} to time")
    seen: set[str | None] = set()
    for alert in found:
        if alert.device in seen:
            continue  # the first alert per device is the one timed
        seen.add(alert.device)
        ref, what = _reference(ctx, a, alert.device)
        delay = alert.time - ref
        low, high = a.get("min", 0.0), a.get("max")
        # half a second of slack: the reference is stamped a moment after the CH's own start of the timer
        if delay < low - 0.5 or (high is not None and delay > high + 0.5):
            bound = f"at least {_s(low)}" if delay < low else f"at most {_s(high)}"
            who = ctx.device_name(alert.device or "") or alert.device or ""
            raise StepFailed(f"{alert.code} {who} came {_s(delay)} after {what}; expected {bound}"
                             + (f" (window {_s(low)}..{_s(high)})" if high is not None else ""))


# ---- what the device asked for ----------------------------------------------------------------
def _frames_after(ctx: PlanContext, name: str | None) -> list:
    if name is None:
        return list(ctx.hub.frames)
    if name not in ctx.frame_marks:
        raise StepFailed(f"after: no earlier step saved as '{name}'")
    return ctx.hub.frames_since(ctx.frame_marks[name])


@step("expect_resumed")
async def expect_resumed(ctx: PlanContext, a: dict[str, Any]) -> None:
    ieee = ctx.session.devices[a["device"]].ieee
    blocks = [f for f in _frames_after(ctx, a["after"]) if f.ieee == ieee and f.command == "IMAGE_BLOCK_RSP"
              and f.status == 0 and f.offset is not None]
    if not blocks:
        raise StepFailed(f"no block served to {a['device']} since '{a['after']}'")
    # the lowest offset, not the first block: a block already in flight at the mark may come first
    first, total = min(blocks, key=lambda f: f.offset), blocks[0].total or 0
    floor = int(total * a["at_least"] / 100.0)
    if first.offset < floor:
        raise StepFailed(f"{a['device']} restarted its download at offset {first.offset} of {total} after "
                         f"'{a['after']}'; expected it to resume from its FileOffset (at least {a['at_least']:g} % "
                         f"= {floor})")


def _refused(ctx: PlanContext, ieee: str, after: str | None) -> list[str]:
    bad, last_rx = [], None
    for f in _frames_after(ctx, after):
        if f.ieee != ieee:
            continue
        if f.direction == "rx":
            last_rx = f
            if "malformed" in (f.detail or "") or f.command == "unparseable":
                bad.append(f"{f.command} {f.detail}")
                last_rx = None
        elif f.command == "DEFAULT_RESPONSE" and f.status in (_MALFORMED, _NO_IMAGE) and last_rx is not None:
            status = "MALFORMED_COMMAND" if f.status == _MALFORMED else "NO_IMAGE_AVAILABLE"
            bad.append(f"{last_rx.command} {last_rx.detail} -> {status}")
            last_rx = None
    return bad


@step("expect_clean_requests")
async def expect_clean_requests(ctx: PlanContext, a: dict[str, Any]) -> None:
    """The CH refused none of the device's requests as malformed, past the image end or for an image
    it was not offered (a conformant client never gives it cause to); with within:, watch that long."""
    ieee = ctx.session.devices[a["device"]].ieee
    if a.get("within"):
        try:
            await ctx.wait_until(lambda: bool(_refused(ctx, ieee, a.get("after"))), a["within"])
        except (TimeoutError, asyncio.TimeoutError):
            pass
    bad = _refused(ctx, ieee, a.get("after"))
    if bad:
        raise StepFailed(f"the CH refused {len(bad)} request(s) from {a['device']}: " + "; ".join(bad[:3]))


@step("expect_query_ids")
async def expect_query_ids(ctx: PlanContext, a: dict[str, Any]) -> None:
    ieee = ctx.session.devices[a["device"]].ieee
    image = parse_image(ctx.images[a["image"]])
    queries = [e for e in ctx.hub_events if isinstance(e, VersionObserved) and e.ieee == ieee
               and e.source is VersionSource.QUERY_NEXT_IMAGE]
    if not queries:
        raise StepFailed(f"{a['device']} sent no Query Next Image the CH could read")
    for q in queries:
        if (q.manufacturer_code, q.image_type) != (image.manufacturer_code, image.image_type):
            raise StepFailed(f"{a['device']}'s Query Next Image carried manufacturer 0x{q.manufacturer_code:04X}, "
                             f"image type 0x{q.image_type:04X}; its image {a['image']} has "
                             f"0x{image.manufacturer_code:04X}/0x{image.image_type:04X}")


@step("expect_block_sizes")
async def expect_block_sizes(ctx: PlanContext, a: dict[str, Any]) -> None:
    ieee = ctx.session.devices[a["device"]].ieee
    sizes = [f.size for f in ctx.hub.frames if f.ieee == ieee and f.command == "IMAGE_BLOCK_RSP"
             and f.status == 0 and f.size is not None]
    if sizes and max(sizes) > a["at_most"]:
        raise StepFailed(f"{a['device']} asked for blocks of up to {max(sizes)} bytes, more than the "
                         f"{a['at_most']} bytes it can take (MaximumDataSize)")


# ---- device defects ----------------------------------------------------------------------------
@step("inject_defect")
async def inject_defect(ctx: PlanContext, a: dict[str, Any]) -> None:
    from rig.emu.device_faults import apply_defect

    dev = _emulated(ctx, a["device"], a["defect"])
    apply_defect(dev.faults, a["defect"])
    ctx.event("fault", a["device"], detail=f"defect {a['defect']}", actor="rig", to=a["device"])


@step("inject_frame")
async def inject_frame(ctx: PlanContext, a: dict[str, Any]) -> None:
    dev = _emulated(ctx, a["device"], a["frame"])
    dev.faults.send_malformed(a["frame"])
    ctx.event("fault", a["device"], detail=f"sends {a['frame']}", actor=a["device"], to="CH")


@step("pass_time")
async def pass_time(ctx: PlanContext, a: dict[str, Any]) -> None:
    """Let rig time pass: real time on hardware; on an emulated bench it jumps whenever the bench is quiet
    (unlike `wait`, which sits through the time), so a 30-minute watch costs seconds."""
    try:
        await ctx.wait_until(lambda: False, a["for"])
    except (TimeoutError, asyncio.TimeoutError):
        pass


@step("corrupt_served_image")
async def corrupt_served_image(ctx: PlanContext, a: dict[str, Any]) -> None:
    """Flip one byte of the CH's stored copy of an image after ingest, as a bad flash cell would: the rig
    then serves a deliberately corrupted copy (4.7-3) and a conformant device must refuse it with
    Upgrade End INVALID_IMAGE. The store's integrity check on ingest (R-STORE-04) has already passed."""
    import hashlib

    data = ctx.images[a["image"]]
    digest = hashlib.sha256(data).hexdigest()
    at = min(len(data) - 1, int(len(data) * a.get("at", 50.0) / 100.0))
    if not ctx.hub.store.corrupt_stored_copy(digest, at):
        raise StepFailed(f"the CH holds no copy of image {a['image']} (sha256 {digest[:16]}) to corrupt")
    ctx.event("fault", None, detail=f"CH copy of {a['image']} corrupted at byte {at}", actor="rig", to="CH")


@step("expect_dsp_log")
async def expect_dsp_log(ctx: PlanContext, a: dict[str, Any]) -> None:
    """Count entries of one kind in the back end's own log (e.g. duplicate_hub_event: a replayed hub event
    that got past the CSP inbox's de-duplication and reached the DSP, where only the alert log's key
    stopped it - each exactly-once layer is checked on its own)."""
    await ctx.backend.drain()
    entries = ctx.backend.log_entries(a["event"])
    lo, hi = a.get("min_count", 0), a.get("max_count", 0)
    if not lo <= len(entries) <= hi:
        shown = "; ".join(", ".join(f"{k}={v}" for k, v in e.items() if k not in ("seq", "what")) for e in entries[:3])
        raise StepFailed(f"{len(entries)} '{a['event']}' entries in the DSP log, expected {lo}..{hi}"
                         + (f" ({shown})" if shown else ""))


@step("sign_image")
async def sign_image(ctx: PlanContext, a: dict[str, Any]) -> None:
    """Sign a GB bare image of the plan (ECDSA P-256, rig.image.signature) with the manufacturer's key -
    whose public half the CPL lists from the first use on - or with another key (a forgery). The image's
    CPL entry gets the signed file's SHA-256, so only the signature decides."""
    import hashlib

    from rig.image.signature import generate_signing_key, public_key_pem, sign_bare_image

    keys = getattr(ctx, "signing_keys", None)
    if keys is None:
        keys = ctx.signing_keys = {"manufacturer": generate_signing_key(), "other": generate_signing_key()}  # type: ignore[attr-defined]
    try:  # an unsigned GB bare body has no marker of its own: read it as one (auto-detection says unknown-body)
        header = parse_image(ctx.images[a["image"]], format="gb-bare")
    except ImageError as exc:
        raise StepFailed(f"sign_image: image {a['image']} is not a GB bare image, which alone carries this "
                         f"signature: {exc}") from None
    ctx.backend.trust_signer(int(header.manufacturer_code), public_key_pem(keys["manufacturer"].public_key()))
    signed = sign_bare_image(ctx.images[a["image"]], keys[a["by"]])
    ctx.images[a["image"]] = signed
    digest = hashlib.sha256(signed).hexdigest()
    for handle in ctx.session.devices.values():
        ctx.backend.list_on_cpl(ctx.model_of(handle), int(header.manufacturer_code), int(header.image_type),
                                int(header.file_version), digest)
    ctx.event("sign", None, detail=f"{a['image']} signed by the {a['by']} key", actor="rig", to="DSP")
