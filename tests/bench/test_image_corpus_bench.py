"""bench/image_corpus.py on a small synthetic corpus: each real-world layout is counted where it belongs."""

import json
import subprocess
import sys
from pathlib import Path

from tests.image import real_world as rw

REPO = Path(__file__).resolve().parents[2]


def test_the_corpus_bench_reads_each_variant_and_counts_agreement_with_zigpy(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "vendor").mkdir(parents=True)
    files = {
        "to-element.ota": rw.zigbee("to-element"), "to-value.ota": rw.zigbee("to-value"),
        "crc.ota": rw.with_crc32(rw.zigbee()), "ikea.ota": rw.in_ikea_container(rw.zigbee()),
        "legrand.ota": rw.with_size_prefix(rw.zigbee()), "telink.ota": rw.telink(), "hue.ota": rw.hue_sbl(),
        "vendor/README.md": b"# not an image\n",
        "neither.ota": rw.zigbee("to-element")[:-1] + b"\x00", "combined.ota": rw.combined(),
    }
    for name, data in files.items():
        (corpus / name).write_bytes(data)
    out = subprocess.run([sys.executable, str(REPO / "bench" / "image_corpus.py"), str(corpus), "--json"],
                         capture_output=True, text=True, check=True, cwd=REPO).stdout
    counts = json.loads(out)["counts"]
    assert counts["files"] == 10 and counts["zigpy reads"] == 8 and counts["rig reads"] == 9
    assert counts["zigpy reads, rig refuses"] == 0 and counts["a field disagrees"] == 0
    assert counts["formats"] == {"zigbee": 6, "telink": 1, "hue-sbl": 1, "unknown-body": 1}
    assert counts["rig format / zigpy's reading"] == {"zigbee / zigbee": 6, "telink / telink": 1,
                                                       "hue-sbl / hue-sbl": 1, "unknown-body / refused": 1,
                                                       "refused / refused": 1}
    assert counts["containers"] == {"ikea": 1, "legrand": 1}
    assert counts["integrity coverage"] == {"to-element": 1, "to-value": 4, "neither": 1}
    assert counts["trailing bytes"] == 1 and counts["neither reads"] == 1
    # The hub's own reading: everything the rig reads is stored, but for the shipped benches' fatal integrity.
    assert counts["hub stores (default settings)"] == 9 and counts["zigpy reads, hub refuses (default settings)"] == 0
    assert counts["hub stores (shipped benches: integrity fatal)"] == 8
    assert counts["rig reads, zigpy refuses: zigpy's reason (rig's format)"] == {
        "ValueError: Data is too short (unknown-body)": 1}
    reasons = counts["files with warnings, by reason"]
    assert reasons["trailing bytes (looks like: CRC-32)"] == 1
    assert reasons["integrity: image_integrity_code: integrity code matches neither coverage"] == 1
    assert [k for k in reasons if "starts as sub-elements" in k] and sum(reasons.values()) == 3
    assert list(counts["refusals, by reason"]) == [
        "file_identifier: not a Zigbee OTA upgrade file (the OTA magic 1E F1 EE 0B appears nowhere in it)"]
