"""A real happy-path run's record and report (ec00 on the emulated bench), shared by the report tests,
and a rough text measure for SVG labels (the browser test measures for real)."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

from rig.bench.config import load_bench
from rig.plan.loader import load_plan
from rig.plan.runner import run_plan
from rig.report.html import write_report
from rig.report.record import Verdict

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "testplans" / "scenarios" / "ec00-ppmid-happy-path.yaml"
SEQ_FONT_PX = 11.0
CHAR_EM = 0.6  # a generous average glyph width of system-ui at this size, in em


def run_happy(out: Path) -> tuple[dict, Path]:
    record = asyncio.run(run_plan(load_plan(PLAN), load_bench(ROOT / "fixtures" / "benches" / "emulated.yaml"),
                                  artifacts=out))
    assert record.verdict is Verdict.PASS, record.message
    data = record.to_json()
    return data, write_report([data], out)


def text_boxes(svg: ET.Element, font_px: float) -> list[tuple[str, float, float, float]]:
    """(text, left, right, baseline y) of every <text> in the picture, by a generous width estimate."""
    out = []
    for t in svg.iter("text"):
        text = "".join(t.itertext())
        if not text or t.get("transform"):
            continue
        size = font_px * (10 / 11 if "small" in (t.get("class") or "") else 1)
        w = len(text) * size * CHAR_EM
        x = float(t.get("x"))
        anchor = t.get("text-anchor") or "start"
        x0 = x - w if anchor == "end" else x - w / 2 if anchor == "middle" else x
        out.append((text, x0, x0 + w, float(t.get("y"))))
    return out
