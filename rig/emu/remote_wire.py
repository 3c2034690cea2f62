"""What crosses between `RemoteEmulator` (host process) and the emulator's own process.

Requests are tuples `(call_id, op, target, path, args, kwargs)`:
  op      "get" | "set" | "call" | "cpu" | "stop"
  target  None for the Emulator, or a device's IEEE address as text
  path    attribute names from the target, e.g. ("flash", "installed_image") or ("ota", "wait_for_event")
Replies are `(call_id, ok, value)`; on failure `value` is the exception (or a RemoteError describing it).

Values are pickled by multiprocessing.connection. Plain data (numbers, text, bytes, enums, zigpy
types, frozen dataclasses such as OtaEvent, lists/tuples/dicts of those, and a device's EventLog of
them) travel by value; a device travels as a `DeviceRef`, a method as a `MethodRef`, any other live
object (a device's flash, faults, OTA client...) as an `ObjectRef` the host turns into a proxy.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import zigpy.types as zt

from rig.emu.event_log import EventLog


class RemoteError(RuntimeError):
    """An exception raised in the emulator process that could not be sent back as itself."""


@dataclasses.dataclass(frozen=True)
class DeviceRef:
    ieee: str
    nwk: int


@dataclasses.dataclass(frozen=True)
class ObjectRef:
    type_name: str


@dataclasses.dataclass(frozen=True)
class MethodRef:
    name: str
    is_async: bool


_PLAIN = (type(None), bool, int, float, str, bytes, bytearray, enum.Enum, zt.EUI64)


def is_device(value: Any) -> bool:
    return all(hasattr(value, a) for a in ("ieee", "nwk", "flash", "ota", "faults", "receive"))


def encode(value: Any) -> Any:
    """A value as it crosses to the host (see the module docstring)."""
    if isinstance(value, _PLAIN):
        return value
    if type(value) in (list, tuple):
        return type(value)(encode(v) for v in value)
    if type(value) is dict:
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, EventLog):  # a snapshot: len(), slices and absolute indices work on the host too
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and value.__dataclass_params__.frozen:
        return value
    if is_device(value):
        return DeviceRef(str(value.ieee), int(value.nwk))
    if callable(value):
        import inspect  # noqa: PLC0415

        return MethodRef(getattr(value, "__name__", "?"), inspect.iscoroutinefunction(value))
    return ObjectRef(type(value).__name__)


def exception_for_host(exc: BaseException) -> BaseException:
    """The exception itself when it pickles (ValueError, TimeoutError, PermitJoinClosed...), else a RemoteError."""
    import pickle  # noqa: PLC0415

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any pickling failure means: describe it instead
        return RemoteError(f"{type(exc).__name__}: {exc}")
