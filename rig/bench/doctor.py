"""`rig doctor`: which serial ports are there, which look like a Silicon Labs EZSP stick, and what does
the chosen one say about itself (EZSP protocol and stack version) when bellows opens it."""

from __future__ import annotations

import asyncio
import dataclasses
import errno

# USB ids of adapters EZSP sticks ship behind (bridge chips and native USB). A match is a hint, the
# probe is the proof: the same CP210x bridge also sits in front of non-Zigbee hardware.
KNOWN_USB = {
    (0x10C4, 0xEA60): "Silicon Labs CP210x bridge (SkyConnect, ZBT-1, EFR32 dev kits, many EZSP sticks)",
    (0x10C4, 0x8A2A): "Silicon Labs native USB (EFR32MG)",
    (0x1A86, 0x55D4): "WCH CH9102 bridge (Sonoff ZBDongle-E)",
    (0x1A86, 0x7523): "WCH CH340 bridge (Elelabs, generic EZSP sticks)",
    (0x0403, 0x6015): "FTDI FT231X bridge (some EZSP boards)",
}
TESTED_EZSP_VERSIONS = (13, 14)  # what the emulator and the rig's CI exercise
BELLOWS_EZSP_RANGE = (4, 19)  # what bellows 1.2.1 speaks at all


@dataclasses.dataclass
class PortInfo:
    device: str
    description: str
    usb_id: tuple[int, int] | None
    hint: str | None  # why it might be an EZSP stick


def list_ports() -> list[PortInfo]:
    from serial.tools import list_ports as lp

    out = []
    for port in lp.comports():
        usb = (port.vid, port.pid) if port.vid is not None and port.pid is not None else None
        out.append(PortInfo(port.device, port.description or "n/a", usb, KNOWN_USB.get(usb) if usb else None))
    return out


@dataclasses.dataclass
class ProbeResult:
    path: str
    ok: bool
    ezsp_version: int | None = None
    stack_version: str | None = None
    board: str | None = None
    manufacturer: str | None = None
    error: str = ""

    @property
    def supported(self) -> bool:
        return self.ezsp_version in TESTED_EZSP_VERSIONS


async def probe(path: str, *, baudrate: int = 115200, flow_control: str | None = None,
                timeout: float = 15.0) -> ProbeResult:
    """Open the port with bellows, reset the NCP, negotiate EZSP, read the board info."""
    import zigpy.config
    from bellows.ezsp import EZSP

    config = zigpy.config.SCHEMA_DEVICE({
        zigpy.config.CONF_DEVICE_PATH: path,
        zigpy.config.CONF_DEVICE_BAUDRATE: baudrate,
        zigpy.config.CONF_DEVICE_FLOW_CONTROL: flow_control,
    })
    ezsp = EZSP(config)
    try:
        async with asyncio.timeout(timeout):
            await ezsp.connect(use_thread=False)
            manufacturer, board, version = await ezsp.get_board_info()
        return ProbeResult(path, True, ezsp.ezsp_version, version, board, manufacturer)
    except Exception as exc:  # bellows raises many kinds; the user needs the words, not the trace
        return ProbeResult(path, False, error=radio_problem(exc, timeout=timeout))
    finally:
        try:
            await ezsp.disconnect()
        except Exception:
            pass


def radio_problem(exc: BaseException, *, timeout: float | None = None) -> str:
    """What went wrong opening a stick, in words (zigpy wraps the cause in TransientConnectionError,
    which on its own prints only its class name)."""
    cause = _root_cause(exc)
    code = getattr(cause, "errno", None)
    if isinstance(cause, TimeoutError) or code == errno.ETIMEDOUT:
        within = f" within {timeout:.0f} s" if timeout else ""
        return (f"no EZSP answer{within} (not an EZSP stick, wrong baud rate or flow control, or the stick "
                "is in use)")
    if isinstance(cause, FileNotFoundError) or code == errno.ENOENT:
        return "no such port (is the stick plugged in? `dmesg` shows its /dev/ttyUSB* or /dev/ttyACM*)"
    if isinstance(cause, PermissionError) or code in (errno.EACCES, errno.EPERM):
        return "permission denied (add yourself to the dialout group, or the port is in use)"
    if code == errno.EBUSY:
        return "the port is busy (another program has it open)"
    if code == errno.ENOTTY:
        return "not a serial port (the path exists but is no tty)"
    if isinstance(cause, ConnectionRefusedError) or code == errno.ECONNREFUSED:
        return "nothing accepts connections there (is the serial server or `rig emulate --transport tcp` running?)"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    text = str(cause)
    return f"{type(cause).__name__}: {text}" if text and text != type(cause).__name__ else type(cause).__name__


def _root_cause(exc: BaseException) -> BaseException:
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        nxt = exc.__cause__ or exc.__context__
        if nxt is None or (str(exc) and str(exc) != type(exc).__name__ and not isinstance(nxt, OSError)):
            break
        exc = nxt
    return exc


def describe_probe(result: ProbeResult) -> str:
    if not result.ok:
        return f"{result.path}: no EZSP stick answered: {result.error}"
    lines = [
        f"{result.path}: EZSP stick answered",
        f"  EZSP protocol version : {result.ezsp_version}",
        f"  stack (EmberZNet)     : {result.stack_version or 'unknown'}",
        f"  board / manufacturer  : {result.board or '-'} / {result.manufacturer or '-'}",
    ]
    if result.supported:
        lines.append(f"  supported             : yes (the rig is tested with EZSP {', '.join(map(str, TESTED_EZSP_VERSIONS))})")
    elif result.ezsp_version is not None and BELLOWS_EZSP_RANGE[0] <= result.ezsp_version <= BELLOWS_EZSP_RANGE[1]:
        lines.append(f"  supported             : untested (bellows speaks it; the rig is tested with EZSP "
                     f"{', '.join(map(str, TESTED_EZSP_VERSIONS))}; emulate it with `rig emulate --ezsp-version "
                     f"{result.ezsp_version}` to check your plans)")
    else:
        lines.append("  supported             : no (bellows 1.2.1 speaks EZSP 4-19)")
    return "\n".join(lines)
