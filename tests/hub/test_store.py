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


# -- what the CH stores from a real-world file: exactly the declared image -----------------------------

def _hub(**options):
    from rig.clock import VirtualClock
    from rig.hub import Hub, HubConfig

    return Hub(HubConfig().with_options(**options), clock=VirtualClock(start=1_700_000_000.0))


@pytest.mark.parametrize("variant", ["ikea", "legrand", "crc32", "padding_crc", "to_element", "telink", "hue"])
def test_the_stored_image_is_exactly_the_declared_one(variant: str) -> None:
    from tests.image import real_world as rw

    declared = {"telink": rw.telink, "hue": rw.hue_sbl}.get(variant, lambda: rw.zigbee(
        "to-element" if variant == "to_element" else "to-value"))()
    wrap = {"ikea": rw.in_ikea_container, "legrand": rw.with_size_prefix, "crc32": rw.with_crc32,
            "padding_crc": rw.with_padding_and_raw_crc}.get(variant, lambda data: data)
    hub = _hub(image_types={0x0101: "ppmid"})
    image_id = hub.store_image(wrap(declared))
    assert hub.store.image_data(image_id) == declared
    assert hub.store.image(image_id).total_size == len(declared)


def test_an_integrity_warning_is_fatal_only_when_the_bench_says_so() -> None:
    from rig.hub import ImageRejected
    from tests.image import real_world as rw

    data = bytearray(rw.zigbee())
    data[-1] ^= 1  # matches neither coverage
    assert _hub().store_image(bytes(data))
    with pytest.raises(ImageRejected, match="integrity code matches neither coverage.*fatal_image_warnings"):
        _hub(fatal_image_warnings=("integrity",)).store_image(bytes(data))


def test_the_hub_hashes_each_stored_image_once(monkeypatch) -> None:
    """AES-MMO over the image runs once per stored image: both coverages come from one pass, and the
    file is read once (issue 21: the hub computed it twice)."""
    from rig.image import build_image, integrity

    data = build_image(bytes(range(256)) * 800, manufacturer_code=0x1234, image_type=0x0101, file_version=2,
                       integrity_code=True, integrity_coverage="to-element")
    hub = _hub()
    hashed: list[int] = []
    real = integrity._compress
    monkeypatch.setattr(integrity, "_compress", lambda h, blocks: hashed.append(len(blocks)) or real(h, blocks))
    assert hub.store_image(data)
    assert len(data) - 22 <= sum(hashed) <= len(data) + 3 * 16  # the bytes before the code, plus padding blocks


def test_an_unmapped_image_type_names_the_known_ones() -> None:
    from rig.hub import ImageRejected
    from tests.image import real_world as rw

    with pytest.raises(ImageRejected) as err:
        _hub().store_image(rw.zigbee(image_type=0x0999))
    text = str(err.value) + " ".join(getattr(err.value, "problems", []) or [])
    assert "0x0999" in text and "0x0101=ppmid" in text


def _image(store: Store, data: bytes, digest: str) -> int:
    with store.transaction() as db:
        return store.insert_image(db, slot="gsme_block", kind="ppmid", data=data, manufacturer_code=1, image_type=2,
                                  file_version=3, min_hw=None, max_hw=None, sha256=digest, stored_at=0.0,
                                  request_id=None)


def test_corrupt_stored_copy_changes_what_is_served_and_nothing_else():
    store = Store(None)
    data = bytes(range(100))
    held = _image(store, data, "aa")
    other = _image(store, data, "bb")
    assert store.image_data(held) == data  # now in the served-bytes cache
    assert store.corrupt_stored_copy("aa", 40) == [held]
    served = store.image_data(held)
    assert served[40] == data[40] ^ 0xFF and served[:40] + served[41:] == data[:40] + data[41:]
    assert store.image_data(other) == data
    assert store.corrupt_stored_copy("cc", 40) == []  # not held: nothing to corrupt
    with store.transaction() as db:
        store.discard_image(db, other, "test", 1.0)
    assert store.corrupt_stored_copy("bb", 40) == []  # a discarded copy has no bytes left
    with pytest.raises(ValueError, match="outside image"):
        store.corrupt_stored_copy("aa", 100)
