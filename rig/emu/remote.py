"""`RemoteEmulator`: the emulated stick and its devices in a second process, driven from this one.

    async with RemoteEmulator(ezsp_version=13, trace=False) as emu:
        app/hub.start(emu.port)                  # the pty path works across processes like a USB stick
        dev = emu.add_device("ppmid")            # a RemoteDevice proxy: .ieee, .nwk locally
        await hub.permit(60); await emu.join(dev)
        dev.faults.drop_block_responses = 2      # attribute reads/writes and method calls are RPCs
        ev = await dev.ota.wait_for_event("activated", timeout=120)
        image = dev.flash.installed_image

Why: bellows/zigpy and the hub on one side, the emulator on the other, each get a core; with both
in one process they share one (the pty already crosses process boundaries).

REAL TIME ONLY. The emulator process runs on wall-clock time (rig.clock.RealClock): a VirtualClock
cannot be shared across processes, so device timers (response timeouts, query intervals, countdowns,
WAIT_FOR_DATA) really elapse. Use it for throughput benches and big transfers; use the in-process
`rig.emu.Emulator` for anything that jumps the clock. `RemoteEmulator.real_time` is True and passing
a `clock` other than a RealClock is refused.

The control channel is a Unix socketpair (never a network port) carrying pickled requests
(rig.emu.remote_wire). Calls are synchronous (they block this loop for one round trip, about 0.1 ms
plus the time the emulator's loop needs to get to it) unless the remote method is a coroutine, in
which case the proxy returns an awaitable.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pickle
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import zigpy.types as zt

from rig.clock import RealClock
from rig.emu.remote_wire import DeviceRef, MethodRef, ObjectRef, RemoteError

_ROOT = Path(__file__).resolve().parents[2]  # the checkout holding the `rig` package


class RemoteObject:
    """A live object in the emulator process, reached by attribute path from the Emulator or a device."""

    def __init__(self, emu: RemoteEmulator, target: str | None, path: tuple[str, ...]) -> None:
        object.__setattr__(self, "_r_emu", emu)
        object.__setattr__(self, "_r_target", target)
        object.__setattr__(self, "_r_path", path)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        path = self._r_path + (name,)
        return self._r_emu._materialise(self._r_target, path, self._r_emu._call("get", self._r_target, path),
                                        by_path=True)

    def __setattr__(self, name: str, value: Any) -> None:
        self._r_emu._call("set", self._r_target, self._r_path + (name,), (value,))

    def __repr__(self) -> str:
        where = self._r_target or "emulator"
        return f"<remote {where}.{'.'.join(self._r_path)}>"


class RemoteDevice(RemoteObject):
    """An emulated device in the emulator process; `.ieee` is local, everything else is a round trip."""

    def __init__(self, emu: RemoteEmulator, ieee: str) -> None:
        super().__init__(emu, ieee, ())
        object.__setattr__(self, "ieee", zt.EUI64.convert(ieee))

    def __repr__(self) -> str:
        return f"<RemoteDevice ieee={self.ieee}>"


class RemoteEmulator:
    """Same calls as rig.emu.Emulator for what tests and benches use, with the emulator in a child process."""

    real_time = True  # see the module docstring: no virtual clock across processes

    def __init__(self, ezsp_version: int = 13, transport: str = "pty", clock: Any = None, seed: int = 0,
                 eui64: zt.EUI64 | str | None = None, *, tcp_port: int = 0, trace: bool = True,
                 pacing: Any = None, xncp: bool = False, startup_timeout: float = 60.0,
                 call_timeout: float = 60.0) -> None:
        if clock is not None and not isinstance(clock, RealClock):
            raise ValueError(
                f"RemoteEmulator runs on real time in its own process; got clock={type(clock).__name__}. "
                "Use rig.emu.Emulator (in-process) for plans that advance a virtual clock.")
        if transport not in ("pty", "tcp"):
            raise ValueError(f"transport must be 'pty' or 'tcp', got {transport!r}")
        self.clock = RealClock()
        self._options = dict(ezsp_version=ezsp_version, transport=transport, seed=seed,
                             eui64=None if eui64 is None else str(eui64), tcp_port=tcp_port, trace=trace,
                             pacing=pacing, xncp=xncp)
        self._startup_timeout = startup_timeout
        self._call_timeout = call_timeout
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._devices: dict[str, RemoteDevice] = {}
        self._ezsp_version = ezsp_version
        self._last_errors: list[str] = []
        self.port = ""
        self.faults = RemoteObject(self, None, ("faults",))

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> RemoteEmulator:
        if self._proc is not None:
            return self
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "rig.emu.remote_child", "--fd", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), env=env, cwd=str(_ROOT))
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        self._conn.send(self._options)
        loop = asyncio.get_running_loop()
        hello = await loop.run_in_executor(None, self._wait_hello)
        if hello[0] != "ready":
            await self._reap(0.0)
            raise hello[1] if isinstance(hello[1], BaseException) else RemoteError(str(hello))
        _, self.port, self._ezsp_version = hello
        loop.add_reader(self._conn.fileno(), self._on_readable)
        return self

    def _wait_hello(self) -> tuple:
        assert self._conn is not None and self._proc is not None
        if not self._conn.poll(self._startup_timeout):
            raise TimeoutError(f"the emulator process did not start within {self._startup_timeout} s")
        try:
            return self._conn.recv()
        except EOFError:
            raise RemoteError(f"the emulator process exited during start-up (exit code {self._proc.wait(5)})") from None

    async def stop(self) -> None:
        if self._proc is None:
            return
        try:
            if self._proc.poll() is None and self._conn is not None:
                self._last_errors = await asyncio.wait_for(self._call_async("stop", None, ()), self._call_timeout)
        except (RemoteError, EOFError, OSError, TimeoutError):
            pass
        finally:
            await self._reap(10.0)

    async def _reap(self, grace: float) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            try:
                asyncio.get_running_loop().remove_reader(conn.fileno())
            except (ValueError, OSError):
                pass
            conn.close()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(RemoteError("the emulator process stopped"))
        self._pending.clear()
        if proc is None:
            return
        deadline = asyncio.get_running_loop().time() + grace
        while proc.poll() is None and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)

    async def __aenter__(self) -> RemoteEmulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the Emulator's calls ----------------------------------------------------------------------
    @property
    def ezsp_version(self) -> int:
        return self._ezsp_version

    @property
    def errors(self) -> list[str]:
        """The emulated NCP's recorded errors (a copy; empty once stopped if none were recorded)."""
        if self._proc is None:
            return list(self._last_errors)
        return self._call("get", None, ("errors",))

    def add_device(self, profile_or_name: Any, ieee: zt.EUI64 | str | None = None, nwk: int | None = None,
                   link: Any = None, **overrides: Any) -> RemoteDevice:
        """As Emulator.add_device, for a profile name, path or DeviceProfile (not a ready-made RadioNode)."""
        if hasattr(profile_or_name, "receive"):
            raise TypeError("RemoteEmulator.add_device takes a profile, not a live RadioNode object")
        ref = self._call("call", None, ("add_device",), (profile_or_name,),
                         dict(ieee=None if ieee is None else str(ieee), nwk=nwk, link=link, **overrides))
        return self._materialise(None, (), ref)

    @property
    def devices(self) -> list[RemoteDevice]:
        return self._materialise(None, (), self._call("get", None, ("devices",)))

    async def join(self, device: RemoteDevice, *, wait: float | None = None) -> None:
        await self._call_async("call", None, ("join",), (device,), {"wait": wait})

    def leave(self, device: RemoteDevice) -> None:
        self._call("call", None, ("leave",), (device,))

    def rejoin(self, device: RemoteDevice) -> None:
        self._call("call", None, ("rejoin",), (device,))

    def process_cpu_s(self) -> float:
        """CPU seconds the emulator process has used so far (for benches)."""
        return self._call("cpu", None, ())

    # -- the channel -------------------------------------------------------------------------------
    def _materialise(self, target: str | None, path: tuple[str, ...], value: Any, *, by_path: bool = False) -> Any:
        """Proxies for references. `by_path`: `value` was read at `path`, so an ObjectRef/MethodRef is
        reachable there; a method's result that is neither plain data nor a device stays an ObjectRef."""
        if isinstance(value, DeviceRef):
            dev = self._devices.get(value.ieee)
            if dev is None:
                dev = self._devices[value.ieee] = RemoteDevice(self, value.ieee)
            return dev
        if isinstance(value, ObjectRef) and by_path:
            return RemoteObject(self, target, path)
        if isinstance(value, MethodRef) and by_path:
            if value.is_async:
                async def call_async(*args: Any, **kwargs: Any) -> Any:
                    return self._materialise(target, path, await self._call_async("call", target, path, args, kwargs))
                return call_async
            return lambda *args, **kwargs: self._materialise(target, path, self._call("call", target, path, args, kwargs))
        if type(value) in (list, tuple):
            return type(value)(self._materialise(target, path, v) for v in value)
        return value

    def _request(self, op: str, target: str | None, path: tuple[str, ...], args: tuple = (),
                 kwargs: dict | None = None) -> int:
        if self._conn is None:
            raise RemoteError("the remote emulator is not running (call `await emu.start()` first)")
        call_id = next(self._ids)
        message = (call_id, op, target, path, tuple(_to_wire(a) for a in args),
                   {k: _to_wire(v) for k, v in (kwargs or {}).items()})
        try:
            payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - e.g. a lambda passed as `where=`
            raise TypeError(f"arguments to remote {'.'.join(path) or op} cannot cross to the emulator process: {exc}") from None
        self._conn.send_bytes(payload)
        return call_id

    def _call(self, op: str, target: str | None, path: tuple[str, ...], args: tuple = (),
              kwargs: dict | None = None) -> Any:
        """One blocking round trip; replies to pending async calls met on the way are handed over."""
        call_id = self._request(op, target, path, args, kwargs)
        assert self._conn is not None
        while True:
            if not self._conn.poll(self._call_timeout):
                raise TimeoutError(f"the emulator process did not answer {op} {'.'.join(path)} "
                                   f"within {self._call_timeout} s")
            reply = self._recv()
            if reply[0] == call_id:
                return _unwrap(reply)
            self._settle(reply)

    async def _call_async(self, op: str, target: str | None, path: tuple[str, ...], args: tuple = (),
                          kwargs: dict | None = None) -> Any:
        fut = asyncio.get_running_loop().create_future()
        call_id = self._request(op, target, path, args, kwargs)
        self._pending[call_id] = fut
        return await fut

    def _recv(self) -> tuple:
        assert self._conn is not None
        try:
            return self._conn.recv()
        except EOFError:
            raise RemoteError("the emulator process closed the control channel (it exited)") from None

    def _on_readable(self) -> None:
        conn = self._conn
        try:
            while conn is not None and not conn.closed and conn.poll():
                self._settle(self._recv())
        except RemoteError as exc:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(exc)
            self._pending.clear()
            if conn is not None:
                asyncio.get_running_loop().remove_reader(conn.fileno())

    def _settle(self, reply: tuple) -> None:
        call_id, ok, value = reply
        fut = self._pending.pop(call_id, None)
        if fut is None or fut.done():
            return
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value if isinstance(value, BaseException) else RemoteError(str(value)))


def _to_wire(value: Any) -> Any:
    if isinstance(value, RemoteDevice):
        return DeviceRef(str(value.ieee), 0)
    if isinstance(value, RemoteObject):
        raise TypeError(f"{value!r} is a proxy; pass plain values to the emulator process")
    return value


def _unwrap(reply: tuple) -> Any:
    _, ok, value = reply
    if ok:
        return value
    raise value if isinstance(value, BaseException) else RemoteError(str(value))
