"""Settings are data, and each one is documented where operators look."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import settings

ROOT = Path(__file__).parents[1]
DOCS = "\n".join(
    p.read_text(encoding="utf-8")
    for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
)


@pytest.mark.parametrize("setting", settings.SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented(setting: settings.Setting) -> None:
    # README.md or a page under docs/ that it links to
    assert f"`{setting.name}`" in DOCS
    assert setting.help


def test_environment_overrides_a_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTLINE_BATCH_SIZE", "7")
    assert settings.current()["TRUSTLINE_BATCH_SIZE"] == 7
