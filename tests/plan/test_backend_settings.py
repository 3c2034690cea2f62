"""A plan's settings.backend: typed, and a wrong value names the plan's line:col."""

from __future__ import annotations

import pytest

from rig.config import load_yaml
from rig.plan.backend_settings import SettingsError, backend_config

PLAN = "plan: 1\nname: x\nsettings:\n  backend:\n    batch_size: 100\n    batch_period: 10m\n    legacy_retry: true\n"


def test_settings_become_a_backend_config(tmp_path) -> None:
    config = backend_config(load_yaml(tmp_path / "p.yaml", PLAN)["settings"]["backend"], "p.yaml")
    assert config.batch_size == 100 and config.batch_period == 600 and config.long_retry.window == 86400


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("batch_size: 100", "batch_size: 0", "p.yaml:5:17: settings.backend.batch_size: found 0; expected an integer >= 1"),
    ("batch_period: 10m", "batch_period: soon",
     "p.yaml:6:19: settings.backend.batch_period: found 'soon'; expected a duration such as 90s, 15m, 4d"),
    ("batch_size: 100", "batch_sise: 100",
     "p.yaml:5:5: settings.backend.batch_sise: unknown key 'batch_sise' (did you mean 'batch_size'?)"),
])
def test_a_wrong_setting_names_the_plan_line_and_column(tmp_path, old, new, expected) -> None:
    settings = load_yaml(tmp_path / "p.yaml", PLAN.replace(old, new))["settings"]["backend"]
    with pytest.raises(SettingsError) as err:
        backend_config(settings, "p.yaml")
    assert str(err.value).startswith(f"{tmp_path}/{expected}"), err.value
