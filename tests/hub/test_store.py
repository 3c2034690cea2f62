"""The store's cached row reads never return a row older than the last write, committed or rolled back."""

from __future__ import annotations

import pytest

from rig.hub.store import Store


def _offer(store: Store, db, ieee: str = "a", image_id: int = 1) -> int:
    return store.insert_offer(db, ieee=ieee, image_id=image_id, plan="now", upgrade_time=None, request_id=None,
                              allow_downgrade=False, created_at=0.0)


def test_cached_reads_follow_every_write():
    store = Store(None)
    assert store.device_kind("a") == (False, None)
    store.allow_device("a", "ppmid", 0.0)
    assert store.device_kind("a") == (True, "ppmid")
    with store.transaction() as db:
        first = _offer(store, db)
        assert store.latest_offer("a").id == first  # read inside the transaction sees the insert
    store.update_offer(None, first, state="withdrawn")
    assert store.latest_offer("a").state == "withdrawn"
    assert [o.state for o in store.offers_for("a")] == ["withdrawn"]
    with store.transaction() as db:
        second = _offer(store, db)
    assert [o.id for o in store.offers_for("a")] == [second, first]


def test_a_rolled_back_write_is_not_served_from_the_cache():
    store = Store(None)
    store.allow_device("a", "ppmid", 0.0)
    assert store.offers_for("a") == []
    with pytest.raises(RuntimeError), store.transaction() as db:
        _offer(store, db)
        assert len(store.offers_for("a")) == 1
        raise RuntimeError("abort")
    assert store.offers_for("a") == []


def test_callers_cannot_change_the_cached_list():
    store = Store(None)
    with store.transaction() as db:
        _offer(store, db)
    store.offers_for("a").clear()
    assert len(store.offers_for("a")) == 1
