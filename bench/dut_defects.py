"""The conformance suite as a device oracle: run it against an emulated DUT with one defect at a time.

For every device defect in rig.emu.device_faults.DEFECTS (a conformance plan's `dut` becomes e.g.
`ppmid+ignores_wait_for_data`), run every plan in testplans/conformance/ and testplans/conformance-extended/ and print a detection matrix:
which plans failed, and the first failing plan's message (it should name what the device did wrong).
A conforming device (no defect) must pass every plan. Exit 0 only if every defect is caught and the
conforming device passes everything.

    .venv/bin/python bench/dut_defects.py                       # the whole matrix (about 16 minutes, 2 cores)
    .venv/bin/python bench/dut_defects.py --only none --plans cf06,cf08   # one row, two plans
    .venv/bin/python bench/dut_defects.py --only stale_version,no_upgrade_end
    .venv/bin/python bench/dut_defects.py --markdown matrix.md  # the table for docs
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from verdicts import ROOT, run_plans  # noqa: E402

# What a manufacturer's device can get wrong (accepts_downgrade is a setting, not a defect: left out).
DUT_DEFECTS = ("ignores_wait_for_data", "ignores_min_block_period", "restarts_from_zero", "requests_past_end",
               "oversize_blocks", "installs_corrupt_image", "activates_immediately", "stale_version",
               "no_upgrade_end", "wrong_manufacturer", "wrong_image_type", "wrong_manufacturer_in_blocks",
               "wrong_image_type_in_blocks", "ignores_image_notify", "queries_too_often", "malformed_frames")


def suite(root: Path = ROOT) -> list[str]:
    # the core suite (cf01-cf07, what a lab runs on every device) and the extended one (cf08-cf11: defects
    # the core suite cannot see, longer on a real bench)
    folders = [root / "testplans" / "conformance", root / "testplans" / "conformance-extended"]
    found = [p for folder in folders for p in folder.glob("cf*.yaml")]
    return [str(p.relative_to(root)) for p in sorted(found, key=lambda p: p.name)]  # cf01..cf11, as documented


def dut_profile(plan: str, root: Path = ROOT) -> str:
    """The plan's own profile for `dut` (ppmid, hcalcs, ...), read by the plan loader without running it."""
    from rig.plan.loader import load_plan

    device = load_plan(root / plan).devices.get("dut")
    return device.profile if device is not None else "ppmid"


def run_defect(defect: str | None, plans: list[str], step_timeout: float) -> dict[str, tuple[str, str, float]]:
    """plan -> (verdict, message, real seconds) with the DUT carrying `defect` (None: a conforming device)."""
    out: dict[str, tuple[str, str, float]] = {}
    by_base: dict[str, list[str]] = {}
    for plan in plans:  # one child process per DUT profile (ppmid, hcalcs, ...)
        by_base.setdefault(dut_profile(plan), []).append(plan)
    for base, group in by_base.items():
        profiles = {"dut": f"{base}+{defect}"} if defect else {}
        for v in run_plans(ROOT, group, profiles=profiles, step_timeout=step_timeout, timeout=3600):
            out[v.plan] = (v.verdict, v.message, v.wall)
    for plan in plans:
        out.setdefault(plan, ("error", "no verdict (the child process stopped)", 0.0))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description="Detection matrix: device defects x conformance plans.")
    ap.add_argument("--only", help="comma-separated defects (and 'none' for the conforming device)")
    ap.add_argument("--plans", help="comma-separated plan ids (cf03,cf08): only these plans of the suite")
    ap.add_argument("--step-timeout", type=float, default=90.0, help="real seconds per step (a stuck DUT)")
    ap.add_argument("--markdown", help="also write the matrix as a Markdown table here")
    ap.add_argument("--json", help="also write every verdict and message here")
    args = ap.parse_args()
    plans = suite()
    if args.plans:
        picked = {p.strip() for p in args.plans.split(",")}
        plans = [p for p in plans if Path(p).stem.split("-")[0] in picked]
        if not plans:
            print(f"no plan of the suite matches --plans {args.plans}")
            return 2
    wanted = [d.strip() for d in args.only.split(",")] if args.only else ["none", *DUT_DEFECTS]
    unknown = [d for d in wanted if d != "none" and d not in DUT_DEFECTS]
    if unknown:
        print(f"unknown defect(s) {unknown}; known: {', '.join(DUT_DEFECTS)}")
        return 2
    short = [Path(p).stem.split("-")[0] for p in plans]
    print(f"{'defect':30} " + " ".join(f"{s:>4}" for s in short) + "  first failing plan: message")
    rows, t0, ok = [], time.monotonic(), True
    everything: dict[str, dict] = {}
    for defect in wanted:
        row_t0 = time.monotonic()
        results = run_defect(None if defect == "none" else defect, plans, args.step_timeout)
        row_wall = time.monotonic() - row_t0
        cells = ["FAIL" if results[p][0] == "fail" else "ERR" if results[p][0] == "error"
                 else "skip" if results[p][0] == "skip" else "." for p in plans]
        failing = [p for p in plans if results[p][0] in ("fail", "error")]
        first = f"{Path(failing[0]).stem}: {results[failing[0]][1]}" if failing else ""
        if defect == "none":
            verdict = "no false failure" if not failing else "FALSE FAILURE"
            ok &= not failing
        else:
            verdict = "caught" if failing else "MISSED"
            ok &= bool(failing)
        print(f"{defect:30} " + " ".join(f"{c:>4}" for c in cells) + f"  {verdict}. {first[:200]}", flush=True)
        slow = sorted(((results[p][2], Path(p).stem.split("-")[0]) for p in plans), reverse=True)[:3]
        print(f"{'':30} {row_wall:.0f} s; slowest plans: " + ", ".join(f"{n} {w:.0f} s" for w, n in slow), flush=True)
        rows.append((defect, cells, verdict, first))
        everything[defect] = {Path(p).stem: {"verdict": results[p][0], "message": results[p][1], "wall": results[p][2]}
                              for p in plans}
        everything[defect]["_row_wall"] = round(row_wall, 1)
    defects = [r for r in rows if r[0] != "none"]
    caught = sum(1 for r in defects if r[2] == "caught")
    false = sum(1 for r in rows if r[0] == "none" and r[2] != "no false failure")
    print(f"\n{caught}/{len(defects)} defects caught; conforming device: "
          f"{'no false failures' if not false else 'FALSE FAILURES'}; {time.monotonic() - t0:.0f} s")
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(everything, indent=1), encoding="utf-8")
    if args.markdown:
        head = "| defect | " + " | ".join(short) + " | first failing plan: message |\n"
        head += "|---|" + "---|" * len(short) + "---|\n"
        body = "".join(f"| {d} | " + " | ".join(c for c in cells) + f" | {first.replace('|', '/')} |\n"
                       for d, cells, _v, first in rows)
        Path(args.markdown).write_text(head + body, encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
