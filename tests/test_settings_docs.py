"""Settings are data, and each one is documented where operators look."""

from __future__ import annotations

import re
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


# -- one table (issue 14) ------------------------------------------------------------


def test_the_settings_page_is_current() -> None:
    # Regenerate with `python -m assistant.settings`.
    assert (ROOT / "docs" / "settings.md").read_text(encoding="utf-8") == settings.markdown()


def test_every_setting_has_a_group_and_one_row() -> None:
    assert len(settings.SETTINGS) == len(settings.BY_NAME)
    assert {s.group for s in settings.SETTINGS} == set(settings.GROUPS)


def test_the_table_is_the_only_settings_module() -> None:
    gone = ["settings_table.py", "sidebar/settings.py", "webhooks/settings.py"]
    gone.append("customer_page/settings.py")
    assert [p for p in gone if (ROOT / "assistant" / p).exists()] == []
    # Nothing else builds a row or reads a setting from the environment.
    others = [p for p in (ROOT / "assistant").rglob("*.py") if p.name != "settings.py"]
    others += list((ROOT / "nlp").rglob("*.py"))
    readers = [
        str(p.relative_to(ROOT))
        for p in others
        if re.search(r"os\.environ\.get\(\s*\"TRUSTLINE_|getenv\(|Setting\(", p.read_text())
    ]
    assert readers == []


def test_the_extractor_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The assistant hands it the settings: the environment reaches it through the table.
    monkeypatch.setenv("TRUSTLINE_MAX_TEXT_CHARS", "1234")
    monkeypatch.setenv("TRUSTLINE_SPACY_MODEL", "")
    options = settings.extractor_options()
    assert options["max_chars"] == 1234
    assert options["model"] == settings.default("TRUSTLINE_SPACY_MODEL")
    assert options["time_budget_ms"] == settings.default("TRUSTLINE_TEXT_TIME_BUDGET_MS")
    assert settings.extractor_options("en_core_web_sm")["model"] == "en_core_web_sm"


def test_a_default_is_read_from_the_table() -> None:
    assert settings.value({}, "TRUSTLINE_FRAME_ANCESTORS") == "'self'"
    assert settings.value({"TRUSTLINE_FRAME_ANCESTORS": "x"}, "TRUSTLINE_FRAME_ANCESTORS") == "x"
    with pytest.raises(KeyError):
        settings.default("TRUSTLINE_NO_SUCH_SETTING")


def test_parsers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTLINE_DEMO", "Yes")
    assert settings.BY_NAME["TRUSTLINE_DEMO"].read() is True
    monkeypatch.setenv("TRUSTLINE_DEMO", "0")
    assert settings.BY_NAME["TRUSTLINE_DEMO"].read() is False
    row = settings.Setting("TRUSTLINE_X_TEST", 1.5, "test", parser=float)
    monkeypatch.setenv("TRUSTLINE_X_TEST", "2.25")
    assert row.read() == 2.25
