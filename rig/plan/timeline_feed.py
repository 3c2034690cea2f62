"""The run's timeline: rig time since the plan started, and what the hub says and sends, as record events.

`Timeline` is the clock and the record's event list; `TimelineFeed` listens to the session (hub events,
OTA frames) and keeps what the steps ask about afterwards: every hub event of the run, each device's
transfer marks (first/last block, bytes, waits), and why a transfer already failed or can never start.
"""

from __future__ import annotations

from typing import Any

from rig.bench.session import DeviceHandle, Session
from rig.clock import Clock
from rig.hub.events import HubEvent, TransferOutcome, TransferResult
from rig.image.ota_cluster import Status
from rig.report.record import RunRecord

# The hub's reasons for NO_IMAGE_AVAILABLE that no waiting can change (rig.hub.policy.decide_query).
NEVER_SERVED = ("already runs the offered version", "not allowed", "manufacturer 0x", "image type 0x",
                "hardware version")
# The OTA exchanges the timeline shows one by one (blocks are thinned, waits are one mark a second).
EXCHANGES = ("QUERY_NEXT_IMAGE", "QUERY_NEXT_IMAGE_RSP", "UPGRADE_END", "IMAGE_NOTIFY", "UPGRADE_END_RSP")
TIMELINE_KIND = {"TransferOutcome": "transfer_outcome", "ActivationOutcome": "activation_outcome",
                 "VersionObserved": "version", "ImageDiscarded": "image_discarded"}


def device_name(devices: dict[str, DeviceHandle], ieee: str) -> str | None:
    """The plan's name for the device with `ieee` (None: not one of the plan's devices)."""
    for name, handle in devices.items():
        if handle.ieee == ieee:
            return name
    return None


class Timeline:
    """Rig time since the plan started (`start`), and events on the record at that time."""

    def __init__(self, clock: Clock, record: RunRecord) -> None:
        self.clock = clock
        self.record = record
        self.t0 = 0.0

    def start(self) -> None:
        self.t0 = self.clock.now()

    def rig_time(self) -> float:
        return self.clock.now() - self.t0

    def event(self, kind: str, device: str | None = None, **fields: Any) -> None:
        self.record.events.append({"t": round(self.rig_time(), 3), "kind": kind, "device": device, **fields})


class TimelineFeed:
    """The session's hub events and OTA frames onto `timeline` (and onto `progress`, a
    rig.report.progress.Progress, when there is one)."""

    def __init__(self, session: Session, timeline: Timeline, progress: Any = None) -> None:
        self.session = session
        self.timeline = timeline
        self.progress = progress
        self.hub_events: list[HubEvent] = []
        self.transfer_marks: dict[str, dict[str, float]] = {}  # device -> first/last block rig time, bytes

    def name_of(self, ieee: str) -> str | None:
        return device_name(self.session.devices, ieee)

    # -- hub events ----------------------------------------------------------------------------------
    def on_hub_event(self, event: HubEvent) -> bool:
        """Keep and show `event`; False when it is a replay after a CH restart (already known)."""
        if event in self.hub_events:
            return False
        self.hub_events.append(event)
        name = self.name_of(getattr(event, "ieee", ""))
        kind = type(event).__name__
        detail = {k: (v.name if hasattr(v, "name") else v) for k, v in vars(event).items() if k != "ieee"}
        self.timeline.event(TIMELINE_KIND.get(kind, kind), name, actor="CH", to="CSP", detail=str(detail))
        if self.progress is not None and kind == "TransferOutcome" and name in self.transfer_marks:
            self.progress.done(name, getattr(event, "result", 1) == 0)
        return True

    # -- OTA frames ----------------------------------------------------------------------------------
    def on_frame(self, frame: Any) -> None:
        """One rig.hub.ota_server.FrameRecord the hub logged."""
        name = self.name_of(frame.ieee)
        if frame.offset is not None and frame.status == 0:
            self._block(name or frame.ieee, name, frame)
        elif frame.status == Status.WAIT_FOR_DATA:
            self._wait_for_data(name or frame.ieee, name, frame)
        elif frame.command in EXCHANGES:
            broadcast = frame.ieee.startswith("broadcast")  # logged under "broadcast 0xFFFF", not a device
            self.timeline.event(frame.command.lower(), name, detail=frame.detail, status=frame.status,
                                actor="device" if frame.direction == "rx" else "CH",
                                to="CH" if frame.direction == "rx" else frame.ieee if broadcast else "device")
        elif frame.status == Status.ABORT:
            self.timeline.event("abort", name, detail=frame.detail, actor="CH", to="device")

    def _marks(self, key: str) -> dict[str, float]:
        return self.transfer_marks.setdefault(key, {"first": self.timeline.rig_time(), "bytes": 0})

    def _block(self, key: str, name: str | None, frame: Any) -> None:
        now = self.timeline.rig_time()
        marks = self._marks(key)
        marks["last"] = now
        marks["bytes"] += frame.size or 0
        marks["high"] = max(marks.get("high", 0), frame.offset + (frame.size or 0))
        marks["total"] = frame.total or 0
        marks["blocks"] = marks.get("blocks", 0) + 1
        if self.progress is not None:
            self.progress.update(key, marks["high"], frame.total or 0, now)
        # The timeline keeps about one point per 2 % of the image per device, not every block.
        step = max(1, (frame.total or 1) // 50)
        if frame.offset // step != marks.get("last_point", -1):
            marks["last_point"] = frame.offset // step
            self.timeline.event("block", name, offset=frame.offset, size=frame.total, actor="CH", to="device")

    def _wait_for_data(self, key: str, name: str | None, frame: Any) -> None:
        marks = self._marks(key)
        marks["waits"] = marks.get("waits", 0) + 1
        if self.progress is not None:
            self.progress.pause(key, float(self.session.hub_config.wait_for_data_delay_s))
        now = self.timeline.rig_time()
        if now - marks.get("last_wait_event", -1e9) >= 1.0:  # a flood shows as one mark a second
            marks["last_wait_event"] = now
            self.timeline.event("wait_for_data", name, detail=frame.detail, actor="CH", to="device")

    # -- why a transfer will not come ----------------------------------------------------------------
    def transfer_failure(self, name: str) -> str | None:
        """If the device's newest offer already ended in a failed transfer: what failed, with the status
        and what the device sent last. A wait for progress or activation can end at once then."""
        hub = self.session.hub
        ieee = self.session.devices[name].ieee
        offer = hub.store.latest_offer(ieee)
        if offer is None:
            return None
        failed = [e for e in self.hub_events if isinstance(e, TransferOutcome) and e.ieee == ieee
                  and e.offer_id == offer.id and e.result is not TransferResult.SUCCESS]
        if not failed:
            return self._offer_refused(ieee, offer) if offer.state == "offered" else None
        outcome = failed[-1]
        text = (f"the transfer already failed: {outcome.result.name.lower()}"
                + (f" ({outcome.detail})" if outcome.detail else ""))
        said = [f for f in hub.frames if f.ieee == ieee and f.direction == "rx"]
        if said:
            last = said[-1]
            status = f" status 0x{last.status:02X}" if last.status is not None else ""
            text += (f"; the device last sent {last.command}{status}" + (f" {last.detail}" if last.detail else "")
                     + f" at {last.time - self.timeline.t0:.1f} s")
        return text

    def _offer_refused(self, ieee: str, offer: Any) -> str | None:
        """The device asked after the offer was made and cannot be given it (it already runs that version,
        a downgrade, another manufacturer / image type / hardware): no transfer will ever start."""
        frames = self.session.hub.frames
        answers = [f for f in frames if f.ieee == ieee and f.time >= offer.created_at
                   and f.direction == "tx" and f.command == "QUERY_NEXT_IMAGE_RSP"]
        if not answers or answers[-1].status in (None, 0x00) or not any(
                why in answers[-1].detail for why in NEVER_SERVED):
            return None
        asked = [f for f in frames if f.ieee == ieee and f.direction == "rx" and f.command == "QUERY_NEXT_IMAGE"]
        queried = asked[-1].detail if asked else "its version unknown"
        return (f"the transfer cannot start: the device queried ({queried}) "
                f"and the hub answered NO_IMAGE_AVAILABLE (0x{answers[-1].status:02X}): {answers[-1].detail}")

    # -- at the end of the run -----------------------------------------------------------------------
    def record_reboots(self) -> None:
        """The reboots each emulated device recorded, each with why: activation, a fault or a power cycle."""
        for name, handle in self.session.devices.items():
            ota = [o for o in getattr(getattr(handle.emulated, "ota", None), "records", [])
                   if o.name in ("activated", "fault_reboot")]
            for rec in getattr(handle.emulated, "records", []):
                if rec.name != "reboot":
                    continue
                # The OTA client reboots into a new image right after it records "activated": that
                # reboot is the upgrade working, not a fault (the report draws it apart).
                why = next((o.name for o in reversed(ota) if rec.time - 1.0 <= o.time <= rec.time), None)
                self.timeline.record.events.append(
                    {"t": round(rec.time - self.timeline.t0, 3), "kind": "reboot", "device": name,
                     "offset": None, "actor": "device", "to": "device",
                     "reason": {"activated": "activation", "fault_reboot": "fault"}.get(why, "power cycle"),
                     "detail": "reboot into the new image" if why == "activated" else "device power cycle"})

    def record_alerts(self, backend: Any) -> None:
        """Every alert the back end wrote, with the plan's device name and its rig time."""
        for alert in backend.alerts.list():
            entry = alert.to_json()
            entry["device_name"] = self.name_of(alert.device or "")
            entry["t"] = round(alert.time - self.timeline.t0, 3)
            self.timeline.record.alerts.append(entry)
