"""Settings are data, and each one is documented where operators look."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import settings

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", settings.SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented_in_the_readme(setting: settings.Setting) -> None:
    assert f"`{setting.name}`" in README
    assert setting.help


def test_environment_overrides_a_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTLINE_BATCH_SIZE", "7")
    assert settings.current()["TRUSTLINE_BATCH_SIZE"] == 7
