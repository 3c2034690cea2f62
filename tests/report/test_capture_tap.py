"""The tap on the hub's real bellows ControllerApplication (emulated EZSP stick, emulated PPMID): every frame
of a download lands in the capture, and tshark decodes the download from it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rig.bench.session import EmulatedRadio, Session
from rig.hub import HubConfig
from rig.hub.events import ActivationPlan, TransferOutcome, TransferResult
from rig.image import build_image
from rig.report.capture import Capture, tap
from tests.report.tshark import expert, fields

BENCH = Path(__file__).resolve().parents[2] / "fixtures" / "benches" / "emulated.yaml"
PPMID_IMAGE = dict(manufacturer_code=0x1234, image_type=0x0101, file_version=2, min_hw_version=0x0100,
                   max_hw_version=0x0100, integrity_code=True)


async def _until(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_tap_records_a_real_download_and_undo_restores_the_app(tmp_path) -> None:
    config = HubConfig.load(BENCH).with_options(db_path=str(tmp_path / "hub.sqlite3"))
    session = Session(EmulatedRadio(ezsp_version=13), config, tmp_path)
    await session.start()
    try:
        hub = session.hub
        capture = Capture(pan_id=0x1A62)
        undo = tap(hub.app, capture)
        handle = session.add_device("ppmid", "ppmid")
        ieee = handle.ieee
        await hub.permit(60)
        await session.radio.join(handle)
        image = build_image(bytes(range(256)) * 2, **PPMID_IMAGE)
        hub.offer(ieee, hub.store_image(image), plan=ActivationPlan.NOW)
        await _until(lambda: any(isinstance(e, TransferOutcome) for e in hub.events), what="transfer outcome")
        assert [e.result for e in hub.events if isinstance(e, TransferOutcome)] == [TransferResult.SUCCESS]
        await _until(lambda: any(f.command == "UPGRADE_END_RSP" for f in hub.frames), what="Upgrade End Rsp")
        await asyncio.sleep(0.2)  # let the response reach send_packet
        undo()
        assert "packet_received" not in vars(hub.app) and "send_packet" not in vars(hub.app)
        count = len(capture.frames)
        await hub.read_version(ieee)  # after undo: no longer recorded
        assert len(capture.frames) == count
    finally:
        await session.stop()

    path = str(capture.write_pcapng(tmp_path / "download.pcapng"))
    assert "Bad FCS" not in expert(path) and "Malformed" not in expert(path)
    ota = fields(path, "zbee_zcl_general.ota.cmd.srv_rx.id", "zbee_zcl_general.ota.cmd.srv_tx.id",
                 "zbee_zcl_general.ota.file.offset", "zbee_nwk.src64", "zbee_zcl_general.ota.file.version",
                 display_filter="zbee_aps.cluster == 0x0019")
    requests = [r for r in ota if r[0]]
    responses = [r for r in ota if r[1]]
    assert requests[0][0] == "0x01" and requests[0][3] == ieee  # Query Next Image from the PPMID's EUI64
    block_offsets = [int(r[2]) for r in requests if r[0] == "0x03"]
    assert block_offsets[0] == 0 and block_offsets == sorted(block_offsets)
    assert sum(1 for r in responses if r[1] == "0x05") >= len(image) // 40  # one Image Block Response per block
    commands = [r[0] or r[1] for r in ota]
    end = commands.index("0x06")  # Upgrade End Request for v2, answered by an Upgrade End Response
    assert ota[end][4] == "0x00000002" and "0x07" in commands[end:]
    zdo = fields(path, "zbee_aps.zdp_cluster", display_filter="zbee_zdp")
    assert zdo, "the device's ZDO traffic (announce, descriptors) is captured too"
