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
    }
    for name, data in files.items():
        (corpus / name).write_bytes(data)
    out = subprocess.run([sys.executable, str(REPO / "bench" / "image_corpus.py"), str(corpus), "--json"],
                         capture_output=True, text=True, check=True, cwd=REPO).stdout
    counts = json.loads(out)["counts"]
    assert counts["files"] == 8 and counts["zigpy reads"] == 7 and counts["rig reads"] == 7
    assert counts["zigpy reads, rig refuses"] == 0 and counts["a field disagrees"] == 0
    assert counts["formats"] == {"zigbee": 5, "telink": 1, "hue-sbl": 1}
    assert counts["containers"] == {"ikea": 1, "legrand": 1}
    assert counts["integrity coverage"] == {"to-element": 1, "to-value": 4}
    assert counts["trailing bytes"] == 1 and counts["neither reads"] == 1
