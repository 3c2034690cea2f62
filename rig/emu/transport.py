"""Where the emulated stick plugs in: a pseudo-terminal (default) or a TCP listener.

Both hand every host connection to a fresh ASH protocol made by `protocol_factory()`.

* pty: the host opens the slave path (`/dev/pts/N`) exactly as it would a USB stick. We keep our own
  slave fd open so the master never sees EIO when the host closes the port, which lets the host
  (zigpy's reconnect logic) reopen the same path.
* tcp: `tcp://127.0.0.1:PORT`. `socket://` URLs reach the same listener, but bellows treats
  `socket://` as zigbeed and waits 2 s for an unsolicited RSTACK on every reset; prefer `tcp://`.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import logging
import os
import tty
from collections.abc import Callable

LOGGER = logging.getLogger(__name__)

ProtocolFactory = Callable[[], asyncio.Protocol]


class _FdTransport(asyncio.Transport):
    """Non-blocking read/write transport over the pty master fd."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self._loop = loop
        self._fd = fd
        self._protocol = protocol
        self._closing = False
        self._out = bytearray()
        self._writer_armed = False
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._on_readable)
        protocol.connection_made(self)

    def _on_readable(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno == errno.EIO:  # no slave open at the moment; keep waiting
                return
            self._force_close(exc)
            return
        if data:
            self._protocol.data_received(data)

    def write(self, data: bytes) -> None:
        if self._closing:
            return
        self._out += data
        self._flush()

    def _flush(self) -> None:
        while self._out:
            try:
                n = os.write(self._fd, self._out)
            except BlockingIOError:
                if not self._writer_armed:
                    self._loop.add_writer(self._fd, self._on_writable)
                    self._writer_armed = True
                return
            except OSError as exc:
                self._force_close(exc)
                return
            del self._out[:n]
        if self._writer_armed:  # (an unconditional remove_writer costs a selector lookup per frame)
            self._loop.remove_writer(self._fd)
            self._writer_armed = False

    def _on_writable(self) -> None:
        self._flush()

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._force_close(None)

    def _force_close(self, exc: Exception | None) -> None:
        if self._closing:
            return
        self._closing = True
        self._loop.remove_reader(self._fd)
        self._loop.remove_writer(self._fd)
        self._loop.call_soon(self._protocol.connection_lost, exc)

    def get_write_buffer_size(self) -> int:
        return len(self._out)


class PtyServer:
    """Serves the NCP on a pseudo-terminal; `.url` is the slave path to give bellows."""

    def __init__(self, protocol_factory: ProtocolFactory) -> None:
        self._factory = protocol_factory
        self._master: int | None = None
        self._slave: int | None = None
        self._transport: _FdTransport | None = None
        self.url = ""

    async def start(self) -> None:
        self._open()

    def _open(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # the host reconfigures it anyway; raw avoids echo before it does
        self._master, self._slave = master, slave
        self.url = os.ttyname(slave)
        self._transport = _FdTransport(asyncio.get_running_loop(), master, self._factory())
        LOGGER.info("emulated NCP listening on %s", self.url)

    def drop_line(self) -> None:
        """Pull the plug: the host sees its port die. A new pty (new `.url`) replaces it."""
        self._close_fds()
        self._open()

    def _close_fds(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None

    async def stop(self) -> None:
        self._close_fds()
        await asyncio.sleep(0)  # let connection_lost callbacks run


class TcpServer:
    """Serves the NCP on 127.0.0.1:port; one host at a time (a new connection replaces the old)."""

    def __init__(self, protocol_factory: ProtocolFactory, port: int = 0, host: str = "127.0.0.1") -> None:
        self._factory = protocol_factory
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._current: asyncio.Transport | None = None
        self.url = ""

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._make, self._host, self._port)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"tcp://{self._host}:{port}"
        LOGGER.info("emulated NCP listening on %s", self.url)

    def _make(self) -> asyncio.Protocol:
        if self._current is not None and not self._current.is_closing():
            LOGGER.warning("second host connected; dropping the first")
            self._current.close()
        proto = self._factory()
        return _TrackingProtocol(proto, self)

    def drop_line(self) -> None:
        """Close the current host connection (the host sees the line die); keep listening."""
        if self._current is not None:
            self._current.close()
            self._current = None

    async def stop(self) -> None:
        self.drop_line()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


class _TrackingProtocol(asyncio.Protocol):
    """Forwards to the ASH protocol and tells the server which transport is live."""

    def __init__(self, inner: asyncio.Protocol, server: TcpServer) -> None:
        self._inner = inner
        self._server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._server._current = transport  # type: ignore[assignment]
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)


class PacedProtocol(asyncio.Protocol):
    """Charges serial-line time (rig.emu.pacing.Pacing.uart_s) for every byte, each direction on its own.

    Bytes from the host reach `inner` when their last bit would have arrived at `baud`; bytes from
    `inner` reach the host when their last bit would have left. Each direction is a FIFO behind one
    timer, so order is kept and a burst queues behind the one before it. Loop time, not the rig clock:
    the UART is as real as bellows' own ASH timers.
    """

    def __init__(self, inner: asyncio.Protocol, byte_s: float) -> None:
        self.inner = inner
        self._byte_s = byte_s
        self._rx = _PacedPipe(self._deliver_rx)
        self._transport: _PacedTransport | None = None

    def __getattr__(self, name: str):  # the emulator reaches into its ASH protocol (faults, state)
        return getattr(self.inner, name)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = _PacedTransport(transport, self._byte_s)  # type: ignore[arg-type]
        self.inner.connection_made(self._transport)

    def data_received(self, data: bytes) -> None:
        self._rx.push(bytes(data), len(data) * self._byte_s)

    def _deliver_rx(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._rx.cancel()
        if self._transport is not None:
            self._transport.cancel()
        self.inner.connection_lost(exc)


class _PacedTransport(asyncio.Transport):
    def __init__(self, inner: asyncio.Transport, byte_s: float) -> None:
        super().__init__()
        self._inner = inner
        self._byte_s = byte_s
        self._tx = _PacedPipe(self._send)

    def _send(self, data: bytes) -> None:
        if not self._inner.is_closing():
            self._inner.write(data)

    def write(self, data: bytes) -> None:
        if self._inner.is_closing():
            return
        self._tx.push(bytes(data), len(data) * self._byte_s)

    def is_closing(self) -> bool:
        return self._inner.is_closing()

    def close(self) -> None:
        self._tx.cancel()
        self._inner.close()

    def cancel(self) -> None:
        self._tx.cancel()

    def get_write_buffer_size(self) -> int:
        return self._inner.get_write_buffer_size() + self._tx.pending_bytes


class _PacedPipe:
    """A FIFO of byte chunks, each released `cost` seconds after the line became free for it."""

    def __init__(self, release) -> None:
        self._release = release
        self._queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self._free_at = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.pending_bytes = 0

    def push(self, data: bytes, cost: float) -> None:
        loop = asyncio.get_running_loop()
        self._free_at = max(loop.time(), self._free_at) + cost
        self._queue.append((self._free_at, data))
        self.pending_bytes += len(data)
        if self._timer is None:
            self._timer = loop.call_at(self._free_at, self._drain)

    def _drain(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._queue and self._queue[0][0] <= now:
            _, data = self._queue.popleft()
            self.pending_bytes -= len(data)
            self._release(data)
        if self._queue:
            self._timer = loop.call_at(self._queue[0][0], self._drain)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()
        self.pending_bytes = 0
