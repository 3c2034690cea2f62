"""The README cannot drift: its step reference and exit codes are generated, its plan example loads, its
links point at files that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rig.plan.loader import load_plan
from rig.plan.reference import BLOCKS, COMMAND, readme_block

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
# Sections other work fills in; the integrator adds these files.
PLACEHOLDER_LINKS = {"docs/images.md", "docs/ezsp-emulation.md", "docs/verdicts.md"}


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_generated_blocks_equal_what_the_schema_gives(name):
    assert readme_block(README, name) == BLOCKS[name](), f"README block '{name}' is stale: run `{COMMAND}`"


def test_every_step_of_the_schema_is_in_the_reference():
    from rig.plan.schema import STEPS

    block = readme_block(README, "steps")
    for name, spec in STEPS.items():
        assert f"**`{name}`**" in block
        for field in spec.fields:
            assert f"`{field}`" in block


def test_the_plan_example_loads(tmp_path):
    section = README.split("## Write a plan", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1)
    plan = load_plan(tmp_path / "example.yaml", text=example)
    assert plan.steps[0].kind == "pair" and len(plan.steps) == 7


def test_relative_links_point_at_files():
    for target in re.findall(r"\]\(([^)#:]+)\)", README):
        if target in PLACEHOLDER_LINKS:
            continue
        assert (REPO / target).exists(), f"README links to {target}, which does not exist"


def test_the_readme_is_not_a_development_diary():
    for phrase in ("latest session", "Earlier sessions", "steal", "not adopted"):
        assert phrase not in README, f"'{phrase}': measurement history belongs in docs/performance.md"


def test_every_requirement_id_the_code_cites_is_defined():
    defined = set(re.findall(r"\*\*(R-[A-Z]+-\d+)", (REPO / "docs/requirements.md").read_text(encoding="utf-8")))
    cited = set()
    for folder in ("rig", "tests", "testplans", "bench", "fixtures"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix in (".py", ".yaml", ".md") and path.is_file():
                cited |= set(re.findall(r"\bR-(?:PLAT|CH|STORE|DSP|ALERT|VER|EMU)-\d+", path.read_text(encoding="utf-8")))
    assert cited and not cited - defined, f"cited but not in docs/requirements.md: {sorted(cited - defined)}"
