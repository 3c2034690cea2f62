"""The readable end-of-run table: plan, verdict, key measurements."""

from __future__ import annotations

from typing import Iterable

from rig.report.record import RunRecord, Verdict

_MARK = {Verdict.PASS: "PASS", Verdict.FAIL: "FAIL", Verdict.ERROR: "ERROR", Verdict.SKIP: "SKIP",
         Verdict.ABORTED: "ABORTED"}


def versions_text(record: RunRecord) -> str:
    """Each device's firmware version when the plan started and when it ended: 'dut 0x1->0x2'."""
    def v(value) -> str:
        return "?" if value is None else f"0x{value:X}"

    parts = [f"{name} {v(d.get('start_version'))}->{v(d.get('end_version'))}" for name, d in record.devices.items()
             if "start_version" in d or "end_version" in d]
    return ", ".join(parts) or "-"


def summary_table(records: Iterable[RunRecord]) -> str:
    records = list(records)
    rows = []
    for r in records:
        key = "; ".join(f"{m.name} {m.value_text()}" for m in r.measurements[:3])
        if not key:  # no measurements: what the back end said is the next most telling thing
            codes = list(dict.fromkeys(a.get("code", "?") for a in r.alerts))
            key = ("alerts " + ", ".join(codes[:5]) + (" ..." if len(codes) > 5 else "")) if codes else "-"
        note = _note(r.message) if r.verdict is not Verdict.PASS and r.message else ""
        rows.append((r.plan_id, _MARK[r.verdict], versions_text(r), f"{r.wall_seconds:.1f}s",
                     key + (f"  [{note}]" if note else "")))
    head = ("plan", "verdict", "versions (start->end)", "wall", "key measurements (or alerts)")
    if any(r.bench.get("lab") for r in records):  # a lab run: which place (and its exporter host) each plan ran on
        rows = [(f"{row[0]} @ {_place(r)}", *row[1:]) for row, r in zip(rows, records)]
        head = ("plan @ place (host)", *head[1:])
    widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(4)]
    lines = [f"{head[0]:<{widths[0]}}  {head[1]:<{widths[1]}}  {head[2]:<{widths[2]}}  {head[3]:>{widths[3]}}  {head[4]}"]
    lines.append("-" * (sum(widths) + 8 + 20))
    for row in rows:
        lines.append(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]:>{widths[3]}}  {row[4]}")
    counts = {v: sum(1 for r in records if r.verdict is v) for v in Verdict}
    lines.append(f"{len(records)} plans: {counts[Verdict.PASS]} passed, {counts[Verdict.FAIL]} failed"
                 + (f", {counts[Verdict.ERROR]} errors" if counts[Verdict.ERROR] else "")
                 + (f", {counts[Verdict.SKIP]} skipped" if counts[Verdict.SKIP] else "")
                 + (f", {counts[Verdict.ABORTED]} aborted" if counts[Verdict.ABORTED] else ""))
    return "\n".join(lines)


def _place(record: RunRecord) -> str:
    lab = record.bench.get("lab") or {}
    return f"{lab.get('place', '-')} ({lab.get('exporter_host') or '?'})" if lab else "-"


def _note(message: str) -> str:
    first = message.splitlines()[0]
    return first if len(first) <= 110 else first[:107] + "..."
