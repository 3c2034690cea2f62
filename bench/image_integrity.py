"""How long the Image Integrity Code (AES-MMO over the whole file) takes on a large image.

    .venv/bin/python bench/image_integrity.py              # 4 MB, each AES-MMO loop, best of 3
    .venv/bin/python bench/image_integrity.py --mb 1 --json

Rows: the C loop over OpenSSL's AES (rig/image/_mmo.c, built at install when a compiler and the
OpenSSL headers are there), the Python loop over the `cryptography` package (the fallback), a full
`rig.image.analyse` of an image of that size with an integrity code (both coverages, one pass: what the
hub runs once per stored image), and zigpy reading the same file (no integrity check) for scale.
Goal: 4 MB hashed in under 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from zigpy.ota.image import parse_ota_image

from rig.image import analyse, build_image
from rig.image import integrity

GOAL_S = 0.100


def best_of(runs: int, func) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=4.0, help="image size in MB (10**6 bytes), default 4")
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs (default 3)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    size = int(args.mb * 1_000_000)
    data = os.urandom(size)
    image = build_image(data, manufacturer_code=0x1234, image_type=0x0101, file_version=2, integrity_code=True)
    reference = integrity.aes_mmo_hash(data)

    rows = []
    loops = {"c (OpenSSL AES, rig/image/_mmo.c)": integrity._c_compress,
             "python (cryptography AES, block by block)": integrity._py_compress}
    saved = integrity._c_compress
    try:
        for name, loop in loops.items():
            if loop is None:
                rows.append({"what": f"AES-MMO {name}", "seconds": None, "note": "not built on this machine"})
                continue
            integrity._c_compress = loop if loop is saved else None
            assert integrity.aes_mmo_hash(data) == reference
            runs = args.runs if loop is saved else 1  # the slow loop once is enough
            rows.append({"what": f"AES-MMO {name}", "seconds": best_of(runs, lambda: integrity.aes_mmo_hash(data))})
    finally:
        integrity._c_compress = saved
    rows.append({"what": f"rig.image.analyse (integrity: {integrity.backend()})",
                 "seconds": best_of(args.runs, lambda: analyse(image))})
    rows.append({"what": "zigpy parse_ota_image (no integrity check)",
                 "seconds": best_of(args.runs, lambda: parse_ota_image(image))})
    result = {"bytes": size, "backend": integrity.backend(), "goal_s": GOAL_S, "rows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"image of {size} bytes; AES-MMO backend in use: {integrity.backend()}; goal < {GOAL_S * 1000:.0f} ms")
        for row in rows:
            secs = row["seconds"]
            figure = "-" if secs is None else f"{secs * 1000:9.1f} ms  ({secs / size * 1e9:6.1f} ns/byte)"
            print(f"  {row['what']:<52} {figure} {row.get('note', '')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
