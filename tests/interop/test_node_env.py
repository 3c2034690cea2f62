"""Without Node.js the herdsman tests skip, saying why; under CI=true they fail instead."""

from __future__ import annotations

import pytest

from tests.interop import node_env


def test_missing_node_skips_on_a_developer_machine(monkeypatch):
    monkeypatch.setattr(node_env.shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="node is not installed"):
        node_env.require_tool("node")


def test_missing_node_fails_in_ci(monkeypatch):
    monkeypatch.setattr(node_env.shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        node_env.require_tool("node")


def test_a_second_install_reuses_the_first(monkeypatch):
    """The npm ci result is cached per lock hash: no npm run when the stamp is there."""
    node_env.herdsman_root()  # installs once if needed
    monkeypatch.setattr(node_env.subprocess, "run", lambda *a, **k: pytest.fail("npm ci ran again"))
    root = node_env.herdsman_root()
    assert (root / node_env.STAMP).exists() and node_env.herdsman_package(root).is_dir()
