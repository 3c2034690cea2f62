"""`rig emulate --control SOCKET`: switch an emulated device's power from outside the emulator process,
as a lab's USB hub or PDU switches a real one. One line in, one line out, on a Unix socket:

    off <device>     the device loses power (silent; RAM lost, flash kept)
    on <device>      power returns: it announces itself (Device_annce) and its OTA client starts again
    flash <device> <version>   what a programmer does: the device is off, gets firmware <version> with its
                     download state erased (network and OTA server kept, as NVM tokens are), and boots
    list             one line: every device as profile=ieee

<device> is an IEEE address or a profile name (the first device of that profile). The client:

    python -m rig.emu.control SOCKET off 00:11:22:33:44:55:66:77   # exit 0 on "ok ...", 1 otherwise
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import sys
from typing import Any


class ControlServer:
    def __init__(self, emulator: Any, path: str) -> None:
        self.emulator = emulator
        self.path = path
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._client, path=self.path)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await asyncio.wait_for(reader.readline(), 10)).decode(errors="replace").strip()
            writer.write((self.handle(line) + "\n").encode())
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    def handle(self, line: str) -> str:
        words = line.split()
        if not words:
            return "error: empty command (off <device> | on <device> | list)"
        command, args = words[0].lower(), words[1:]
        if command == "list":
            return "ok " + " ".join(f"{d.profile.name}={d.ieee}" for d in self.emulator.devices)
        if command == "flash" and len(args) == 2:
            try:
                version = int(args[1], 0)
            except ValueError:
                return f"error: flash: version {args[1]!r} is not a number"
        elif command not in ("off", "on") or len(args) != 1:
            return f"error: {line!r}: expected off <device> | on <device> | flash <device> <version> | list"
        device = self._find(args[0])
        if device is None:
            known = ", ".join(f"{d.profile.name}={d.ieee}" for d in self.emulator.devices) or "none"
            return f"error: no device {args[0]!r} (devices: {known})"
        if command == "flash":
            device.power_off()
            _reflash(device.flash, version)
            device.power_on()
            return f"ok {device.ieee} flashed 0x{version:08X}"
        if command == "off":
            device.power_off()
        else:
            device.power_on()
        return f"ok {device.ieee} {'off' if command == 'off' else 'on'}"

    def _find(self, name: str) -> Any:
        wanted = name.lower()
        for device in self.emulator.devices:
            if str(device.ieee).lower() == wanted:
                return device
        for device in self.emulator.devices:
            if device.profile.name == name:
                return device
        return None


def _reflash(flash: Any, version: int) -> None:
    """New firmware, download state erased, in place (the OTA client holds this very object)."""
    from rig.emu.ota_client import OtaFlash

    fresh = OtaFlash(current_file_version=version)
    for field in dataclasses.fields(OtaFlash):
        if field.name not in ("upgrade_server_id", "server"):
            setattr(flash, field.name, getattr(fresh, field.name))


def send(path: str, command: str, timeout: float = 10.0) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(command.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.decode(errors="replace").strip()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        print("usage: python -m rig.emu.control SOCKET off|on <device> | list", file=sys.stderr)
        return 2
    try:
        reply = send(argv[0], " ".join(argv[1:]))
    except OSError as exc:
        print(f"rig.emu.control: cannot reach {argv[0]}: {exc}", file=sys.stderr)
        return 1
    print(reply)
    return 0 if reply.startswith("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
