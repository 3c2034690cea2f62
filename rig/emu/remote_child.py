"""The emulator's own process: `python -m rig.emu.remote_child --fd N` (started by RemoteEmulator).

Runs an `Emulator` on real time in this process's event loop and answers RemoteEmulator's requests
(rig.emu.remote_wire) on the inherited Unix socket `N`. Exits when told to stop or when the host
end of the socket closes (the host process died).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import os
import pickle
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

from rig.clock import RealClock
from rig.emu.emulator import Emulator
from rig.emu.remote_wire import DeviceRef, RemoteError, encode, exception_for_host

LOGGER = logging.getLogger("rig.emu.remote")
PROFILE_ENV = "RIG_EMU_PROFILE"  # set to a file name: the emulator process writes a cProfile there on exit


class _Server:
    def __init__(self, conn: Connection, emu: Emulator) -> None:
        self.conn = conn
        self.emu = emu
        self.done = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()

    def on_readable(self) -> None:
        try:
            while self.conn.poll():
                self.handle(self.conn.recv())
        except (EOFError, OSError):  # the host went away: stop with it
            LOGGER.debug("host closed the control channel")
            self._spawn(self._stop(None))

    def reply(self, call_id: int, ok: bool, value: Any) -> None:
        try:
            payload = pickle.dumps((call_id, ok, value), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - tell the host what could not cross, never die
            payload = pickle.dumps((call_id, False, RemoteError(
                f"the emulator's answer ({type(value).__name__}) cannot be sent to the host: {exc}")))
        try:
            self.conn.send_bytes(payload)
        except (BrokenPipeError, OSError):
            self.done.set()

    def handle(self, message: tuple) -> None:
        call_id, op, target, path, args, kwargs = message
        try:
            if op == "stop":
                self._spawn(self._stop(call_id))
                return
            if op == "cpu":
                self.reply(call_id, True, time.process_time())
                return
            obj = self._target(target)
            if op == "get":
                self.reply(call_id, True, encode(self._resolve(obj, path)))
            elif op == "set":
                setattr(self._resolve(obj, path[:-1]), path[-1], self._decode(args[0]))
                self.reply(call_id, True, None)
            elif op == "call":
                result = self._resolve(obj, path)(*self._decode(args), **self._decode(kwargs))
                if inspect.isawaitable(result):
                    self._spawn(self._finish(call_id, result))
                else:
                    self.reply(call_id, True, encode(result))
            else:
                raise ValueError(f"unknown remote operation {op!r}, expected get/set/call/cpu/stop")
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller
            self.reply(call_id, False, exception_for_host(exc))

    async def _finish(self, call_id: int, awaitable: Any) -> None:
        try:
            result = await awaitable
        except Exception as exc:  # noqa: BLE001
            self.reply(call_id, False, exception_for_host(exc))
        else:
            self.reply(call_id, True, encode(result))

    async def _stop(self, call_id: int | None) -> None:
        try:
            await self.emu.stop()
        finally:
            if call_id is not None:
                self.reply(call_id, True, list(self.emu.errors))
            self.done.set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _target(self, target: str | None) -> Any:
        if target is None:
            return self.emu
        for device in self.emu.devices:
            if str(device.ieee) == target:
                return device
        raise KeyError(f"no emulated device with IEEE {target}")

    @staticmethod
    def _resolve(obj: Any, path: tuple[str, ...]) -> Any:
        for name in path:
            if name.startswith("_"):
                raise AttributeError(f"private attribute {name!r} is not reachable remotely")
            obj = getattr(obj, name)
        return obj

    def _decode(self, value: Any) -> Any:
        if isinstance(value, DeviceRef):
            return self._target(value.ieee)
        if type(value) in (list, tuple):
            return type(value)(self._decode(v) for v in value)
        if type(value) is dict:
            return {k: self._decode(v) for k, v in value.items()}
        return value


async def _serve(fd: int) -> None:
    conn = Connection(fd)
    options = conn.recv()  # the Emulator's keyword arguments come first (blocking: nothing else runs yet)
    try:
        emu = Emulator(clock=RealClock(), **options)
        await emu.start()
    except Exception as exc:  # noqa: BLE001 - report it to the host instead of a bare exit code
        conn.send(("failed", exception_for_host(exc)))
        conn.close()
        return
    conn.send(("ready", emu.port, emu.ezsp_version))
    server = _Server(conn, emu)
    loop = asyncio.get_running_loop()
    loop.add_reader(conn.fileno(), server.on_readable)
    try:
        await server.done.wait()
    finally:
        loop.remove_reader(conn.fileno())
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the emulator process of rig.emu.remote.RemoteEmulator")
    parser.add_argument("--fd", type=int, required=True, help="inherited Unix socket to the host")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="emulator process: %(levelname)s %(name)s: %(message)s")
    profile_to = os.environ.get(PROFILE_ENV)
    if not profile_to:
        asyncio.run(_serve(args.fd))
        return 0
    import cProfile  # noqa: PLC0415

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        asyncio.run(_serve(args.fd))
    finally:
        profiler.disable()
        profiler.dump_stats(profile_to)
    return 0


if __name__ == "__main__":
    sys.exit(main())
