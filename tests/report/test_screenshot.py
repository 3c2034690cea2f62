"""The README's screenshot is what the tool draws: `python -m tests.report.screenshot` runs a real plan
(emulated bench, real bellows/zigpy, hub, back end), lays its report out in headless chromium at 1024 px
(checked for overflow and overlaps first) and writes the PNG; this runs that script as CI would."""

from __future__ import annotations

import struct
from pathlib import Path

from tests.report import screenshot
from tests.report.browser import chromium_or_skip

ROOT = Path(__file__).resolve().parents[2]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_screenshot_script_draws_a_real_run_at_1024_px(tmp_path) -> None:
    chromium_or_skip()
    out = screenshot.main(tmp_path / "shot.png")
    width, height = _png_size(out)
    assert width == 1024 and height > 1200  # the whole report, not a window's worth
    # The committed picture was made by the same script at the same width.
    assert _png_size(ROOT / "docs" / "report-screenshot.png")[0] == 1024


def test_the_screenshot_shows_nothing_of_the_machine_it_was_made_on(tmp_path, monkeypatch) -> None:
    """The run behind it uses paths relative to a clone (testplans/..., fixtures/benches/...)."""
    report = screenshot.real_report(tmp_path)
    html = report.read_text(encoding="utf-8")
    assert str(tmp_path) not in html and str(ROOT) not in html
    assert "testplans/ppmid-reboot-and-wait.yaml" in html and "fixtures/benches/emulated.yaml" in html
