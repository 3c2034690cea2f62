"""Suite-wide settings."""

import os

import pytest
from hypothesis import settings

# CI must not fail on an example nobody can reproduce: there the fuzzers replay a fixed (still large)
# pseudo-random set. Locally they explore anew on every run, which is how they find new bugs.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_configure(config):
    """An xdist_group keeps one costly setup (a kept bench, the 750 kB transfer) on one worker; pytest-xdist
    3.8 cannot group on pytest 9.2 and ignores the marks without a word (pytest-dev/pytest-xdist#1386):
    every worker then repeats those setups and the suite takes minutes longer. Stop instead."""
    if os.environ.get("PYTEST_XDIST_WORKER") or getattr(config.option, "dist", "no") != "loadgroup":
        return
    from importlib.metadata import version

    from packaging.version import Version

    if Version(version("pytest")) >= Version("9.2") and Version(version("pytest-xdist")) <= Version("3.8.0"):
        raise pytest.UsageError(f"--dist loadgroup: pytest-xdist {version('pytest-xdist')} ignores xdist_group on "
                                f"pytest {version('pytest')} (pytest-xdist#1386); see the pin in pyproject.toml")
