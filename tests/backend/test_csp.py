"""CSP stub: the inbox hands hub events and statuses to the DSP in batches, in order, once."""

from __future__ import annotations

from rig.backend import BackendConfig
from rig.hub.events import TransferResult
from tests.backend.helpers import IS_A, PPMID1, PPMID_IMG, ieee, make_backend


async def test_batch_of_100_statuses_fans_out_in_order_without_duplicates(tmp_path, clock, hub):
    b = make_backend(tmp_path, clock, hub, BackendConfig(batch_size=100, batch_period=30.0), extra_ppmids=100)
    ids = [f"00-DB-12-34-56-00-00-{i:02X}" for i in range(100)]
    r = b.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", ids)
    assert r.accepted and len(hub.offers) == 100
    await b.drain()
    assert b.alerts.count(code="N60") == 100
    order = list(reversed(sorted(hub.offers)))  # report in an order unlike the offer order
    for n, offer in enumerate(order):
        hub.transfer(offer, TransferResult.SUCCESS if n % 3 else TransferResult.IMAGE_DISCARDED)
        if n % 10 == 0:
            hub.transfer(offer, TransferResult.SUCCESS if n % 3 else TransferResult.IMAGE_DISCARDED)  # duplicate
    assert b.alerts.count(lambda a: a.code in ("0x8F8A", "0x8F89")) == 0  # still in the CSP batch
    await clock.advance(31)
    transfer = b.alerts.list(lambda a: a.code in ("0x8F8A", "0x8F89"))
    assert [a.device for a in transfer] == [hub.offers[o]["ieee"] for o in order]
    assert sum(a.code == "0x8F89" for a in transfer) == 34
    assert all(a.request_id == r.request_id for a in transfer)
    b.close()


async def test_inbox_items_come_back_typed_and_an_unknown_kind_is_logged_not_fatal(backend, hub):
    r = backend.update_ppmid_firmware(IS_A, PPMID_IMG, "01020304", [PPMID1])
    with backend.store.transaction():  # what a newer rig version might have left in the inbox
        backend.store.db.execute("INSERT INTO csp_inbox (key, kind, payload, received) VALUES (?,?,?,?)",
                                 ("future:1", "SomethingNew", "{}", 0.0))
    hub.transfer(hub.offer_for(ieee(PPMID1)))
    await backend.drain()
    assert [e["kind"] for e in backend.log_entries("inbox_unknown_kind")] == ["SomethingNew"]
    assert backend.store.one("SELECT COUNT(*) AS n FROM csp_inbox WHERE processed = 0")["n"] == 0
    codes = [(a.code, a.request_id) for a in backend.alerts.list()]
    assert codes == [("N60", r.request_id), ("0x8F8A", r.request_id)]
