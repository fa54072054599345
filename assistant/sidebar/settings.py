"""Settings of the sidebar (merged into assistant.settings.SETTINGS)."""

from __future__ import annotations

from ..settings_table import Setting

SETTINGS: tuple[Setting, ...] = ()
