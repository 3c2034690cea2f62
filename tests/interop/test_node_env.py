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
    root = node_env.herdsman_root()  # installed by `make test` (python -m tests.interop.node_env)
    monkeypatch.setattr(node_env.subprocess, "run", lambda *a, **k: pytest.fail("npm ci ran again"))
    assert node_env.install() == root
    assert (root / node_env.STAMP).exists() and node_env.herdsman_package(root).is_dir()


def test_a_test_never_installs_it(monkeypatch, tmp_path):
    """Not installed: the tests skip (fail under CI=true) naming how to install it; no npm runs."""
    monkeypatch.setattr(node_env, "CACHE", tmp_path / "empty")
    monkeypatch.setattr(node_env.subprocess, "run", lambda *a, **k: pytest.fail("a test ran npm"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="make test"):
        node_env.herdsman_root()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        node_env.herdsman_root()
