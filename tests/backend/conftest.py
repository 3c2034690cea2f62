from __future__ import annotations

import pytest

from rig.clock import VirtualClock
from tests.backend.fake_ch import FakeCommsHub
from tests.backend.helpers import make_backend

START = 1_700_000_000.0


@pytest.fixture
def clock():
    return VirtualClock(start=START, rate=1.0)


@pytest.fixture
def hub(clock):
    return FakeCommsHub(clock)


@pytest.fixture
async def backend(tmp_path, clock, hub):
    b = make_backend(tmp_path, clock, hub)
    yield b
    assert b.errors == []
    b.close()
