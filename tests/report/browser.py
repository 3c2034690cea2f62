"""Headless Debian chromium for the report tests: lay a report out at a given width and measure it.

The report carries no script; for measuring, a copy gets one at the end of <body> that writes what the
browser laid out (overflow, text boxes) into the DOM, and `chromium --headless --dump-dom` prints it.
No network: local files, background networking, component updates and sync off, a throw-away profile.
chromium is installed by .ci/run (never from inside a test); without it the tests skip, except under
CI=true where they fail.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

INSTALL = "the Debian package chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--disable-dev-shm-usage"]

_MEASURE = r"""
<script>
(function () {
  const W = window.innerWidth, out = {width: W, scrollWidth: document.documentElement.scrollWidth,
    height: document.documentElement.scrollHeight,
    overflow: [], outside: [], overlaps: [], cells: [], texts: 0};
  const name = (el) => el.tagName.toLowerCase() + (el.className && el.className.baseVal !== undefined
    ? (el.className.baseVal ? "." + el.className.baseVal.split(" ").join(".") : "")
    : (el.className ? "." + String(el.className).split(" ").join(".") : ""));
  const box = (r) => [Math.round(r.left * 10) / 10, Math.round(r.right * 10) / 10, Math.round(r.top), Math.round(r.bottom)];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width && (r.right > W + 0.5 || r.left < -0.5)) out.overflow.push([name(el), box(r)]);
  }
  for (const svg of document.querySelectorAll("svg")) {
    const s = svg.getBoundingClientRect();
    const texts = [...svg.querySelectorAll("text")].filter((t) => t.textContent.trim())
      .map((t) => ({text: t.textContent, r: t.getBoundingClientRect()}));
    out.texts += texts.length;
    for (const t of texts) {
      if (t.r.left < s.left - 0.5 || t.r.right > s.right + 0.5) out.outside.push([name(svg), t.text, box(t.r), box(s)]);
    }
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        const a = texts[i].r, b = texts[j].r;
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 1 && h > 2) out.overlaps.push([name(svg), texts[i].text, texts[j].text, box(a), box(b)]);
      }
    }
  }
  for (const td of document.querySelectorAll("td, th")) {
    if (td.scrollWidth > td.clientWidth + 1) out.cells.push([td.textContent.slice(0, 60), td.scrollWidth, td.clientWidth]);
  }
  const pre = document.createElement("pre");
  pre.id = "rig-measure";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def chromium_or_skip() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"chromium is missing under CI: .ci/run installs it ({INSTALL})")
    pytest.skip(f"chromium not installed: {INSTALL} (.ci/run does it in CI)")


def _run(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([chromium_or_skip(), *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180)


def measure(report: Path, width: int = 1024, height: int = 900) -> dict:
    """Lay `report` out in a `width`-px window and return the measurements (see _MEASURE)."""
    page = report.read_text(encoding="utf-8").replace("</body>", _MEASURE + "</body>")
    with tempfile.TemporaryDirectory(prefix="rig-browser-") as tmp:
        copy = report.parent / f".measure-{os.getpid()}-{report.name}"  # beside it: relative links still resolve
        copy.write_text(page, encoding="utf-8")
        try:
            done = _run(["--dump-dom", f"--window-size={width},{height}", copy.as_uri()], Path(tmp) / "profile")
        finally:
            copy.unlink()
    m = re.search(r'<pre id="rig-measure">(.*?)</pre>', done.stdout, re.S)
    assert m, f"chromium printed no measurements (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(html.unescape(m.group(1)))


def screenshot(report: Path, out: Path, width: int = 1024, height: int = 2400) -> Path:
    with tempfile.TemporaryDirectory(prefix="rig-browser-") as tmp:
        done = _run([f"--screenshot={out.resolve()}", f"--window-size={width},{height}", report.resolve().as_uri()],
                    Path(tmp) / "profile")
    assert out.exists(), f"chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    return out
