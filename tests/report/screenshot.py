"""Regenerate docs/report-screenshot.png from the synthetic record with headless Debian chromium.

    .venv/bin/python -m tests.report.screenshot [OUT.png]

Needs `apt-get install -y chromium`. No network: the report is a local file and chromium runs with its
background networking, component updates and sync off, in a throw-away profile.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rig.report.html import write_report
from tests.report.records import synthetic_record

ROOT = Path(__file__).resolve().parents[2]
WINDOW = "1280,2250"


def screenshot(out: Path) -> Path:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium not found; install it with: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as tmp:
        report = write_report([synthetic_record()], Path(tmp) / "report")
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                        f"--user-data-dir={Path(tmp) / 'profile'}", f"--screenshot={out}",
                        f"--window-size={WINDOW}", report.as_uri()],
                       check=True, capture_output=True, timeout=120)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "report-screenshot.png"
    path = screenshot(target)
    print(f"{path} ({path.stat().st_size:,} bytes)")
