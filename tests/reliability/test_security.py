"""Security: who may get bytes, who may ask, which images may reach a device (emulated radio end to end)."""

from __future__ import annotations

import struct

import pytest
import zigpy.types as zt

from rig.hub.events import ActivationPlan, TransferResult
from rig.hub.zcl import Status
from rig.image import build_image
from rig.image.signature import generate_signing_key, public_key_pem, sign_bare_image
from tests.hub.images import PPMID, firmware, image
from tests.reliability.conftest import GS_A, IS_A, OTHER, cpl_entry, drive_until, duis, wait_for


def _served(hub, ieee: str) -> list:
    return [f for f in hub.frames if f.ieee == ieee and f.command == "IMAGE_BLOCK_RSP" and f.status == Status.SUCCESS]


def _hub_images(hub) -> int:
    return len(hub.store.live_images())  # images the CH holds, any slot


async def test_device_outside_the_device_log_gets_no_bytes(make_stack) -> None:
    stack = await make_stack()
    member = await stack.device("ppmid")
    stranger = await stack.device("ppmid", allow=False)
    data = image(PPMID, 2, 400)
    stack.hub.offer(str(member.ieee), stack.hub.store_image(data), plan=ActivationPlan.NOW)
    await wait_for(lambda: member.flash.installed_image == data, what="member's transfer")
    # the stranger's own client asked (power-up QNI) and every forged block request for the held image
    stranger.ota.send_raw(0x01, struct.pack("<BHHIH", 1, 0x1234, PPMID, 1, 0x0100))
    for offset in (0, 40, 200):
        stranger.ota.send_raw(0x03, struct.pack("<BHHIIB", 0, 0x1234, PPMID, 2, offset, 40))
    ieee = str(stranger.ieee)
    await wait_for(lambda: len([f for f in stack.hub.frames if f.ieee == ieee and f.direction == "tx"]) >= 4,
                   what="the hub's refusals")
    replies = [(f.command, f.status) for f in stack.hub.frames if f.ieee == ieee and f.direction == "tx"]
    assert ("QUERY_NEXT_IMAGE_RSP", Status.NOT_AUTHORIZED) in replies
    assert replies.count(("DEFAULT_RESPONSE", Status.NOT_AUTHORIZED)) == 3
    assert all(s == Status.NOT_AUTHORIZED for _, s in replies)
    assert not _served(stack.hub, ieee) and stranger.flash.current_file_version == 1
    assert not stranger.ota.events("block_received")


async def test_only_a_responsible_supplier_can_act_on_a_device(make_stack) -> None:
    stack = await make_stack()
    dev = await stack.device("ppmid")
    ieee = str(dev.ieee)
    gsme = "00:db:12:34:56:78:90:a1"
    data = image(PPMID, 2, 400)
    backend = stack.attach_backend([(ieee, "PPMID"), (gsme, "GSME")], [cpl_entry("PPMID", data)])
    denied = backend.update_ppmid_firmware(OTHER, data, "00000002", [duis(ieee)])
    assert not denied.accepted and denied.response_code == backend.codes.not_authorised
    unknown = backend.update_ppmid_firmware("90-B3-D5-1F-30-66-00-00", data, "00000002", [duis(ieee)])
    assert not unknown.accepted and unknown.response_code == backend.codes.unknown_user
    assert not backend.activate_firmware(OTHER, duis(ieee)).accepted
    assert not (await backend.read_firmware_version(OTHER, duis(ieee), over_the_air=True)).accepted
    # a GSME answers to its gas supplier only: the import supplier may not touch it
    assert not backend.update_firmware(IS_A, data, "00000002", duis(gsme)).accepted
    assert _hub_images(stack.hub) == 0 and not stack.hub.store.open_offers(ieee=ieee)
    ok = backend.update_ppmid_firmware(GS_A, data, "00000002", [duis(ieee)])  # PPMID: either supplier
    assert ok.accepted
    await drive_until(stack, lambda: dev.flash.installed_image == data, what="the authorised transfer")


@pytest.mark.parametrize("case", ["off_cpl", "hash_mismatch"])
async def test_images_off_the_cpl_never_reach_the_hub(make_stack, case) -> None:
    stack = await make_stack()
    dev = await stack.device("ppmid")
    ieee = str(dev.ieee)
    good = image(PPMID, 2, 400)
    tampered = bytearray(good)
    tampered[200] ^= 0x01  # same header (ids, version, size): only the hash tells
    entries = [] if case == "off_cpl" else [cpl_entry("PPMID", good)]
    backend = stack.attach_backend([(ieee, "PPMID")], entries)
    response = backend.update_ppmid_firmware(IS_A, bytes(tampered), "00000002", [duis(ieee)])
    assert not response.accepted and response.response_code == backend.codes.not_on_cpl
    assert "not on the CPL" in response.reason
    await backend.drain()
    assert _hub_images(stack.hub) == 0 and not stack.hub.store.open_offers(ieee=ieee)
    assert not _served(stack.hub, ieee) and dev.flash.current_file_version == 1


async def test_downgrade_only_where_explicitly_allowed(make_stack) -> None:
    stack = await make_stack()
    dev = await stack.device("ppmid", ota={"allow_downgrade": True})
    ieee = str(dev.ieee)
    dev.faults.local_upgrade(5)  # running v5; v3 is a downgrade
    older = image(PPMID, 3, 400)
    backend = stack.attach_backend([(ieee, "PPMID")], [cpl_entry("PPMID", older)])
    assert backend.update_ppmid_firmware(IS_A, older, "00000003", [duis(ieee)]).accepted
    await drive_until(stack, lambda: any(e.data.get("status") == "NO_IMAGE_AVAILABLE"
                                         for e in dev.ota.events("query_response")), what="QNI answered")
    assert not _served(stack.hub, ieee) and dev.flash.current_file_version == 5  # the SR path never downgrades
    offer = stack.hub.offer(ieee, stack.hub.store_image(older), plan=ActivationPlan.NOW, allow_downgrade=True)
    dev.ota.send_raw(0x01, struct.pack("<BHHIH", 1, 0x1234, PPMID, 5, 0x0100))  # as after an Image Notify
    await drive_until(stack, lambda: dev.flash.current_file_version == 3, what="explicitly allowed downgrade")
    assert (offer, TransferResult.SUCCESS) in [(o.offer_id, o.result) for o in stack.outcomes(ieee)]


# -- signed GB bare images ------------------------------------------------------------------------------
def _bare(version: int = 2, size: int = 500) -> bytes:
    return build_image(firmware(size, 4), manufacturer_code=0x1234, image_type=PPMID, file_version=version,
                       min_hw_version=0x0100, max_hw_version=0x0100, format="gb-bare")


async def test_signed_gb_image_verifies_and_installs(make_stack) -> None:
    stack = await make_stack()
    dev = await stack.device("ppmid")
    ieee = str(dev.ieee)
    key = generate_signing_key()
    signed = sign_bare_image(_bare(), key)
    backend = stack.attach_backend([(ieee, "PPMID")], [cpl_entry("PPMID", signed)],
                                   [{"manufacturer_code": 0x1234, "public_key": public_key_pem(key)}])
    assert backend.update_ppmid_firmware(IS_A, signed, "00000002", [duis(ieee)]).accepted
    await drive_until(stack, lambda: dev.flash.installed_image == signed, what="signed image installed")


@pytest.mark.parametrize("case", ["foreign_key", "bytes_changed_after_signing", "unsigned", "signature_cut"])
async def test_tampered_or_unsigned_gb_image_is_refused(make_stack, case) -> None:
    stack = await make_stack()
    dev = await stack.device("ppmid")
    ieee = str(dev.ieee)
    maker, attacker = generate_signing_key(), generate_signing_key()
    if case == "foreign_key":
        bad = sign_bare_image(_bare(), attacker)
    elif case == "bytes_changed_after_signing":
        bad = bytearray(sign_bare_image(_bare(), maker))
        bad[100] ^= 0x40
        bad = bytes(bad)
    elif case == "unsigned":
        bad = _bare()
    else:  # keep the 00 40 marker, truncate nothing, zero the signature
        signed = sign_bare_image(_bare(), maker)
        bad = signed[:-64] + bytes(64)
    # The CPL lists exactly these bytes: only the signature check stands between them and the device.
    backend = stack.attach_backend([(ieee, "PPMID")], [cpl_entry("PPMID", bad)],
                                   [{"manufacturer_code": 0x1234, "public_key": public_key_pem(maker)}])
    response = backend.update_ppmid_firmware(IS_A, bad, "00000002", [duis(ieee)])
    assert not response.accepted and response.response_code == backend.codes.bad_signature
    assert ("unsigned" if case == "unsigned" else "signature does not verify") in response.reason
    await backend.drain()
    assert _hub_images(stack.hub) == 0 and not _served(stack.hub, ieee)


async def test_cpl_signer_key_errors_are_clear() -> None:
    from rig.backend.fixtures import FixtureError, Fixtures

    for key, expect in (("not a key", "not a PEM public key"), (42, "expected a PEM public key")):
        with pytest.raises(FixtureError, match=expect) as err:
            Fixtures.from_dicts({"suppliers": [], "devices": []},
                                {"entries": [], "signers": [{"manufacturer_code": 0x1234, "public_key": key}]},
                                where=("estate.yaml", "cpl.yaml"))
        assert "cpl.yaml: signers.0.public_key: found " in str(err.value)


# -- install codes ----------------------------------------------------------------------------------------
async def test_install_code_permit_goes_through_bellows_to_the_stick(make_stack) -> None:
    stack = await make_stack()
    node = zt.EUI64.convert("00:0d:6f:00:00:00:00:42")
    key = zt.KeyData(bytes(range(16)))
    await stack.hub.app.permit_with_link_key(node=node, link_key=key, time_s=30)
    assert stack.emu.errors == []  # importTransientKey + setPolicy answered, no invalidCommand


async def test_install_code_only_join_refuses_a_device_without_the_key(make_stack) -> None:
    from zigpy.util import convert_install_code

    from rig.emu import JoinRefused

    stack = await make_stack()
    code = bytes.fromhex("83FED3407A939723A5C639B26916D505C3B5")  # Silicon Labs' AN1089 example
    allowed = stack.emu.add_device("ppmid")
    await stack.hub.permit_with_install_code(str(allowed.ieee), code, 30)
    intruder = stack.emu.add_device("ppmid")
    with pytest.raises(JoinRefused, match="install-code joins only"):
        await stack.emu.join(intruder)  # well-known key
    with pytest.raises(JoinRefused, match="does not match"):
        await stack.emu.join(allowed, link_key=bytes(16))  # the right device, the wrong key
    await stack.emu.join(allowed, link_key=bytes(convert_install_code(code)))
    assert stack.emu.network.joined(allowed) and not stack.emu.network.joined(intruder)
