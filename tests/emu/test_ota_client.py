"""The emulated OTA client against a hand-built OTA server (the fake is the peer; the device is tested)."""

from __future__ import annotations

import hashlib

import pytest
from zigpy.zcl.clusters.general import ImageUpgradeStatus as S

try:
    from test_device_fakes import FakeServer, advance, build_image, make_device, settle
except ImportError:  # tests/emu became a package
    from .test_device_fakes import advance, build_image, make_device, settle


async def full_upgrade(profile: str = "ppmid", **image_kw):
    image = build_image(0x00000002, **image_kw)
    dev, server, clock = make_device(profile, image)
    dev.power_on()
    await dev.ota.wait_for_event("activated", timeout=120)
    await settle()
    return dev, server, clock, image


async def test_power_on_discovers_server_and_queries() -> None:
    dev, server, clock = make_device("ppmid", None)
    dev.power_on()
    await dev.ota.wait_for_event("query_response")
    annce = server.requests(0x0013)
    assert len(annce) == 1 and annce[0].frame.dst_nwk == 0xFFFD
    match = server.requests(0x0006)
    assert match, "Match_Desc_req for the OTA server was not sent"
    qni = server.ota(0x01)
    assert len(qni) == 1
    assert qni[0].fields == dict(fc=1, mfr=0x1234, type=0x0101, version=1, length=11, hw=0x0100)
    assert qni[0].frame.dst_ep == 1 and qni[0].frame.profile_id == 0x0109
    await dev.ota.wait_for_event("server_ieee")
    assert str(dev.read_attribute(0x0019, 0x0000)) == "00:0d:6f:00:00:00:00:01"
    assert dev.ota.status == S.Normal
    dev.power_off()


async def test_query_interval_daily_on_clock() -> None:
    dev, server, clock = make_device("ppmid", None)
    dev.power_on()
    await dev.ota.wait_for_event("query_response")
    await advance(clock, 86400 - 60)
    assert len(server.ota(0x01)) == 1
    await advance(clock, 120)
    assert len(server.ota(0x01)) == 2
    await advance(clock, 86400 * 2)
    assert len(server.ota(0x01)) == 4
    dev.power_off()


async def test_full_download_verify_activate_reports_new_version() -> None:
    dev, server, clock, image = await full_upgrade()
    ibrs = server.ota(0x03)
    offsets = [r.fields["offset"] for r in ibrs]
    assert offsets == list(range(0, len(image), 40))
    assert all(r.fields["max"] == 40 and r.fields["fc"] & 0x02 for r in ibrs)
    ends = server.ota(0x06)
    assert [e.fields["status"] for e in ends] == [0x00] and ends[0].fields["version"] == 2
    assert dev.flash.current_file_version == 2
    assert hashlib.sha256(dev.flash.installed_image).digest() == hashlib.sha256(image).digest()
    # rebooted into the new image: announces again and its next QNI reports version 2
    await dev.ota.wait_for_event("query_sent", where=lambda e: e.data["current_file_version"] == 2)
    await settle()
    assert server.ota(0x01)[-1].fields["version"] == 2
    assert len(server.requests(0x0013)) == 2
    statuses = [e.data["new"] for e in dev.ota.events("status")]
    assert statuses[:3] == ["Download_in_progress", "Download_complete", "Count_down"]
    assert statuses[3] == "Normal"
    dev.power_off()


async def test_attributes_track_the_download() -> None:
    image = build_image(2, 2000)
    dev, server, clock = make_device("ppmid", image)
    server.wait_for_data[400] = (0, 3, None)
    dev.power_on()
    await dev.ota.wait_for_event("wait_for_data")
    assert dev.read_attribute(0x0019, 0x0006) == S.Download_in_progress
    assert dev.read_attribute(0x0019, 0x0001) == 400
    assert dev.read_attribute(0x0019, 0x0004) == 2
    assert dev.read_attribute(0x0019, 0x0002) == 1
    assert dev.read_attribute(0x0019, 0x0007) == 0x1234 and dev.read_attribute(0x0019, 0x0008) == 0x0101
    dev.power_off()


async def test_wait_for_data_honoured_same_offset() -> None:
    image = build_image(2, 600)
    dev, server, clock = make_device("ppmid", image)
    server.wait_for_data[200] = (0, 4, None)  # relative: come back in 4 s
    dev.power_on()
    await dev.ota.wait_for_event("activated", timeout=120)
    ibrs = server.ota(0x03)
    at200 = [r for r in ibrs if r.fields["offset"] == 200]
    assert len(at200) == 2, "the same offset must be re-requested after WAIT_FOR_DATA"
    assert at200[1].time - at200[0].time >= 4.0
    wfd = dev.ota.events("wait_for_data")[0]
    assert wfd.data["wait_s"] == 4.0 and wfd.data["offset"] == 200
    done = dev.ota.events("wait_done")[0]
    assert done.data["waited_s"] >= 4.0


async def test_wait_for_data_absolute_times() -> None:
    image = build_image(2, 300)
    dev, server, clock = make_device("ppmid", image)
    server.wait_for_data[0] = (700_000_000, 700_000_006, None)  # absolute UTC: 6 s later
    dev.power_on()
    await dev.ota.wait_for_event("activated", timeout=120)
    at0 = [r for r in server.ota(0x03) if r.fields["offset"] == 0]
    assert len(at0) == 2 and at0[1].time - at0[0].time >= 6.0


async def test_wait_for_data_ignored_under_fault() -> None:
    image = build_image(2, 300)
    dev, server, clock = make_device("ppmid", image)
    server.wait_for_data[80] = (0, 30, None)
    dev.faults.ignore_wait_for_data = True
    dev.power_on()
    await dev.ota.wait_for_event("activated", timeout=120)
    at80 = [r for r in server.ota(0x03) if r.fields["offset"] == 80]
    assert len(at80) == 2 and at80[1].time - at80[0].time < 30.0
    assert dev.ota.events("fault_wait_ignored")


@pytest.mark.parametrize(("profile", "period", "min_gap"), [("ppmid", 500, 0.5), ("ppmid-seconds", 2, 2.0)])
async def test_minimum_block_period_units(profile: str, period: int, min_gap: float) -> None:
    image = build_image(2, 200)
    dev, server, clock = make_device(profile, image)
    server.wait_for_data[0] = (0, 0, period)  # no wait, but a MinimumBlockPeriod from now on
    dev.power_on()
    await dev.ota.wait_for_event("activated", timeout=120)
    ibrs = server.ota(0x03)
    later = ibrs[2:]
    assert all(r.fields["mbp"] == period for r in later), "the client must echo the period it honours"
    # Gaps between the client's own sends: the fake server stamps a frame when its loop turn comes,
    # so server-side gaps carry scheduling jitter (x20 on this clock) the client is not answerable for.
    sent = [e for e in dev.ota.events("block_requested") if e.data["minimum_block_period"] == period]
    assert len(sent) >= len(later)
    gaps = [b.time - a.time for a, b in zip(sent, sent[1:])]
    assert gaps and min(gaps) >= min_gap
    if profile == "ppmid":
        assert max(gaps) < 2.0  # 500 read as ms, not as 500 s
    assert dev.read_attribute(0x0019, 0x0009) == 0  # reset after activation


async def test_resume_after_reboot_from_file_offset_byte_identical() -> None:
    image = build_image(2, 3000)
    dev, server, clock = make_device("ppmid", image)
    dev.faults.reboot_at_percent = 40
    dev.power_on()
    await dev.ota.wait_for_event("fault_reboot")
    offset = dev.ota.events("fault_reboot")[0].data["offset"]
    await dev.ota.wait_for_event("resume")
    assert dev.ota.events("resume")[0].data["offset"] == offset
    await dev.ota.wait_for_event("activated", timeout=120)
    qnis = server.ota(0x01)
    assert len(qnis) == 1, "resume must not need a fresh Query Next Image"
    offsets = [r.fields["offset"] for r in server.ota(0x03)]
    assert offsets.count(0) == 1 and offsets[offsets.index(offset) - 1] == offset - 40
    assert dev.flash.installed_image == image
    assert [e.name for e in dev.records].count("reboot") >= 2  # fault reboot + activation


async def test_reboot_keeps_flash_state() -> None:
    image = build_image(2, 2000)
    dev, server, clock = make_device("ppmid", image)
    server.wait_for_data[800] = (0, 600, None)
    dev.power_on()
    await dev.ota.wait_for_event("wait_for_data")
    dev.reboot()
    assert dev.read_attribute(0x0019, 0x0001) == 800
    assert dev.read_attribute(0x0019, 0x0004) == 2
    assert dev.read_attribute(0x0019, 0x0006) == S.Download_in_progress
    assert len(dev.flash.data) == 800
    await dev.ota.wait_for_event("activated", timeout=120)
    assert dev.flash.installed_image == image


async def test_page_requests_with_missed_block_refetch() -> None:
    image = build_image(2, 1000)
    dev, server, clock = make_device("ppmid-paged", image)
    server.page_support = True
    server.block_cap = 40
    server.page_drop = {80, 440}
    dev.power_on()
    await dev.ota.wait_for_event("activated", timeout=120)
    pages = server.ota(0x04)
    assert pages and [p.fields["offset"] for p in pages][:2] == [0, 200]
    assert pages[0].frame.payload[0] & 0x10, "page requests are sent with disable-default-response"
    refetched = [e.data["offset"] for e in dev.ota.events("missed_block_refetch")]
    assert refetched == [80, 440]
    assert [r.fields["offset"] for r in server.ota(0x03)] == [80, 440]
    assert dev.flash.installed_image == image


async def test_page_requests_fall_back_to_blocks() -> None:
    image = build_image(2, 500)
    dev, server, clock = make_device("ppmid-paged", image)
    dev.power_on()
    await dev.ota.wait_for_event("activated", timeout=120)
    assert len(server.ota(0x04)) == 1
    assert dev.ota.events("page_fallback")
    assert [r.fields["offset"] for r in server.ota(0x03)] == list(range(0, len(image), 40))
    assert dev.flash.installed_image == image


async def test_wait_forever_reasks_hourly_then_unsolicited_activation() -> None:
    image = build_image(2, 300, image_type=0x0102)
    dev, server, clock = make_device("hcalcs", image)
    server.upgrade_end_times = [(0, 0xFFFFFFFF)]
    dev.power_on()
    await dev.ota.wait_for_state(S.Waiting_to_upgrade, timeout=120)
    assert len(server.ota(0x06)) == 1
    for hour in range(1, 4):
        await advance(clock, 3600)
        assert len(server.ota(0x06)) == 1 + hour
    gaps = [b.time - a.time for a, b in zip(server.ota(0x06), server.ota(0x06)[1:])]
    assert all(3590 <= g <= 3700 for g in gaps)
    assert dev.flash.current_file_version == 1
    # the CH now activates it with an unsolicited Upgrade End Response: in 60 s
    server.send_upgrade_end_response(0, 60)
    await settle()
    assert dev.ota.status == S.Count_down
    await advance(clock, 61)
    await dev.ota.wait_for_event("activated")
    assert dev.flash.current_file_version == 2


async def test_long_activation_wait_is_capped_and_reasked() -> None:
    image = build_image(2, 200)
    dev, server, clock = make_device("ppmid", image)
    server.upgrade_end_times = [(0, 3 * 3600), (0, 3600 + 30), (0, 20)]
    dev.power_on()
    await dev.ota.wait_for_state(S.Count_down, timeout=120)
    await advance(clock, 3600 + 5)
    assert len(server.ota(0x06)) == 2
    await advance(clock, 3600 + 5)
    assert len(server.ota(0x06)) == 3
    await advance(clock, 25)
    await dev.ota.wait_for_event("activated")


async def test_out_of_band_policy_answers_not_authorized() -> None:
    image = build_image(2, 200)
    dev, server, clock = make_device("ppmid-oob", image)
    dev.power_on()
    await dev.ota.wait_for_event("activation_refused", timeout=120)
    await settle()
    drs = [s for s in server.requests(0x0019) if s.fields.get("general") and s.command == 0x0B]
    assert drs and drs[-1].fields["body"] == bytes([0x07, 0x7E])  # Default Response to cmd 0x07: NOT_AUTHORIZED
    assert dev.ota.status == S.Waiting_to_Upgrade_via_External_Event
    assert dev.read_attribute(0x0019, 0x000B) == 1
    assert dev.flash.current_file_version == 1
    dev.ota.activate_out_of_band()
    await dev.ota.wait_for_event("activated")
    assert dev.flash.current_file_version == 2


async def test_integrity_failure_sends_invalid_image() -> None:
    image = bytearray(build_image(2, 400))
    image[100] ^= 0x01  # corrupt the served copy: the integrity code no longer matches
    dev, server, clock = make_device("ppmid", bytes(image))
    dev.power_on()
    await dev.ota.wait_for_event("upgrade_end_sent", timeout=120)
    await settle()
    assert [e.fields["status"] for e in server.ota(0x06)] == [0x96]
    assert "Integrity" in dev.ota.events("verified")[0].data["problem"]
    assert dev.flash.current_file_version == 1 and dev.ota.status == S.Normal


async def test_downgrade_refused_with_invalid_image() -> None:
    dev, server, clock = make_device("ppmid", build_image(1, 100))
    dev.flash.current_file_version = 5
    dev.power_on()
    await dev.ota.wait_for_event("offer_rejected")
    await settle()
    assert [e.fields["status"] for e in server.ota(0x06)] == [0x96]
    assert server.ota(0x03) == []


async def test_same_version_and_foreign_offers_ignored() -> None:
    dev, server, clock = make_device("ppmid", build_image(1, 100))
    dev.power_on()
    ev = await dev.ota.wait_for_event("offer_rejected")
    assert "running version" in ev.data["reason"]
    assert server.ota(0x03) == [] and server.ota(0x06) == []


async def test_block_abort_and_no_image_abort_download() -> None:
    image = build_image(2, 400)
    dev, server, clock = make_device("ppmid", image)
    server.block_status_at[120] = 0x95  # ABORT
    dev.power_on()
    ev = await dev.ota.wait_for_event("download_aborted", timeout=60)
    assert "ABORT" in ev.data["reason"]
    assert dev.ota.status == S.Normal and dev.read_attribute(0x0019, 0x0008) == 0xFFFF
    dev2, server2, _ = make_device("ppmid", image)
    server2.ibr_default_response = 0x98
    dev2.power_on()
    ev2 = await dev2.ota.wait_for_event("download_aborted", timeout=60)
    assert "NO_IMAGE_AVAILABLE" in ev2.data["reason"]


async def test_upgrade_end_silence_applies_per_timeout_policy() -> None:
    image = build_image(2, 200)
    dev, server, clock = make_device("ppmid", image)  # timeout_policy 0: apply
    server.answer_upgrade_end = False
    dev.power_on()
    await dev.ota.wait_for_event("download_complete", timeout=60)
    await advance(clock, 60)
    await dev.ota.wait_for_event("upgrade_end_timeout_apply")
    assert len(server.ota(0x06)) == 1 + dev.profile.ota.upgrade_end_retries
    assert dev.flash.current_file_version == 2

    image = build_image(2, 200, image_type=0x0102)
    dev, server, clock = make_device("hcalcs", image)  # timeout_policy 1: do not apply
    server.answer_upgrade_end = False
    dev.power_on()
    await dev.ota.wait_for_event("download_complete", timeout=60)
    await advance(clock, 60)
    await dev.ota.wait_for_event("upgrade_end_timeout_not_applied")
    assert dev.flash.current_file_version == 1 and dev.ota.status == S.Waiting_to_upgrade
    n = len(server.ota(0x06))
    await advance(clock, 3600)
    assert len(server.ota(0x06)) > n  # keeps asking hourly
    server.send_upgrade_end_response(0, 0)
    await dev.ota.wait_for_event("activated")
