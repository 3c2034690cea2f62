"""R-CH-10: the post-transfer version check runs at the time the first activation set, whatever the device
does after (a device that keeps reporting its old version re-downloads the same offer again and again)."""

from __future__ import annotations

import asyncio

import pytest

from rig.clock import MINUTE
from rig.hub.events import ActivationOutcome, ActivationPlan, ActivationResult
from tests.hub.images import PPMID, image
from tests.hub.test_ota_server import IEEE, PEER, ibr, make_hub, qni, uer

DELAY = 15 * MINUTE


def _redownload(hub) -> None:
    """The stale device's loop: it queries with its old version, is offered the image again, fetches a
    block and ends the download again (each Upgrade End Request is answered "activate now")."""
    hub.server.handle_frame(PEER, qni(version=1))
    hub.server.handle_frame(PEER, ibr(0))
    hub.server.handle_frame(PEER, uer())


def _outcomes(hub) -> list[ActivationOutcome]:
    return [e for e in hub.events if isinstance(e, ActivationOutcome)]


async def _stale_device_loop(plan: ActivationPlan, upgrade_in: float) -> None:
    hub, _rec, clock = make_hub(version_check_delay_s=DELAY)
    reads: list[float] = []

    async def stale_reader(ieee: str) -> int:
        reads.append(clock.now())
        return 1  # still the old version

    hub.checker.reader = stale_reader
    hub.allow_device(IEEE, "ppmid")
    t0 = clock.now()
    offer = hub.offer(IEEE, hub.store_image(image(PPMID, 2)), plan=plan,
                      upgrade_time=t0 + upgrade_in if plan is ActivationPlan.AT else None)
    hub.server.handle_frame(PEER, uer())  # the first, genuine end of the transfer
    due = hub.store.offer(offer).version_check_due
    assert due == pytest.approx(t0 + upgrade_in + DELAY, abs=0.01)
    await clock.advance(upgrade_in + MINUTE)  # activated (stale): from here it re-downloads every 2 minutes
    while clock.now() < due - 2 * MINUTE:
        _redownload(hub)
        assert hub.store.offer(offer).version_check_due == due, "a re-download moved the version check"
        await clock.advance(2 * MINUTE)
    assert reads == []
    await clock.advance(due - clock.now() + 1.0)
    assert reads == [pytest.approx(due, abs=0.01)]
    [outcome] = _outcomes(hub)
    assert (outcome.offer_id, outcome.result, outcome.observed_version) == (offer, ActivationResult.FAILURE, 1)
    assert outcome.time == pytest.approx(due, abs=0.01)
    _redownload(hub)  # and after the outcome: no second check, no second outcome
    await clock.advance(2 * DELAY)
    assert len(reads) == 1 and len(_outcomes(hub)) == 1


def test_redownloads_after_a_timed_activation_keep_the_first_check_time() -> None:
    asyncio.run(_stale_device_loop(ActivationPlan.AT, 10 * MINUTE))


def test_redownloads_after_an_immediate_activation_keep_the_first_check_time() -> None:
    asyncio.run(_stale_device_loop(ActivationPlan.NOW, 0.0))
