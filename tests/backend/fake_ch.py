"""A small in-memory Communications Hub implementing CommsHubPort: the back end's peer in unit tests.

It does no radio work: the test decides each outcome and the fake emits the matching hub event, exactly
as rig.hub.Hub reports them (TransferOutcome / ActivationOutcome / VersionObserved / ImageDiscarded).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from rig.hub.errors import ImageRejected, UnknownOffer
from rig.hub.events import (ActivationOutcome, ActivationPlan, ActivationResult, HubEvent, TransferOutcome,
                            TransferResult)


class FakeCommsHub:
    def __init__(self, clock, state_path=None) -> None:
        """`state_path`: keep images/offers in a JSON file, as the real hub persists them (crash tests)."""
        self.clock = clock
        self.state_path = state_path
        self.sinks: list[Callable[[HubEvent], None]] = []
        self.images: dict[int, bytes] = {}
        self.offers: dict[int, dict] = {}
        self.activations: list[tuple[str, int, float | None]] = []
        self.versions: dict[str, int | None] = {}
        self.reject_images: str | None = None
        self.calls: list[str] = []
        if state_path is not None and Path(state_path).exists():
            state = json.loads(Path(state_path).read_text())
            self.images = {int(k): bytes.fromhex(v) for k, v in state["images"].items()}
            self.offers = {int(k): dict(v, plan=ActivationPlan(v["plan"])) for k, v in state["offers"].items()}

    def _save(self) -> None:
        if self.state_path is not None:
            state = {"images": {k: v.hex() for k, v in self.images.items()},
                     "offers": {k: dict(v, plan=v["plan"].value) for k, v in self.offers.items()}}
            Path(self.state_path).write_text(json.dumps(state))

    # -- CommsHubPort -----------------------------------------------------------------------------
    def store_image(self, image: bytes, *, request_id: str | None = None) -> int:
        self.calls.append("store_image")
        if self.reject_images:
            raise ImageRejected(self.reject_images)
        image_id = len(self.images) + 1
        self.images[image_id] = image
        self._save()
        return image_id

    def offer(self, ieee, image_id, *, plan, upgrade_time=None, request_id=None, allow_downgrade=False) -> int:
        self.calls.append("offer")
        offer_id = len(self.offers) + 1
        version = int.from_bytes(self.images[image_id][14:18], "little")
        self.offers[offer_id] = dict(ieee=ieee, image_id=image_id, plan=plan, upgrade_time=upgrade_time,
                                     request_id=request_id, version=version)
        self._save()
        return offer_id

    def activate(self, ieee, offer_id, *, at=None) -> None:
        self.calls.append("activate")
        if offer_id not in self.offers or self.offers[offer_id]["ieee"] != ieee:
            raise UnknownOffer(f"no offer {offer_id} for {ieee}")
        self.activations.append((ieee, offer_id, at))

    async def read_version(self, ieee):
        self.calls.append("read_version")
        return self.versions.get(ieee)

    def subscribe(self, sink) -> None:
        self.sinks.append(sink)

    # -- test driving -------------------------------------------------------------------------------
    def emit(self, event: HubEvent) -> None:
        for sink in self.sinks:
            sink(event)

    def transfer(self, offer_id: int, result: TransferResult = TransferResult.SUCCESS) -> TransferOutcome:
        o = self.offers[offer_id]
        ev = TransferOutcome(o["ieee"], offer_id, o["request_id"], result, o["version"], self.clock.now())
        self.emit(ev)
        return ev

    def activation(self, offer_id: int, result: ActivationResult = ActivationResult.SUCCESS,
                   observed: int | None = -1) -> ActivationOutcome:
        o = self.offers[offer_id]
        seen = o["version"] if observed == -1 else observed
        ev = ActivationOutcome(o["ieee"], offer_id, o["request_id"], result, o["version"], seen, self.clock.now())
        self.emit(ev)
        return ev

    def offer_for(self, ieee: str) -> int:
        return max(i for i, o in self.offers.items() if o["ieee"] == ieee)


__all__ = ["FakeCommsHub", "ActivationPlan"]
