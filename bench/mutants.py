"""Requirement mutants: break one rule of domain.md §4 at a time and see which plan or test notices.

Each mutant is a one-line change to the hub, the back end or the emulated device, named by file, an
anchor (text that must occur exactly once in that file) and its replacement. The catalogue runs each
mutant in a throw-away copy of the tree (the working tree is never changed, Ctrl-C included) against the
plans and tests that claim the requirement, and prints who killed it and the score:

    .venv/bin/python bench/mutants.py --list                  # the catalogue
    .venv/bin/python bench/mutants.py --check                 # every anchor found exactly once?
    .venv/bin/python bench/mutants.py --only ec22,R-DSP-05    # ids, requirements or edge cases (4.7-22)
    .venv/bin/python bench/mutants.py                         # the whole catalogue (4-10 minutes)
    .venv/bin/python bench/mutants.py --plans-only            # skip the tests (plans-alone score)

A missing or ambiguous anchor, or a claimed plan or test file that does not exist, is a catalogue
error (exit 2), never a silent skip: after a refactor, re-anchor the mutant. Exit 1 if a mutant survives.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from verdicts import ROOT, run_plans, run_tests, tree_copy  # noqa: E402

S = "testplans/scenarios/"
C = "testplans/conformance/"


@dataclasses.dataclass(frozen=True)
class Mutant:
    id: str
    reqs: tuple[str, ...]  # R-CH-04, 4.7-4, ...
    what: str  # the rule it breaks
    file: str
    anchor: str
    replacement: str
    plans: tuple[str, ...] = ()
    tests: tuple[str, ...] = ()


def M(id: str, reqs: str, what: str, file: str, anchor: str, replacement: str, plans: str = "",
      tests: str = "") -> Mutant:
    return Mutant(id, tuple(reqs.split()), what, file, anchor, replacement,
                  tuple(S + p if "/" not in p else p for p in plans.split()), tuple(tests.split()))


SRV, POL, HUB, VER, RL, INV, CFG = ("rig/hub/ota_server.py", "rig/hub/policy.py", "rig/hub/hub.py",
                                     "rig/hub/versions.py", "rig/hub/ratelimit.py", "rig/hub/inventory.py",
                                     "rig/hub/config.py")
BE, CSP, CTL, EMU = "rig/backend/backend.py", "rig/backend/csp.py", "rig/backend/controls.py", "rig/emu/ota_client.py"
INTAKE, DISP, OUT = "rig/backend/intake.py", "rig/backend/dispatcher.py", "rig/backend/outcomes.py"
T_SRV, T_POL = "tests/hub/test_ota_server.py", "tests/hub/test_hub_policy.py"
T_BE, T_INT, T_DISP, T_OUT = ("tests/backend/test_backend.py", "tests/backend/test_intake.py",
                              "tests/backend/test_dispatcher.py", "tests/backend/test_outcomes.py")
T_CTL, T_CSP, T_DUIS = "tests/backend/test_controls.py", "tests/backend/test_csp.py", "tests/backend/test_duis.py"

CATALOGUE: list[Mutant] = [
    # ---- R-CH: the OTA server -------------------------------------------------------------------
    M("ch01-any-offer", "R-CH-01", "a device with no offer is served another device's offer", SRV,
      "offer = self.store.latest_offer(peer.ieee)",
      "offer = self.store.latest_offer(peer.ieee) or next(iter(self.store.open_offers()), None)",
      "ch01-offer-per-device.yaml", T_SRV),
    M("ch02-qni-mfr", "R-CH-02 4.7-4", "QNI manufacturer code not compared", POL,
      "if qni.manufacturer_code != image.manufacturer_code:", "if False:", "ec04-wrong-ids.yaml", T_SRV),
    M("ch02-qni-type", "R-CH-02 4.7-4", "QNI image type not compared", POL,
      "if qni.image_type != image.image_type:", "if False:", "ec04-wrong-ids.yaml", T_SRV),
    M("ch02-hw-range", "R-CH-02 4.7-5", "hardware version range not checked", POL,
      "if not low <= qni.hardware_version <= high:", "if False:", "ec05-hardware-version.yaml", T_SRV),
    M("ch02-downgrade", "R-CH-02 4.7-6", "downgrades offered though not allowed", POL,
      "if image.file_version < qni.current_file_version and not offer.allow_downgrade:", "if False:",
      "ec06-downgrade-refused.yaml", T_SRV),
    M("ch02-same-version", "R-CH-02", "the running version is offered again", POL,
      "if qni.current_file_version == image.file_version:", "if False:", "ec00-ppmid-happy-path.yaml", T_SRV),
    M("ch02-not-authorized", "R-CH-02", "a device not in the CH device log is answered like any other", SRV,
      "        if not allowed:\n            self._reply(peer, hdr, Cmd.QUERY_NEXT_IMAGE_RSP",
      "        if False:\n            self._reply(peer, hdr, Cmd.QUERY_NEXT_IMAGE_RSP", "sec03-unknown-device.yaml", T_SRV),
    M("ch03-qni-register", "R-CH-03 R-VER-02 4.7-14", "a QNI does not update the version register", SRV,
      "self.register.observe(peer.ieee, qni.current_file_version, VersionSource.QUERY_NEXT_IMAGE,",
      "(lambda *a, **k: None)(peer.ieee, qni.current_file_version, VersionSource.QUERY_NEXT_IMAGE,",
      "ec14-local-upgrade.yaml " + C + "cf01-discovery-and-query.yaml", T_SRV),
    M("ch04-block-ids", "R-CH-04 4.7-4", "a block request for an image not offered (other ids) is served", SRV,
      "if image is not None and _image_id(image) == wanted:", "if image is not None:",
      "ec04b-wrong-ids-in-blocks.yaml", T_SRV),
    M("ch04-withdrawn-wait", "R-CH-04 R-STORE-02 4.7-9", "a withdrawn offer is answered WAIT_FOR_DATA, not ABORT "
      "(the frame log still says ABORT)", SRV,
      "zcl.block_response_abort(), Status.ABORT,", "zcl.block_response_wait(60, None), Status.ABORT,",
      "ec09-gsme-preemption.yaml", T_SRV),
    M("ch04-past-end", "R-CH-04 4.7-19", "a block request at or past the image end is not MALFORMED_COMMAND", SRV,
      "if req.file_offset >= image.total_size or req.max_data_size == 0:", "if req.max_data_size == 0:",
      "ec19-malformed-frames.yaml", T_SRV),
    M("ch04-no-cap", "R-CH-04 R-PLAT-07", "DataSize ignores the CH's block size cap", SRV,
      "size = min(req.max_data_size, self.config.block_size_cap, image.total_size - req.file_offset)",
      "size = min(req.max_data_size, image.total_size - req.file_offset)", "ch04-block-size-cap.yaml", T_SRV),
    M("ch05-no-slots", "R-CH-05 4.7-16", "max concurrent downloads not enforced (no WAIT_FOR_DATA)", RL,
      "if not st.active and len(self.active(now)) >= self.config.max_concurrent_downloads:", "if False:",
      "ec16-rate-limiting.yaml", "tests/hub/test_ratelimit.py"),
    M("ch05-early-ok", "R-CH-05 4.7-16", "an early re-request is served and not recorded", RL,
      "if now + _TOLERANCE_S < st.wait_until:", "if False:", "ec16b-ignores-wait.yaml",
      "tests/hub/test_ratelimit.py"),
    M("ch05-gap-unrecorded", "R-CH-05 4.7-16", "MinimumBlockPeriod violations are never recorded", RL,
      "            conf.gap_violations += 1", "            pass", "ec16-rate-limiting.yaml",
      "tests/hub/test_ratelimit.py"),
    M("ch05-period-not-pushed", "R-CH-05 4.7-16", "the model's MinimumBlockPeriod is never pushed to the client", RL,
      "if client_period is not None and period.value and client_period != period.value and not st.told_period:",
      "if False:", "ec16-rate-limiting.yaml ec16d-block-period-seconds.yaml", "tests/hub/test_ratelimit.py"),
    M("ch05-seconds-as-ms", "R-CH-05 4.7-16", "a MinimumBlockPeriod in seconds is checked as milliseconds", CFG,
      'return self.value / 1000.0 if self.units == "ms" else float(self.value)', "return self.value / 1000.0",
      "ec16d-block-period-seconds.yaml", "tests/hub/test_ratelimit.py tests/hub/test_config.py"),
    M("emu-seconds-as-ms", "R-EMU-01 4.7-16", "a client configured for seconds reads MinimumBlockPeriod as ms", EMU,
      'return value / 1000.0 if self.settings.min_block_period_units == "ms" else float(value)',
      "return value / 1000.0", "ec16d-block-period-seconds.yaml", "tests/emu/test_ota_client_waits.py"),
    M("ch06-pages-off-status", "R-CH-06 4.7-16", "Image Page Request with pages off is not UNSUP_CLUSTER_COMMAND", SRV,
      '            self._log(peer, "rx", "IMAGE_PAGE", None, "pages disabled")\n'
      "            self._default_response(peer, hdr, Status.UNSUP_CLUSTER_COMMAND)",
      '            self._log(peer, "rx", "IMAGE_PAGE", None, "pages disabled")\n'
      "            self._default_response(peer, hdr, Status.MALFORMED_COMMAND)", "ec16c-page-fallback.yaml", T_SRV),
    M("ch07-at-is-now", "R-CH-07 4.7-18", "the SR 11.4 execution time never reaches the Upgrade End Response", SRV,
      "return max(now, offer.upgrade_time if offer.upgrade_time is not None else now)", "return now",
      "ec18-out-of-band.yaml", T_SRV),
    M("ch07-wait-is-now", "R-CH-07 4.7-17", "HCALCS told 'now' instead of 0xFFFFFFFF", SRV,
      "return None  # WAIT: 0xFFFFFFFF until activate()", "return now",
      "ec17-wait-for-activation.yaml " + C + "cf06-wait-for-activation.yaml", T_SRV),
    M("ch07-failure-unrecorded", "R-CH-07 R-CH-11 4.7-3", "Upgrade End INVALID_IMAGE records no failure", SRV,
      'if offer is not None and image is not None and offer.state == "offered":', "if False:",
      "ec03-corrupt-image.yaml", T_SRV),
    M("ch07-no-unsolicited", "R-CH-07 R-DSP-02 4.7-17", "activation sends no unsolicited Upgrade End Response", SRV,
      '        self._log(peer, "tx", "UPGRADE_END_RSP", None, f"unsolicited, activate at {when:.0f}")\n'
      "        self.transport.send(peer, tsn, frame)",
      '        self._log(peer, "tx", "UPGRADE_END_RSP", None, f"unsolicited, activate at {when:.0f}")',
      "ec17-wait-for-activation.yaml", T_SRV),
    M("ch08-no-notify", "R-CH-08", "no Image Notify when an offer is made for an awake device", HUB,
      "            else:\n                self.server.notify(ieee, image)", "            else:\n                pass",
      "ec00-ppmid-happy-path.yaml", "tests/hub/test_hub_notify.py"),
    M("ch09-unknown-command", "R-CH-09 4.7-19", "an unknown OTA command is answered MALFORMED_COMMAND", SRV,
      '"unsupported")\n            self._default_response(peer, hdr, Status.UNSUP_CLUSTER_COMMAND)',
      '"unsupported")\n            self._default_response(peer, hdr, Status.MALFORMED_COMMAND)',
      "ec19-malformed-frames.yaml", T_SRV),
    M("ch10-no-delay", "R-CH-10 4.7-15", "the version is read right after the transfer, not 15 minutes later", SRV,
      "self.checker.schedule(offer.id, activation_at + self.config.version_check_delay_s)",
      "self.checker.schedule(offer.id, activation_at)",
      "ec00-ppmid-happy-path.yaml", ""),
    M("ch10-any-version", "R-CH-10 4.7-15", "activation success without comparing the target version", VER,
      "elif observed == target:", "elif observed is not None:", "ec15b-another-version.yaml",
      "tests/hub/test_hub_transfers.py"),
    M("ch10-silence-success", "R-CH-10 4.7-15", "no answer to the version read counts as success", VER,
      'result, detail = ActivationResult.FAILURE, "no response"', 'result, detail = ActivationResult.SUCCESS, ""',
      "ec15-activation-failure.yaml", "tests/hub/test_hub_transfers.py"),
    # No plan claims this one: a device re-downloading after a stale activation keeps the bench busy, so a
    # plan waiting for the pushed-back check would sit through it in real time (bench/dut_defects.py, cf06).
    M("ch10-redownload-rearms", "R-CH-10", "a re-download of the same offer pushes the version check back", SRV,
      "            offer = self.store.offer(offer.id) or offer\n",
      "            offer = self.store.offer(offer.id) or offer\n"
      "        elif offer.activation_at is not None: self.checker.schedule(offer.id, now + self.config.version_check_delay_s)\n",
      "", "tests/hub/test_version_check.py"),
    M("ch11-version-field", "R-CH-11 R-ALERT-02", "0x8F8A carries the wrong FirmwareVersion", OUT,
      '"FirmwareVersion": f"{e.file_version:08X}", "ResponseCode": int(e.result),',
      '"FirmwareVersion": "00000001", "ResponseCode": int(e.result),', "ec00-ppmid-happy-path.yaml", T_BE),
    M("ch11-entity", "R-CH-11", "0x8F8A EntityId is not the device's EUI", OUT,
      '"EntityId": duis_eui(e.ieee),', '"EntityId": e.ieee,', "ec00-ppmid-happy-path.yaml", T_DUIS),
    M("ch12-checks-lost", "R-CH-12 4.7-8", "a CH restart forgets the pending version checks", HUB,
      "        self.checker.resume()", "        pass", "ec08-ch-restart.yaml", "tests/reliability/test_hub_crash.py"),
    # ---- R-STORE: the CH image store --------------------------------------------------------------
    M("store01-own-slot", "R-STORE-01 4.7-9", "PPMID images get a block of their own (GSME does not pre-empt)", CFG,
      'SLOT_OF_KIND = {"ppmid": "gsme_block",', 'SLOT_OF_KIND = {"ppmid": "ppmid_block",',
      "ec09-gsme-preemption.yaml", "tests/hub/test_store.py"),
    M("store02-ppmid-evicts-gsme", "R-STORE-02", "a PPMID image evicts the GSME image", INV,
      'if slot == "gsme_block" and held.kind == "gsme" and kind != "gsme":', "if False:",
      "store02-gsme-not-evicted.yaml", "tests/hub/test_store.py"),
    M("store03-13-days", "R-STORE-03 4.7-13", "images deleted after 13 days, not 14", CFG,
      'kw["retention_s"] = float(value) * DAY', 'kw["retention_s"] = float(value - 1) * DAY',
      "ec13-retention-expiry.yaml",
      "tests/hub/test_store.py"),
    M("store04-integrity", "R-STORE-04", "the CH stores an image that fails validation (integrity code, size, version)", INV,
      '        if problems:\n            raise ImageRejected("invalid OTA image", problems)\n        return image',
      '        return image', "store04-integrity-on-ingest.yaml",
      "tests/hub/test_store.py"),
    M("store05-size", "R-STORE-05", "a PPMID image above 750 kB is accepted", INTAKE,
      'if ask.sr == "11.4" and facts.size > self._max_ppmid:', "if False:",
      "store05-ppmid-image-size.yaml", T_INT),
    # ---- R-DSP: the back end -----------------------------------------------------------------------
    M("dsp01-cpl-sha", "R-DSP-01", "the CPL's SHA-256 is not compared", "rig/backend/fixtures.py",
      "if (e.model, e.manufacturer_code, e.image_type, e.firmware_version, e.sha256) == (",
      "if (e.model, e.manufacturer_code, e.image_type, e.firmware_version, sha256.lower()) == (",
      "sec02-image-not-on-cpl.yaml", T_INT),
    M("dsp01-signature", "R-DSP-01", "a GB image signed by another key than the manufacturer's is accepted", INTAKE,
      "        if not signature.ok:", "        if False:", "sec05-signed-image.yaml",
      "tests/reliability/test_signature.py"),
    M("dsp01-version-mismatch", "R-DSP-01", "FirmwareVersion not compared with the image header", INTAKE,
      "if facts.file_version != version:", "if False:", "", T_INT),
    M("dsp02-no-activate", "R-DSP-02 4.7-17", "SR 11.3 never reaches the CH", DISP,
      "self._csp.activate(job.device, job.offer_id, job.upgrade_time)", "pass",
      "ec17-wait-for-activation.yaml", T_BE),
    M("dsp03-no-in-progress", "R-DSP-03 4.7-10", "a second SR for a device In Progress is accepted", INTAKE,
      "busy = [d.id for d in valid if self._in_progress.holder(d.id, now) is not None]", "busy = []",
      "ec10-duplicate-request.yaml", T_INT),
    M("dsp03-late-expiry", "R-DSP-03 4.7-11", "the in-progress entry lasts twice the tracking timeout", CTL,
      "expires = now + self.timeout", "expires = now + 2 * self.timeout", "ec11-in-progress-timeout.yaml", T_INT),
    M("dsp04-slow-retry", "R-DSP-04 4.7-12", "long retry every 2 hours, not hourly", CTL,
      "due = first_attempt + (attempts_done - 1) * self.interval",
      "due = first_attempt + (attempts_done - 1) * 2 * self.interval", "ec12-too-busy-retry.yaml", T_DISP),
    M("dsp04-window", "R-DSP-04 4.7-12", "long retry gives up after 5 days, not 4", CTL,
      "window: float = 4 * DAY", "window: float = 5 * DAY", "ec12b-always-busy.yaml", T_DISP),
    M("dsp05-no-batching", "R-DSP-05 4.7-22", "statuses are not held for the batch period", CSP,
      "if waiting >= self.batch_size or self.batch_period == 0:", "if True:", "ec22-batched-status.yaml",
      T_CSP),
    M("dsp05-order", "R-DSP-05 4.7-22", "a batch is delivered in reverse order", CSP,
      '"SELECT * FROM csp_inbox WHERE processed = 0 ORDER BY seq LIMIT ?"',
      '"SELECT * FROM csp_inbox WHERE processed = 0 ORDER BY seq DESC LIMIT ?"', "ec22-batched-status.yaml",
      T_CSP),
    M("dsp06-gap", "R-DSP-06 4.7-21", "no warning for a new SR within 5 days", CTL,
      "    if gap < min_gap:", "    if False:", "ec21-guidance.yaml", T_CTL),
    M("dsp06-resend", "R-DSP-06 4.7-21", "no warning for a resend before the transfer alert", CTL,
      '        if prev["transfer_result"] is None:', "        if False:", "ec21b-resend-before-alert.yaml", T_INT),
    M("dsp07-capacity", "R-DSP-07", "the SMETS1 daily budget of large images is not enforced", CTL,
      "            if used < self.per_day:", "            if True:", "", T_CTL),
    M("dsp08-failure-n63", "R-DSP-08 R-ALERT-01 4.7-20", "a failed CS06 still produces N63", OUT,
      "        if not success:", "        if False:", "ec20-n63.yaml", T_OUT),
    M("dsp08-notice", "R-DSP-08", "CS06 without 7 days' notice is accepted", INTAKE,
      "if not security and (notice_given_at is None", "if False and (notice_given_at is None", "", T_OUT),
    # ---- R-ALERT ---------------------------------------------------------------------------------
    M("alert01-ch-id", "R-ALERT-01 4.7-20", "N63 CommsHubDeviceID is not the CH's id", OUT,
      '"CommsHubDeviceID": duis_eui(ieee)', '"CommsHubDeviceID": request_id', "ec20-n63.yaml",
      T_OUT),
    M("alert01-timestamp", "R-ALERT-01 4.7-20", "N63 TimeStamp is not when the CH answered", BE,
      "version, now if timestamp is None else timestamp,", "version, 0.0 if timestamp is None else timestamp,",
      "ec20-n63.yaml", T_OUT),
    M("alert01-version", "R-ALERT-01 4.7-20", "N63 FirmwareVersion is not 8 hex digits", OUT,
      '"FirmwareVersion": f"{version:08X}", "ResponseCode": self._codes.ch_activation_response_code',
      '"FirmwareVersion": f"{version:X}", "ResponseCode": self._codes.ch_activation_response_code',
      "ec20-n63.yaml", T_OUT),
    M("alert02-activate-image", "R-ALERT-02 4.7-15", "0x8F8B always says 'activated'", OUT,
      '"ActivateImage": int(e.result),', '"ActivateImage": 0,',
      "ec15b-another-version.yaml ec00-ppmid-happy-path.yaml", T_BE),
    M("alert03-no-n60", "R-ALERT-03", "delivery to the CH raises N61 instead of N60", OUT,
      "code = self._codes.delivered_to_ch if outcome == Delivery.DELIVERED else self._codes.delivery_failed",
      "code = self._codes.delivery_failed", "ec00-ppmid-happy-path.yaml", T_BE),
    M("alert03-no-n61", "R-ALERT-03 R-DSP-04 4.7-12", "giving up raises no failure alert", OUT,
      "            self._distribution_alert(job, Delivery.FAILED, reason, now)", "            pass",
      "ec12b-always-busy.yaml store02-gsme-not-evicted.yaml", T_DISP),
    M("alert04-no-request-id", "R-ALERT-04", "0x8F8A carries no request id", OUT,
      "            request_id=job.request_id if job is not None else e.request_id,\n"
      "            recipients=self._recipients(job, e.ieee), late=late, time=now,\n"
      "            fields={\"AlertCode\": device_code(code), \"ExecutionDateTime\": iso_utc(e.time), \"EntityId\"",
      "            request_id=None,\n"
      "            recipients=self._recipients(job, e.ieee), late=late, time=now,\n"
      "            fields={\"AlertCode\": device_code(code), \"ExecutionDateTime\": iso_utc(e.time), \"EntityId\"",
      "ec00-ppmid-happy-path.yaml", T_BE),
    M("alert04-late-flag", "R-ALERT-04 4.7-11", "late alerts of an old attempt are not flagged", OUT,
      "late = job is not None and job.superseded\n        code = self._codes.transfer_success",
      "late = False\n        code = self._codes.transfer_success", "ec11-in-progress-timeout.yaml", T_INT),
    M("alert04-dedup", "R-ALERT-04 R-CH-11 4.7-8", "the alert log does not de-duplicate", "rig/backend/alerts.py",
      '"INSERT OR IGNORE INTO alerts (dedup_key,', '"INSERT INTO alerts (dedup_key,', "ec08-ch-restart.yaml",
      "tests/backend/test_exactly_once.py"),
    M("alert04-inbox-dedup", "R-ALERT-04 R-CH-11 4.7-8", "the CSP inbox takes a replayed hub event again", CSP,
      '"INSERT OR IGNORE INTO csp_inbox (key, kind, payload, received) VALUES (?,?,?,?)",\n'
      "                               (key,",
      '"INSERT OR IGNORE INTO csp_inbox (key, kind, payload, received) VALUES (?,?,?,?)",\n'
      "                               (key + repr(self._clock.now()),", "ec08-ch-restart.yaml",
      "tests/backend/test_exactly_once.py"),
    # ---- R-VER -------------------------------------------------------------------------------------
    M("ver01-no-register", "R-VER-01", "the back end's register ignores the hub's observations", OUT,
      '        self._register.observe(e.ieee, e.version, source, e.time, ", ".join(notes))', "        pass",
      "ec14-local-upgrade.yaml", T_OUT),
    M("ver02-never-unexplained", "R-VER-02 4.7-14", "a local upgrade is never flagged", VER,
      "if last is not None and version != last and not self._explained(ieee, version):", "if False:",
      "ec14-local-upgrade.yaml", "tests/hub/test_hub_transfers.py"),
    M("ver02-every-query", "R-VER-02 4.7-14", "every query flags a change (no compare-before-report)", VER,
      "if last is not None and version != last and not self._explained(ieee, version):",
      "if last is not None and not self._explained(ieee, version):", "ec14-local-upgrade.yaml",
      "tests/hub/test_hub_transfers.py"),
    M("ver03-no-regression", "R-VER-03", "a version regression is not flagged", VER,
      "regression = version < last", "regression = False", "ec14-local-upgrade.yaml",
      "tests/hub/test_hub_transfers.py"),
    M("ver04-register-answer", "R-VER-04", "SR 11.2 from the register answers nothing", BE,
      "firmware_version=self.register.version(device.id), version_source=",
      "firmware_version=None, version_source=", "", T_BE),
    # ---- §4.7 edge cases that live in the emulated device (R-EMU-01) -------------------------------
    M("emu-resume-from-zero", "4.7-1 4.7-2 4.7-7 R-EMU-01", "the client forgets FileOffset across a power cycle", EMU,
      "        if status == ImageUpgradeStatus.Download_in_progress:\n            await self._download()",
      "        if status == ImageUpgradeStatus.Download_in_progress:\n"
      "            self.flash.data, self.flash.file_offset = bytearray(), 0; await self._download()",
      "ec01-interrupted-download.yaml ec02-resume-after-reboot.yaml ec07-reboot-attributes.yaml",
      "tests/emu/test_ota_client.py"),
    M("malformed-answered-success", "4.7-19 R-CH-02", "a truncated frame is answered SUCCESS", SRV,
      '            self._log(peer, "rx", Cmd(hdr.command_id).name, None, f"malformed: {exc}")\n'
      "            self._default_response(peer, hdr, Status.MALFORMED_COMMAND)",
      '            self._log(peer, "rx", Cmd(hdr.command_id).name, None, f"malformed: {exc}")\n'
      "            self._default_response(peer, hdr, Status.SUCCESS)", "ec19-malformed-frames.yaml", T_SRV),
]


class CatalogueError(Exception):
    pass


def apply(tree: Path, m: Mutant) -> None:
    path = tree / m.file
    if not path.is_file():
        raise CatalogueError(f"{m.id}: {m.file}: file not found (re-anchor the mutant)")
    text = path.read_text(encoding="utf-8")
    n = text.count(m.anchor)
    if n != 1:
        raise CatalogueError(f"{m.id}: {m.file}: anchor {'not found' if n == 0 else f'found {n} times'}: "
                             f"{m.anchor.splitlines()[0].strip()!r} (re-anchor the mutant)")
    path.write_text(text.replace(m.anchor, m.replacement), encoding="utf-8")


def check_catalogue(root: Path = ROOT) -> list[str]:
    problems = []
    for m in CATALOGUE:
        path = root / m.file
        n = path.read_text(encoding="utf-8").count(m.anchor) if path.is_file() else -1
        if n != 1:
            problems.append(f"{m.id}: {m.file}: anchor " + ("file missing" if n < 0 else "not found" if n == 0
                                                              else f"found {n} times"))
        for p in m.plans:
            if not (root / p).is_file():
                problems.append(f"{m.id}: plan {p} does not exist")
        for t in m.tests:  # a missing test file makes pytest fail, which would count as a kill
            if not (root / t.split("::")[0]).is_file():
                problems.append(f"{m.id}: test {t} does not exist")
    return problems


def select(only: str | None) -> list[Mutant]:
    if not only:
        return list(CATALOGUE)
    keys = [k.strip() for k in only.split(",") if k.strip()]

    def hit(m: Mutant) -> bool:
        return any(k == m.id or k in m.reqs or m.id.startswith(k) or any(k in p for p in m.plans) for k in keys)

    return [m for m in CATALOGUE if hit(m)]


def run_mutant(base: Path, m: Mutant, *, plans_only: bool) -> dict:
    source = base / m.file
    original = source.read_bytes()
    result = {"id": m.id, "reqs": list(m.reqs), "what": m.what, "plan_kill": None, "plan_message": "",
              "test_kill": None, "test_message": ""}
    try:
        apply(base, m)
        if m.plans:
            for v in run_plans(base, list(m.plans), stop_on_fail=True, step_timeout=120):
                if v.verdict in ("fail", "error"):
                    result["plan_kill"], result["plan_message"] = Path(v.plan).name, v.message
                    break
        if m.tests and not plans_only and result["plan_kill"] is None:
            failed, summary = run_tests(base, list(m.tests))
            if failed:
                result["test_kill"], result["test_message"] = " ".join(m.tests), summary
    finally:
        source.write_bytes(original)  # the copy goes back to clean for the next mutant
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description="Requirement mutants against the plans and tests that claim them.")
    ap.add_argument("--only", help="comma-separated mutant ids (or prefixes), requirements (R-CH-04) or 4.7-N")
    ap.add_argument("--list", action="store_true", help="print the catalogue and exit")
    ap.add_argument("--check", action="store_true", help="check every anchor and plan exists, then exit")
    ap.add_argument("--plans-only", action="store_true", help="do not run the tests (score for plans alone)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if args.list:
        for m in CATALOGUE:
            print(f"{m.id:28} {' '.join(m.reqs):34} {m.what}")
        print(f"{len(CATALOGUE)} mutants")
        return 0
    problems = check_catalogue()
    if problems or args.check:
        print("\n".join(problems) or f"catalogue ok: {len(CATALOGUE)} mutants, every anchor found once,"
              " every plan and test file present")
        return 2 if problems else 0
    chosen = select(args.only)
    if not chosen:
        print(f"no mutant matches {args.only!r}")
        return 2
    results = []
    t0 = time.monotonic()
    with tree_copy() as base:
        for m in chosen:
            r = run_mutant(base, m, plans_only=args.plans_only)
            results.append(r)
            killer = (f"plan {r['plan_kill']}: {r['plan_message']}" if r["plan_kill"]
                      else f"test {r['test_kill']}: {r['test_message']}" if r["test_kill"] else "SURVIVED")
            print(f"{m.id:28} {' '.join(m.reqs):30} {killer[:240]}", flush=True)
    n = len(results)
    by_plans = sum(1 for r in results if r["plan_kill"])
    total = sum(1 for r in results if r["plan_kill"] or r["test_kill"])
    print(f"\n{n} mutants: {total} killed by plans+tests ({100 * total / n:.0f} %), {by_plans} by plans alone "
          f"({100 * by_plans / n:.0f} %); {time.monotonic() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0 if total == n else 1


if __name__ == "__main__":
    sys.exit(main())
