"""rig.bench.session.Session: one bring-up, the radio a strategy, observers that outlive a CH restart."""

from __future__ import annotations

from pathlib import Path

from rig.bench.config import load_bench
from rig.bench.session import EmulatedRadio, HardwareRadio, Session
from rig.clock import RealClock, VirtualClock
from rig.hub import HubConfig
from rig.hub.events import ActivationPlan, TransferOutcome
from tests.hub.conftest import wait_for
from tests.hub.images import PPMID, image

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "fixtures" / "benches" / "emulated.yaml"


def test_the_bench_file_chooses_the_strategy(tmp_path) -> None:
    emulated = Session.for_bench(load_bench(BENCH), tmp_path / "e")
    assert isinstance(emulated.radio, EmulatedRadio) and isinstance(emulated.clock, VirtualClock)
    hardware = Session.for_bench(load_bench(REPO / "fixtures" / "benches" / "hardware-example.yaml"), tmp_path / "h")
    assert isinstance(hardware.radio, HardwareRadio) and isinstance(hardware.clock, RealClock)
    assert hardware.emulator is None and hardware.radio.activity() == () and hardware.radio.sends_on_air is None
    assert hardware.radio.errors() == []


async def test_session_signals_outlive_a_ch_restart_and_a_hubs_own_die_with_it(tmp_path) -> None:
    config = HubConfig.load(BENCH).with_options(db_path=str(tmp_path / "hub.sqlite3"))
    session = Session(EmulatedRadio(ezsp_version=13, seed=4), config, tmp_path)
    await session.start()
    try:
        frames, events, old_hub_frames = [], [], []
        session.frames.connect(frames.append)
        session.hub_events.connect(events.append)
        first = session.hub
        first.frame_logged.connect(old_hub_frames.append)
        await session.restart_hub(replay=False)
        assert session.hub is not first and session.hub_restarts == 1
        assert len(first.frame_logged) == 1  # the session's forwarder left the old hub; only ours is there
        hub = session.hub
        handle = session.add_device("dut", "ppmid")
        await session.pair("dut", within=60)
        offer = hub.offer(handle.ieee, hub.store_image(image(PPMID, 2, 2000)), plan=ActivationPlan.NOW)
        await wait_for(lambda: [e for e in events if isinstance(e, TransferOutcome)], what="transfer outcome")
        assert [(e.offer_id, e.ieee) for e in events if isinstance(e, TransferOutcome)] == [(offer, handle.ieee)]
        assert any(f.command == "IMAGE_BLOCK_RSP" and f.ieee == handle.ieee for f in frames)
        assert old_hub_frames == []  # the old hub is gone: its listeners hear nothing
        assert session.radio.activity() and session.radio.errors() == []
    finally:
        await session.stop()
    assert session.hub is None and session.backend is None
