"""The simulated HAN between the emulated stick and the emulated devices (implements air.Medium).

A star network: every device is a direct child/neighbour of the coordinator. What is modelled is what
the host can observe through EZSP:

* per-device link: latency, loss probability (seeded RNG), LQI/RSSI;
* APS acknowledgements: a host unicast with APS_OPTION_RETRY that is lost is retried
  (APS_RETRIES times, APS_ACK_WAIT_S apart) and then reported DELIVERY_FAILED in messageSentHandler;
  without RETRY the stack reports SUCCESS once the frame left (a lost frame is lost silently);
* sleepy end devices (rx_on_when_idle False): unicasts wait in the parent's indirect queue until the
  device polls (its poll interval, or an explicit `poll(device)`); a frame still queued after
  CONFIG_INDIRECT_TRANSMISSION_TIMEOUT ms is dropped and reported DELIVERY_FAILED;
* unknown or unreachable destinations fail after a short route-discovery delay;
* joins gated by permitJoining; leave and rejoin reported with trustCenterJoinHandler;
* ZDO requests to the coordinator: answered by the NCP's ZDO server for the supported ones and passed
  up to the host according to CONFIG_APPLICATION_ZDO_FLAGS (see rig.emu.ncp_zdo).

All timers run on the injected clock, so a VirtualClock can fast-forward sleepy polls and timeouts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import bellows.types as bt
import zigpy.types as zt

from rig.emu import ncp_codec, ncp_zdo
from rig.emu.air import BROADCAST_ALL, BROADCAST_ROUTERS, BROADCAST_RX_ON, COORDINATOR_NWK, AirFrame, RadioNode

if TYPE_CHECKING:
    from rig.emu.ncp import EzspNcp
    from rig.emu.pacing import Pacing

LOGGER = logging.getLogger(__name__)
S = bt.sl_Status

APS_RETRIES = 3  # EmberZNet's APS retry count for acknowledged unicasts
APS_ACK_WAIT_S = 0.25  # time before a lost acknowledged frame is sent again (scaled-down apsAckWaitDuration)
ROUTE_FAIL_S = 0.2  # how long route discovery takes to give up on an unknown/unreachable node
BROADCAST_DONE_S = 0.05
ZDO_FLAG_RECEIVE_SUPPORTED = 0x01
ZDO_FLAG_HANDLE_UNSUPPORTED = 0x02


class JoinRefused(Exception):
    """The trust centre did not let the device in (e.g. install-code joins only, wrong key)."""


class PermitJoinClosed(RuntimeError):
    """`join()` was asked while the coordinator does not permit joining."""


#: one direction over one real 802.15.4 hop with a busy-ish channel (CSMA backoff + air time + MAC ACK)
REALISTIC_LATENCY_S = 0.005


@dataclasses.dataclass
class LinkModel:
    """How the air between the coordinator and one device behaves.

    `latency_s` defaults to 0 so functional tests and CI run as fast as the host allows; use
    `LinkModel.realistic()` for a fixed 5 ms per direction, or an Emulator with `pacing=` (rig.emu.pacing)
    to charge real UART, air and flash-write time frame by frame.
    """

    latency_s: float = 0.0
    loss: float = 0.0  # probability that one transmission is lost (each direction, each attempt)
    lqi: int = 255
    rssi: int = -45
    poll_interval_s: float | None = None  # sleepy devices: overrides the device's own poll interval

    @classmethod
    def realistic(cls, **fields: object) -> LinkModel:
        """The old default: 5 ms per direction (set on top of `fields`)."""
        return cls(**{"latency_s": REALISTIC_LATENCY_S, **fields})  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if not 0.0 <= self.loss <= 1.0:
            raise ValueError(f"LinkModel.loss must be within [0, 1], got {self.loss!r}")
        if self.latency_s < 0:
            raise ValueError(f"LinkModel.latency_s must be >= 0, got {self.latency_s!r}")


@dataclasses.dataclass
class _Held:
    frame: AirFrame
    want_ack: bool
    on_sent: Callable[[bt.sl_Status], None]
    timeout: Any = None


@dataclasses.dataclass
class _Node:
    device: RadioNode
    link: LinkModel
    joined: bool = False
    reachable: bool = True
    held: list[_Held] = dataclasses.field(default_factory=list)
    poll_timer: Any = None
    busy_until: float = 0.0  # paced: the device is still processing what it received (clock time)
    short_poll_until: float = 0.0  # a sleepy device polls fast until then (it awaits an answer)
    next_poll_at: float = 0.0  # clock time of the pending poll_timer

    @property
    def sleepy(self) -> bool:
        return not self.device.rx_on_when_idle

    @property
    def is_router(self) -> bool:
        return bool(getattr(self.device, "is_router", False))

    def poll_interval(self, now: float = 0.0) -> float | None:
        if self.link.poll_interval_s is not None:  # a link override is a fixed schedule (e.g. "asleep")
            return self.link.poll_interval_s
        short = getattr(self.device, "short_poll_interval_s", None)
        if now < self.short_poll_until and isinstance(short, (int, float)) and short > 0:
            return float(short)
        for name in ("poll_interval_s", "poll_interval"):
            value = getattr(self.device, name, None)
            if isinstance(value, (int, float)) and value > 0:
                return float(value)
        return None


class SimNetwork:
    """The air. Devices call `send_from_device`; the NCP calls `host_*`; tests call join/leave/..."""

    def __init__(self, ncp: EzspNcp, clock: Any, rng: random.Random, pacing: Pacing | None = None) -> None:
        self._ncp = ncp
        self._clock = clock
        self._rng = rng
        self._pacing = pacing
        self._air_free_at = 0.0  # paced: when the one shared channel is next free (clock time)
        self._nodes: dict[zt.EUI64, _Node] = {}
        self._nwk_hint: dict[int, _Node] = {}  # last node found per NWK, checked on use (a fleet is 100+ nodes)
        self._epoch = 0  # bumped when the NCP's network goes down: in-flight reports are void
        self._permit_event = asyncio.Event()
        self._up_event = asyncio.Event()
        self.frames_to_devices = 0
        self.frames_to_host = 0
        self.frames_lost = 0
        # Host sends the air has not yet reported on (held for a poll, APS retries, latency): a driver of
        # virtual time compares this with the host's own unfinished sends to tell "waiting on rig time"
        # from "still in the serial line" (where jumping time would fire device timeouts early).
        self.sends_on_air = 0

    # -- topology -----------------------------------------------------------------------------------
    def attach(self, device: RadioNode, link: LinkModel | None = None) -> None:
        """Place a device within radio range (not joined yet)."""
        if device.ieee in self._nodes:
            raise ValueError(f"a device with IEEE {device.ieee} is already attached")
        self._nodes[device.ieee] = _Node(device=device, link=link or LinkModel())

    def link(self, device: RadioNode) -> LinkModel:
        return self._node(device).link

    def set_link(self, device: RadioNode, link: LinkModel) -> None:
        self._node(device).link = link

    def set_reachable(self, device: RadioNode, reachable: bool) -> None:
        """Out of range / powered down without leaving: frames to it fail, frames from it vanish."""
        self._node(device).reachable = reachable

    def devices(self) -> list[RadioNode]:
        return [n.device for n in self._nodes.values()]

    def joined(self, device: RadioNode) -> bool:
        node = self._nodes.get(device.ieee)
        return bool(node and node.joined)

    def _node(self, device: RadioNode) -> _Node:
        try:
            return self._nodes[device.ieee]
        except KeyError:
            raise ValueError(f"device {device.ieee} is not attached to this network") from None

    def _by_nwk(self, nwk: int) -> _Node | None:
        node = self._nwk_hint.get(nwk)
        if node is not None and node.joined and node.device.nwk == nwk:
            return node
        for node in self._nodes.values():
            if node.joined and node.device.nwk == nwk:
                self._nwk_hint[nwk] = node
                return node
        return None

    def nwk_of(self, ieee: zt.EUI64) -> int | None:
        node = self._nodes.get(ieee)
        return node.device.nwk if node and node.joined else None

    def ieee_of(self, nwk: int) -> zt.EUI64 | None:
        node = self._by_nwk(nwk)
        return node.device.ieee if node else None

    def children(self) -> list[tuple[zt.EUI64, int]]:
        return [(n.device.ieee, n.device.nwk) for n in self._nodes.values() if n.joined and not n.is_router]

    # -- NCP state ------------------------------------------------------------------------------------
    @property
    def network_up(self) -> bool:
        return self._ncp.ram.network_up

    def permit_open(self) -> bool:
        return self.network_up and self._clock.now() < self._ncp.ram.permit_until

    def ncp_network_up(self) -> None:
        self._up_event.set()

    def ncp_network_down(self) -> None:
        self._epoch += 1
        self.sends_on_air = 0
        self._up_event.clear()
        for node in self._nodes.values():
            for held in node.held:
                if held.timeout is not None:
                    held.timeout.cancel()
            node.held.clear()

    def permit_changed(self) -> None:
        self._permit_event.set()

    async def wait_for_permit(self, timeout: float | None = None) -> None:
        """Until the host permits joining (real time / clock seconds of the injected clock)."""

        async def _wait() -> None:
            while not self.permit_open():
                self._permit_event.clear()
                await self._permit_event.wait()

        await self._clock.wait_for(_wait(), timeout)

    # -- joins ----------------------------------------------------------------------------------------
    async def join(self, device: RadioNode, *, wait: float | None = None, link_key: bytes | None = None) -> None:
        """Associate `device` (permit-join must be open, or open within `wait` seconds).

        `link_key` is the key the device authenticates with: None = the well-known ZigBeeAlliance09 key.
        While the trust-centre policy says JOINS_USE_INSTALL_CODE_KEY, only a device whose key matches
        its own entry in the stick's transient key table gets the network key (JoinRefused otherwise)."""
        node = self._nodes.get(device.ieee)
        if node is None:
            self.attach(device)
            node = self._nodes[device.ieee]
        if not self.permit_open():
            if not wait:
                raise PermitJoinClosed(
                    f"cannot join {device.ieee}: the coordinator is not permitting joins "
                    f"(network {'up' if self.network_up else 'down'}); call app.permit() first"
                )
            await self.wait_for_permit(wait)
        if self._by_nwk(device.nwk) not in (None, node):
            raise ValueError(f"NWK 0x{device.nwk:04X} of {device.ieee} is already used by another device")
        self._authenticate(device, link_key)
        node.joined = True
        self._tc_event(device, bt.EmberDeviceUpdate.STANDARD_SECURITY_UNSECURED_JOIN, bt.EmberJoinDecision.USE_PRECONFIGURED_KEY)
        self._child_join(node, joining=True)
        self._start_polling(node)
        device.power_on()

    def _authenticate(self, device: RadioNode, link_key: bytes | None) -> None:
        policy = self._ncp.ram.policies.get(int(bt.EzspPolicyId.TRUST_CENTER_POLICY), 0)
        if not policy & bt.EzspDecisionBitmask.JOINS_USE_INSTALL_CODE_KEY:
            return  # well-known-key joins (bellows' normal permit)
        expected = self._ncp.ram.transient_keys.get(zt.EUI64(device.ieee))
        if expected is None or link_key is None or bytes(link_key) != expected:
            raise JoinRefused(f"{device.ieee} refused: the trust centre admits install-code joins only, and "
                              + ("it has no key for this device" if expected is None else
                                 "the device's link key does not match its install code"))

    def rejoin(self, device: RadioNode) -> None:
        """A secured rejoin (after a reboot or losing its parent); needs no permit-join."""
        node = self._node(device)
        node.joined = True
        self._tc_event(device, bt.EmberDeviceUpdate.STANDARD_SECURITY_SECURED_REJOIN, bt.EmberJoinDecision.NO_ACTION)
        self._start_polling(node)
        device.power_on()

    def leave(self, device: RadioNode) -> None:
        """The device leaves (as after Mgmt_Leave or a factory reset)."""
        node = self._node(device)
        if not node.joined:
            return
        device.power_off()
        node.joined = False
        self._stop_polling(node)
        for held in node.held:
            if held.timeout is not None:
                held.timeout.cancel()
            held.on_sent(S.ZIGBEE_DELIVERY_FAILED)
        node.held.clear()
        self._child_join(node, joining=False)
        self._tc_event(device, bt.EmberDeviceUpdate.DEVICE_LEFT, bt.EmberJoinDecision.NO_ACTION)

    def _tc_event(self, device: RadioNode, status: bt.EmberDeviceUpdate, decision: bt.EmberJoinDecision) -> None:
        """trustCenterJoinHandler: the only join/leave signal bellows consumes."""
        self._ncp.callback("trustCenterJoinHandler", newNodeId=device.nwk, newNodeEui64=device.ieee, status=status,
                           policyDecision=decision, parentOfNewNodeId=COORDINATOR_NWK)

    def _child_join(self, node: _Node, *, joining: bool) -> None:
        if node.is_router:
            return
        index = next((i for i, (ieee, _) in enumerate(self.children()) if ieee == node.device.ieee), 0)
        self._ncp.callback(
            "childJoinHandler",
            index=index,
            joining=joining,
            childId=node.device.nwk,
            childEui64=node.device.ieee,
            childType=bt.EmberNodeType.SLEEPY_END_DEVICE if node.sleepy else bt.EmberNodeType.END_DEVICE,
        )

    # -- sleepy devices ---------------------------------------------------------------------------------
    def _start_polling(self, node: _Node) -> None:
        self._stop_polling(node)
        interval = node.poll_interval(self._clock.now())
        if node.sleepy and interval:
            node.next_poll_at = self._clock.now() + interval
            node.poll_timer = self._clock.call_later(interval, self._periodic_poll, node)

    def _short_poll(self, node: _Node) -> None:
        """After transmitting, an end device polls at its short interval for a while (EmberZNet's
        end-device support does so while a response is outstanding), so an answer need not wait a
        whole long poll."""
        window = getattr(node.device, "short_poll_window_s", 0.0)
        if not isinstance(window, (int, float)) or window <= 0:
            return
        now = self._clock.now()
        node.short_poll_until = now + window
        interval = node.poll_interval(now)
        if interval and (node.poll_timer is None or node.next_poll_at > now + interval):
            self._start_polling(node)

    def _stop_polling(self, node: _Node) -> None:
        if node.poll_timer is not None:
            node.poll_timer.cancel()
            node.poll_timer = None

    def _periodic_poll(self, node: _Node) -> None:
        node.poll_timer = None
        if not node.joined:
            return
        self._poll(node)
        self._start_polling(node)

    def poll(self, device: RadioNode) -> None:
        """A MAC data request from a sleepy device: hand it whatever waits in the indirect queue."""
        self._poll(self._node(device))

    def _poll(self, node: _Node) -> None:
        if not node.joined or not node.reachable or not node.held:
            return
        held = node.held.pop(0)
        if self._lost(node):
            if held.want_ack:
                node.held.insert(0, held)  # stays queued for the next poll until the indirect timeout
            else:
                self._finish_held(held, S.OK)
            return
        self._finish_held(held, None)
        self._deliver_to_device(node, held.frame)
        self._later(node.link.latency_s * 2, held.on_sent, S.OK)
        if node.held:  # frame pending bit: the device polls again straight away
            self._later(node.link.latency_s * 2, self._poll, node)

    def _finish_held(self, held: _Held, status: bt.sl_Status | None) -> None:
        if held.timeout is not None:
            held.timeout.cancel()
            held.timeout = None
        if status is not None:
            held.on_sent(status)

    def _indirect_timeout(self, node: _Node, held: _Held) -> None:
        if held in node.held:
            node.held.remove(held)
            held.timeout = None
            held.on_sent(S.ZIGBEE_DELIVERY_FAILED)

    # -- host -> air --------------------------------------------------------------------------------------
    def _guard(self, on_sent: Callable[[bt.sl_Status], None]) -> Callable[[bt.sl_Status], None]:
        """Reports from before an NCP reset must not surface in the next session."""
        epoch = self._epoch
        done = False
        self.sends_on_air += 1

        def report(status: bt.sl_Status) -> None:
            nonlocal done
            if done or epoch != self._epoch:
                return
            done = True
            self.sends_on_air -= 1
            on_sent(status)

        return report

    def _later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        if delay <= 0:  # the next loop turn: no rig-clock timer needed (most hops off the paced path)
            asyncio.get_running_loop().call_soon(fn, *args)
        else:
            self._clock.call_later(delay, fn, *args)

    def _lost(self, node: _Node) -> bool:
        if node.link.loss and self._rng.random() < node.link.loss:
            self.frames_lost += 1
            return True
        return False

    def host_unicast(self, frame: AirFrame, *, want_ack: bool, on_sent: Callable[[bt.sl_Status], None]) -> None:
        on_sent = self._guard(on_sent)
        if frame.dst_nwk == COORDINATOR_NWK:
            self._loopback(frame, on_sent)
            return
        node = self._by_nwk(frame.dst_nwk)
        if node is None or not node.reachable:
            self._later(ROUTE_FAIL_S, on_sent, S.ZIGBEE_DELIVERY_FAILED)
            return
        if node.sleepy:
            timeout_s = self._ncp.ram.config_value(bt.EzspConfigId.CONFIG_INDIRECT_TRANSMISSION_TIMEOUT) / 1000
            held = _Held(frame, want_ack, on_sent)
            held.timeout = self._clock.call_later(timeout_s, self._indirect_timeout, node, held)
            node.held.append(held)
            return
        self._attempt(node, frame, want_ack, on_sent, 0)

    def _attempt(self, node: _Node, frame: AirFrame, want_ack: bool, on_sent: Callable, attempt: int) -> None:
        if not node.joined or not node.reachable:
            self._later(ROUTE_FAIL_S, on_sent, S.ZIGBEE_DELIVERY_FAILED)
            return
        latency = node.link.latency_s
        if self._lost(node):
            if not want_ack:
                self._later(latency, on_sent, S.OK)
            elif attempt < APS_RETRIES:
                self._later(APS_ACK_WAIT_S, self._attempt, node, frame, want_ack, on_sent, attempt + 1)
            else:
                self._later(APS_ACK_WAIT_S, on_sent, S.ZIGBEE_DELIVERY_FAILED)
            return
        if self._pacing is not None:
            delivered = latency + self._air_slot(self._pacing.frame_air_s(len(frame.payload)))
            self._later(delivered, self._deliver_to_device, node, frame)
            done = delivered
            if want_ack:  # the device's APS ACK takes the channel right after
                done = latency + self._air_slot(self._pacing.aps_ack_air_s(), not_before=delivered)
            self._later(done, on_sent, S.OK)
            return
        self._later(latency, self._deliver_to_device, node, frame)
        # the APS ack comes back over the same link
        self._later(latency * 2 if want_ack else latency, on_sent, S.OK)

    def host_broadcast(self, frame: AirFrame, *, on_sent: Callable[[bt.sl_Status], None]) -> None:
        on_sent = self._guard(on_sent)
        for node in list(self._nodes.values()):
            if self._hears_broadcast(node, frame.dst_nwk) and not self._lost(node):
                self._later(node.link.latency_s, self._deliver_to_device, node, frame)
        self._later(BROADCAST_DONE_S, on_sent, S.OK)

    def host_multicast(self, frame: AirFrame, *, on_sent: Callable[[bt.sl_Status], None]) -> None:
        on_sent = self._guard(on_sent)
        for node in list(self._nodes.values()):
            if node.joined and node.reachable and frame.group_id in _groups(node.device) and not self._lost(node):
                self._later(node.link.latency_s, self._deliver_to_device, node, frame)
        self._later(BROADCAST_DONE_S, on_sent, S.OK)

    def _hears_broadcast(self, node: _Node, dst: int) -> bool:
        if not node.joined or not node.reachable:
            return False
        if dst == BROADCAST_ALL:
            return True
        if dst == BROADCAST_RX_ON:
            return node.device.rx_on_when_idle
        if dst == BROADCAST_ROUTERS:
            return node.is_router
        return False

    def _air_slot(self, one_hop_s: float, not_before: float = 0.0) -> float:
        """Paced: book the shared channel for one frame over every hop; seconds from now until it is done."""
        assert self._pacing is not None
        now = self._clock.now()
        start = max(now + not_before, self._air_free_at)
        self._air_free_at = start + one_hop_s * self._pacing.hops
        return self._air_free_at - now

    def _deliver_to_device(self, node: _Node, frame: AirFrame) -> None:
        if not node.joined:
            return
        self.frames_to_devices += 1
        if self._pacing is not None:
            node.busy_until = self._clock.now() + self._pacing.device_processing_s(frame.cluster_id, frame.payload)
        try:
            node.device.receive(frame)
        except Exception:
            LOGGER.exception("device %s raised while receiving %r", node.device.ieee, frame)

    # -- coordinator loopback (host talking to its own NCP) -------------------------------------------------
    def _loopback(self, frame: AirFrame, on_sent: Callable[[bt.sl_Status], None]) -> None:
        self._later(0, on_sent, S.OK)
        if frame.profile_id == 0 and frame.dst_ep == 0 and ncp_zdo.is_request(frame.cluster_id):
            rsp = ncp_zdo.answer(self._ncp, frame.cluster_id, frame.payload)
            if rsp is not None:
                cluster, payload = rsp
                reply = AirFrame(COORDINATOR_NWK, COORDINATOR_NWK, 0, 0, 0, cluster, payload,
                                 self._ncp.ram.next_aps_counter())
                self._later(0, self._to_host, reply, None)

    # -- air -> host -----------------------------------------------------------------------------------------
    def send_from_device(self, device: RadioNode, frame: AirFrame) -> None:
        node = self._nodes.get(device.ieee)
        if node is None or not node.joined:
            LOGGER.debug("frame from unjoined device %s dropped: %r", device.ieee, frame)
            return
        if not node.reachable or self._lost(node):
            return
        delay = node.link.latency_s
        if self._pacing is not None:  # it transmits once done processing, when the channel is free
            busy = max(0.0, node.busy_until - self._clock.now())
            delay += self._air_slot(self._pacing.frame_air_s(len(frame.payload)), not_before=busy)
        if delay <= 0:  # on its way now: no loop turn between the device sending and the stick hearing it
            self._route_from_device(node, frame)
        else:
            self._later(delay, self._route_from_device, node, frame)

    def _route_from_device(self, node: _Node, frame: AirFrame) -> None:
        if not node.joined:
            return
        if node.sleepy:  # it is awake now: its next data request follows the transmission
            self._later(node.link.latency_s, self._poll, node)
            self._short_poll(node)
        if frame.group_id is not None:
            for other in self._nodes.values():
                if other is not node and other.joined and frame.group_id in _groups(other.device):
                    self._later(other.link.latency_s, self._deliver_to_device, other, frame)
            if any(int(e.multicastId) == frame.group_id and int(e.endpoint) != 0
                   for e in self._ncp.ram.multicast.values()):
                self._to_coordinator(node, frame)
            return
        if frame.is_broadcast:
            for other in self._nodes.values():
                if other is not node and self._hears_broadcast(other, frame.dst_nwk):
                    self._later(other.link.latency_s, self._deliver_to_device, other, frame)
            self._to_coordinator(node, frame)
            return
        if frame.dst_nwk == COORDINATOR_NWK:
            self._to_coordinator(node, frame)
            return
        target = self._by_nwk(frame.dst_nwk)
        if target is not None:
            self._attempt(target, frame, False, lambda status: None, 0)

    def _to_coordinator(self, node: _Node, frame: AirFrame) -> None:
        if not self.network_up:
            return
        options = bt.EmberApsOption.APS_OPTION_NONE
        if frame.profile_id == 0 and frame.dst_ep == 0 and ncp_zdo.is_request(frame.cluster_id):
            supported = frame.cluster_id in ncp_zdo.SUPPORTED_REQUESTS
            rsp = ncp_zdo.answer(self._ncp, frame.cluster_id, frame.payload)
            if rsp is not None:
                cluster, payload = rsp
                reply = AirFrame(COORDINATOR_NWK, node.device.nwk, 0, 0, 0, cluster, payload,
                                 self._ncp.ram.next_aps_counter())
                self.host_unicast(reply, want_ack=False, on_sent=lambda status: None)
            flags = self._ncp.ram.config_value(bt.EzspConfigId.CONFIG_APPLICATION_ZDO_FLAGS)
            if supported and not flags & ZDO_FLAG_RECEIVE_SUPPORTED:
                return
            if not supported:
                if not flags & ZDO_FLAG_HANDLE_UNSUPPORTED:
                    return  # the stack would answer NOT_SUPPORTED; no device here relies on that
                options = bt.EmberApsOption.APS_OPTION_ZDO_RESPONSE_REQUIRED
        self._to_host(frame, node, options)

    def _to_host(self, frame: AirFrame, node: _Node | None, options: Any = None) -> None:
        if not self.network_up:
            return
        if frame.group_id is not None:
            msg_type = bt.EmberIncomingMessageType.INCOMING_MULTICAST
        elif frame.is_broadcast:
            msg_type = bt.EmberIncomingMessageType.INCOMING_BROADCAST
        else:
            msg_type = bt.EmberIncomingMessageType.INCOMING_UNICAST
        aps = ncp_codec.ApsFields(frame.profile_id, frame.cluster_id, frame.src_ep, frame.dst_ep,
                                  int(options) if options is not None else 0, frame.group_id or 0,
                                  frame.aps_counter % 256)
        lqi = node.link.lqi if node else 255
        rssi = node.link.rssi if node else 0
        ieee = node.device.ieee if node else self._ncp.nv.eui64
        self.frames_to_host += 1
        self._ncp.callback(
            "incomingMessageHandler",
            type=msg_type, message_type=msg_type,
            apsFrame=aps, aps_frame=aps,
            lastHopLqi=lqi, lqi=lqi,
            lastHopRssi=rssi, rssi=rssi,
            sender=frame.src_nwk, nwk=frame.src_nwk,
            eui64=ieee,
            bindingIndex=0xFF, binding_index=0xFF,
            addressIndex=0xFF, address_index=0xFF,
            timestamp=int(self._clock.now() * 1000) & 0xFFFFFFFF,
            messageContents=frame.payload, message=frame.payload,
        )

    def stop(self) -> None:
        for node in self._nodes.values():
            self._stop_polling(node)
            for held in node.held:
                if held.timeout is not None:
                    held.timeout.cancel()
            node.held.clear()


def _groups(device: RadioNode) -> frozenset[int]:
    return frozenset(int(g) for g in getattr(device, "groups", ()) or ())
