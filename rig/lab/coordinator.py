"""A connection to the labgrid coordinator from inside the rig's event loop, through labgrid's own client
session (labgrid.remote.client.ClientSession, the object behind every `labgrid-client` command).

It subscribes to place and resource updates, so the rig reads a place's holder and resources from the
session's live copy instead of starting a `labgrid-client` per question, and it sends acquire, release
and reservation requests on labgrid's gRPC protocol with labgrid's generated messages. Power switching
stays with `labgrid-client power` (rig.lab.power): labgrid's power drivers are blocking code.
Tested with labgrid 25.0 and 26.0.1 (25.0 is the first with the gRPC coordinator).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rig.lab import client
from rig.lab.client import LabgridError

LOGGER = logging.getLogger(__name__)


class Coordinator:
    """`async with Coordinator(address) as lab:` — one session per event loop (pytest plans each run in
    their own asyncio.run)."""

    def __init__(self, address: str | None = None, *, connect_timeout_s: float = 15.0) -> None:
        self.address = client.coordinator_address(address)
        self.connect_timeout_s = connect_timeout_s
        self._session = None
        self._key = None
        self._shared: _Shared | None = None

    async def __aenter__(self) -> "Coordinator":
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        # One session per (event loop, coordinator), shared by concurrent users: grpc shares one TCP
        # connection between channels to the same address, and the coordinator keys client streams by
        # that connection, so a second concurrent stream from this process would be refused.
        key = (asyncio.get_running_loop(), self.address)
        shared = _SHARED.get(key)
        if shared is None:
            shared = _SHARED[key] = _Shared(asyncio.get_running_loop().create_task(self._connect()))
        shared.users += 1
        try:
            self._session = await asyncio.shield(shared.ready)
        except BaseException:
            await self._leave(key, shared)
            raise
        self._key, self._shared = key, shared

    async def _connect(self):
        try:
            from labgrid.remote.client import ClientSession
            from labgrid.util.proxy import proxymanager
        except ImportError as exc:
            raise LabgridError(f"labgrid is not installed ({exc}): pip install -e '.[test]' or "
                               "pip install 'labgrid>=25.0'") from None

        grpc_address = proxymanager.get_grpc_address(self.address, default_port=20408)
        session = ClientSession(grpc_address, asyncio.get_running_loop())
        try:
            await asyncio.wait_for(session.start(), self.connect_timeout_s)
        except (asyncio.TimeoutError, Exception) as exc:  # labgrid's ServerError, grpc errors
            await _quietly_close(session)
            raise LabgridError(f"cannot reach the labgrid coordinator at {self.address} "
                               f"(LG_COORDINATOR): {exc or type(exc).__name__}") from None
        return session

    async def close(self) -> None:
        if self._session is not None:
            self._session = None
            await self._leave(self._key, self._shared)

    @staticmethod
    async def _leave(key, shared: "_Shared") -> None:
        shared.users -= 1
        if shared.users > 0:
            return
        if _SHARED.get(key) is shared:
            del _SHARED[key]
        if shared.ready.done() and not shared.ready.cancelled() and shared.ready.exception() is None:
            await _quietly_close(shared.ready.result())
        elif not shared.ready.done():
            shared.ready.cancel()

    @property
    def session(self):
        if self._session is None or self._session.stopping.is_set():
            raise LabgridError(f"the labgrid coordinator at {self.address} went away")
        return self._session

    # -- places -----------------------------------------------------------------------------------
    def place(self, name: str):
        """labgrid's Place (name, tags, acquired "host/user" or None, ...); exact name, no pattern."""
        try:
            return self.session.places[name]
        except KeyError:
            known = ", ".join(sorted(self.session.places)) or "none"
            raise LabgridError(f"no labgrid place {name!r} at {self.address} (places: {known})") from None

    async def acquire(self, name: str) -> str | None:
        """Acquire; None when done, else the coordinator's reason (e.g. "Place X is already acquired")."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        return await self._call("AcquirePlace", pb.AcquirePlaceRequest(placename=name))

    async def release_from(self, name: str, holder: str) -> str | None:
        """Release only if `holder` ("host/user") still holds it: labgrid's atomic release-from."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        return await self._call("ReleasePlace", pb.ReleasePlaceRequest(placename=name, fromuser=holder))

    def resources(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        """The acquired place's resources as (class, arguments), as `labgrid-client env` lists them."""
        place = self.place(name)
        try:
            config = self.session.get_target_config(place)
        except Exception as exc:  # labgrid's UserError/ServerError (not acquired by us, exporter gone)
            raise LabgridError(f"labgrid place {name}: {exc}") from None
        out = []
        for item in config.get("resources", []):
            for cls, args in item.items():
                out.append((str(cls), dict(args)))
        return out

    # -- reservations (choosing a free place by tags) ---------------------------------------------
    async def reserve(self, tags: dict[str, str]) -> str:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        filters = {"main": pb.Reservation.Filter(filter=dict(tags))}
        response = await self._rpc("CreateReservation", pb.CreateReservationRequest(filters=filters, prio=0))
        return response.reservation.token

    async def allocation(self, token: str) -> str | None:
        """The place allocated to a reservation (polling also keeps a waiting reservation alive)."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        response = await self._rpc("PollReservation", pb.PollReservationRequest(token=token))
        allocated = list(response.reservation.allocations.values())
        return allocated[0] if allocated else None

    async def cancel(self, token: str) -> str | None:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        return await self._call("CancelReservation", pb.CancelReservationRequest(token=token))

    async def sync(self) -> None:
        """Wait until our copy of places and resources reflects everything the coordinator did so far."""
        await self.session.sync_with_coordinator()

    # -- plumbing ---------------------------------------------------------------------------------
    async def _rpc(self, method: str, request):
        import grpc

        try:
            return await getattr(self.session.stub, method)(request)
        except grpc.aio.AioRpcError as exc:
            raise LabgridError(f"labgrid coordinator at {self.address}: {method}: {exc.details()}") from None

    async def _call(self, method: str, request) -> str | None:
        """An RPC whose refusal is an answer, not an error; then wait until our copy of the places
        has caught up with what the coordinator did."""
        import grpc

        try:
            await getattr(self.session.stub, method)(request)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT,
                              grpc.StatusCode.PERMISSION_DENIED):
                return exc.details()
            raise LabgridError(f"labgrid coordinator at {self.address}: {method}: {exc.details()}") from None
        await self.session.sync_with_coordinator()
        return None


class _Shared:
    def __init__(self, ready: asyncio.Task) -> None:
        self.ready = ready
        self.users = 0


_SHARED: dict[tuple[asyncio.AbstractEventLoop, str], _Shared] = {}


async def _quietly_close(session) -> None:
    try:
        await asyncio.wait_for(session.stop(), 5)
    except Exception:  # noqa: BLE001 - a session that never started has nothing to stop
        pass
    try:
        await session.close()
    except Exception:  # noqa: BLE001
        pass
