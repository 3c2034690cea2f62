"""The package's floors hold: every import in rig/ (those inside functions too) goes down a floor or stays in
its room, and no set of modules imports itself round in a circle. A lazy import that only hides a circle is
still a circle here.

Run alone to see the figures: `python -m pytest tests/test_layering.py -q -s`.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

RIG = Path(__file__).resolve().parents[1] / "rig"

# What each room may import from the other rooms. The emulator and the hub never see each other (they meet
# only on the serial line); leaves import no other room.
LEAVES = {"clock", "config", "image", "signals"}
ALLOWED: dict[str, set[str]] = {
    "clock": set(),
    "config": set(),
    "image": set(),
    "signals": set(),
    "emu": LEAVES,
    "hub": LEAVES,
    "backend": LEAVES | {"hub"},
    "report": LEAVES | {"hub"},
    "bench": LEAVES | {"emu", "hub", "backend"},
    "lab": LEAVES | {"bench"},
    "plan": LEAVES | {"emu", "hub", "backend", "bench", "report"},
    "pytest_plugin": LEAVES | {"bench", "lab", "plan", "report"},
    "cli": LEAVES | {"emu", "hub", "backend", "bench", "lab", "plan", "report"},
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in RIG.rglob("*.py"):
        parts = path.relative_to(RIG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(modules: dict[str, Path]) -> dict[str, list[tuple[str, int]]]:
    """module -> [(imported rig module, line)], `from pkg import submodule` counted as the submodule."""
    edges: dict[str, list[tuple[str, int]]] = {m: [] for m in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    up = here[: len(here) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for target in targets:  # not a rig module (a library, a compiled extension): not an arrow here
                if target in modules and target != name:
                    edges[name].append((target, node.lineno))
    return edges


def _room(module: str) -> str:
    return module.split(".")[1] if "." in module else "(rig)"


def _circles(edges: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """Strongly connected sets of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted({t for t, _ in edges[root]})))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted({t for t, _ in edges[child]}))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1:
                    found.append(sorted(members))
    return found


def test_no_module_imports_itself_round_a_circle() -> None:
    modules = _modules()
    circles = _circles(_imports(modules))
    print(f"\n{len(modules)} modules, {len(circles)} import circles")
    assert not circles, "import circles (lazy imports included):\n" + "\n".join(" -> ".join(c) for c in circles)


def test_every_import_goes_down_a_floor_or_stays_in_its_room() -> None:
    modules = _modules()
    wrong = []
    for module, targets in _imports(modules).items():
        room = _room(module)
        for target, line in targets:
            other = _room(target)
            if other != room and other != "(rig)" and other not in ALLOWED.get(room, set()):
                wrong.append(f"{modules[module].relative_to(RIG.parent)}:{line}: {room} imports {target}")
    print(f"\n{sum(len(t) for t in _imports(modules).values())} imports checked, {len(wrong)} against the floors")
    assert not wrong, "imports against the floors:\n" + "\n".join(wrong)


def test_the_check_sees_a_circle_and_an_import_up_a_floor(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "rig"
    (fake / "hub").mkdir(parents=True)
    (fake / "emu").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "hub" / "__init__.py").write_text("")
    (fake / "emu" / "__init__.py").write_text("")
    (fake / "hub" / "a.py").write_text("def f():\n    from rig.hub import b\n")
    (fake / "hub" / "b.py").write_text("from rig.hub.a import f\n")
    (fake / "emu" / "c.py").write_text("import rig.hub.a\n")
    monkeypatch.setattr(sys.modules[__name__], "RIG", fake)
    assert _circles(_imports(_modules())) == [["rig.hub.a", "rig.hub.b"]]
    with pytest.raises(AssertionError, match=r"emu/c.py:1: emu imports rig.hub.a"):
        test_every_import_goes_down_a_floor_or_stays_in_its_room()
