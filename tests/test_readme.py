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
        assert (REPO / target).exists(), f"README links to {target}, which does not exist"


def test_the_readme_is_not_a_development_diary():
    for phrase in ("latest session", "Earlier sessions", "steal", "not adopted", "hypervisor", "throttled"):
        assert phrase not in README, f"'{phrase}': measurement history belongs in docs/performance.md"


def test_every_requirement_id_the_code_cites_is_defined():
    defined = set(re.findall(r"\*\*(R-[A-Z]+-\d+)", (REPO / "docs/requirements.md").read_text(encoding="utf-8")))
    cited = set()
    for folder in ("rig", "tests", "testplans", "bench", "fixtures"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix in (".py", ".yaml", ".md") and path.is_file():
                cited |= set(re.findall(r"\bR-[A-Z]+-\d+", path.read_text(encoding="utf-8")))
    assert cited and not cited - defined, f"cited but not in docs/requirements.md: {sorted(cited - defined)}"


def _requirements_sections() -> set[str]:
    text = (REPO / "docs/requirements.md").read_text(encoding="utf-8")
    return set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", text, re.M))


def _cited_domain_sections() -> dict[str, str]:
    """'2.1' -> where it is cited, for every `domain.md §N[.M][-N.M]` in the code, tests and plans."""
    cited = {}
    for folder in ("rig", "tests", "testplans", "bench", "fixtures"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix in (".py", ".yaml", ".md") and path.is_file():
                text = path.read_text(encoding="utf-8")
                for first, last in re.findall(r"domain\.md \u00a7(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?", text):
                    where = str(path.relative_to(REPO))
                    if last and "." in first and "." in last and first.split(".")[0] == last.split(".")[0]:
                        major = first.split(".")[0]
                        for minor in range(int(first.split(".")[1]), int(last.split(".")[1]) + 1):
                            cited[f"{major}.{minor}"] = where
                    else:
                        cited[first] = where
    return cited


def test_every_domain_md_section_the_code_cites_is_in_the_requirements():
    """The code cites `domain.md \u00a7N`, a digest the repository does not ship: docs/requirements.md restates it
    under the same section numbers, so each citation must name a section there."""
    cited = _cited_domain_sections()
    missing = {n: where for n, where in cited.items() if n not in _requirements_sections()}
    assert cited and not missing, f"cited as domain.md \u00a7N but no such section in docs/requirements.md: {missing}"
    text = (REPO / "docs/requirements.md").read_text(encoding="utf-8")
    assert "`domain.md`" in text or "domain.md" in text  # it says that it stands for domain.md
    if any("domain.md [K]" in p.read_text(encoding="utf-8") or "marks it [K]" in p.read_text(encoding="utf-8")
           for p in (REPO / "rig").rglob("*.py")):
        assert "[K]" in text, "the code cites domain.md's [K] mark: docs/requirements.md must say what it means"
