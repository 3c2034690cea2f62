"""The README's generated parts: the step reference (from the plan schema) and `rig run`'s exit codes.

    rig plans steps                     print the step reference (Markdown)
    rig plans steps --update README.md  rewrite the generated blocks in README.md

The README holds each block between `<!-- generated: NAME ... -->` and `<!-- end generated: NAME -->`;
a test checks they equal what this module produces, so the README cannot drift from the schema.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from rig.plan.exit_codes import EXIT_CODES
from rig.plan.schema import STEPS, FieldSpec

COMMAND = "rig plans steps --update README.md"


def _default(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value >= 60 and value % 60 == 0:
            return f"{value / 3600:g}h" if value % 3600 == 0 else f"{value / 60:g}m"
        return f"{value:g}s" if value else "0"
    return str(value)


def _field(name: str, spec: FieldSpec, duration_fields: set[str]) -> str:
    text = f"`{name}`" + (" (required)" if spec.required else "")
    text += f": {spec.kind.describe}"
    if spec.default is not None and spec.default != "":
        shown = _default(spec.default) if name in duration_fields else (
            _default(spec.default) if not isinstance(spec.default, float) else f"{spec.default:g}")
        text += f", default {shown}"
    if spec.help:
        text += f" — {spec.help}"
    return text


def steps_markdown() -> str:
    """One entry per step of the schema: what it does, its fields, shorthand and bench needs."""
    from rig.plan.limits import DEFAULT_S, MARGIN_S

    lines = ["Every step also takes `name:` (shown in reports) and `timeout:` (real time; by default a step "
             f"may take its own window (`within:`, `for:`, `by:`) plus {MARGIN_S:g} s, or {DEFAULT_S:g} s for "
             "most steps without one: rig/plan/limits.py). "
             "Durations: `90s`, `15m`, `4d`, `3d 12h`, `250ms` or seconds; percentages: `40%`.", ""]
    for spec in STEPS.values():
        durations = {n for n, f in spec.fields.items() if f.kind.describe == "a duration"}
        notes = []
        if spec.shorthand:
            notes.append(f"short form `- {spec.name}: VALUE` sets `{spec.shorthand}`")
        if spec.needs:
            notes.append("needs an " + " and ".join(spec.needs) + " bench")
        if spec.exactly_one_of:
            notes.append("exactly one of " + " or ".join(f"`{f}`" for f in spec.exactly_one_of))
        lines.append(f"- **`{spec.name}`** — {spec.help}" + (f" ({'; '.join(notes)})" if notes else ""))
        for name, field in spec.fields.items():
            lines.append(f"  - {_field(name, field, durations)}")
    return "\n".join(lines)


def exit_codes_markdown() -> str:
    rows = ["| exit | meaning |", "|---|---|"]
    rows += [f"| {code} | {text} |" for code, text in EXIT_CODES]
    return "\n".join(rows)


BLOCKS: dict[str, Callable[[], str]] = {"steps": steps_markdown, "exit-codes": exit_codes_markdown}


def _pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- generated: {re.escape(name)}[^\n]*-->\n)(.*?)(<!-- end generated: {re.escape(name)} -->)",
                      re.DOTALL)


def readme_block(text: str, name: str) -> str | None:
    match = _pattern(name).search(text)
    return match.group(2).removesuffix("\n") if match else None


def update_readme(path: Path) -> list[str]:
    """Rewrite every generated block in `path`; returns the names of the blocks that changed."""
    text = path.read_text(encoding="utf-8")
    changed = []
    for name, make in BLOCKS.items():
        pattern = _pattern(name)
        if not pattern.search(text):
            raise ValueError(f"{path}: no '<!-- generated: {name} -->' ... '<!-- end generated: {name} -->' block")
        new = make()
        if readme_block(text, name) != new:
            changed.append(name)
            text = pattern.sub(lambda m: m.group(1) + new + "\n" + m.group(3), text)
    path.write_text(text, encoding="utf-8")
    return changed
