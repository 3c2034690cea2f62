"""A stick that does not open is described in words, with the cause zigpy wrapped, never
'TransientConnectionError: TransientConnectionError'."""

from __future__ import annotations

import errno

from zigpy.exceptions import TransientConnectionError

from rig.bench.cli import radio_line
from rig.bench.doctor import radio_problem


def _wrapped(cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise TransientConnectionError() from inner
    except TransientConnectionError as outer:
        return outer


def test_the_cause_behind_zigpys_wrapper_is_worded():
    assert radio_problem(_wrapped(ConnectionRefusedError(errno.ECONNREFUSED, "refused"))).startswith(
        "nothing accepts connections there")
    assert radio_problem(_wrapped(FileNotFoundError(errno.ENOENT, "No such file"))).startswith("no such port")
    assert radio_problem(OSError(errno.ENOTTY, "Inappropriate ioctl for device")).startswith("not a serial port")
    assert radio_problem(PermissionError(errno.EACCES, "denied")).startswith("permission denied")
    assert radio_problem(TimeoutError(), timeout=15).startswith("no EZSP answer within 15 s")
    assert "TransientConnectionError" not in radio_problem(_wrapped(TimeoutError()))


def test_the_line_names_the_port_and_points_at_rig_doctor():
    line = radio_line("/dev/ttyUSB0", FileNotFoundError(errno.ENOENT, "x"))
    assert line.startswith("/dev/ttyUSB0: no EZSP stick answered: no such port")
    assert line.endswith("(try `rig doctor --port /dev/ttyUSB0`)")
