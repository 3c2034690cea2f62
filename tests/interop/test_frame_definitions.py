"""The emulator's EZSP frame definitions (rig.emu.ezsp) against bellows' tables and herdsman's adapter.

Every difference is listed below with the reason the emulator follows the firmware. A difference
not listed fails (someone changed a definition, or a pinned host changed); so does a listed one that
no longer shows (the list must say what is true now). Run with -s to print the table.
"""

from __future__ import annotations

import pytest

from tests.interop.frame_diff import Difference, against_bellows, against_herdsman
from tests.interop.node_env import herdsman_package, herdsman_root

SL_STATUS_FROM_8X = "EmberZNet 8.x returns sl_status_t here"

EXPLAINED: dict[tuple[str, str, str], str] = {
    # -- bellows 1.2.1 ----------------------------------------------------------------------------------
    ("bellows", "gpSinkTableClearAll", "name"):
        "bellows calls 0x00E2 gpClearSinkTable at EZSP 6 only; UG100's name is gpSinkTableClearAll. "
        "Same id, same (empty) parameters: not a wire difference.",
    ("bellows", "startScan", "response"):
        "EmberZNet 7.4 (EZSP 13) answers startScan with a 4-byte sl_status_t (emberStartScan returns "
        "sl_status_t in 7.x; herdsman reads a uint32 at 13). bellows reads one EmberStatus byte and "
        "ignores the three that follow, so it works with the firmware's answer.",
    ("bellows", "invalidCommand", "response"):
        "The reason stays a one-byte EzspStatus in 8.x (EZSP-level errors never became sl_status_t); "
        "herdsman, a port of Silicon Labs' host code, reads one byte. bellows reads a 4-byte sl_Status "
        "from EZSP 14.",
    ("bellows", "importTransientKey", "request"):
        "EmberZNet 8.x dropped the trailing flags byte (sl_zigbee_sec_man_import_transient_key takes the "
        "EUI64 and the key); herdsman sends 24 bytes. bellows still appends flags; the emulator, like the "
        "firmware, ignores the byte it does not expect (issue 22).",
    # -- zigbee-herdsman 11.1.1 (ember adapter) ---------------------------------------------------------
    ("herdsman", "invalidCommand", "absent"):
        "herdsman reads invalidCommand in its frame validation (one status byte), not as a command or "
        "callback; the one byte matches.",
    ("herdsman", "setSourceRoute", "absent"):
        "herdsman never sets source routes by hand (the NCP's own route-record table serves it); bellows "
        "can (manual source routing), so the emulator keeps the frame.",
    ("herdsman", "getAddressTableRemoteEui64", "absent"):
        "herdsman only knows 8.x's getAddressTableInfo at 0x005E and refuses to send it below EZSP 14; it "
        "has no 7.x address-table reads (bellows uses them at 13).",
    ("herdsman", "getAddressTableRemoteNodeId", "absent"):
        "As getAddressTableRemoteEui64: a 7.x frame herdsman does not have.",
    ("herdsman", "messageSentHandler", "response"):
        "herdsman stops reading after the message tag: it leaves MESSAGE_CONTENTS_IN_CALLBACK_POLICY at "
        "the firmware default (tag only), where EmberZNet still sends the length byte, zero. The emulator "
        "does the same (and sends the contents only under MESSAGE_TAG_AND_CONTENTS).",
    ("herdsman", "setManufacturerCode", "response"):
        f"herdsman does not read the response; {SL_STATUS_FROM_8X} (bellows agrees).",
    ("herdsman", "lookupNodeIdByEui64", "response"):
        f"herdsman reads only the node id; {SL_STATUS_FROM_8X} first and the id after "
        "(sl_zigbee_lookup_node_id_by_eui64(eui64, *node_id)); bellows agrees. The ember adapter never "
        "calls it.",
}


def _check(host: str, differences: list[Difference]) -> None:
    print(f"\n{host}: {len(differences)} difference(s) from the emulator's definitions")
    for diff in sorted(differences, key=lambda d: d.key):
        versions = f"v{diff.versions[0]}" + (f"-{diff.versions[-1]}" if len(diff.versions) > 1 else "")
        print(f"  {diff.frame} {diff.what} ({versions}): {diff.detail}\n    why: {EXPLAINED.get(diff.key, '?')}")
    unexplained = [d for d in differences if d.key not in EXPLAINED]
    shown = {d.key for d in differences}
    stale = [key for key in EXPLAINED if key[0] == host and key not in shown]
    problems = [f"unexplained: {d.frame} {d.what} at EZSP {d.versions}: {d.detail}" for d in unexplained]
    problems += [f"explained but no longer different: {key}" for key in stale]
    assert not problems, "\n".join(problems)


def test_differences_from_bellows_are_all_explained():
    _check("bellows", against_bellows())
    from rig.emu.ezsp import frames_for
    from tests.interop.frame_diff import bellows_commands

    extra = {name for name, *_ in bellows_commands(19).values()} - set(frames_for(19).by_name)
    print(f"  (bellows defines {len(extra)} more EZSP 19 frames the emulator has no use for, e.g. "
          f"{', '.join(sorted(extra)[:5])}: a host sending one gets invalidCommand and a recorded error)")


def test_differences_from_herdsman_are_all_explained():
    package = herdsman_package(herdsman_root())
    _check("herdsman", against_herdsman(package))


@pytest.mark.parametrize("host", ["bellows", "herdsman"])
def test_the_check_catches_a_changed_definition(host, monkeypatch):
    """Break one definition on purpose: the comparison must report it as unexplained."""
    from rig.emu.ezsp import frames as frames_mod

    broken = tuple(
        frames_mod.Frame(f.name, f.frame_id, f.request, (*f.response, ("extra", frames_mod.u8)), f.since, f.until,
                         f.callback) if f.name == "getNodeId" else f
        for f in frames_mod.FRAMES
    )
    monkeypatch.setattr(frames_mod, "FRAMES", broken)
    frames_mod.frames_for.cache_clear()
    try:
        diffs = against_bellows() if host == "bellows" else against_herdsman(herdsman_package(herdsman_root()))
    finally:
        monkeypatch.undo()
        frames_mod.frames_for.cache_clear()
    assert any(d.frame == "getNodeId" and d.what == "response" for d in diffs)


# Frames herdsman's ember adapter can send that the emulated stick does not answer (invalidCommand,
# recorded as an emulator error), with the reason. Also listed in docs/ezsp-emulation.md.
NOT_EMULATED: dict[str, str] = {
    "GET_TOKEN_COUNT":
        "EmberTokensManager (NVM3 token save/restore) has no caller in herdsman 11.1.1; its backup uses "
        "exportKey / getNetworkKeyInfo / exportLinkKeyByIndex, all emulated. The stick keeps no NVM3 tokens.",
    "GET_TOKEN_INFO": "EmberTokensManager, as GET_TOKEN_COUNT.",
    "IMPORT_KEY": "EmberTokensManager.restoreKeysFromData, as GET_TOKEN_COUNT.",
}


def test_every_frame_herdsmans_adapter_can_send_is_emulated_or_explained():
    from rig.emu import ncp_handlers
    from rig.emu.ezsp import frames_for
    from tests.interop.herdsman_frames import adapter_frames

    sent = adapter_frames(herdsman_package(herdsman_root()))
    missing: dict[str, list[int]] = {}
    for frame_id, (name, callers) in sorted(sent.items()):
        for version in (13, 14, 19):
            frame = frames_for(version).by_id.get(frame_id)
            if frame is None or frame.name not in ncp_handlers.HANDLERS:
                missing.setdefault(name, []).append(version)
    print(f"\nherdsman's ember adapter can send {len(sent)} frames; not emulated:")
    for name, versions in missing.items():
        callers = ", ".join(sorted(next(c for n, c in sent.values() if n == name)))
        print(f"  {name} (EZSP {versions}) from {callers}\n    why: {NOT_EMULATED.get(name, '?')}")
    unexplained = sorted(set(missing) - set(NOT_EMULATED))
    stale = sorted(set(NOT_EMULATED) - set(missing))
    assert not unexplained, f"herdsman can send frames the emulator does not answer: {unexplained}"
    assert not stale, f"listed as not emulated but now emulated (update the list and the doc): {stale}"
    assert len(sent) > 30  # the call graph was actually read
