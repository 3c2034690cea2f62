"""End to end on the emulated radio: each real-world image layout is served by the hub to an emulated PPMID
that installs it, and the installed bytes are exactly the declared image (no container, no trailing bytes)."""

from __future__ import annotations

from rig.hub.events import ActivationPlan, TransferOutcome, TransferResult
from rig.image import parse_image
from tests.hub.conftest import events_of, wait_for
from tests.image import real_world as rw

BINARY_STRING = b"FW\x00" + bytes([0x01, 0xFE, 0x80]) + bytes(26)

# name -> (declared image for a version, the file as shipped)
VARIANTS = {
    "integrity up to the element (Ubisys, Innr, Bosch)": (lambda v: rw.zigbee("to-element", version=v), None),
    "integrity up to its value (NodOn)": (lambda v: rw.zigbee("to-value", version=v), None),
    "trailing CRC-32 (Salus)": (lambda v: rw.zigbee(version=v), rw.with_crc32),
    "padding + CRC-32 (SDevices)": (lambda v: rw.zigbee(version=v), rw.with_padding_and_raw_crc),
    "IKEA container": (lambda v: rw.zigbee("to-element", version=v), rw.in_ikea_container),
    "size prefix (Legrand)": (lambda v: rw.zigbee(version=v), rw.with_size_prefix),
    "Third Reality header": (lambda v: rw.zigbee("to-element", version=v), rw.in_third_reality_header),
    "Telink element": (lambda v: rw.telink(version=v), None),
    "opaque body": (lambda v: rw.hue_sbl(version=v)[:10] + (rw.MFR).to_bytes(2, "little") + rw.hue_sbl(version=v)[12:],
                    None),
    "binary header string": (lambda v: rw.binary_header_string(BINARY_STRING, version=v), None),
    "an element, then raw bytes (Datek combined)": (lambda v: rw.combined(version=v), None),
}


async def test_every_variant_is_installed_byte_for_byte(make_rig) -> None:
    rig = await make_rig()
    dev = await rig.device("ppmid")
    ieee = str(dev.ieee)
    for version, (name, (declared_for, wrap)) in enumerate(VARIANTS.items(), start=2):
        declared = declared_for(version)
        shipped = wrap(declared) if wrap else declared
        assert parse_image(shipped).raw == declared, name
        done = len(events_of(rig.hub, TransferOutcome, ieee))
        offer = rig.hub.offer(ieee, rig.hub.store_image(shipped), plan=ActivationPlan.NOW)
        await wait_for(lambda: len(events_of(rig.hub, TransferOutcome, ieee)) > done, what=f"{name}: transfer")
        outcome = events_of(rig.hub, TransferOutcome, ieee)[-1]
        assert (outcome.offer_id, outcome.result) == (offer, TransferResult.SUCCESS), name
        await wait_for(lambda: dev.flash.current_file_version == version, what=f"{name}: device runs it")
        assert dev.flash.installed_image == declared, name
