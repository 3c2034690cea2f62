"""Fixtures for the report tests."""

from __future__ import annotations

import pytest

from tests.report.happy import run_happy


@pytest.fixture(scope="session")
def happy(tmp_path_factory):
    """(record dict, report path, report html) of one real ec00 happy-path run, shared by the report tests."""
    record, path = run_happy(tmp_path_factory.mktemp("happy"))
    return record, path, path.read_text(encoding="utf-8")
