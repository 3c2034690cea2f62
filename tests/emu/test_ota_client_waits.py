"""OtaClient.wait_for_event: finds the first match at or after `since`, and looks at each record once."""

from __future__ import annotations

import asyncio

try:
    from test_device_fakes import make_device
except ImportError:  # tests/emu became a package
    from .test_device_fakes import make_device


async def test_wait_for_event_examines_each_new_record_once() -> None:
    dev, _server, _clock = make_device("ppmid", None)
    ota = dev.ota
    seen: list[int] = []

    def where(event) -> bool:
        seen.append(event.data["i"])
        return event.data["i"] == 199

    waiter = asyncio.ensure_future(ota.wait_for_event("tick", timeout=None, where=where))
    await asyncio.sleep(0)
    for i in range(200):
        ota.record("tick", i=i)
        ota.record("other", i=-1)
    found = await waiter
    assert found.data["i"] == 199
    assert seen == list(range(200))  # incremental: never rescans earlier records


async def test_wait_for_event_since_and_already_present() -> None:
    dev, _server, _clock = make_device("ppmid", None)
    ota = dev.ota
    for i in range(5):
        ota.record("tick", i=i)
    assert (await ota.wait_for_event("tick")).data["i"] == 0
    assert (await ota.wait_for_event("tick", since=3)).data["i"] == 3
    assert (await ota.wait_for_event("tick", since=-1)).data["i"] == 4
    waiter = asyncio.ensure_future(ota.wait_for_event("tick", since=len(ota.records), timeout=None))
    await asyncio.sleep(0)
    assert not waiter.done()
    ota.record("tick", i=5)
    assert (await waiter).data["i"] == 5
