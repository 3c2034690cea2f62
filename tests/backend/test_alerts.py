"""The alert log's listeners: told once per alert, only after its transaction commits."""

from __future__ import annotations

import pytest

from rig.backend.alerts import AlertLog
from rig.backend.store import Store


def _append(log: AlertLog, key: str) -> None:
    log.append(dedup_key=key, family="dcc", code="N60", device=None, request_id=None, recipients=["u"], fields={})


def test_listeners_hear_committed_alerts_only(tmp_path, clock):
    store = Store(tmp_path / "a.db")
    log = AlertLog(store, clock)
    heard: list[str] = []
    log.subscribe(lambda alert: heard.append(alert.dedup_key))
    with store.transaction():
        _append(log, "one")
        assert heard == []  # not before the commit
    log.committed()
    with pytest.raises(RuntimeError), store.transaction():
        _append(log, "two")
        raise RuntimeError("roll back")
    log.rolled_back()
    log.committed()
    with store.transaction():
        _append(log, "one")  # a duplicate dedup key: not written, not announced
    log.committed()
    assert heard == ["one"]
    log.unsubscribe(heard.append)  # not subscribed: a no-op
    store.close()
