"""The interop tests' error check can fail: a frame the emulator does not answer is counted."""

from __future__ import annotations

import bellows.exception
import pytest
import zigpy.config as zconf

from tests.interop.emulate_cli import EmulateProcess


async def test_a_frame_the_stick_does_not_emulate_is_reported(tmp_path):
    from bellows.zigbee.application import ControllerApplication

    emulator = EmulateProcess("--transport", "tcp", workdir=tmp_path)
    app = ControllerApplication({zconf.CONF_DEVICE: {zconf.CONF_DEVICE_PATH: emulator.port}, "use_thread": False,
                                 zconf.CONF_DATABASE: None})
    try:
        await app.connect()
        with pytest.raises(bellows.exception.InvalidCommandError):
            await app._ezsp.getTokenCount()  # NVM3 token manager: not emulated
    finally:
        await app.disconnect()
        errors = emulator.stop()
    assert len(errors) == 1 and "0x0100" in errors[0], errors
