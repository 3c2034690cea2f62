"""The reconstructed capture: tshark decodes it fully as Zigbee (802.15.4 with a correct FCS, NWK, APS, ZCL
OTA / ZDO), and the live ZEP datagrams decode too."""

from __future__ import annotations

import socket
import struct

import pytest
import zigpy.types as t

from rig.hub import zcl
from rig.report.capture import Capture, CapturedFrame, crc16_itu, mac_frame
from tests.report.tshark import expert, fields

DEVICE_NWK, HUB_NWK = 0x4A2B, 0x0000
DEVICE_IEEE, HUB_IEEE = "00:0d:6f:00:0a:bc:de:01", "00:0d:6f:ff:fe:00:00:01"
IMAGE = zcl.ImageId(0x1234, 0x0101, 0x00000002)
SE, OTA = 0x0109, 0x0019


def _rx(cap: Capture, tsn: int, zcl_frame: bytes, *, cluster: int = OTA, profile: int = SE, ep: int = 1,
        hub_ep: int = 10) -> None:
    cap.add_packet(t.ZigbeePacket(
        src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=DEVICE_NWK), src_ep=ep,
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=HUB_NWK), dst_ep=hub_ep, tsn=tsn,
        profile_id=profile, cluster_id=cluster, data=t.SerializableBytes(zcl_frame)),
        "rx", hub_nwk=HUB_NWK, src_ieee=DEVICE_IEEE)


def _tx(cap: Capture, tsn: int, zcl_frame: bytes) -> None:
    cap.add_packet(t.ZigbeePacket(
        src_ep=10, dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=DEVICE_NWK), dst_ep=1, tsn=tsn,
        profile_id=SE, cluster_id=OTA, data=t.SerializableBytes(zcl_frame)),
        "tx", hub_nwk=HUB_NWK, src_ieee=HUB_IEEE)


def _client(tsn: int, command: int, payload: bytes) -> bytes:
    return bytes([0x01, tsn, command]) + payload  # cluster-specific, client -> server


def ota_exchange(cap: Capture) -> bytes:
    """A short OTA download as the hub sees it; returns the block data served."""
    data = bytes(range(40))
    _rx(cap, 1, _client(1, 0x01, struct.pack("<BHHIH", 1, 0x1234, 0x0101, 1, 0x0100)))
    _tx(cap, 1, zcl.cluster_frame(1, zcl.Cmd.QUERY_NEXT_IMAGE_RSP, zcl.qni_response(0, IMAGE, 4000)))
    _rx(cap, 2, _client(2, 0x03, struct.pack("<BHHIIB", 0, 0x1234, 0x0101, 2, 0, 40)))
    _tx(cap, 2, zcl.cluster_frame(2, zcl.Cmd.IMAGE_BLOCK_RSP, zcl.block_response_wait(30, None)))
    _rx(cap, 3, _client(3, 0x03, struct.pack("<BHHIIB", 0, 0x1234, 0x0101, 2, 0, 40)))
    _tx(cap, 3, zcl.cluster_frame(3, zcl.Cmd.IMAGE_BLOCK_RSP, zcl.block_response_success(IMAGE, 0, data)))
    _rx(cap, 4, _client(4, 0x03, struct.pack("<BHHIIB", 0, 0x1234, 0x0101, 2, 3960, 40)))
    _tx(cap, 4, zcl.cluster_frame(4, zcl.Cmd.IMAGE_BLOCK_RSP, zcl.block_response_success(IMAGE, 3960, data)))
    _rx(cap, 5, _client(5, 0x06, struct.pack("<BHHI", 0, 0x1234, 0x0101, 2)))
    _tx(cap, 5, zcl.cluster_frame(5, zcl.Cmd.UPGRADE_END_RSP, zcl.upgrade_end_response(IMAGE, 0, 0xFFFFFFFF)))
    # ZDO Match_Desc_req for the OTA cluster in the SE profile (endpoint 0, profile 0)
    _rx(cap, 6, struct.pack("<BHHBHB", 6, 0xFFFD, SE, 1, OTA, 0), cluster=0x0006, profile=0, ep=0, hub_ep=0)
    return data


def test_fcs_is_the_802154_crc() -> None:
    assert crc16_itu(b"123456789") == 0x2189  # CRC-16/KERMIT check value
    frame = mac_frame(CapturedFrame(0.0, "rx", 1, 0, 1, 1, SE, OTA, b"\x01\x02"), pan_id=0x1A62, mac_seq=7,
                      nwk_seq=7)
    assert frame[:2] == b"\x61\x88"  # data, ack request, PAN ID compression, short/short
    assert struct.unpack("<H", frame[-2:])[0] == crc16_itu(frame[:-2])


def test_tshark_decodes_the_ota_download(tmp_path) -> None:
    cap = Capture(pan_id=0x1A62)
    ota_exchange(cap)
    path = str(cap.write_pcapng(tmp_path / "plan.pcapng"))

    assert "Bad FCS" not in expert(path) and "Malformed" not in expert(path)
    rows = fields(path, "frame.protocols", "wpan.fcs_ok", "wpan.dst_pan", "zbee_nwk.src", "zbee_nwk.dst",
                  "zbee_nwk.src64", "zbee_aps.profile", "zbee_aps.cluster", "zbee_aps.src", "zbee_aps.dst")
    assert len(rows) == 11
    for proto, fcs_ok, pan, *_ in rows:
        assert proto.startswith("wpan:zbee_nwk:zbee_aps:"), proto
        assert fcs_ok == "1" and pan == "0x1a62"
    assert rows[0][3:] == ["0x4a2b", "0x0000", DEVICE_IEEE, "0x0109", "0x0019", "1", "10"]
    assert rows[1][3:6] == ["0x0000", "0x4a2b", HUB_IEEE]
    assert rows[10][0].endswith("zbee_zdp") and rows[10][6] == "0x0000"
    assert fields(path, "zbee_aps.zdp_cluster", "zbee_zdp.profile", display_filter="zbee_zdp") == [
        ["0x0006", "0x0109"]]  # Match_Desc_req for the SE profile

    ota = fields(path, "zbee_zcl_general.ota.cmd.srv_rx.id", "zbee_zcl_general.ota.cmd.srv_tx.id",
                 "zbee_zcl_general.ota.status", "zbee_zcl_general.ota.file.offset",
                 "zbee_zcl_general.ota.max_data_size", "zbee_zcl_general.ota.data_size",
                 "zbee_zcl_general.ota.image.size", "zbee_zcl_general.ota.file.version",
                 "zbee_zcl_general.ota.manufacturer_code", "zbee_zcl_general.ota.image.type",
                 "zbee_zcl_general.ota.request_time", "zbee_zcl_general.ota.upgrade_time",
                 "zbee_zcl_general.ota.hw_ver", display_filter="zbee_aps.cluster == 0x0019")
    got = [(r[0] or r[1], r) for r in ota]
    assert [cmd for cmd, _ in got] == ["0x01", "0x02", "0x03", "0x05", "0x03", "0x05", "0x03", "0x05", "0x06",
                                       "0x07"]
    qni, qni_rsp = got[0][1], got[1][1]
    assert qni[7:10] == ["0x00000001", "0x1234", "0x0101"] and qni[12] == "0x0100"
    assert qni_rsp[2] == "0x00" and qni_rsp[6] == "4000" and qni_rsp[7] == "0x00000002"
    wait = got[3][1]
    assert wait[2] == "0x97" and wait[10] == "30"  # WAIT_FOR_DATA, RequestTime 30 s
    block_req, block_rsp = got[6][1], got[7][1]
    assert block_req[3:5] == ["3960", "40"]
    assert block_rsp[2] == "0x00" and block_rsp[3] == "3960" and block_rsp[5] == "40"
    end_req, end_rsp = got[8][1], got[9][1]
    assert end_req[2] == "0x00" and end_req[7] == "0x00000002"
    assert end_rsp[11] == "4294967295"  # 0xFFFFFFFF: wait for the activation command


def test_live_zep_datagrams_decode_as_zigbee(tmp_path) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    cap = Capture(live_zep=listener.getsockname(), channel=15)
    try:
        ota_exchange(cap)
        datagrams = [listener.recv(2048) for _ in range(len(cap.frames))]
    finally:
        cap.close()
        listener.close()
    assert all(d.startswith(b"EX\x02\x01\x0f") and len(d) == 32 + d[31] for d in datagrams)
    # Wrap each datagram as IPv4/UDP to port 17754 (raw-IP pcap) so tshark dissects it the way Wireshark
    # would dissect the live loopback stream.
    pcap = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]
    for i, d in enumerate(datagrams):
        udp = struct.pack(">HHHH", 40000, 17754, 8 + len(d), 0) + d
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0, bytes([127, 0, 0, 1]),
                         bytes([127, 0, 0, 1]))
        pkt = ip + udp
        pcap.append(struct.pack("<IIII", 1_700_000_000 + i, 0, len(pkt), len(pkt)) + pkt)
    path = tmp_path / "zep.pcap"
    path.write_bytes(b"".join(pcap))
    rows = fields(str(path), "frame.protocols", "wpan.fcs_ok", "zbee_zcl_general.ota.cmd.srv_rx.id",
                  "zbee_zcl_general.ota.cmd.srv_tx.id")
    assert len(rows) == len(datagrams)
    assert all("zep:wpan:zbee_nwk:zbee_aps" in r[0] and r[1] == "1" for r in rows)
    assert [r[2] or r[3] for r in rows[:4]] == ["0x01", "0x02", "0x03", "0x05"]


def test_live_zep_refuses_a_non_loopback_host() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Capture(live_zep=("192.0.2.1", 17754))
