"""`Hub`: the Communications Hub facade the back end drives (implements rig.hub.events.CommsHubPort)."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from pathlib import Path

import zigpy.device
import zigpy.types as t

from rig.clock import Clock, RealClock
from rig.hub import zcl
from rig.hub import upstream
from rig.hub.app import SE_ENDPOINT, HubApplication, zigpy_config
from rig.hub.config import DEVICE_KINDS, HubConfig
from rig.hub.errors import HubError, HubNotRunning, UnknownImage, UnknownOffer
from rig.hub.events import (
    ActivationOutcome,
    ActivationPlan,
    ActivationResult,
    HubEvent,
    TransferOutcome,
    TransferResult,
    VersionSource,
)
from rig.hub.inventory import Inventory
from rig.hub.notify_pacer import NotifyPacer
from rig.hub.ota_server import FrameRecord, OtaServer, Peer
from rig.hub.ratelimit import Conformance
from rig.hub.store import Store
from rig.hub.versions import VersionChecker, VersionRegister
from rig.hub.zcl import OTA_CLUSTER, SE_PROFILE
from rig.signals import Signal

LOGGER = logging.getLogger(__name__)

HUB_EVENTS_KEPT = 10_000  # hub.events keeps the newest; subscribers see every event as it happens
VERSION_ATTRIBUTE = 0x0002  # CurrentFileVersion on the device's OTA client cluster
NOTIFY_BROADCASTS = {"all": 0xFFFF, "rx_on": 0xFFFD, "routers": 0xFFFC}  # Zigbee broadcast addresses


def normalize_ieee(ieee: str | t.EUI64) -> str:
    try:
        return str(t.EUI64.convert(ieee) if isinstance(ieee, str) else ieee)
    except (ValueError, TypeError) as exc:
        raise HubError(f"not an EUI64: {ieee!r} ({exc})") from None


class _AppTransport:
    def __init__(self, app: HubApplication) -> None:
        self.app = app

    def send(self, peer: Peer, tsn: int, data: bytes, *, ack: bool = True) -> None:
        self.app.send_raw(peer.nwk, dst_ep=peer.endpoint, src_ep=peer.local_endpoint, profile=peer.profile,
                          cluster=OTA_CLUSTER, tsn=tsn, data=data, ack=ack)

    async def send_now(self, peer: Peer, tsn: int, data: bytes, *, ack: bool = True) -> bool:
        return await self.app.send_raw_now(peer.nwk, dst_ep=peer.endpoint, src_ep=peer.local_endpoint,
                                           profile=peer.profile, cluster=OTA_CLUSTER, tsn=tsn, data=data, ack=ack)

    def broadcast(self, address: int, tsn: int, data: bytes) -> None:
        self.app.send_raw(address, dst_ep=0xFF, src_ep=SE_ENDPOINT, profile=SE_PROFILE, cluster=OTA_CLUSTER, tsn=tsn,
                          data=data, broadcast=True)

    def new_tsn(self) -> int:
        return self.app.get_sequence()


class _RadioWatch:
    """zigpy application listener: only the lost-connection event matters to the hub."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def connection_lost(self, exc: BaseException | None) -> None:
        self._hub._on_connection_lost(exc)


class Hub:
    """Always-on GB OTA server on a zigpy/bellows coordinator, with the CH image store and version checks."""

    def __init__(self, config: HubConfig | None = None, *, clock: Clock | None = None) -> None:
        self.config = config or HubConfig()
        self.clock: Clock = clock or RealClock()
        # The newest HUB_EVENTS_KEPT events (a hub serving devices for days emits one per QNI at least).
        self.events: collections.deque[HubEvent] = collections.deque(maxlen=HUB_EVENTS_KEPT)
        # Observers of this hub (rig.signals): they live as long as this Hub object; a CH restart makes a
        # new one (rig.bench.session.Session forwards each hub's signals to its own, which outlive it).
        self.event_emitted = Signal("hub event")  # HubEvent, as it happens (subscribe() is the port's name)
        if self.config.db_path:
            Path(self.config.db_path).parent.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.config.db_path)
        self.inventory = Inventory(self.store, self.config, self.clock, self._emit)
        self.versions = VersionRegister(self.store, self.clock, self._emit)
        self.checker = VersionChecker(self.store, self.clock, self.config, self.versions, self._emit)
        self.checker.reader = self.read_version
        self.server = OtaServer(self.store, self.config, self.clock, self.inventory, self.versions, self.checker,
                                self._emit)
        self.server.locate = self._locate
        self.frame_logged = self.server.frame_logged  # FrameRecord, each OTA frame as it is logged
        self.pacer = NotifyPacer(self.config, self.clock, self.server.limiter, self._notify_offer)
        self.server.limiter.on_finish = self.pacer.slot_freed
        self.server.waiting_for_slot = self.pacer.is_waiting
        self._app: HubApplication | None = None
        # NWK -> (zigpy device, IEEE text) last seen sending OTA frames; checked on every use. zigpy's own
        # lookup by NWK scans every device, which a 100-device fleet paid on every block request.
        self._sender_hint: dict[int, tuple[zigpy.device.Device, str]] = {}
        # Radio supervision: zigpy 2.4 reports a lost stick (NCP reset, ASH ERROR, serial line gone) with a
        # `connection_lost` listener event and nothing more, so the hub reopens the port itself.
        self.radio_state = "down"  # down | up | lost | gave_up
        self.radio_log: list[tuple[float, str, str]] = []  # (rig time, state, detail)
        self.radio_changed = Signal("radio state")  # (state, detail) on every change
        self._port: str | Callable[[], str] = ""
        self._stopping = False
        self._reconnect_task: asyncio.Task | None = None

    @classmethod
    def from_bench(cls, path: str | Path, *, clock: Clock | None = None, **overrides: object) -> Hub:
        return cls(HubConfig.load(path).with_options(**overrides), clock=clock)

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, port: str | Callable[[], str]) -> None:
        """Open the stick at `port` (pty path, serial device or socket URL, or a callable giving the
        current one: an emulated stick gets a new pty path after its line was closed) and form/resume."""
        self._port, self._stopping = port, False
        app = await self._open(self._port_now())
        if app.formed_network_now:
            # EmberZNet forgets addEndpoint registrations on every reset, and bellows' auto-form path
            # resets after registering them. Reopen once so the stick itself knows the SE endpoint and
            # answers a device's Match_Desc with it (otherwise its own answer is an empty list).
            await app.shutdown()
            app = await self._open(self._port_now())
        self._attach(app)
        self.inventory.expire_due()
        self.inventory.arm_retention()
        self.checker.resume()

    def _port_now(self) -> str:
        return self._port() if callable(self._port) else self._port

    def _attach(self, app: HubApplication) -> None:
        self._app = app
        self.server.transport = _AppTransport(app)
        app.add_listener(_RadioWatch(self))
        self._radio("up", "stick open")

    def _radio(self, state: str, detail: str) -> None:
        self.radio_state = state
        self.radio_log.append((self.clock.now(), state, detail))
        LOGGER.log(logging.WARNING if state != "up" else logging.INFO, "radio %s: %s", state, detail)
        self.radio_changed.emit(state, detail)

    def _on_connection_lost(self, exc: BaseException | None) -> None:
        if self._stopping or self.radio_state != "up":
            return
        self._radio("lost", f"{type(exc).__name__}: {exc}" if exc else "connection lost")
        self.server.transport = None
        self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        old, self._app = self._app, None
        if old is not None:
            try:
                await asyncio.wait_for(old.shutdown(), 5)
            except Exception:  # noqa: BLE001 - the old link is dead; whatever it says now is noise
                pass
        for delay in self.config.radio_reconnect_delays_s:
            if self._stopping:
                return
            await asyncio.sleep(delay)  # real time: the stick's own reset and re-enumeration
            try:
                app = await asyncio.wait_for(self._open(self._port_now()), 30)
            except Exception as exc:  # noqa: BLE001 - try again, then give up loudly
                LOGGER.warning("reopening the stick failed: %r", exc)
                continue
            self._attach(app)
            self.inventory.expire_due()
            return
        self._radio("gave_up", f"no stick at {self._port_now()} after {len(self.config.radio_reconnect_delays_s)} tries")

    async def _open(self, port: str) -> HubApplication:
        app = await HubApplication.new(zigpy_config(self.config, port), auto_form=True, start_radio=False)
        app.ota_handler = self._on_ota_packet  # before the radio starts: no frame reaches zigpy's Ota cluster
        try:
            await app.startup(auto_form=True)
        except BaseException:
            # The stick did not open: close zigpy's database too, or its worker thread keeps the process alive.
            try:
                await app.shutdown()
            except Exception:  # noqa: BLE001 - the original error is the one worth reporting
                pass
            raise
        return app

    async def stop(self) -> None:
        self._stopping = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        self.inventory.stop()
        self.checker.stop()
        self.server.stop()
        self.pacer.stop()
        app, self._app = self._app, None
        self.server.transport = None
        if app is not None:
            app.closing = True  # frames from now on are dropped: zigpy's handlers would answer into a closing port
            await app.drain_sends()
            await app.shutdown()
        self.store.close()

    @property
    def sends_in_flight(self) -> int:
        """Frames the hub has handed to bellows that have not finished (a virtual-clock driver must not
        jump time under them: the answer a device is waiting for may be one of them)."""
        return len(self._app.sends_in_flight) if self._app is not None else 0

    @property
    def app(self) -> HubApplication:
        if self._app is None:
            raise HubNotRunning("hub not started")
        return self._app

    async def permit(self, seconds: int = 60) -> None:
        await self.app.permit(seconds)

    async def permit_with_install_code(self, ieee: str, install_code: bytes | str, seconds: int = 60) -> None:
        """Let exactly this device join, with the link key derived from its install code.

        Not bellows' permit_with_link_key: that ends in a plain permit whose pre-permit step re-opens the
        trust centre to well-known-key joins, so any device could join alongside. Here the stick gets the
        transient key and the install-code-only policy, and joining is opened at the NCP only."""
        from zigpy.util import convert_install_code

        code = bytes.fromhex(install_code) if isinstance(install_code, str) else bytes(install_code)
        key = convert_install_code(code)
        if key is None:
            raise HubError(f"install code {code.hex()} has a bad CRC (give the code with its 2-byte CRC)")
        status = await upstream.add_transient_link_key(self.app, t.EUI64.convert(normalize_ieee(ieee)), key)
        if int(status) != 0:
            raise HubError(f"the stick refused the install-code key for {ieee}: status {status!r}")
        await upstream.allow_install_code_joins_only(self.app)
        await self.app.permit_ncp(min(254, max(1, int(seconds))))

    def allow_device(self, ieee: str, kind: str | None = None) -> None:
        """Add a device to the CH device log (only listed devices are served, R-CH-02)."""
        if kind is not None and kind not in DEVICE_KINDS:
            raise HubError(f"device kind {kind!r} unknown, expected one of {list(DEVICE_KINDS)}")
        self.store.allow_device(normalize_ieee(ieee), kind, self.clock.now())

    def send_image_notify(self, *, ieee: str | None = None, broadcast: str | None = None, payload_type: int = 3,
                          jitter: int = 100, manufacturer_code: int | None = None, image_type: int | None = None,
                          file_version: int | None = None) -> None:
        """Image Notify on demand, for plans that test how a device handles one (R-CH-08): unicast to `ieee`,
        or broadcast to 'all' (0xFFFF), 'rx_on' (0xFFFD) or 'routers' (0xFFFC). The offers' own notifies
        go out unicast by themselves; this one is the test's, whatever the offers are."""
        if (ieee is None) == (broadcast is None):
            raise HubError("Image Notify: give exactly one of ieee= or broadcast=")
        try:
            payload = zcl.image_notify_payload(payload_type, jitter, manufacturer_code=manufacturer_code,
                                               image_type=image_type, file_version=file_version)
        except ValueError as exc:
            raise HubError(f"Image Notify: {exc}") from None
        if self._app is None:
            raise HubNotRunning("hub not started")
        if broadcast is not None:
            if broadcast not in NOTIFY_BROADCASTS:
                raise HubError(f"Image Notify: broadcast {broadcast!r} unknown, expected one of {list(NOTIFY_BROADCASTS)}")
            self.server.broadcast_notify(NOTIFY_BROADCASTS[broadcast], payload)
        elif not self.server.send_notify(normalize_ieee(ieee), payload):
            raise HubError(f"Image Notify: no OTA client known for {ieee} (not joined, or no OTA client cluster)")

    def set_busy(self, busy: bool) -> None:
        """Manual rate-limit switch: every block request gets WAIT_FOR_DATA while on (R-CH-05)."""
        self.server.limiter.busy = busy

    # -- CommsHubPort ------------------------------------------------------------------------
    def store_image(self, image: bytes, *, request_id: str | None = None, expected_version: int | None = None,
                    expected_kind: str | None = None) -> int:
        return self.inventory.store_image(image, request_id=request_id, expected_version=expected_version,
                                          expected_kind=expected_kind)

    def discard_image(self, image_id: int) -> None:
        self.inventory.discard(image_id)

    def offer(self, ieee: str, image_id: int, *, plan: ActivationPlan, upgrade_time: float | None = None,
              request_id: str | None = None, allow_downgrade: bool = False) -> int:
        ieee = normalize_ieee(ieee)
        plan = ActivationPlan(plan)
        self.inventory.expire_due()
        image = self.store.image(image_id)
        if image is None or not image.live:
            raise UnknownImage(f"image {image_id} is not held by the hub"
                               + (f" ({image.discard_reason})" if image is not None else ""))
        if plan is ActivationPlan.AT and upgrade_time is None:
            raise HubError("plan AT needs upgrade_time (POSIX seconds on the rig clock)")
        listed, kind = self.store.device_kind(ieee)
        if not listed or kind is None:
            self.store.allow_device(ieee, image.kind, self.clock.now())  # offering is telling the CH of it
        now = self.clock.now()
        events: list[HubEvent] = []
        with self.store.transaction() as db:
            for old in self.store.open_offers(ieee=ieee):
                if old.state != "offered":
                    continue
                self.store.update_offer(db, old.id, state="withdrawn", withdrawn_reason="superseded")
                old_image = self.store.image(old.image_id)
                if self.store.record_outcome(db, ieee, old.id, "transfer", int(TransferResult.IMAGE_DISCARDED), now,
                                             "superseded by a new offer"):
                    events.append(TransferOutcome(ieee, old.id, old.request_id, TransferResult.IMAGE_DISCARDED,
                                                  old_image.file_version if old_image else 0, now,
                                                  "superseded by a new offer"))
            offer_id = self.store.insert_offer(db, ieee=ieee, image_id=image_id, plan=plan.value,
                                               upgrade_time=upgrade_time, request_id=request_id,
                                               allow_downgrade=allow_downgrade, created_at=now)
        for event in events:
            self._emit(event)
        if self._app is not None and self._rx_on(ieee):
            if self.config.notify_within_slots:
                self.pacer.offer(ieee)
            else:
                self.server.notify(ieee, image)
        return offer_id

    def _notify_offer(self, ieee: str) -> bool:
        """Image Notify for the device's newest offer if it still waits to be fetched (the pacer's turn)."""
        offers = [o for o in self.store.open_offers(ieee=ieee) if o.state == "offered"]
        image = self.store.image(offers[-1].image_id) if offers else None
        if image is None or not image.live or self._app is None:
            return False
        return self.server.notify(ieee, image)

    def activate(self, ieee: str, offer_id: int, *, at: float | None = None) -> None:
        ieee = normalize_ieee(ieee)
        offer = self.store.offer(offer_id)
        if offer is None or offer.ieee != ieee:
            raise UnknownOffer(f"no offer {offer_id} for {ieee}")
        self.server.activate(ieee, offer, at)

    async def read_version(self, ieee: str) -> int | None:
        ieee = normalize_ieee(ieee)
        version = await self.read_ota_attribute(ieee, VERSION_ATTRIBUTE)
        if version is None:
            return None
        self.versions.observe(ieee, int(version), VersionSource.ATTRIBUTE_READ)
        return int(version)

    async def read_ota_attribute(self, ieee: str, attribute: int) -> int | None:
        """Read one attribute of the device's OTA client cluster over the air; None if no value."""
        return (await self.read_ota_attribute_status(ieee, attribute))[0]

    async def read_ota_attribute_status(self, ieee: str, attribute: int) -> tuple[int | None, str]:
        """The attribute's value, or None and why: the device answered with a status (e.g.
        UNSUPPORTED_ATTRIBUTE), did not answer, or has no OTA client cluster zigpy knows of."""
        cluster = self._ota_client_cluster(normalize_ieee(ieee))
        if cluster is None:
            return None, "no OTA client cluster known for it (not paired, or zigpy never interviewed it)"
        try:
            cluster.find_attribute(attribute)
        except KeyError:
            return None, f"attribute 0x{attribute:04X} is not one zigpy's OTA cluster defines (nothing was sent)"
        try:
            # On the rig clock, so that a plan jumping time also runs out a read nobody answers.
            success, failure = await self.clock.wait_for(
                cluster.read_attributes([attribute], allow_cache=False), self.config.read_timeout_s)
        except Exception as exc:  # noqa: BLE001 - timeouts/delivery errors all mean "no answer"
            LOGGER.info("OTA attribute 0x%04x read from %s failed: %r", attribute, ieee, exc)
            return None, f"no answer ({type(exc).__name__}{': ' + str(exc) if str(exc) else ''})"
        value = success.get(attribute)
        if value is not None:
            return int(value), ""
        status = failure.get(attribute)
        name = getattr(status, "name", None) or (f"0x{int(status):02X}" if status is not None else "no value")
        return None, f"the device answered {name}"

    def subscribe(self, sink: Callable[[HubEvent], None]) -> None:
        """CommsHubPort's way to hear events: `event_emitted.connect`."""
        self.event_emitted.connect(sink)

    def unsubscribe(self, sink: Callable[[HubEvent], None]) -> None:
        """Stop telling `sink` (a no-op if it is not subscribed)."""
        self.event_emitted.disconnect(sink)

    @property
    def subscribers(self) -> tuple[Callable[[HubEvent], None], ...]:
        """Who hears this hub's events."""
        return self.event_emitted.listeners

    def replay_outcomes(self) -> int:
        """Emit every persisted transfer/activation outcome again (to every subscriber).

        An outcome is committed here before subscribers hear of it, so a crash in between would lose it
        for them. After a restart, subscribers that de-duplicate by (kind, device, offer) — the back end
        does — call this to catch up. Returns how many were emitted."""
        events: list[HubEvent] = []
        for ieee, offer_id, kind, result, when, detail in self.store.outcomes():
            offer = self.store.offer(offer_id)
            image = self.store.image(offer.image_id) if offer is not None else None
            version = image.file_version if image is not None else 0
            request_id = offer.request_id if offer is not None else None
            if kind == "transfer":
                events.append(TransferOutcome(ieee, offer_id, request_id, TransferResult(result), version, when, detail))
            elif kind == "activation":
                ok = ActivationResult(result) is ActivationResult.SUCCESS
                events.append(ActivationOutcome(ieee, offer_id, request_id, ActivationResult(result), version,
                                                version if ok else None, when, detail))
        for event in events:
            self._emit(event)
        return len(events)

    # -- inspection --------------------------------------------------------------------------
    def conformance(self, ieee: str) -> Conformance:
        return self.server.limiter.conformance(normalize_ieee(ieee))

    @property
    def frames(self) -> list[FrameRecord]:
        return self.server.frames

    @property
    def frames_logged(self) -> int:
        """Every OTA frame ever logged (the log itself is trimmed): a mark for frames_since()."""
        return self.server.frames_logged

    def frames_since(self, mark: int) -> list[FrameRecord]:
        return self.server.frames_since(mark)

    def keep_frames(self, count: int) -> None:
        """Keep about the newest `count` OTA frames in the log (a bench standing for days needs fewer than
        a plan's checks: bench/soak.py)."""
        self.server.frames_kept = max(int(count), 1)

    @property
    def coordinator_ieee(self) -> str:
        """The stick's own EUI64 (the CH's device id)."""
        return str(self.app.state.node_info.ieee)

    def is_interviewed(self, ieee: str) -> bool:
        """zigpy knows the device and has finished interviewing it (the hub can serve and notify it)."""
        device = self._zigpy_device(normalize_ieee(ieee))
        return bool(device is not None and device.is_initialized)

    def outcomes(self, ieee: str | None = None) -> list[tuple[str, int, str, int, float, str]]:
        return self.store.outcomes(normalize_ieee(ieee) if ieee else None)

    # -- internals ---------------------------------------------------------------------------
    def _emit(self, event: HubEvent) -> None:
        self.events.append(event)
        self.event_emitted.emit(event)  # a subscriber's bug is logged there: it must not stop the OTA server

    def _on_ota_packet(self, packet: t.ZigbeePacket) -> bool:
        sender = self._sender(packet.src)
        if sender is None:
            return False  # unknown NWK: zigpy asks for its IEEE address; the device will retry
        device, ieee = sender
        peer = Peer(ieee, int(device.nwk), int(packet.src_ep or 0), int(packet.profile_id),
                    int(packet.dst_ep or SE_ENDPOINT))
        return self.server.handle_frame(peer, packet.data.serialize())

    def _sender(self, src: t.AddrModeAddress) -> tuple[zigpy.device.Device, str] | None:
        """The zigpy device a frame came from, and its IEEE as text; None if zigpy does not know it."""
        app = self.app
        hint = self._sender_hint.get(src.address) if src.addr_mode == t.AddrMode.NWK else None
        # still that device's NWK, and still the device zigpy holds for that IEEE (not removed or replaced)
        if hint is not None and hint[0].nwk == src.address and app.devices.get(hint[0].ieee) is hint[0]:
            return hint
        try:
            device = app.get_device_with_address(src)
        except (KeyError, ValueError):
            return None
        hint = (device, str(device.ieee))
        if src.addr_mode == t.AddrMode.NWK:
            self._sender_hint[src.address] = hint
        return hint

    def _zigpy_device(self, ieee: str):
        if self._app is None:
            return None
        try:
            return self._app.get_device(ieee=t.EUI64.convert(ieee))
        except KeyError:
            return None

    def _ota_client_cluster(self, ieee: str):
        device = self._zigpy_device(ieee)
        if device is None:
            return None
        remembered = self.store.ota_endpoint(ieee)
        endpoints = [ep for ep_id, ep in device.endpoints.items() if ep_id != 0]
        if remembered is not None:
            endpoints.sort(key=lambda ep: ep.endpoint_id != remembered[0])
        for ep in endpoints:
            if OTA_CLUSTER in ep.out_clusters:
                return ep.out_clusters[OTA_CLUSTER]
        return None

    def _locate(self, ieee: str) -> Peer | None:
        device = self._zigpy_device(ieee)
        if device is None:
            return None
        remembered = self.store.ota_endpoint(ieee)
        if remembered is not None:
            endpoint, profile = remembered
        else:
            cluster = self._ota_client_cluster(ieee)
            if cluster is None:
                return None
            endpoint, profile = cluster.endpoint.endpoint_id, cluster.endpoint.profile_id
        return Peer(ieee, int(device.nwk), int(endpoint), int(profile or 0x0109), SE_ENDPOINT)

    def _rx_on(self, ieee: str) -> bool:
        device = self._zigpy_device(ieee)
        node_desc = getattr(device, "node_desc", None)
        return bool(node_desc is not None and node_desc.is_receiver_on_when_idle)

