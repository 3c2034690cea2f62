"""Each exactly-once layer of the alert path on its own (the other one would hide its loss).

A replayed hub event must stop at the CSP inbox (its key), before the DSP sees it; an alert key written
twice must stop at the alert log (its UNIQUE key), whoever writes it. Checked separately, so that breaking
either layer fails a test even though the other still keeps the alert count right.
"""

from __future__ import annotations

from tests.backend.helpers import IS_A, PPMID1, PPMID_IMG, ieee


async def test_a_replayed_hub_event_stops_at_the_csp_inbox(backend, hub):
    r = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1])
    await backend.drain()
    event = hub.transfer(hub.offer_for(ieee(PPMID1)))
    await backend.drain()
    hub.emit(event)  # the hub replays its outcomes after a restart
    await backend.drain()
    assert backend.alerts.count(code=0x8F8A, request_id=r.request_id) == 1
    # the DSP logs a duplicate only if the inbox let the replay through
    assert backend.log_entries("duplicate_hub_event") == []


async def test_an_alert_key_is_written_once_whoever_writes_it(backend):
    def write():
        with backend.store.transaction():
            return backend.alerts.append(dedup_key="test:once", family="device", code="0x8F8A", device=None,
                                         request_id="r1", recipients=[IS_A], fields={"ResponseCode": 0})

    first = write()
    backend.alerts.committed()
    second = write()
    backend.alerts.committed()
    assert first is not None and second is None
    assert backend.alerts.count(request_id="r1") == 1
